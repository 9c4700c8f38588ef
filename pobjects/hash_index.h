// HashIndex: PHashMap's volatile index (key -> MapEntry), sharded: each
// shard is a hash table under a reader-writer spin lock, so reads of
// different shards never touch a common cache line, and a table grows one
// shard at a time (no stop-the-world rehash: a shard holds 1/512 of the
// keys). Rebuilt from the log at every open (map_core.h).
#ifndef NVOBJ_POBJECTS_HASH_INDEX_H_
#define NVOBJ_POBJECTS_HASH_INDEX_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/map_core.h"

namespace nvobj::detail {

class HashIndex {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {
    tbb::spin_rw_mutex mu;
    std::unordered_map<std::string, MapEntry, Hash, std::equal_to<>> map;
  };
  static constexpr size_t kShards = 512;

 public:
  HashIndex() : shards_(new Shard[kShards]) {}

  class SharedLock {
   public:
    SharedLock(HashIndex& ix, std::string_view key) : lock_(ix.shard(key).mu, /*write=*/false) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };
  class ExclusiveLock {
   public:
    ExclusiveLock(HashIndex& ix, std::string_view key) : lock_(ix.shard(key).mu, /*write=*/true) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  MapEntry* find(std::string_view key) {
    auto& m = shard(key).map;
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  }
  MapEntry& emplace(std::string_view key) {
    auto& m = shard(key).map;
    auto it = m.find(key);
    if (it != m.end()) return it->second;
    return m.emplace(std::string(key), MapEntry{}).first->second;
  }
  void erase(std::string_view key) {
    auto& m = shard(key).map;
    if (auto it = m.find(key); it != m.end()) m.erase(it);
  }

  // f(key, entry) for every entry, one shard at a time under its shared
  // lock; flush() after each shard, with no lock held.
  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    for (size_t i = 0; i < kShards; ++i) {
      {
        tbb::spin_rw_mutex::scoped_lock lock(shards_[i].mu, false);
        for (const auto& [k, e] : shards_[i].map) f(k, e);
      }
      flush();
    }
  }

  // DRAM held by the index (tables and key strings), estimated.
  uint64_t dram_bytes() {
    uint64_t b = sizeof(Shard) * kShards;
    for (size_t i = 0; i < kShards; ++i) {
      tbb::spin_rw_mutex::scoped_lock lock(shards_[i].mu, false);
      const auto& m = shards_[i].map;
      b += m.bucket_count() * sizeof(void*);
      for (const auto& [k, e] : m)
        b += sizeof(void*) + sizeof(size_t) + sizeof(std::pair<const std::string, MapEntry>) +
             (k.size() > 15 ? k.capacity() + 1 : 0);
    }
    return b;
  }

 private:
  Shard& shard(std::string_view key) {
    // High bits: the table inside a shard uses the low ones.
    return shards_[(Hash{}(key) >> 40) % kShards];
  }
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_HASH_INDEX_H_
