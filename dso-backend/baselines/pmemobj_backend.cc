// The pmemobj-tx baseline (see baselines.h). Pool layout, all of it in the
// libpmemobj pool and reached from its root object:
//
//   Root: magic, version, key space table
//   key space: HTable (pmem_hash_table.h) of HNodes: key -> (type, ref)
//   string: Blob {len, bytes}, replaced whole (or overwritten in place when
//           the length is unchanged)
//   hash:   HTable of HNodes: field -> value bytes inline in the node
//   list:   List {head, tail, size} of ListNodes {prev, next, len, bytes}:
//           push/pop at both ends O(1); LINDEX, LSET, LINSERT and LREM by
//           index walk from the nearer end, O(min(i, n - i)); LRANGE from
//           `from` costs that walk plus the elements it returns
//   zset:   ZSet (pmem_skiplist.h): member table + skip list with spans
//
// Every write call is one transaction (pmem_tx.h): snapshots of the words
// it changes in place, allocations and frees published at commit. Reads
// traverse the pool; no value is copied into DRAM and nothing is rebuilt at
// open (libpmemobj's own recovery rolls back a transaction cut by a crash).
//
// Concurrency: the key space table is guarded by one shared_mutex. A call
// that cannot add or remove a key (the key exists and the call leaves its
// container non-empty) holds it shared for the whole call, including its
// transaction: calls on different keys then run their transactions in
// parallel (libpmemobj transactions are per thread), and the caller's key
// locks (backend.h) keep calls on one key apart. A call that adds or removes
// a key, and may thus relink chains or split a bucket of the key space,
// holds it exclusive.
#include <libpmemobj.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dso-backend/baselines/baselines.h"
#include "dso-backend/baselines/pmem_hash_table.h"
#include "dso-backend/baselines/pmem_skiplist.h"
#include "dso-backend/baselines/pmem_tx.h"

namespace nvobj::dso {

namespace {

using pmemobj::HNode;
using pmemobj::HTable;
using pmemobj::PoolRef;
using pmemobj::SkipNode;
using pmemobj::stable_hash;
using pmemobj::Tx;
using pmemobj::ZSet;

constexpr uint64_t kRootMagic = 0x314a424f4d505344ull;  // "DSPMOBJ1"
constexpr uint64_t kVersion = 1;
constexpr uint32_t kKeySpaceBaseLog = 10;  // 1024 buckets to start with
constexpr uint32_t kHashBaseLog = 2;       // small hashes stay small

struct Root {
  uint64_t magic;
  uint64_t version;
  uint64_t keyspace;  // HTable
};

struct Blob {
  uint64_t len;
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() { return {bytes(), len}; }
};

struct List {
  uint64_t head;
  uint64_t tail;
  uint64_t size;
};

struct ListNode {
  uint64_t prev;
  uint64_t next;
  uint64_t len;
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() { return {bytes(), len}; }
};

ValueType type_of(const HNode* n) { return static_cast<ValueType>(n->type); }

class PmemobjBackend final : public Backend {
 public:
  PmemobjBackend(PMEMobjpool* pop, std::string path, uint64_t pool_bytes, bool forced)
      : pool_(pop), path_(std::move(path)), pool_bytes_(pool_bytes), pmem_forced_(forced) {
    root_ = pool_.at<Root>(pmemobj_root(pop, sizeof(Root)).off);
  }
  ~PmemobjBackend() override { pmemobj_close(pool_.pop()); }

  // Makes the root point to an empty key space when the pool is new.
  Status init() {
    if (root_->magic == kRootMagic) {
      if (root_->version != kVersion) {
        return Status(StatusCode::kVersionMismatch,
                      fmt::format("pmemobj-tx pool {} has layout version {}, this build reads {}",
                                  path_, root_->version, kVersion));
      }
      return Status::ok();
    }
    if (root_->magic != 0) {
      return Status(StatusCode::kCorrupt, "pmemobj-tx pool " + path_ + ": bad root object");
    }
    try {
      Tx tx(pool_);
      tx.add(root_, sizeof(Root));
      root_->keyspace = pmemobj::ht_create(tx, kKeySpaceBaseLog);
      root_->version = kVersion;
      root_->magic = kRootMagic;
      tx.commit();
    } catch (const StorageError& e) {
      return Status(e.code(), e.what());
    }
    return Status::ok();
  }

