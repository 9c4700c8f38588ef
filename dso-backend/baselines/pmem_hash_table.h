// Internal to the pmemobj-tx baseline: a persistent chained hash table, the
// structure behind the key space, every hash and every sorted set's member
// index. All of it is in the pool and every change goes through the caller's
// transaction, as in PCJ's persistent collections.
//
// Growth is linear hashing (Litwin): when the table holds more than one node
// per bucket, the next bucket in split order is split, so each insert moves
// at most one short chain and a transaction never rehashes the whole table.
// Buckets live in segments of doubling size (segment 0: 2^base_log buckets,
// segment s >= 1: 2^(base_log + s - 1)), so growing never copies the bucket
// array either. Tables never shrink (PCJ's do not either); an emptied
// container is deleted whole.
#ifndef NVOBJ_DSO_BACKEND_BASELINES_PMEM_HASH_TABLE_H_
#define NVOBJ_DSO_BACKEND_BASELINES_PMEM_HASH_TABLE_H_

#include <cstdint>
#include <string_view>

#include "dso-backend/baselines/pmem_tx.h"

namespace nvobj::dso::pmemobj {

// A chain node: header, then key_len key bytes, then val_len value bytes.
struct HNode {
  uint64_t next;  // next node in the bucket's chain (offset, 0 = end)
  uint64_t hash;  // stable_hash(key), kept so that splits never rehash keys
  uint64_t ref;   // key space: the value object; sorted sets: the skip node
  uint32_t key_len;
  uint32_t val_len;
  uint8_t type;  // key space: the ValueType of the value object
  uint8_t pad[7];

  char* key_bytes() { return reinterpret_cast<char*>(this + 1); }
  char* val_bytes() { return key_bytes() + key_len; }
  std::string_view key() { return {key_bytes(), key_len}; }
  std::string_view val() { return {val_bytes(), val_len}; }
};
static_assert(sizeof(HNode) == 40);

inline constexpr int kMaxSegments = 40;

struct HTable {
  uint64_t count;
  uint32_t base_log;
  uint32_t level;  // buckets in split rounds: 2^(base_log + level) before splitting
  uint64_t split;  // next bucket to split in this round
  uint64_t segments[kMaxSegments];  // bucket arrays (uint64_t chain heads)
};

// Creates an empty table with 2^base_log buckets; returns its offset.
uint64_t ht_create(Tx& tx, uint32_t base_log);

// The node holding `key` (hash h), or nullptr. *link (if given) receives the
// word that points to it (a bucket head or the previous node's next).
HNode* ht_find(const PoolRef& pool, HTable* t, std::string_view key, uint64_t h,
               uint64_t** link = nullptr);

// A new, unlinked node for `key` with room for val_len value bytes.
HNode* ht_make_node(Tx& tx, std::string_view key, uint64_t h, uint32_t val_len);

// Links a new node for `key` with room for val_len value bytes (the caller
// fills them, and ref/type, without snapshots: the node is new). May split a
// bucket, which invalidates links found before.
HNode* ht_insert(Tx& tx, HTable* t, std::string_view key, uint64_t h, uint32_t val_len);

// Unlinks the node `link` points to and frees it.
void ht_erase(Tx& tx, HTable* t, uint64_t* link);

// Puts `fresh` (new, not yet linked) in place of the node `link` points to,
// and frees that node. For a value whose size changed.
void ht_replace(Tx& tx, uint64_t* link, HNode* fresh);

// fn(node) for every node, in bucket order.
template <typename Fn>
void ht_for_each(const PoolRef& pool, HTable* t, Fn&& fn);

// Frees every node (calling before(node) first, to free what it owns), the
// segments and the table itself.
template <typename Fn>
void ht_destroy(Tx& tx, uint64_t table, Fn&& before);

// --- implementation of the templates ---

uint64_t ht_bucket_count(const HTable* t);
uint64_t* ht_bucket(const PoolRef& pool, HTable* t, uint64_t i);

template <typename Fn>
void ht_for_each(const PoolRef& pool, HTable* t, Fn&& fn) {
  uint64_t n = ht_bucket_count(t);
  for (uint64_t i = 0; i < n; ++i) {
    for (uint64_t o = *ht_bucket(pool, t, i); o != 0;) {
      HNode* node = pool.at<HNode>(o);
      o = node->next;  // fn may not unlink, but read next first anyway
      fn(node);
    }
  }
}

template <typename Fn>
void ht_destroy(Tx& tx, uint64_t table, Fn&& before) {
  HTable* t = tx.at<HTable>(table);
  ht_for_each(tx.pool(), t, [&](HNode* node) {
    before(node);
    tx.free(tx.pool().off(node));
  });
  for (uint64_t seg : t->segments) tx.free(seg);
  tx.free(table);
}

}  // namespace nvobj::dso::pmemobj

#endif  // NVOBJ_DSO_BACKEND_BASELINES_PMEM_HASH_TABLE_H_
