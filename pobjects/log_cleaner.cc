#include "pobjects/log_cleaner.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <stdexcept>
#include <thread>

#include "pobjects/record_log.h"
#include "runtime/group_commit.h"

namespace nvobj {

namespace {

std::atomic<BackgroundCleaning> cleaning_mode{BackgroundCleaning::kOff};

// Steps one log gets before the others in the queue have their turn.
constexpr size_t kStepsPerTurn = 16;

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
  mu_.unlock();
}

void LogCleaner::set_mode(BackgroundCleaning mode) {
  cleaning_mode.store(mode, std::memory_order_relaxed);
}

BackgroundCleaning LogCleaner::mode() { return cleaning_mode.load(std::memory_order_relaxed); }

void LogCleaner::request(RecordLog* log) {
  {
    std::lock_guard lock(mu_);
    if (log->bg_forgotten_) return;
    queue_.push_back(log);
    if (mode() != BackgroundCleaning::kThread) return;
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
  std::unique_lock lock(mu_);
  for (;;) {
    // (Alive after a switch to kManual or kOff: queued logs wait for
    // run_queued(), or for the next kThread request.)
    work_cv_.wait(lock, [&] { return !queue_.empty() && mode() == BackgroundCleaning::kThread; });
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
  // its appenders do not queue it again).
  if (more && !log->bg_forgotten_) queue_.push_back(log);
  idle_cv_.notify_all();
  return steps;
}

}  // namespace nvobj
