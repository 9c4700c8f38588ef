#include "recovery/mark.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "allocator/size_classes.h"
#include "runtime/layout.h"
#include "runtime/object_header.h"

namespace nvobj::recovery {

namespace {

// A reference to visit: the target payload offset and where it was found
// (for error messages).
struct Edge {
  uint64_t target;
  uint64_t from;  // payload offset of the referring object, 0 for an anchor
  uint64_t field;
};

// Work sharing: each worker runs a depth-first walk on its own stack and
// gives half of it away when others are idle. Linked structures of any
// depth (a 10 M-node list) and wide ones parallelise without per-level
// barriers.
class Marker {
 public:
  Marker(const Pool& pool, const ClassTable& classes, alloc::LiveBitmap& live, unsigned threads,
         std::atomic<uint64_t>* progress)
      : pool_(pool),
        classes_(classes),
        live_(live),
        threads_(threads),
        progress_(progress),
        heap_begin_(live.begin()),
        heap_end_(live.end()) {}

  Result<MarkStats> run(std::vector<Edge> roots) {
    {
      std::lock_guard lock(mu_);
      shared_.push_back(std::move(roots));
    }
    std::vector<std::thread> workers;
    std::vector<MarkStats> stats(threads_);
    for (unsigned t = 1; t < threads_; ++t) workers.emplace_back([&, t] { work(stats[t]); });
    work(stats[0]);
    for (auto& w : workers) w.join();
    if (!error_.empty()) return Status(StatusCode::kCorrupt, pool_.path() + ": " + error_);
    MarkStats total;
    for (const MarkStats& s : stats) {
      total.objects += s.objects;
      total.bytes += s.bytes;
    }
    return total;
  }

 private:
  void fail(std::string what) {
    std::lock_guard lock(mu_);
    if (error_.empty()) error_ = std::move(what);
    stop_.store(true, std::memory_order_relaxed);
    done_ = true;
    cv_.notify_all();
  }

  std::string origin(const Edge& e) const {
    if (e.from == 0) return "a pool anchor";
    uint32_t id = pool_.at<ObjectHeader>(e.from - kObjectHeaderSize)->class_id;
    const ClassRecord* r = classes_.find(id);
    return fmt::format("field +{} of the '{}' at {}", e.field, r ? r->name : "?", e.from);
  }

  // Validates and marks one edge's target; pushes its references.
  void visit(const Edge& e, std::vector<Edge>& stack, MarkStats& stats) {
    uint64_t hdr = e.target - kObjectHeaderSize;
    if (e.target < heap_begin_ + kObjectHeaderSize || e.target >= heap_end_ ||
        hdr % kObjectGranule != 0)
      return fail(fmt::format("{} refers to offset {}, which is not an object of the heap",
                              origin(e), e.target));
    ObjectHeader h = *pool_.at<ObjectHeader>(hdr);
    uint64_t span = alloc::span_bytes(h.size_word);
    if (span == 0 || span > heap_end_ - hdr)
      return fail(fmt::format("object at {} (from {}) has an invalid size word {:#x}", e.target,
                              origin(e), h.size_word));
    const ClassRecord* cls = classes_.find(h.class_id);
    if (cls == nullptr)
      return fail(
          fmt::format("object at {} (from {}) has class id {}, which the pool's class "
                      "table does not define",
                      e.target, origin(e), h.class_id));
    if (!live_.mark(hdr)) return;  // already visited
    const char* payload = pool_.at<char>(e.target);
    uint64_t count = 0;
    if (!object_extent(cls->refs, payload, span - kObjectHeaderSize, &count))
      return fail(fmt::format("'{}' at {} does not fit its {}-byte block ({})", cls->name, e.target,
                              span, cls->refs.describe()));
    ++stats.objects;
    stats.bytes += span;
    for_each_ref(cls->refs, payload, count, [&](uint64_t ref, uint64_t field) {
      if (ref != 0) stack.push_back({ref, e.target, field});
    });
  }

  void work(MarkStats& stats) {
    std::vector<Edge> stack;
    uint64_t unreported = 0;
    for (;;) {
      if (stack.empty()) {
        std::unique_lock lock(mu_);
        if (progress_ != nullptr) progress_->fetch_add(unreported, std::memory_order_relaxed);
        unreported = 0;
        // The walk is over when every worker is idle with nothing shared.
        if (++idle_ == threads_ && shared_.empty()) {
          done_ = true;
          cv_.notify_all();
        }
        cv_.wait(lock, [&] { return done_ || !shared_.empty(); });
        if (done_) return;
        --idle_;
        stack = std::move(shared_.front());
        shared_.pop_front();
      }
      while (!stack.empty()) {
        Edge e = stack.back();
        stack.pop_back();
        visit(e, stack, stats);
        if (++unreported == 4096) {
          if (progress_ != nullptr) progress_->fetch_add(unreported, std::memory_order_relaxed);
          unreported = 0;
          if (stop_.load(std::memory_order_relaxed)) return;
          share(stack);
        }
      }
      if (stop_.load(std::memory_order_relaxed)) return;
    }
  }

  // Gives half of a big stack to idle workers.
  void share(std::vector<Edge>& stack) {
    if (threads_ == 1 || stack.size() < 64) return;
    std::lock_guard lock(mu_);
    if (idle_ == 0 || !shared_.empty()) return;
    size_t half = stack.size() / 2;
    shared_.emplace_back(stack.begin(), stack.begin() + static_cast<ptrdiff_t>(half));
    stack.erase(stack.begin(), stack.begin() + static_cast<ptrdiff_t>(half));
    cv_.notify_one();
  }

  const Pool& pool_;
  const ClassTable& classes_;
  alloc::LiveBitmap& live_;
  unsigned threads_;
  std::atomic<uint64_t>* progress_;
  uint64_t heap_begin_, heap_end_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<Edge>> shared_;
  unsigned idle_ = 0;
  bool done_ = false;
  std::string error_;
  std::atomic<bool> stop_{false};
};

}  // namespace

Result<MarkStats> mark_reachable(const Pool& pool, const ClassTable& classes,
                                 alloc::LiveBitmap& live, unsigned threads,
                                 std::atomic<uint64_t>* progress) {
  std::vector<Edge> roots;
  for (uint64_t anchor : {kAnchorClassTable, kAnchorRoots, kAnchorCloseSnapshots})
    if (uint64_t off = *pool.anchor(anchor); off != 0) roots.push_back({off, 0, anchor * 8});
  return Marker(pool, classes, live, std::max(1u, threads), progress).run(std::move(roots));
}

}  // namespace nvobj::recovery
