// PSortedSet: a durable linearizable sorted set of byte-string members,
// each with a double score: the data type behind Redis's ZADD, ZSCORE,
// ZRANK, ZRANGE, ZRANGEBYSCORE, ZREM, ZCARD, ZINCRBY and their ZREV forms.
//
// Persistent state is PTreeMap's: a record log (record_log.h, map_core.h)
// with one record per member, key = the member's bytes, value = its score as
// 8 bytes (IEEE 754 double, little-endian). The member index of the core is
// ordered by member bytes (tree_index.h). Every update is one record and at
// most one fence; an add that does not change the score writes nothing;
// reads never fence.
//
// Volatile state (in the proxy, rebuilt when the proxy is made after a clean
// close or a crash): a score index of the (score, member) pairs in Redis
// order (score, then member bytes as unsigned), an order-statistics tree, so
// ranks and rank ranges cost O(log n + k). It copies every member into DRAM
// a second time (the core's member index holds the first copy); see
// stats().dram_bytes and docs/types.md for the cost per member.
//
// Concurrency: updates serialise on a per-set mutex (one fence each, held
// across it); reads take the set's shared lock, which updates hold
// exclusively only to apply a change that is already durable, never across
// a fence. So every read sees a state whose updates are all durable, and the
// member lookups (score, rank) agree with the score index (linearizable).
//
// Scores: -0.0 and +0.0 are the same score (+0.0 is stored). NaN is refused
// (std::invalid_argument, nothing written), also when an increment would
// produce it (+inf + -inf).
//
// Callbacks (range_by_rank, range_by_score, for_each) run under the set's
// shared lock: they must not call back into the set (an update would
// deadlock; so may a read, when an update is waiting for the lock).
//
//   auto z = nvobj::PSortedSet::create(store);
//   store.set_root("leaderboard", z);
//   z->add("alice", 12.5);
//   z->range_by_rank(0, 10, /*reverse=*/true, [](std::string_view m, double s) { ... });
#ifndef NVOBJ_POBJECTS_PSORTEDSET_H_
#define NVOBJ_POBJECTS_PSORTEDSET_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include <oneapi/tbb/rw_mutex.h>

#include "pobjects/durable_map.h"
#include "pobjects/map_core.h"
#include "pobjects/tree_index.h"

namespace nvobj {

class PSortedSet : public PObject<PSortedSet, DurableMapData> {
  using Core = detail::MapCore<detail::TreeIndex>;

 public:
  static constexpr std::string_view kClassName = "nvobj.PSortedSet";
  static constexpr RefMap kRefs = ref_map<DurableMapData>({offsetof(DurableMapData, lanes)});

  using MemberFn = std::function<void(std::string_view member, double score)>;

  // Opens the set: rebuilds the member index from the log (chunks scanned in
  // parallel), then the score index from the member index.
  PSortedSet(Store& store, uint64_t offset);
  ~PSortedSet() override;
  // A new empty set (unpublished: store a reference to it somewhere durable).
  static Ref<PSortedSet> create(Store& s);

  // --- reads (no fence) ---
  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  std::optional<double> score(std::string_view member) const;
  // 0-based rank in ascending (score, member) order, or from the highest when
  // reverse; -1 if member is absent.
  int64_t rank(std::string_view member, bool reverse = false) const;
  // Members of ranks [from, to), clamped to size(), in rank order; with
  // reverse, rank 0 is the highest (score, member).
  void range_by_rank(uint64_t from, uint64_t to, bool reverse, const MemberFn& f) const;
  // Members with min <= score <= max (a bound is strict when its
  // *_exclusive is set), skipping `offset` matches and yielding at most
  // `count` (count < 0: no limit), in ascending order, or from max down to
  // min when reverse. A NaN bound matches nothing.
  void range_by_score(double min, bool min_exclusive, double max, bool max_exclusive, bool reverse,
                      uint64_t offset, int64_t count, const MemberFn& f) const;
  // Every member, in member (byte) order.
  void for_each(const MemberFn& f) const;

  // --- updates (one fence each when they change the set, none otherwise) ---
  // Sets member's score; true if the member was new. Throws
  // std::invalid_argument for a NaN score.
  bool add(std::string_view member, double score);
  // ZINCRBY: member's score += delta (an absent member counts as 0); returns
  // the new score. Throws std::invalid_argument, writing nothing, if delta or
  // the result is NaN.
  double increment(std::string_view member, double delta);
  // True if the member was present.
  bool remove(std::string_view member);

  // Space and DRAM: the log's figures; dram_bytes counts both indexes.
  MapStats stats() const;
  static void destroy_object(Store& s, uint64_t offset) { destroy_log_object(s, offset); }

 private:
  struct ScoreIndex;  // the order-statistics tree (psortedset.cc)
  // An update between its record and its index change: readers that find
  // the member's new record in the member index report `old` instead, until
  // the score index has caught up (see psortedset.cc).
  struct Pending {
    std::string_view member;
    std::optional<double> old;
  };

  // The member's score as readers must see it (shared lock held).
  std::optional<double> visible_score(std::string_view member) const;
  // The member's score in the log (update_mu_ held, so it cannot change).
  std::optional<double> stored_score(std::string_view member) const;
  // Writes member's new score (nullopt: removes it) and applies it to the
  // score index; `old` is its current score. update_mu_ held.
  void write(std::string_view member, std::optional<double> old, std::optional<double> score);

  std::unique_ptr<Core> core_;
  std::unique_ptr<ScoreIndex> scores_;
  std::atomic<uint64_t> size_{0};
  std::atomic<const Pending*> pending_{nullptr};
  std::mutex update_mu_;                   // serialises updates (held across their fence)
  mutable oneapi::tbb::rw_mutex view_mu_;  // readers shared; updates apply a change exclusively
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PSORTEDSET_H_
