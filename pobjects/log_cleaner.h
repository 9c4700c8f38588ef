// LogCleaner: the thread that cleans record logs off their appenders' path.
//
// A record log (record_log.h) due for cleaning copies a victim chunk's live
// records, fences, repoints its owner's index to the copies and frees the
// victim. Done by the appenders, that work lands on one update in a hundred
// or so (a whole chunk's relocation: tens of microseconds) and adds the
// copies' write-backs to the update's fence. With background cleaning (the
// default), an appender that finds its log due hands it to this cleaner and
// goes on; the cleaner's thread does the steps, each with a fence of its own
// (one per chunk cleaned, not per update). Appenders still clean inline once
// dead bytes pass twice the threshold, so a cleaner that falls behind (no CPU
// to spare) costs latency, never unbounded space.
//
// It pays where a core is free for it: measured on 2 vCPUs (docs/types.md),
// one writer's p99 halves and its mean gains a little, but the relocations
// from another core move the index's lock lines back and forth (every
// update's median cost rises), and with as many writers as cores the
// cleaner's thread preempts them (p99 4x). So it is off by default.
//
// Modes (process-wide, like the cleaning thresholds):
//   kOff     appenders clean inline (the default);
//   kThread  one thread, started at the first request, serves every log;
//   kManual  requests wait until run_queued() runs them in the caller's
//            thread (tests and the crash simulator drive the background
//            path deterministically).
//
// A fork waits for the cleaner to finish its current step; the child starts
// with an empty queue and its own thread at its first request.
#ifndef NVOBJ_POBJECTS_LOG_CLEANER_H_
#define NVOBJ_POBJECTS_LOG_CLEANER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace nvobj {

class RecordLog;
class Store;

enum class BackgroundCleaning { kOff, kThread, kManual };

class LogCleaner {
 public:
  static LogCleaner& instance();

  static void set_mode(BackgroundCleaning mode);
  static BackgroundCleaning mode();

  // `log` is due for cleaning: it is queued (unless forgotten) and the
  // thread woken. The log's own flag keeps it from being queued over and
  // over (RecordLog::maybe_clean).
  void request(RecordLog* log);
  // `log` is going away: it leaves the queue, takes no more requests, and
  // this waits for a step in progress on it.
  void forget(RecordLog* log);
  // The same for the log at `lanes_off` of `store`, if the cleaner has it
  // (before the log is freed under an open RecordLog: destroy_unopened).
  void forget(const Store& store, uint64_t lanes_off);
  // kManual: runs the queued logs' cleaning in this thread until none is
  // due (not inside a group commit scope: std::logic_error). Returns the
  // cleaning steps done.
  size_t run_queued();

 private:
  LogCleaner();
  void start_thread();  // under mu_
  void loop();
  // Takes the first queued log once no other serve() runs (the thread and
  // run_queued() may both be serving after a mode switch; current_ names
  // one log) and runs its steps (a bounded number) outside mu_; requeues it
  // if more are due. Returns the steps done; 0 if the queue was empty.
  size_t serve(std::unique_lock<std::mutex>& lock);
  // Marks the logs pred selects forgotten, drops them from the queue and
  // waits until none is being cleaned.
  template <typename Pred>
  void forget_if(Pred pred);
  void after_fork_in_child();

  std::mutex mu_;
  std::condition_variable work_cv_;  // the queue got a log
  std::condition_variable idle_cv_;  // current_ became null
  std::deque<RecordLog*> queue_;
  RecordLog* current_ = nullptr;  // being cleaned outside mu_
  bool thread_started_ = false;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_LOG_CLEANER_H_