  std::string_view name() const override { return "pmemobj-tx"; }

  std::string info() override {
    uint64_t allocated = 0, run_allocated = 0, run_active = 0;
    pmemobj_ctl_get(pool_.pop(), "stats.heap.curr_allocated", &allocated);
    pmemobj_ctl_get(pool_.pop(), "stats.heap.run_allocated", &run_allocated);
    pmemobj_ctl_get(pool_.pop(), "stats.heap.run_active", &run_active);
    return fmt::format(
        "pmemobj_pool:{}\r\npmemobj_pool_bytes:{}\r\npmemobj_allocated_bytes:{}\r\n"
        "pmemobj_run_allocated_bytes:{}\r\npmemobj_run_active_bytes:{}\r\npmemobj_keys:{}\r\n"
        "pmemobj_tx_commits:{}\r\npmemobj_tx_aborts:{}\r\npmemobj_pmem_forced:{}\r\n",
        path_, pool_bytes_, allocated, run_allocated, run_active, size(),
        commits_.load(std::memory_order_relaxed), aborts_.load(std::memory_order_relaxed),
        pmem_forced_ ? 1 : 0);
  }

  // --- key space ---

  ValueType type(std::string_view key) override {
    std::shared_lock lock(mu_);
    HNode* n = find_key(key, stable_hash(key));
    return n == nullptr ? ValueType::kNone : type_of(n);
  }

  bool del(std::string_view key) override {
    return write(
        key, [](HNode*) { return false; },
        [&](HNode* n, uint64_t h) {
          if (n == nullptr) return false;
          Tx tx(pool_);
          erase_key(tx, key, h);
          commit(tx);
          return true;
        });
  }

  uint64_t size() override {
    std::shared_lock lock(mu_);
    return keys()->count;
  }

  void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) override {
    // Copied out so that fn runs without the lock (it may call back in).
    std::vector<std::pair<std::string, ValueType>> all;
    {
      std::shared_lock lock(mu_);
      all.reserve(keys()->count);
      pmemobj::ht_for_each(pool_, keys(),
                           [&](HNode* n) { all.emplace_back(n->key(), type_of(n)); });
    }
    for (const auto& [k, t] : all) fn(k, t);
  }

  void flush_all() override {
    std::unique_lock lock(mu_);
    Tx tx(pool_);
    uint64_t old = root_->keyspace;
    tx.set(&root_->keyspace, pmemobj::ht_create(tx, kKeySpaceBaseLog));
    pmemobj::ht_destroy(tx, old, [&](HNode* n) { free_value(tx, type_of(n), n->ref); });
    commit(tx);
  }

  // --- strings ---

  Found get(std::string_view key, std::string* value) override {
    std::shared_lock lock(mu_);
    HNode* n = find_key(key, stable_hash(key));
    if (n == nullptr) return Found::kMissing;
    if (type_of(n) != ValueType::kString) return Found::kWrongType;
    value->assign(pool_.at<Blob>(n->ref)->view());
    return Found::kOk;
  }

