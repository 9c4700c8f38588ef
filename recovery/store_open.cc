#include "recovery/store_open.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "allocator/live_bitmap.h"
#include "recovery/mark.h"
#include "runtime/log.h"
#include "runtime/redo_log.h"

namespace nvobj {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

unsigned thread_count(const StoreOptions& o) {
  unsigned n = o.recovery_threads != 0 ? o.recovery_threads : std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

// Prints "recovering <path>: N objects marked" on a terminal, every half
// second, once recovery has taken more than a second.
class ProgressLine {
 public:
  ProgressLine(const std::string& path, const std::atomic<uint64_t>& marked, bool enabled)
      : path_(path), marked_(marked) {
    if (enabled && ::isatty(STDERR_FILENO)) thread_ = std::thread([this] { run(); });
  }
  ~ProgressLine() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; })) return;
    bool printed = false;
    do {
      std::fprintf(stderr, "\rrecovering %s: %llu objects marked", path_.c_str(),
                   static_cast<unsigned long long>(marked_.load(std::memory_order_relaxed)));
      printed = true;
    } while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_; }));
    if (printed) std::fprintf(stderr, "\n");
  }

  const std::string& path_;
  const std::atomic<uint64_t>& marked_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

namespace recovery {

Result<Recovered> recover_pool(Pool& pool, const StoreOptions& opts) {
  auto t0 = Clock::now();
  Recovered out{nullptr, ClassTable{}, {}};
  out.report.clean = false;
  out.report.threads = thread_count(opts);
  NVOBJ_ASSIGN_OR_RETURN(ReplayReport replay, replay_logs(pool));
  out.report.logs_replayed = replay.replayed;
  out.report.logs_dropped = replay.dropped;
  NVOBJ_ASSIGN_OR_RETURN(out.classes, ClassTable::load(pool));
  // A stale snapshot must never be trusted after the heap changes; nor the
  // proxies' snapshots after a crash (cleared before marking: reclaimed).
  for (uint64_t anchor : {kAnchorAllocSnapshot, kAnchorCloseSnapshots})
    if (*pool.anchor(anchor) != 0) pool.persister().store_persist(pool.anchor(anchor), uint64_t{0});
  alloc::LiveBitmap live(alloc::heap_begin_for(pool.data_offset()), pool.size());
  std::atomic<uint64_t> marked{0};
  Result<MarkStats> stats = Status(StatusCode::kInternal, "not run");
  {
    ProgressLine progress(pool.path(), marked, opts.progress);
    stats = mark_reachable(pool, out.classes, live, out.report.threads, &marked);
  }
  if (!stats) return stats.status();
  double t_mark = seconds_since(t0);
  NVOBJ_ASSIGN_OR_RETURN(out.heap,
                         alloc::Allocator::rebuild(pool, opts.heap, live, out.report.threads));
  double t_rebuild = seconds_since(t0);
  auto reclaimed = out.heap->find_reclaimed(
      [&](uint32_t id) { return out.classes.find(id) != nullptr; }, replay.segments);
  log().debug(
      "{}: recovery phases: replay+mark {:.1f} ms, rebuild {:.1f} ms, reclaim count {:.1f} ms",
      pool.path(), t_mark * 1e3, (t_rebuild - t_mark) * 1e3, (seconds_since(t0) - t_rebuild) * 1e3);
  out.report.reclaimed_objects = reclaimed.objects;
  out.report.reclaimed_bytes = reclaimed.bytes;
  HeapUsage u = out.heap->usage();
  out.report.objects = u.live_objects;
  out.report.live_bytes = u.live_bytes;
  out.report.free_bytes = u.free_bytes;
  out.report.seconds = seconds_since(t0);
  return out;
}

}  // namespace recovery

namespace {

// The heap of an open pool: from the clean-close snapshot, or recovered.
Result<recovery::Recovered> open_heap(Pool& pool, const StoreOptions& opts) {
  auto t0 = Clock::now();
  if (pool.was_clean_shutdown() && !opts.force_recovery) {
    auto heap = alloc::Allocator::load_snapshot(pool, opts.heap);
    if (heap) {
      NVOBJ_ASSIGN_OR_RETURN(ClassTable classes, ClassTable::load(pool));
      OpenReport r;
      r.snapshot_used = true;
      HeapUsage u = (*heap)->usage();
      r.objects = u.live_objects;
      r.live_bytes = u.live_bytes;
      r.free_bytes = u.free_bytes;
      r.seconds = seconds_since(t0);
      log().info("opened {} (clean): {} objects, {} live bytes, in {:.1f} ms", pool.path(),
                 r.objects, r.live_bytes, r.seconds * 1e3);
      return recovery::Recovered{std::move(*heap), std::move(classes), r};
    }
    log().info("{}: no usable heap snapshot ({}); recovering", pool.path(),
               heap.status().message());
  }
  NVOBJ_ASSIGN_OR_RETURN(recovery::Recovered rec, recovery::recover_pool(pool, opts));
  const OpenReport& r = rec.report;
  log().info(
      "recovered {}: {} blocks replayed, {} dropped, {} live objects ({} bytes), {} objects "
      "({} bytes) reclaimed, {} bytes free, in {:.1f} ms with {} threads",
      pool.path(), r.logs_replayed, r.logs_dropped, r.objects, r.live_bytes, r.reclaimed_objects,
      r.reclaimed_bytes, r.free_bytes, r.seconds * 1e3, r.threads);
  return rec;
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const std::string& path, const StoreOptions& opts) {
  auto t0 = Clock::now();
  NVOBJ_ASSIGN_OR_RETURN(std::unique_ptr<Pool> pool, Pool::open(path, opts.open));
  NVOBJ_ASSIGN_OR_RETURN(recovery::Recovered rec, open_heap(*pool, opts));
  rec.report.seconds = seconds_since(t0);  // the pool's own open included
  return Store::make(std::move(pool), std::move(rec.heap), std::move(rec.classes), rec.report);
}

Result<std::unique_ptr<Store>> attach_store(Pool& pool, const StoreOptions& opts) {
  NVOBJ_ASSIGN_OR_RETURN(recovery::Recovered rec, open_heap(pool, opts));
  return Store::attach(pool, std::move(rec.heap), std::move(rec.classes), rec.report);
}

Result<std::unique_ptr<Store>> create_store(const std::string& path, const StoreOptions& opts) {
  NVOBJ_ASSIGN_OR_RETURN(std::unique_ptr<Pool> pool, Pool::create(path, opts.create));
  auto heap = alloc::Allocator::create_empty(*pool, opts.heap);
  NVOBJ_ASSIGN_OR_RETURN(ClassTable classes, ClassTable::load(*pool));
  return Store::make(std::move(pool), std::move(heap), std::move(classes), OpenReport{});
}

}  // namespace nvobj
