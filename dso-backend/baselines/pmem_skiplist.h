// Internal to the pmemobj-tx baseline: a sorted set in the pool. A member
// table (pmem_hash_table.h: member -> skip node, for ZSCORE and ZADD's
// lookup) and a persistent skip list ordered by (score, member bytes), with
// a span per forward link as in Redis's zskiplist, so ranks cost O(log n).
// Members are stored once, as the member table's node keys; a skip node
// points to its member's node. Every change is made inside the caller's
// transaction: an insert snapshots one link per level (O(log n) snapshots).
#ifndef NVOBJ_DSO_BACKEND_BASELINES_PMEM_SKIPLIST_H_
#define NVOBJ_DSO_BACKEND_BASELINES_PMEM_SKIPLIST_H_

#include <cstdint>
#include <string_view>

#include "dso-backend/backend.h"
#include "dso-backend/baselines/pmem_hash_table.h"
#include "dso-backend/baselines/pmem_tx.h"

namespace nvobj::dso::pmemobj {

inline constexpr uint32_t kSkipMaxLevel = 32;

struct SkipLevel {
  uint64_t forward;  // next node at this level (0 = end)
  uint64_t span;     // rank distance to it
};

struct SkipNode {
  double score;
  uint64_t member;    // the member table's HNode (its key is the member)
  uint64_t backward;  // previous node at level 0 (0 = first)
  uint32_t level;
  uint32_t pad;
  SkipLevel* levels() { return reinterpret_cast<SkipLevel*>(this + 1); }
};
static_assert(sizeof(SkipNode) == 32);

struct ZSet {
  uint64_t members;  // HTable: member -> HNode whose ref is the SkipNode
  uint64_t header;   // SkipNode with kSkipMaxLevel levels, no member
  uint64_t tail;
  uint64_t length;
  uint32_t level;
  uint32_t pad;
};

uint64_t zs_create(Tx& tx);
void zs_destroy(Tx& tx, uint64_t zset);

// Links a new skip node for (score, member node); returns it.
SkipNode* zs_insert(Tx& tx, ZSet* z, double score, HNode* member);
// Unlinks and frees x.
void zs_delete(Tx& tx, ZSet* z, SkipNode* x);
// Gives x a new score: in place if its neighbours keep it in order, else by
// deleting and reinserting. Returns the node now holding the member.
SkipNode* zs_update_score(Tx& tx, ZSet* z, SkipNode* x, double score);

// The node at 0-based rank r (ascending), or nullptr.
SkipNode* zs_at_rank(const PoolRef& pool, ZSet* z, uint64_t r);
// The first (lowest) / last (highest) node with a score inside [min, max].
SkipNode* zs_first_in_range(const PoolRef& pool, ZSet* z, ScoreBound min, ScoreBound max);
SkipNode* zs_last_in_range(const PoolRef& pool, ZSet* z, ScoreBound min, ScoreBound max);

inline bool score_gte_min(double s, ScoreBound min) {
  return min.exclusive ? s > min.value : s >= min.value;
}
inline bool score_lte_max(double s, ScoreBound max) {
  return max.exclusive ? s < max.value : s <= max.value;
}

}  // namespace nvobj::dso::pmemobj

#endif  // NVOBJ_DSO_BACKEND_BASELINES_PMEM_SKIPLIST_H_