  void set(std::string_view key, std::string_view value) override {
    write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t h) {
          Tx tx(pool_);
          set_string(tx, n, key, h, value);
          commit(tx);
          return 0;
        });
  }

  Found update(std::string_view key, const UpdateFn& fn) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t h) {
          std::optional<std::string_view> current;
          if (n != nullptr) {
            if (type_of(n) != ValueType::kString) return Found::kWrongType;
            current = pool_.at<Blob>(n->ref)->view();
          }
          std::optional<std::string> next = fn(current);
          if (!next) return Found::kOk;
          Tx tx(pool_);
          set_string(tx, n, key, h, *next);
          commit(tx);
          return Found::kOk;
        });
  }

  // --- hashes ---

  Found hget(std::string_view key, std::string_view field, std::string* value) override {
    std::shared_lock lock(mu_);
    HTable* t = nullptr;
    if (Found f = container(key, ValueType::kHash, &t); f != Found::kOk) return f;
    HNode* fn = pmemobj::ht_find(pool_, t, field, stable_hash(field));
    if (fn == nullptr) return Found::kMissing;
    value->assign(fn->val());
    return Found::kOk;
  }

  Found hset(std::string_view key, std::string_view field, std::string_view value,
             bool* created) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t h) {
          if (n != nullptr && type_of(n) != ValueType::kHash) return Found::kWrongType;
          Tx tx(pool_);
          if (n == nullptr)
            n = insert_key(tx, key, h, ValueType::kHash, pmemobj::ht_create(tx, kHashBaseLog));
          HTable* t = pool_.at<HTable>(n->ref);
          uint64_t fh = stable_hash(field);
          uint64_t* link = nullptr;
          HNode* f = pmemobj::ht_find(pool_, t, field, fh, &link);
          *created = f == nullptr;
          if (f == nullptr) {
            f = pmemobj::ht_insert(tx, t, field, fh, static_cast<uint32_t>(value.size()));
            std::memcpy(f->val_bytes(), value.data(), value.size());
          } else if (f->val_len == value.size()) {
            tx.add(f->val_bytes(), value.size());
            std::memcpy(f->val_bytes(), value.data(), value.size());
          } else {
            HNode* fresh =
                pmemobj::ht_make_node(tx, field, fh, static_cast<uint32_t>(value.size()));
            std::memcpy(fresh->val_bytes(), value.data(), value.size());
            pmemobj::ht_replace(tx, link, fresh);
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found hdel(std::string_view key, std::string_view field) override {
    return write(
        key,
        [&](HNode* n) {
          return type_of(n) != ValueType::kHash || pool_.at<HTable>(n->ref)->count > 1;
        },
        [&](HNode* n, uint64_t h) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kHash) return Found::kWrongType;
          HTable* t = pool_.at<HTable>(n->ref);
          uint64_t* link = nullptr;
          if (pmemobj::ht_find(pool_, t, field, stable_hash(field), &link) == nullptr) {
            return Found::kMissing;
          }
          Tx tx(pool_);
          if (t->count == 1) {
            erase_key(tx, key, h);
          } else {
            pmemobj::ht_erase(tx, t, link);
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found hlen(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(mu_);
    HTable* t = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kHash, &t); f != Found::kOk) return f;
    *n = t->count;
    return Found::kOk;
  }

  Found hscan(std::string_view key,
              const std::function<void(std::string_view, std::string_view)>& fn) override {
    std::shared_lock lock(mu_);
    HTable* t = nullptr;
    if (Found f = container(key, ValueType::kHash, &t); f != Found::kOk) return f;
    pmemobj::ht_for_each(pool_, t, [&](HNode* node) { fn(node->key(), node->val()); });
    return Found::kOk;
  }

  // --- lists ---

  Found llen(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(mu_);
    List* l = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    *n = l->size;
    return Found::kOk;
  }

  Found lindex(std::string_view key, uint64_t i, std::string* value) override {
    std::shared_lock lock(mu_);
    List* l = nullptr;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    if (i >= l->size) return Found::kMissing;
    value->assign(node_at(l, i)->view());
    return Found::kOk;
  }

  Found lset(std::string_view key, uint64_t i, std::string_view value) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kList) return Found::kWrongType;
          List* l = pool_.at<List>(n->ref);
          if (i >= l->size) return Found::kMissing;
          ListNode* old = node_at(l, i);
          Tx tx(pool_);
          if (old->len == value.size()) {
            tx.add(old->bytes(), value.size());
            std::memcpy(old->bytes(), value.data(), value.size());
          } else {
            ListNode* fresh = new_list_node(tx, value);
            fresh->prev = old->prev;
            fresh->next = old->next;
            uint64_t off = pool_.off(fresh);
            tx.set(old->prev != 0 ? &pool_.at<ListNode>(old->prev)->next : &l->head, off);
            tx.set(old->next != 0 ? &pool_.at<ListNode>(old->next)->prev : &l->tail, off);
            tx.free(pool_.off(old));
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t h) {
          if (n != nullptr && type_of(n) != ValueType::kList) return Found::kWrongType;
          Tx tx(pool_);
          if (n == nullptr) {
            n = insert_key(tx, key, h, ValueType::kList,
                           tx.alloc(sizeof(List), pmemobj::kTypeList, /*zero=*/true));
          }
          List* l = pool_.at<List>(n->ref);
          ListNode* x = new_list_node(tx, value);
          if (front) {
            link_before(tx, l, x, pool_.at<ListNode>(l->head));
          } else {
            link_after(tx, l, x, pool_.at<ListNode>(l->tail));
          }
          commit(tx);
          *len = l->size;
          return Found::kOk;
        });
  }

  Found pop(std::string_view key, bool front, std::string* value) override {
    return write(
        key,
        [&](HNode* n) {
          return type_of(n) != ValueType::kList || pool_.at<List>(n->ref)->size > 1;
        },
        [&](HNode* n, uint64_t h) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kList) return Found::kWrongType;
          List* l = pool_.at<List>(n->ref);
          ListNode* x = pool_.at<ListNode>(front ? l->head : l->tail);
          std::string out(x->view());
          remove_element(key, h, l, x);
          *value = std::move(out);
          return Found::kOk;
        });
  }

  Found lrange(std::string_view key, uint64_t from, uint64_t to,
               const std::function<void(std::string_view)>& fn) override {
    std::shared_lock lock(mu_);
    List* l = nullptr;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    to = std::min(to, l->size);
    if (from >= to) return Found::kOk;
    ListNode* x = node_at(l, from);
    for (uint64_t k = from; k < to; ++k) {
      fn(x->view());
      x = pool_.at<ListNode>(x->next);
    }
    return Found::kOk;
  }

  Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kList) return Found::kWrongType;
          List* l = pool_.at<List>(n->ref);
          if (i >= l->size) return Found::kMissing;
          ListNode* at = node_at(l, i);
          Tx tx(pool_);
          ListNode* x = new_list_node(tx, value);
          if (after) {
            link_after(tx, l, x, at);
          } else {
            link_before(tx, l, x, at);
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found lremove(std::string_view key, uint64_t i) override {
    return write(
        key,
        [&](HNode* n) {
          return type_of(n) != ValueType::kList || pool_.at<List>(n->ref)->size > 1;
        },
        [&](HNode* n, uint64_t h) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kList) return Found::kWrongType;
          List* l = pool_.at<List>(n->ref);
          if (i >= l->size) return Found::kMissing;
          remove_element(key, h, l, node_at(l, i));
          return Found::kOk;
        });
  }

  // --- sorted sets ---

  Found zscore(std::string_view key, std::string_view member, double* score) override {
    std::shared_lock lock(mu_);
    ZSet* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    HNode* m = pmemobj::ht_find(pool_, pool_.at<HTable>(z->members), member, stable_hash(member));
    if (m == nullptr) return Found::kMissing;
    *score = pool_.at<SkipNode>(m->ref)->score;
    return Found::kOk;
  }

  Found zadd(std::string_view key, std::string_view member, double score, bool* created) override {
    return write(
        key, [](HNode*) { return true; },
        [&](HNode* n, uint64_t h) {
          if (n != nullptr && type_of(n) != ValueType::kZSet) return Found::kWrongType;
          uint64_t mh = stable_hash(member);
          HNode* m = nullptr;
          if (n != nullptr) {
            ZSet* z = pool_.at<ZSet>(n->ref);
            m = pmemobj::ht_find(pool_, pool_.at<HTable>(z->members), member, mh);
            // Same score: nothing to write (ZADD of an unchanged member).
            if (m != nullptr && pool_.at<SkipNode>(m->ref)->score == score) {
              *created = false;
              return Found::kOk;
            }
          }
          Tx tx(pool_);
          if (n == nullptr) n = insert_key(tx, key, h, ValueType::kZSet, pmemobj::zs_create(tx));
          ZSet* z = pool_.at<ZSet>(n->ref);
          *created = m == nullptr;
          if (m == nullptr) {
            m = pmemobj::ht_insert(tx, pool_.at<HTable>(z->members), member, mh, 0);
            m->ref = pool_.off(pmemobj::zs_insert(tx, z, score, m));
          } else {
            SkipNode* x = pmemobj::zs_update_score(tx, z, pool_.at<SkipNode>(m->ref), score);
            if (pool_.off(x) != m->ref) tx.set(&m->ref, pool_.off(x));
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found zrem(std::string_view key, std::string_view member) override {
    return write(
        key,
        [&](HNode* n) {
          return type_of(n) != ValueType::kZSet || pool_.at<ZSet>(n->ref)->length > 1;
        },
        [&](HNode* n, uint64_t h) {
          if (n == nullptr) return Found::kMissing;
          if (type_of(n) != ValueType::kZSet) return Found::kWrongType;
          ZSet* z = pool_.at<ZSet>(n->ref);
          HTable* members = pool_.at<HTable>(z->members);
          uint64_t* link = nullptr;
          HNode* m = pmemobj::ht_find(pool_, members, member, stable_hash(member), &link);
          if (m == nullptr) return Found::kMissing;
          Tx tx(pool_);
          if (z->length == 1) {
            erase_key(tx, key, h);
          } else {
            pmemobj::zs_delete(tx, z, pool_.at<SkipNode>(m->ref));
            pmemobj::ht_erase(tx, members, link);
          }
          commit(tx);
          return Found::kOk;
        });
  }

  Found zcard(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(mu_);
    ZSet* z = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    *n = z->length;
    return Found::kOk;
  }

  Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
               const ZFn& fn) override {
    std::shared_lock lock(mu_);
    ZSet* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    to = std::min(to, z->length);
    if (from >= to) return Found::kOk;
    // Rank `from` counted from the top is ascending rank length - 1 - from.
    SkipNode* x = pmemobj::zs_at_rank(pool_, z, reverse ? z->length - 1 - from : from);
    for (uint64_t k = from; k < to && x != nullptr; ++k) {
      fn(member_of(x), x->score);
      x = pool_.at<SkipNode>(reverse ? x->backward : x->levels()[0].forward);
    }
    return Found::kOk;
  }

  Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                        uint64_t offset, int64_t count, const ZFn& fn) override {
    std::shared_lock lock(mu_);
    ZSet* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    SkipNode* x = reverse ? pmemobj::zs_last_in_range(pool_, z, min, max)
                          : pmemobj::zs_first_in_range(pool_, z, min, max);
    auto next = [&](SkipNode* y) {
      SkipNode* r = pool_.at<SkipNode>(reverse ? y->backward : y->levels()[0].forward);
      if (r == nullptr) return r;
      bool inside =
          reverse ? pmemobj::score_gte_min(r->score, min) : pmemobj::score_lte_max(r->score, max);
      return inside ? r : nullptr;
    };
    for (; x != nullptr && offset > 0; --offset) x = next(x);
    for (; x != nullptr && count != 0; x = next(x)) {
      fn(member_of(x), x->score);
      if (count > 0) --count;
    }
    return Found::kOk;
  }

 private:
  HTable* keys() const { return pool_.at<HTable>(root_->keyspace); }

  HNode* find_key(std::string_view key, uint64_t h, uint64_t** link = nullptr) const {
    return pmemobj::ht_find(pool_, keys(), key, h, link);
  }

  // The container of type `want` under key: kMissing, kWrongType or kOk.
  template <typename T>
  Found container(std::string_view key, ValueType want, T** out) const {
    HNode* n = find_key(key, stable_hash(key));
    if (n == nullptr) return Found::kMissing;
    if (type_of(n) != want) return Found::kWrongType;
    *out = pool_.at<T>(n->ref);
    return Found::kOk;
  }

  std::string_view member_of(SkipNode* x) const { return pool_.at<HNode>(x->member)->key(); }

  // Runs one write call. body(node or nullptr, hash of key) runs under the
  // shared lock when the key exists and in_place(node) says the call cannot
  // add or remove it; otherwise under the exclusive lock (see the top of
  // this file). The caller's key lock keeps the key's state from changing
  // between the two looks.
  template <typename InPlace, typename Body>
  std::invoke_result_t<Body, HNode*, uint64_t> write(std::string_view key, InPlace in_place,
                                                     Body body) {
    uint64_t h = stable_hash(key);
    try {
      {
        std::shared_lock lock(mu_);
        HNode* n = find_key(key, h);
        if (n != nullptr && in_place(n)) return body(n, h);
      }
      std::unique_lock lock(mu_);
      return body(find_key(key, h), h);
    } catch (const StorageError&) {
      aborts_.fetch_add(1, std::memory_order_relaxed);
      throw;
    }
  }

  void commit(Tx& tx) {
    tx.commit();
    commits_.fetch_add(1, std::memory_order_relaxed);
  }

  HNode* insert_key(Tx& tx, std::string_view key, uint64_t h, ValueType t, uint64_t ref) {
    HNode* n = pmemobj::ht_insert(tx, keys(), key, h, 0);
    n->type = static_cast<uint8_t>(t);
    n->ref = ref;
    return n;
  }

  // Removes the key and frees its value (exclusive lock held).
  void erase_key(Tx& tx, std::string_view key, uint64_t h) {
    uint64_t* link = nullptr;
    HNode* n = find_key(key, h, &link);
    free_value(tx, type_of(n), n->ref);
    pmemobj::ht_erase(tx, keys(), link);
  }

  uint64_t new_blob(Tx& tx, std::string_view value) {
    uint64_t off = tx.alloc(sizeof(Blob) + value.size(), pmemobj::kTypeBlob);
    Blob* b = pool_.at<Blob>(off);
    b->len = value.size();
    std::memcpy(b->bytes(), value.data(), value.size());
    return off;
  }

  void set_string(Tx& tx, HNode* n, std::string_view key, uint64_t h, std::string_view value) {
    if (n == nullptr) {
      insert_key(tx, key, h, ValueType::kString, new_blob(tx, value));
      return;
    }
    if (type_of(n) == ValueType::kString) {
      Blob* b = pool_.at<Blob>(n->ref);
      if (b->len == value.size()) {  // same size: overwrite in place
        tx.add(b->bytes(), value.size());
        std::memcpy(b->bytes(), value.data(), value.size());
        return;
      }
    }
    uint64_t old = n->ref;
    ValueType old_type = type_of(n);
    tx.set(&n->ref, new_blob(tx, value));
    tx.set(&n->type, static_cast<uint8_t>(ValueType::kString));
    free_value(tx, old_type, old);
  }

  void free_value(Tx& tx, ValueType t, uint64_t ref) {
    switch (t) {
      case ValueType::kString: tx.free(ref); break;
      case ValueType::kHash: pmemobj::ht_destroy(tx, ref, [](HNode*) {}); break;
      case ValueType::kList: {
        for (uint64_t o = pool_.at<List>(ref)->head; o != 0;) {
          uint64_t next = pool_.at<ListNode>(o)->next;
          tx.free(o);
          o = next;
        }
        tx.free(ref);
        break;
      }
      case ValueType::kZSet: pmemobj::zs_destroy(tx, ref); break;
      case ValueType::kObject:  // user-defined objects: nvobj backend only
      case ValueType::kNone: break;
    }
  }

  ListNode* new_list_node(Tx& tx, std::string_view value) {
    uint64_t off = tx.alloc(sizeof(ListNode) + value.size(), pmemobj::kTypeListNode);
    ListNode* x = pool_.at<ListNode>(off);
    x->prev = x->next = 0;
    x->len = value.size();
    std::memcpy(x->bytes(), value.data(), value.size());
    return x;
  }

  // Element i, walking from the nearer end.
  ListNode* node_at(List* l, uint64_t i) const {
    if (i < l->size / 2) {
      ListNode* x = pool_.at<ListNode>(l->head);
      while (i-- > 0) x = pool_.at<ListNode>(x->next);
      return x;
    }
    ListNode* x = pool_.at<ListNode>(l->tail);
    for (uint64_t k = l->size - 1; k > i; --k) x = pool_.at<ListNode>(x->prev);
    return x;
  }

  // Links new node x after `at` (nullptr: the list is empty).
  void link_after(Tx& tx, List* l, ListNode* x, ListNode* at) {
    uint64_t xo = pool_.off(x);
    x->prev = pool_.off(at);
    x->next = at != nullptr ? at->next : 0;
    tx.set(at != nullptr ? &at->next : &l->head, xo);
    tx.set(x->next != 0 ? &pool_.at<ListNode>(x->next)->prev : &l->tail, xo);
    tx.set(&l->size, l->size + 1);
  }

  void link_before(Tx& tx, List* l, ListNode* x, ListNode* at) {
    uint64_t xo = pool_.off(x);
    x->next = pool_.off(at);
    x->prev = at != nullptr ? at->prev : 0;
    tx.set(at != nullptr ? &at->prev : &l->tail, xo);
    tx.set(x->prev != 0 ? &pool_.at<ListNode>(x->prev)->next : &l->head, xo);
    tx.set(&l->size, l->size + 1);
  }

  // Removes element x, and the key with it when x is the last element.
  void remove_element(std::string_view key, uint64_t h, List* l, ListNode* x) {
    Tx tx(pool_);
    if (l->size == 1) {
      erase_key(tx, key, h);
    } else {
      tx.set(x->prev != 0 ? &pool_.at<ListNode>(x->prev)->next : &l->head, x->next);
      tx.set(x->next != 0 ? &pool_.at<ListNode>(x->next)->prev : &l->tail, x->prev);
      tx.set(&l->size, l->size - 1);
      tx.free(pool_.off(x));
    }
    commit(tx);
  }

  PoolRef pool_;
  Root* root_ = nullptr;
  std::string path_;
  uint64_t pool_bytes_;
  bool pmem_forced_;
  // Guards the key space table (see the top of this file).
  mutable std::shared_mutex mu_;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> aborts_{0};
};

bool on_tmpfs(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) p = p.has_parent_path() ? p.parent_path() : ".";
  struct statfs sfs;
  return ::statfs(p.c_str(), &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

std::string pmemobj_message(int err) {
  const char* m = pmemobj_errormsg();
  return m != nullptr && *m != '\0' ? std::string(m) : std::string(std::strerror(err));
}

}  // namespace

Result<std::unique_ptr<Backend>> make_pmemobj_backend(const std::string& path, uint64_t size) {
  bool forced = false;
  if (std::getenv("PMEM_IS_PMEM_FORCE") == nullptr && on_tmpfs(path)) {
    // Read by libpmem the first time it checks a mapping: before the open.
    ::setenv("PMEM_IS_PMEM_FORCE", "1", 0);
    forced = true;
  } else if (const char* f = std::getenv("PMEM_IS_PMEM_FORCE")) {
    forced = std::string_view(f) == "1";
  }

  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  PMEMobjpool* pop = nullptr;
  if (!exists) {
    if (size == 0) {
      return Status(StatusCode::kNotFound,
                    "pmemobj-tx pool " + path + " does not exist (give a size to create it)");
    }
    if (size < PMEMOBJ_MIN_POOL) {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("pmemobj-tx pool {}: size {} is below libpmemobj's minimum of {} "
                                "bytes (8 MiB)",
                                path, size, PMEMOBJ_MIN_POOL));
    }
    pop = pmemobj_create(path.c_str(), kPmemobjLayout, size, 0600);
    if (pop == nullptr) {
      int err = errno;
      Status s = status_from_errno(err, "create pmemobj-tx pool " + path);
      return Status(s.code(),
                    "cannot create pmemobj-tx pool " + path + ": " + pmemobj_message(err));
    }
  } else {
    pop = pmemobj_open(path.c_str(), kPmemobjLayout);
    if (pop == nullptr) {
      int err = errno;
      std::string msg = pmemobj_message(err);
      // libpmemobj says EINVAL for a file that is not a pool of this layout
      // (bad signature, wrong layout name, bad checksum).
      StatusCode code = err == EINVAL ? StatusCode::kNotAPool : status_from_errno(err, path).code();
      return Status(code, "cannot open pmemobj-tx pool " + path + ": " + msg);
    }
    size = static_cast<uint64_t>(st.st_size);
  }
  // curr_allocated (for info) is a persistent statistic: keep it from the start.
  enum pobj_stats_enabled stats = POBJ_STATS_ENABLED_BOTH;
  pmemobj_ctl_set(pop, "stats.enabled", &stats);
  if (OID_IS_NULL(pmemobj_root(pop, sizeof(Root)))) {
    int err = errno;
    pmemobj_close(pop);
    return Status(StatusCode::kNoSpace,
                  "pmemobj-tx pool " + path + ": no root object: " + pmemobj_message(err));
  }
  auto backend = std::make_unique<PmemobjBackend>(pop, path, size, forced);
  NVOBJ_RETURN_IF_ERROR(backend->init());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nvobj::dso
