#include "dso-backend/baselines/pmem_hash_table.h"

#include <bit>
#include <cstddef>
#include <cstring>

namespace nvobj::dso::pmemobj {

// split_one snapshots level and split as one range.
static_assert(offsetof(HTable, split) == offsetof(HTable, level) + sizeof(uint32_t));

namespace {

int segment_of(const HTable* t, uint64_t i) {
  return i < (uint64_t{1} << t->base_log) ? 0 : static_cast<int>(std::bit_width(i >> t->base_log));
}

uint64_t segment_start(const HTable* t, int s) {
  return s == 0 ? 0 : uint64_t{1} << (t->base_log + s - 1);
}

uint64_t segment_size(const HTable* t, int s) {
  return s == 0 ? uint64_t{1} << t->base_log : uint64_t{1} << (t->base_log + s - 1);
}

uint64_t address(const HTable* t, uint64_t h) {
  uint64_t n0 = uint64_t{1} << (t->base_log + t->level);
  uint64_t b = h & (n0 - 1);
  if (b < t->split) b = h & (2 * n0 - 1);
  return b;
}

// Splits bucket `split` into itself and its image one round up.
void split_one(Tx& tx, HTable* t) {
  const PoolRef& pool = tx.pool();
  uint64_t n0 = uint64_t{1} << (t->base_log + t->level);
  uint64_t p = t->split;
  uint64_t j = p + n0;
  int s = segment_of(t, j);
  if (s >= kMaxSegments) return;  // unreachable in practice: chains just grow
  if (t->segments[s] == 0) {
    tx.set(&t->segments[s],
           tx.alloc(segment_size(t, s) * sizeof(uint64_t), kTypeSegment, /*zero=*/true));
  }
  uint64_t* from = ht_bucket(pool, t, p);
  uint64_t* to = ht_bucket(pool, t, j);
  // Relink the chain of p into two chains, keeping each chain's order.
  uint64_t stay_head = 0, move_head = 0;
  uint64_t* stay_tail = &stay_head;
  uint64_t* move_tail = &move_head;
  for (uint64_t o = *from; o != 0;) {
    HNode* node = pool.at<HNode>(o);
    uint64_t next = node->next;
    uint64_t*& tail = (node->hash & n0) != 0 ? move_tail : stay_tail;
    if (tail != &stay_head && tail != &move_head)
      tx.set(tail, o);
    else
      *tail = o;
    tail = &node->next;
    o = next;
  }
  if (stay_tail != &stay_head) tx.set(stay_tail, uint64_t{0});
  if (move_tail != &move_head) tx.set(move_tail, uint64_t{0});
  tx.set(from, stay_head);
  tx.set(to, move_head);
  tx.add(&t->level, sizeof(t->level) + sizeof(t->split));  // adjacent fields
  if (++t->split == n0) {
    t->split = 0;
    ++t->level;
  }
}

}  // namespace

uint64_t ht_bucket_count(const HTable* t) {
  return (uint64_t{1} << (t->base_log + t->level)) + t->split;
}

uint64_t* ht_bucket(const PoolRef& pool, HTable* t, uint64_t i) {
  int s = segment_of(t, i);
  return pool.at<uint64_t>(t->segments[s]) + (i - segment_start(t, s));
}

uint64_t ht_create(Tx& tx, uint32_t base_log) {
  uint64_t off = tx.alloc(sizeof(HTable), kTypeTable, /*zero=*/true);
  HTable* t = tx.at<HTable>(off);
  t->base_log = base_log;
  t->segments[0] = tx.alloc(segment_size(t, 0) * sizeof(uint64_t), kTypeSegment, /*zero=*/true);
  return off;
}

HNode* ht_find(const PoolRef& pool, HTable* t, std::string_view key, uint64_t h, uint64_t** link) {
  uint64_t* l = ht_bucket(pool, t, address(t, h));
  while (*l != 0) {
    HNode* node = pool.at<HNode>(*l);
    if (node->hash == h && node->key_len == key.size() &&
        std::memcmp(node->key_bytes(), key.data(), key.size()) == 0) {
      if (link != nullptr) *link = l;
      return node;
    }
    l = &node->next;
  }
  return nullptr;
}

HNode* ht_make_node(Tx& tx, std::string_view key, uint64_t h, uint32_t val_len) {
  uint64_t off = tx.alloc(sizeof(HNode) + key.size() + val_len, kTypeHashNode);
  HNode* node = tx.at<HNode>(off);
  std::memset(node, 0, sizeof(HNode));
  node->hash = h;
  node->key_len = static_cast<uint32_t>(key.size());
  node->val_len = val_len;
  std::memcpy(node->key_bytes(), key.data(), key.size());
  return node;
}

HNode* ht_insert(Tx& tx, HTable* t, std::string_view key, uint64_t h, uint32_t val_len) {
  HNode* node = ht_make_node(tx, key, h, val_len);
  uint64_t off = tx.pool().off(node);
  uint64_t* head = ht_bucket(tx.pool(), t, address(t, h));
  node->next = *head;
  tx.set(head, off);
  tx.set(&t->count, t->count + 1);
  if (t->count > ht_bucket_count(t)) split_one(tx, t);
  return node;
}

void ht_erase(Tx& tx, HTable* t, uint64_t* link) {
  uint64_t off = *link;
  tx.set(link, tx.at<HNode>(off)->next);
  tx.free(off);
  tx.set(&t->count, t->count - 1);
}

void ht_replace(Tx& tx, uint64_t* link, HNode* fresh) {
  uint64_t old = *link;
  fresh->next = tx.at<HNode>(old)->next;
  tx.set(link, tx.pool().off(fresh));
  tx.free(old);
}

}  // namespace nvobj::dso::pmemobj
