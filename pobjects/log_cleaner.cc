#include "pobjects/log_cleaner.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <new>
#include <stdexcept>
#include <thread>

#include "pobjects/record_log.h"
#include "runtime/group_commit.h"
#include "runtime/persist_stats.h"

namespace nvobj {

namespace {

std::atomic<BackgroundCleaning> cleaning_mode{BackgroundCleaning::kAuto};

// Steps one log gets before the others in the queue have their turn.
constexpr size_t kStepsPerTurn = 16;

// core_free()'s window, and how many of a thread's calls go by between its
// looks at the clock.
constexpr int64_t kCoreWindowNs = 1'000'000;
constexpr uint32_t kCallsPerClockRead = 64;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LogCleaner& LogCleaner::instance() {
  // Never destroyed: its thread may still wait on it while the process
  // exits.
  static LogCleaner* cleaner = new LogCleaner;
  return *cleaner;
}

LogCleaner::LogCleaner() {
  ::pthread_atfork(
      [] {
        // The child must not inherit a log stuck in the middle of a step.
        LogCleaner& c = instance();
        std::unique_lock lock(c.mu_);
        c.idle_cv_.wait(lock, [&] { return c.current_ == nullptr; });
        lock.release();  // held across the fork, unlocked by the handlers below
      },
      [] { instance().mu_.unlock(); }, [] { instance().after_fork_in_child(); });
}

void LogCleaner::after_fork_in_child() {
  // The thread is the parent's; the condition variables may count its
  // wait. Queued logs are requested afresh by their appenders.
  new (&work_cv_) std::condition_variable;
  new (&idle_cv_) std::condition_variable;
  for (RecordLog* log : queue_) log->bg_requested_.store(false, std::memory_order_relaxed);
  queue_.clear();
  thread_started_ = false;
  // core_free()'s measure: a parent's thread may have held its mutex (it
  // is only ever tried, never waited for). The parent's other threads are
  // still listed in the child's counters but their fences no longer move,
  // so from the child's second measure on they are not counted; a fresh
  // measure is due at once.
  new (&eval_mu_) std::mutex;
  evaluated_at_ns_.store(INT64_MIN / 2, std::memory_order_relaxed);
  mu_.unlock();
}

void LogCleaner::set_mode(BackgroundCleaning mode) {
  cleaning_mode.store(mode, std::memory_order_relaxed);
}

BackgroundCleaning LogCleaner::mode() { return cleaning_mode.load(std::memory_order_relaxed); }

std::optional<BackgroundCleaning> parse_background_cleaning(std::string_view text) {
  if (text == "inline" || text == "off") return BackgroundCleaning::kOff;
  if (text == "thread") return BackgroundCleaning::kThread;
  if (text == "auto") return BackgroundCleaning::kAuto;
  return std::nullopt;
}

unsigned LogCleaner::usable_cpus() {
  static const unsigned n = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) == 0)
      return static_cast<unsigned>(CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
  }();
  return n;
}

bool LogCleaner::takes_steps() {
  switch (mode()) {
    case BackgroundCleaning::kOff: return false;
    case BackgroundCleaning::kAuto: return core_free();
    default: return true;
  }
}

bool LogCleaner::core_free() {
  LogCleaner& c = instance();
  thread_local uint32_t calls = 0;
  if (calls++ % kCallsPerClockRead == 0 &&
      now_ns() - c.evaluated_at_ns_.load(std::memory_order_relaxed) >= kCoreWindowNs)
    return evaluate_core_free();
  return c.core_free_.load(std::memory_order_relaxed);
}

