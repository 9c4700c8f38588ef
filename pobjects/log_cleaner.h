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
// one writer's mean and p99 drop (the cleaning leaves its path) for more
// CPU in all (the relocations from another core move the index's lock
// lines back and forth), but with as many writers as cores the cleaner's
// thread preempts them (p99 4x). So by default (kAuto) the steps go to the
// thread only while fewer threads write than the process has cores.
//
// Modes (process-wide, like the cleaning thresholds):
//   kAuto    the default: as kThread while a core is free for the cleaner
//            (core_free()), as kOff otherwise;
//   kOff     appenders clean inline;
//   kThread  one thread, started at the first request, serves every log;
//   kManual  requests wait until run_queued() runs them in the caller's
//            thread (tests and the crash simulator drive the background
//            path deterministically).
//
// A fork waits for the cleaner to finish its current step; the child starts
// with an empty queue and its own thread at its first request.
#ifndef NVOBJ_POBJECTS_LOG_CLEANER_H_
#define NVOBJ_POBJECTS_LOG_CLEANER_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace nvobj {

class RecordLog;
class Store;

enum class BackgroundCleaning { kOff, kThread, kManual, kAuto };

// "inline" (or "off"), "thread" or "auto", as the binaries' --cleaner takes it.
std::optional<BackgroundCleaning> parse_background_cleaning(std::string_view text);

class LogCleaner {
 public:
  static LogCleaner& instance();

  static void set_mode(BackgroundCleaning mode);
  static BackgroundCleaning mode();
  // Whether an appender hands a log due for cleaning to the cleaner now
  // (instead of cleaning inline): kThread and kManual always, kAuto while
  // core_free(), kOff never.
  static bool takes_steps();
  // kAuto's test: fewer threads than this process may run on (its CPU
  // affinity) made updates durable in the last window (about a
  // millisecond; the cleaner's own fences not counted). A thread that only
  // reads is not seen: a reader beside one writer on two cores shares its
  // core with the cleaner's steps. Cheap: mostly one relaxed load;
  // evaluate_core_free() once per window.
  static bool core_free();
  // Takes the window's measure now (core_free() does when a window has
  // passed): counts the threads whose fences moved since the last measure.
  static bool evaluate_core_free();
  // CPUs this process may run on (its affinity mask, read once).
  static unsigned usable_cpus();

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

  // core_free()'s measure (under eval_mu_): each live thread's fences at
  // the last one, and the cleaner thread's index (not a writer).
  std::mutex eval_mu_;
  std::unordered_map<uint64_t, uint64_t> fences_seen_;
  std::atomic<uint64_t> cleaner_thread_index_{UINT64_MAX};
  std::atomic<int64_t> evaluated_at_ns_{INT64_MIN / 2};
  std::atomic<bool> core_free_{true};
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_LOG_CLEANER_H_
