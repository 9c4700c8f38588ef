// HashIndex: PHashMap's volatile index (key -> MapEntry).
//
// The keys are not copied to DRAM: a slot holds the key's 64-bit hash and
// its MapEntry, whose record (in the pool) holds the key. A lookup compares
// hashes in the slot array and then the key in the record, which a read
// needs anyway for the value: one cache miss for the slot, one for the
// record (a std::unordered_map<std::string, ...> adds the node and the key
// string). DRAM per key is a slot (48 B) over the load factor.
//
// The table is sharded (512 shards, by the hash's low bits), each an
// open-addressing table with linear probing under a reader-writer spin lock;
// a shard grows on its own (no stop-the-world rehash: a shard holds 1/512 of
// the keys). Rebuilt from the log at an open after a crash, or loaded from
// the index saved at a clean close without reading a record (map_core.h).
#ifndef NVOBJ_POBJECTS_HASH_INDEX_H_
#define NVOBJ_POBJECTS_HASH_INDEX_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/map_core.h"

namespace nvobj::detail {

class HashIndex {
 public:
  struct Key {
    std::string_view s;
    uint64_t hash;  // never 0 (0 marks an empty slot)
  };
  static Key key(std::string_view s) {
    uint64_t h = std::hash<std::string_view>{}(s);
    return {s, h == 0 ? 1 : h};
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    MapEntry entry;
  };
  struct alignas(64) Shard {
    tbb::spin_rw_mutex mu;
    std::unique_ptr<Slot[]> slots;
    uint64_t mask = 0;  // capacity - 1 (capacity a power of two, or 0)
    uint64_t count = 0;
    // slots and mask for prefetch(), which takes no lock: a stale pair
    // (grow() replaced the array meanwhile) only prefetches a useless line.
    std::atomic<const Slot*> hint_slots{nullptr};
    std::atomic<uint64_t> hint_mask{0};
  };

 public:
  static constexpr uint64_t kShards = 512;
  static uint64_t shard_of(uint64_t hash) { return hash % kShards; }
  // Grows shard `sh` so that `count` more entries fit without growing
  // (loading; no lock: the caller owns the shard).
  void presize(uint64_t sh, uint64_t count) {
    Shard& s = shards_[sh];
    while ((s.count + count) * 4 > (s.mask + 1) * 3) grow(s);
  }

  HashIndex() : shards_(new Shard[kShards]) {}