bool LogCleaner::evaluate_core_free() {
  LogCleaner& c = instance();
  std::unique_lock lock(c.eval_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return c.core_free_.load(std::memory_order_relaxed);  // being measured
  c.evaluated_at_ns_.store(now_ns(), std::memory_order_relaxed);
  // Live threads only: an exited writer's slot is gone from the list (and
  // from fences_seen_ below).
  std::vector<ThreadPersistCounters> threads = per_thread_persist_counters();
  uint64_t cleaner = c.cleaner_thread_index_.load(std::memory_order_relaxed);
  unsigned writers = 0;
  std::unordered_map<uint64_t, uint64_t> seen;
  for (const ThreadPersistCounters& t : threads) {
    seen[t.thread_index] = t.counters.fences;
    auto it = c.fences_seen_.find(t.thread_index);
    if (t.thread_index != cleaner &&
        t.counters.fences != (it == c.fences_seen_.end() ? 0 : it->second))
      ++writers;
  }
  c.fences_seen_.swap(seen);
  bool free = writers < usable_cpus();
  c.core_free_.store(free, std::memory_order_relaxed);
  return free;
}

void LogCleaner::request(RecordLog* log) {
  {
    std::lock_guard lock(mu_);
    if (log->bg_forgotten_) return;
    queue_.push_back(log);
    if (BackgroundCleaning m = mode();
        m != BackgroundCleaning::kThread && m != BackgroundCleaning::kAuto)
      return;
    if (!thread_started_) start_thread();
  }
  work_cv_.notify_one();
}

template <typename Pred>
void LogCleaner::forget_if(Pred pred) {
  std::unique_lock lock(mu_);
  for (RecordLog* log : queue_)
    if (pred(log)) log->bg_forgotten_ = true;
  std::erase_if(queue_, pred);
  if (current_ != nullptr && pred(current_)) current_->bg_forgotten_ = true;
  idle_cv_.wait(lock, [&] { return current_ == nullptr || !pred(current_); });
}

void LogCleaner::forget(RecordLog* log) {
  {
    std::lock_guard lock(mu_);
    log->bg_forgotten_ = true;  // queued or not: request() reads it under mu_
  }
  forget_if([log](const RecordLog* l) { return l == log; });
}

void LogCleaner::forget(const Store& store, uint64_t lanes_off) {
  forget_if([&](const RecordLog* l) { return &l->store_ == &store && l->lanes_off_ == lanes_off; });
}

size_t LogCleaner::run_queued() {
  // A step's fence must be its own: in a group commit it would wait for
  // the scope's commit, and the step's finish would run before it.
  if (GroupCommit::deferring())
    throw std::logic_error("LogCleaner::run_queued inside a group commit scope");
  size_t steps = 0;
  std::unique_lock lock(mu_);
  while (!queue_.empty()) steps += serve(lock);
  return steps;
}

void LogCleaner::start_thread() {
  std::thread([this] { loop(); }).detach();
  thread_started_ = true;
}

void LogCleaner::loop() {
  // Its fences are the cleaning's, not a writer's (core_free).
  cleaner_thread_index_.store(detail::counter_slot().thread_index, std::memory_order_relaxed);
  std::unique_lock lock(mu_);
  for (;;) {
    // (Alive after a switch to kManual or kOff: queued logs wait for
    // run_queued(), or for the next kThread or kAuto request. In kAuto it
    // serves what is queued even once no core is free: the appenders stop
    // queueing then.)
    work_cv_.wait(lock, [&] {
      BackgroundCleaning m = mode();
      return !queue_.empty() &&
             (m == BackgroundCleaning::kThread || m == BackgroundCleaning::kAuto);
    });
    serve(lock);
  }
}

size_t LogCleaner::serve(std::unique_lock<std::mutex>& lock) {
  idle_cv_.wait(lock, [&] { return current_ == nullptr; });
  if (queue_.empty()) return 0;  // the other server took it
  RecordLog* log = queue_.front();
  queue_.pop_front();
  current_ = log;
  lock.unlock();
  bool more = false;
  size_t steps = log->clean_in_background(kStepsPerTurn, &more);
  lock.lock();
  current_ = nullptr;
  // Still due after its turn: back of the queue (its flag is still set, so
  // its appenders do not queue it again). In kAuto without a free core the
  // flag is cleared instead: its appenders clean it inline, or queue it
  // again once a core is free.
  if (more && !log->bg_forgotten_) {
    if (mode() == BackgroundCleaning::kAuto && !core_free())
      log->bg_requested_.store(false, std::memory_order_release);
    else
      queue_.push_back(log);
  }
  idle_cv_.notify_all();
  return steps;
}

}  // namespace nvobj
