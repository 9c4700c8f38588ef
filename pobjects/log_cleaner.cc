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
        c.mu_.lock();
        while (c.current_ != nullptr) {
          std::unique_lock lock(c.mu_, std::adopt_lock);
          c.idle_cv_.wait(lock);
          lock.release();
        }
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

void LogCleaner::forget(RecordLog* log) {
  std::unique_lock lock(mu_);
  log->bg_forgotten_ = true;
  std::erase(queue_, log);
  idle_cv_.wait(lock, [&] { return current_ != log; });
}

void LogCleaner::forget(const Store& store, uint64_t lanes_off) {
  std::unique_lock lock(mu_);
  auto matches = [&](const RecordLog* log) {
    return log != nullptr && &log->store_ == &store && log->lanes_off_ == lanes_off;
  };
  for (RecordLog* log : queue_)
    if (matches(log)) log->bg_forgotten_ = true;
  std::erase_if(queue_, matches);
  if (matches(current_)) current_->bg_forgotten_ = true;
  idle_cv_.wait(lock, [&] { return !matches(current_); });
}

size_t LogCleaner::run_queued() {
  // A step's fence must be its own: in a group commit it would wait for
  // the scope's commit, and the step's finish would run before it.
  if (GroupCommit::deferring())
    throw std::logic_error("LogCleaner::run_queued inside a group commit scope");
  size_t steps = 0;
  std::unique_lock lock(mu_);
  while (!queue_.empty()) {
    RecordLog* log = queue_.front();
    queue_.pop_front();
    steps += serve(lock, log);
  }
  return steps;
}

void LogCleaner::start_thread() {
  std::thread([this] { loop(); }).detach();
  thread_started_ = true;
}

void LogCleaner::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return !queue_.empty(); });
    RecordLog* log = queue_.front();
    queue_.pop_front();
    serve(lock, log);
  }
}

size_t LogCleaner::serve(std::unique_lock<std::mutex>& lock, RecordLog* log) {
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
