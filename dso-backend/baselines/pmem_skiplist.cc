#include "dso-backend/baselines/pmem_skiplist.h"

#include <cstring>
#include <functional>
#include <random>
#include <thread>

namespace nvobj::dso::pmemobj {

namespace {

// Levels with probability 1/4 each, as Redis.
uint32_t random_level() {
  thread_local std::minstd_rand rng(
      static_cast<uint32_t>(std::hash<std::thread::id>()(std::this_thread::get_id())));
  uint32_t level = 1;
  while (level < kSkipMaxLevel && (rng() & 3) == 0) ++level;
  return level;
}

std::string_view member_of(const PoolRef& pool, const SkipNode* x) {
  return pool.at<HNode>(x->member)->key();
}

// (a.score, a.member) < (score, member): members by their bytes.
bool less(const PoolRef& pool, const SkipNode* a, double score, std::string_view member) {
  if (a->score != score) return a->score < score;
  return member_of(pool, a) < member;
}

SkipNode* header_of(const PoolRef& pool, ZSet* z) { return pool.at<SkipNode>(z->header); }

// update[i]: the last node at level i before (score, member); rank[i]: its rank.
void find_position(const PoolRef& pool, ZSet* z, double score, std::string_view member,
                   SkipNode** update, uint64_t* rank) {
  SkipNode* x = header_of(pool, z);
  for (int i = static_cast<int>(z->level) - 1; i >= 0; --i) {
    rank[i] = i == static_cast<int>(z->level) - 1 ? 0 : rank[i + 1];
    for (uint64_t f; (f = x->levels()[i].forward) != 0;) {
      SkipNode* fwd = pool.at<SkipNode>(f);
      if (!less(pool, fwd, score, member)) break;
      rank[i] += x->levels()[i].span;
      x = fwd;
    }
    update[i] = x;
  }
}

void link(Tx& tx, ZSet* z, SkipNode* x, SkipNode** update, uint64_t* rank) {
  const PoolRef& pool = tx.pool();
  SkipNode* header = header_of(pool, z);
  uint64_t xoff = pool.off(x);
  if (x->level > z->level) {
    for (uint32_t i = z->level; i < x->level; ++i) {
      rank[i] = 0;
      update[i] = header;
      tx.add(&header->levels()[i], sizeof(SkipLevel));
      header->levels()[i] = {0, z->length};
    }
    tx.set(&z->level, x->level);
  }
  for (uint32_t i = 0; i < x->level; ++i) {
    SkipLevel& u = update[i]->levels()[i];
    tx.add(&u, sizeof(SkipLevel));
    x->levels()[i].forward = u.forward;
    x->levels()[i].span = u.span - (rank[0] - rank[i]);
    u.forward = xoff;
    u.span = rank[0] - rank[i] + 1;
  }
  for (uint32_t i = x->level; i < z->level; ++i) {
    tx.set(&update[i]->levels()[i].span, update[i]->levels()[i].span + 1);
  }
  x->backward = update[0] == header ? 0 : pool.off(update[0]);
  if (uint64_t f = x->levels()[0].forward; f != 0) {
    tx.set(&pool.at<SkipNode>(f)->backward, xoff);
  } else {
    tx.set(&z->tail, xoff);
  }
  tx.set(&z->length, z->length + 1);
}

void unlink(Tx& tx, ZSet* z, SkipNode* x, SkipNode** update) {
  const PoolRef& pool = tx.pool();
  uint64_t xoff = pool.off(x);
  for (uint32_t i = 0; i < z->level; ++i) {
    SkipLevel& u = update[i]->levels()[i];
    tx.add(&u, sizeof(SkipLevel));
    if (u.forward == xoff) {
      u.span += x->levels()[i].span - 1;
      u.forward = x->levels()[i].forward;
    } else {
      u.span -= 1;
    }
  }
  if (uint64_t f = x->levels()[0].forward; f != 0) {
    tx.set(&pool.at<SkipNode>(f)->backward, x->backward);
  } else {
    tx.set(&z->tail, x->backward);
  }
  SkipNode* header = header_of(pool, z);
  uint32_t level = z->level;
  while (level > 1 && header->levels()[level - 1].forward == 0) --level;
  if (level != z->level) tx.set(&z->level, level);
  tx.set(&z->length, z->length - 1);
}

SkipNode* new_node(Tx& tx, uint32_t level, double score, uint64_t member) {
  uint64_t off = tx.alloc(sizeof(SkipNode) + level * sizeof(SkipLevel), kTypeSkipNode);
  SkipNode* x = tx.at<SkipNode>(off);
  x->score = score;
  x->member = member;
  x->backward = 0;
  x->level = level;
  x->pad = 0;
  return x;
}

}  // namespace

uint64_t zs_create(Tx& tx) {
  uint64_t off = tx.alloc(sizeof(ZSet), kTypeZSet, /*zero=*/true);
  ZSet* z = tx.at<ZSet>(off);
  z->members = ht_create(tx, 2);
  z->header = tx.alloc(sizeof(SkipNode) + kSkipMaxLevel * sizeof(SkipLevel), kTypeSkipNode,
                       /*zero=*/true);
  tx.at<SkipNode>(z->header)->level = kSkipMaxLevel;
  z->level = 1;
  return off;
}

void zs_destroy(Tx& tx, uint64_t zset) {
  ZSet* z = tx.at<ZSet>(zset);
  for (uint64_t o = header_of(tx.pool(), z)->levels()[0].forward; o != 0;) {
    uint64_t next = tx.at<SkipNode>(o)->levels()[0].forward;
    tx.free(o);
    o = next;
  }
  tx.free(z->header);
  ht_destroy(tx, z->members, [](HNode*) {});
  tx.free(zset);
}

SkipNode* zs_insert(Tx& tx, ZSet* z, double score, HNode* member) {
  SkipNode* update[kSkipMaxLevel];
  uint64_t rank[kSkipMaxLevel];
  find_position(tx.pool(), z, score, member->key(), update, rank);
  SkipNode* x = new_node(tx, random_level(), score, tx.pool().off(member));
  link(tx, z, x, update, rank);
  return x;
}

void zs_delete(Tx& tx, ZSet* z, SkipNode* x) {
  SkipNode* update[kSkipMaxLevel];
  uint64_t rank[kSkipMaxLevel];
  find_position(tx.pool(), z, x->score, member_of(tx.pool(), x), update, rank);
  unlink(tx, z, x, update);
  tx.free(tx.pool().off(x));
}

SkipNode* zs_update_score(Tx& tx, ZSet* z, SkipNode* x, double score) {
  const PoolRef& pool = tx.pool();
  std::string_view member = member_of(pool, x);
  SkipNode* prev = pool.at<SkipNode>(x->backward);
  SkipNode* next = pool.at<SkipNode>(x->levels()[0].forward);
  if ((prev == nullptr || less(pool, prev, score, member)) &&
      (next == nullptr || !less(pool, next, score, member))) {
    tx.set(&x->score, score);
    return x;
  }
  HNode* m = pool.at<HNode>(x->member);
  zs_delete(tx, z, x);
  return zs_insert(tx, z, score, m);
}

SkipNode* zs_at_rank(const PoolRef& pool, ZSet* z, uint64_t r) {
  uint64_t want = r + 1;  // spans count ranks from 1
  uint64_t traversed = 0;
  SkipNode* x = header_of(pool, z);
  for (int i = static_cast<int>(z->level) - 1; i >= 0; --i) {
    while (x->levels()[i].forward != 0 && traversed + x->levels()[i].span <= want) {
      traversed += x->levels()[i].span;
      x = pool.at<SkipNode>(x->levels()[i].forward);
    }
    if (traversed == want) return x;
  }
  return nullptr;
}

SkipNode* zs_first_in_range(const PoolRef& pool, ZSet* z, ScoreBound min, ScoreBound max) {
  SkipNode* x = header_of(pool, z);
  for (int i = static_cast<int>(z->level) - 1; i >= 0; --i) {
    while (x->levels()[i].forward != 0 &&
           !score_gte_min(pool.at<SkipNode>(x->levels()[i].forward)->score, min)) {
      x = pool.at<SkipNode>(x->levels()[i].forward);
    }
  }
  x = pool.at<SkipNode>(x->levels()[0].forward);
  if (x == nullptr || !score_lte_max(x->score, max) || !score_gte_min(x->score, min)) {
    return nullptr;
  }
  return x;
}

SkipNode* zs_last_in_range(const PoolRef& pool, ZSet* z, ScoreBound min, ScoreBound max) {
  SkipNode* header = header_of(pool, z);
  SkipNode* x = header;
  for (int i = static_cast<int>(z->level) - 1; i >= 0; --i) {
    while (x->levels()[i].forward != 0 &&
           score_lte_max(pool.at<SkipNode>(x->levels()[i].forward)->score, max)) {
      x = pool.at<SkipNode>(x->levels()[i].forward);
    }
  }
  if (x == header || !score_gte_min(x->score, min) || !score_lte_max(x->score, max)) {
    return nullptr;
  }
  return x;
}

}  // namespace nvobj::dso::pmemobj
