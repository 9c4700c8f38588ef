// TreeIndex: PTreeMap's volatile index, an ordered map (key -> MapEntry)
// under one reader-writer spin lock: reads and ordered scans share it,
// updates hold it exclusively only to change an entry (after their record
// is durable, see map_core.h). Rebuilt at every open: from the log, or from
// the entries saved at a clean close (index_snapshot.h).
//
// Point lookups (get, every update, the cleaner's repointing) go through a
// hash of the keys beside the tree, as Redis pairs a dict with each sorted
// set's skiplist: a tree walk costs ~17 cache misses at 100 K keys, the hash
// one or two. The tree keeps the order (inserts, scans, first/floor/...).
// The hash is sharded so that no rehash moves more than 1/64 of the keys.
#ifndef NVOBJ_POBJECTS_TREE_INDEX_H_
#define NVOBJ_POBJECTS_TREE_INDEX_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/map_core.h"

namespace nvobj::detail {

class TreeIndex {
  using Map = std::map<std::string, MapEntry, std::less<>>;

 public:
  struct Key {
    std::string_view s;
    uint64_t hash;  // for the update stripes
  };
  static Key key(std::string_view s) { return {s, std::hash<std::string_view>{}(s)}; }

  class SharedLock {
   public:
    SharedLock(TreeIndex& ix, const Key&) : lock_(ix.mu_, /*write=*/false) {}
    explicit SharedLock(TreeIndex& ix) : lock_(ix.mu_, false) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };
  class ExclusiveLock {
   public:
    ExclusiveLock(TreeIndex& ix, const Key&) : lock_(ix.mu_, /*write=*/true) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  MapEntry* find(const Key& k) {
    auto h = lookup(k);
    return h == end_of(k) ? nullptr : &h->second->second;
  }
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    if (MapEntry* e = find(k)) return *e;
    auto it = map_.emplace_hint(map_.lower_bound(k.s), std::string(k.s), MapEntry{});
    try {
      shard(k).emplace(k.hash, it);
    } catch (...) {
      map_.erase(it);
      throw;
    }
    it->second.loc = loc;
    return it->second;
  }
  void erase(const Key& k) {
    auto h = lookup(k);
    if (h == end_of(k)) return;
    map_.erase(h->second);
    shard(k).erase(h);
  }

  // f(key, entry) for every entry, in key order, 256 at a time under the
  // shared lock; flush() after each batch, with no lock held.
  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    std::string after;
    bool started = false;
    for (;;) {
      bool more = false;
      {
        tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
        auto it = started ? map_.upper_bound(after) : map_.begin();
        for (int n = 0; it != map_.end() && n < 256; ++it, ++n) f(it->first, it->second);
        more = it != map_.end();
        if (it != map_.begin()) {
          after = std::prev(it)->first;
          started = true;
        }
      }
      flush();
      if (!more) return;
    }
  }

  // Ordered reads, all under the shared lock (the caller's SharedLock).
  // f(key, entry) returns false to stop.
  template <typename F>
  void scan_up(std::string_view from, bool inclusive, F&& f) const {
    auto it = inclusive ? map_.lower_bound(from) : map_.upper_bound(from);
    for (; it != map_.end(); ++it)
      if (!f(std::string_view(it->first), it->second)) return;
  }
  // From the greatest key <= `from` (or < when !inclusive; the last key when
  // from is nullopt) downwards.
  template <typename F>
  void scan_down(std::optional<std::string_view> from, bool inclusive, F&& f) const {
    auto it = !from ? map_.end() : inclusive ? map_.upper_bound(*from) : map_.lower_bound(*from);
    while (it != map_.begin()) {
      --it;
      if (!f(std::string_view(it->first), it->second)) return;
    }
  }

  uint64_t dram_bytes() {
    tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
    uint64_t b = 0;
    for (const auto& [k, e] : map_)
      b += 4 * sizeof(void*) + sizeof(Map::value_type) + (k.size() > 15 ? k.capacity() + 1 : 0);
    for (const Hash& h : by_hash_)  // a node (next, value, cached hash) per key, and the buckets
      b += h.size() * (3 * sizeof(void*) + sizeof(Hash::value_type)) +
           h.bucket_count() * sizeof(void*);
    return b;
  }

 private:
  // Keyed by the key's hash (Key::hash, computed once per operation), so
  // the hash function is the identity; equal hashes are told apart by the
  // tree's key.
  struct Identity {
    size_t operator()(uint64_t h) const noexcept { return h; }
  };
  using Hash = std::unordered_multimap<uint64_t, Map::iterator, Identity>;
  static constexpr size_t kHashShards = 64;

  Hash& shard(const Key& k) { return by_hash_[(k.hash >> 58) % kHashShards]; }
  Hash::iterator end_of(const Key& k) { return shard(k).end(); }
  Hash::iterator lookup(const Key& k) {
    auto [it, end] = shard(k).equal_range(k.hash);
    for (; it != end; ++it)
      if (it->second->first == k.s) return it;
    return end_of(k);
  }

  tbb::spin_rw_mutex mu_;
  Map map_;
  std::array<Hash, kHashShards> by_hash_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_TREE_INDEX_H_