  class SharedLock {
   public:
    SharedLock(HashIndex& ix, const Key& k) : lock_(ix.shard(k).mu, /*write=*/false) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };
  class ExclusiveLock {
   public:
    ExclusiveLock(HashIndex& ix, const Key& k) : lock_(ix.shard(k).mu, /*write=*/true) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  // The entry of k (valid while the shard's lock is held), or null.
  MapEntry* find(const Key& k) {
    Slot* s = probe(k, [&](const Slot& s) { return key_of(s.entry) == k.s; });
    return s != nullptr ? &s->entry : nullptr;
  }
  // The entry of k if it points to `loc` (whose record holds k), or null:
  // the location identifies the entry, so the key in the record (a cache
  // miss) need not be compared.
  MapEntry* find_at(const Key& k, RecordLog::Loc loc) {
    Slot* s = probe(k, [&](const Slot& s) { return s.entry.loc == loc; });
    return s != nullptr ? &s->entry : nullptr;
  }
  // Starts moving the line of k's shard lock here, to be written.
  void prefetch_lock(const Key& k) { prefetch_for_write(&shard(k)); }
  // Starts loading the cache line where a lookup of k begins. No lock (a
  // hint taking the shard's lock cost two locked instructions per call).
  void prefetch(const Key& k) {
    Shard& sh = shard(k);
    const Slot* slots = sh.hint_slots.load(std::memory_order_relaxed);
    uint64_t mask = sh.hint_mask.load(std::memory_order_relaxed);
    if (slots == nullptr) return;
    // Integer arithmetic: the address may lie past a replaced array.
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(slots) +
                                                     probe_index(k.hash, mask) * sizeof(Slot)));
  }
  // Starts loading the record of the first entry whose hash is k's (most
  // likely k's: no key compare, which would wait for that very record),
  // under the shard's read lock (the slot array may be replaced).
  void prefetch_record(const Key& k) {
    Shard& sh = shard(k);
    tbb::spin_rw_mutex::scoped_lock lock(sh.mu, /*write=*/false);
    if (const Slot* s = probe(k, [](const Slot&) { return true; })) {
      __builtin_prefetch(s->entry.loc.rec);  // the header and what follows it
      __builtin_prefetch(reinterpret_cast<const char*>(s->entry.loc.rec) + 63);
    }
  }
  // A new entry for a key known to be absent (a clean-close snapshot's),
  // made with `loc`: no key compare, so its record is not read.
  MapEntry& insert_loaded(uint64_t hash, RecordLog::Loc loc) {
    Shard& sh = shards_[shard_of(hash)];
    if ((sh.count + 1) * 4 > (sh.mask + 1) * 3) grow(sh);
    uint64_t i = probe_start(sh, hash);
    while (sh.slots[i].hash != 0) i = (i + 1) & sh.mask;
    sh.slots[i].hash = hash;
    sh.slots[i].entry = MapEntry{};
    sh.slots[i].entry.loc = loc;
    ++sh.count;
    return sh.slots[i].entry;
  }
  // f(hash, entry) for every entry, one shard at a time under its shared
  // lock (records not read).
  template <typename F>
  void for_each_slot(F&& f) {
    for (uint64_t i = 0; i < kShards; ++i) {
      tbb::spin_rw_mutex::scoped_lock lock(shards_[i].mu, false);
      Shard& sh = shards_[i];
      if (sh.mask != 0)
        for (uint64_t j = 0; j <= sh.mask; ++j)
          if (sh.slots[j].hash != 0) f(sh.slots[j].hash, sh.slots[j].entry);
    }
  }
  // k's entry, made with `loc` (whose record holds k) if absent.
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    if (MapEntry* e = find(k)) return *e;
    return insert_loaded(k.hash, loc);
  }
  void erase(const Key& k) {
    Shard& sh = shard(k);
    MapEntry* e = find(k);
    if (e == nullptr) return;
    // Backward-shift deletion keeps every probe sequence unbroken.
    uint64_t hole = static_cast<uint64_t>(
        reinterpret_cast<Slot*>(reinterpret_cast<char*>(e) - offsetof(Slot, entry)) -
        sh.slots.get());
    for (uint64_t j = (hole + 1) & sh.mask;; j = (j + 1) & sh.mask) {
      Slot& s = sh.slots[j];
      if (s.hash == 0) break;
      uint64_t home = probe_start(sh, s.hash);
      // Move s into the hole unless its home lies cyclically in (hole, j].
      bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        sh.slots[hole] = s;
        hole = j;
      }
    }
    sh.slots[hole].hash = 0;
    --sh.count;
  }

  // f(key, entry) for every entry, one shard at a time under its shared
  // lock; flush() after each shard, with no lock held.
  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    for (uint64_t i = 0; i < kShards; ++i) {
      {
        tbb::spin_rw_mutex::scoped_lock lock(shards_[i].mu, false);
        Shard& sh = shards_[i];
        if (sh.mask != 0)
          for (uint64_t j = 0; j <= sh.mask; ++j)
            if (sh.slots[j].hash != 0) f(key_of(sh.slots[j].entry), sh.slots[j].entry);
      }
      flush();
    }
  }

  // DRAM held by the index.
  uint64_t dram_bytes() {
    uint64_t b = sizeof(Shard) * kShards;
    for (uint64_t i = 0; i < kShards; ++i) {
      tbb::spin_rw_mutex::scoped_lock lock(shards_[i].mu, false);
      if (shards_[i].mask != 0) b += (shards_[i].mask + 1) * sizeof(Slot);
    }
    return b;
  }

 private:
  static std::string_view key_of(const MapEntry& e) {
    return decode_map_record(*e.loc.rec, e.loc.body()).key;
  }
  Shard& shard(const Key& k) { return shards_[shard_of(k.hash)]; }
  // The first slot of k's probe sequence with k's hash for which
  // match(slot) holds, or null (caller holds the shard's lock).
  template <typename Match>
  Slot* probe(const Key& k, Match match) {
    Shard& sh = shard(k);
    if (sh.mask == 0) return nullptr;
    for (uint64_t i = probe_start(sh, k.hash);; i = (i + 1) & sh.mask) {
      Slot& s = sh.slots[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == k.hash && match(s)) return &s;
    }
  }
  static uint64_t probe_index(uint64_t hash, uint64_t mask) { return (hash >> 9) & mask; }
  static uint64_t probe_start(const Shard& sh, uint64_t hash) { return probe_index(hash, sh.mask); }

  void grow(Shard& sh) {
    uint64_t cap = sh.mask == 0 ? 16 : (sh.mask + 1) * 2;
    std::unique_ptr<Slot[]> old = std::move(sh.slots);
    uint64_t old_cap = sh.mask == 0 ? 0 : sh.mask + 1;
    sh.slots.reset(new Slot[cap]);
    sh.mask = cap - 1;
    // The mask first: a prefetch that sees the old array with the new mask
    // may address past it, which a prefetch tolerates; the new array with
    // the old mask stays inside it.
    sh.hint_mask.store(sh.mask, std::memory_order_relaxed);
    sh.hint_slots.store(sh.slots.get(), std::memory_order_relaxed);
    for (uint64_t j = 0; j < old_cap; ++j) {
      if (old[j].hash == 0) continue;
      uint64_t i = probe_start(sh, old[j].hash);
      while (sh.slots[i].hash != 0) i = (i + 1) & sh.mask;
      sh.slots[i] = old[j];
    }
  }

  std::unique_ptr<Shard[]> shards_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_HASH_INDEX_H_
