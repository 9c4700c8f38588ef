// MapCore<Index>: the operations of the durable maps (PHashMap, PTreeMap)
// over a RecordLog (record_log.h) and a volatile index of the latest record
// of each key. The two maps differ only in their index.
//
// Records: kind kPut (body: u32 key length, key, value), kPutRef (body: u32
// key length, key; the value is the record's ref, owned by the map) and
// kRemove (a tombstone: body as kPutRef, no ref); meta is the version, from
// one counter per map, so the record of a key with the highest version is its
// latest. Recovery keeps, per key, the highest version.
//
// Concurrency. An update takes its key's stripe lock (serialising updates of
// a key), reads the current entry, appends its record (durable: one fence)
// and only then changes the index entry, under the index's exclusive lock
// for that key, briefly. Reads take the index's shared lock and copy from the
// record; they never see a record that is not durable, so they never fence.
// The cleaner repoints entries under the same locks (see record_log.h).
//
// The index keeps a removed key (present = false) while older records of it
// remain in the log (`older`): its tombstone must outlive them, or recovery
// would bring the key back.
#ifndef NVOBJ_POBJECTS_MAP_CORE_H_
#define NVOBJ_POBJECTS_MAP_CORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pobjects/record_log.h"

namespace nvobj::detail {

enum MapRecordKind : uint32_t { kPut = 1, kPutRef = 2, kRemove = 3 };

struct MapEntry {
  RecordLog::Loc loc;
  uint64_t version = 0;
  uint32_t older = 0;    // records of this key in the log other than loc
  uint32_t span = 0;     // bytes loc's record occupies (so updates need not read it)
  uint32_t kind = 0;     // loc's record kind
  bool present = false;  // false: loc is a tombstone (or the entry is being made)
};

// Decoded record body.
struct MapRecordView {
  std::string_view key;
  std::string_view value;  // kPut only
};

inline MapRecordView decode_map_record(const RecordHeader& h, const char* body) {
  uint32_t klen;
  std::memcpy(&klen, body, sizeof(klen));
  MapRecordView v;
  v.key = std::string_view(body + 4, klen);
  if (h.kind == kPut) v.value = std::string_view(body + 4 + klen, h.body_len - 4 - klen);
  return v;
}

// What a map operation sees of a key: absent, a byte value or a reference.
struct MapValue {
  bool present = false;
  bool is_ref = false;
  std::string_view bytes;  // valid while the index lock is held
  uint64_t ref = 0;
};

// Index requirements (see HashIndex, TreeIndex):
//   class SharedLock / ExclusiveLock { (Index&, std::string_view key) };
//   MapEntry* find(std::string_view key);          // under either lock
//   MapEntry& emplace(std::string_view key);       // exclusive
//   void erase(std::string_view key);              // exclusive
//   template <F> void for_each_locked(F f)  // f(const std::string&, const MapEntry&),
//                                           // each part of the index under its shared lock
template <typename Index>
class MapCore final : public RecordLog::Owner {
 public:
  // Opens (and recovers) the map whose LogLanes object is at lanes_off.
  MapCore(Store& store, uint64_t lanes_off)
      : store_(store),
        log_(
            store, lanes_off, this,
            [this](RecordLog::Loc loc, const RecordHeader& h, const char* body) {
              recover_record(loc, h, body);
            },
            std::max(1u, std::thread::hardware_concurrency())) {
    finish_recovery();
  }

  // Reads: f(MapValue) runs under the key's shared lock.
  template <typename F>
  auto read(std::string_view key, F&& f) const {
    typename Index::SharedLock lock(index_, key);
    const MapEntry* e = index_.find(key);
    return f(value_of(e));
  }

  // Updates: fn(const MapValue& current) decides the new state of the key:
  // returns kKeep (no write, no fence), or a put / put_ref / remove. The
  // decision and the write are atomic for the key. Returns fn's decision.
  // With kNeedsBytes false, fn sees presence and is_ref/ref but no bytes
  // (the old record is not read: one cache miss less for blind writes).
  struct Decision {
    enum Op { kKeep, kPutBytes, kPutRef, kRemoveKey } op = kKeep;
    std::string_view bytes;
    uint64_t ref = 0;
  };
  template <bool kNeedsBytes = true, typename F>
  Decision update(std::string_view key, F&& fn) {
    std::unique_lock stripe(stripe_for(key));
    MapEntry cur;
    MapEntry* slot = nullptr;  // stable: only updates holding the stripe erase
    Decision d;
    {
      typename Index::SharedLock lock(index_, key);
      slot = index_.find(key);
      if (slot != nullptr) cur = *slot;
      MapValue curv;
      if constexpr (kNeedsBytes) {
        curv = value_of(cur.loc ? &cur : nullptr);
      } else if (cur.present) {
        curv.present = true;
        curv.is_ref = cur.kind == kPutRef;
      }
      d = fn(curv);  // runs with the record readable; the stripe keeps it current
    }
    if (d.op == Decision::kKeep || (d.op == Decision::kRemoveKey && !cur.present)) {
      d.op = Decision::kKeep;
      return d;
    }
    uint32_t klen = static_cast<uint32_t>(key.size());
    std::string_view klen_bytes(reinterpret_cast<const char*>(&klen), sizeof(klen));
    uint64_t version = next_version_.fetch_add(1, std::memory_order_relaxed);
    RecordLog::Loc loc;
    switch (d.op) {
      case Decision::kPutBytes:
        loc = log_.append(kPut, version, 0, {klen_bytes, key, d.bytes});
        break;
      case Decision::kPutRef: loc = log_.append(kPutRef, version, d.ref, {klen_bytes, key}); break;
      default: loc = log_.append(kRemove, version, 0, {klen_bytes, key}); break;
    }
    {
      typename Index::ExclusiveLock lock(index_, key);
      MapEntry& e = slot != nullptr ? *slot : index_.emplace(key);
      if (e.loc) {
        log_.dead(e.loc, e.span);
        ++e.older;
      }
      e.loc = loc;
      e.version = version;
      e.span = static_cast<uint32_t>(record_span(loc.rec->body_len));
      e.kind = loc.rec->kind;
      bool was = e.present;
      e.present = d.op != Decision::kRemoveKey;
      if (was != e.present) size_.fetch_add(e.present ? 1 : -1, std::memory_order_relaxed);
    }
    stripe.unlock();
    log_.maybe_clean();
    return d;
  }

  uint64_t size() const { return static_cast<uint64_t>(size_.load(std::memory_order_relaxed)); }

  // Weakly consistent: every key present for the whole call is visited once,
  // with some value it had during the call. f(key, MapValue) is called
  // without locks held (values are copied), so it may use the map.
  template <typename F>
  void for_each(F&& f) const {
    std::vector<std::pair<std::string, std::pair<std::string, uint64_t>>> batch;
    index_.for_each_locked(
        [&](const std::string& key, const MapEntry& e) {
          if (!e.present) return;
          MapValue v = value_of(&e);
          batch.emplace_back(key, std::make_pair(std::string(v.bytes), v.ref));
        },
        [&] {
          for (auto& [k, v] : batch) {
            MapValue mv;
            mv.present = true;
            mv.is_ref = v.second != 0;
            mv.bytes = v.first;
            mv.ref = v.second;
            f(std::string_view(k), mv);
          }
          batch.clear();
        });
  }

  RecordLog& log() { return log_; }
  const RecordLog& log() const { return log_; }
  const Index& index() const { return index_; }

  // --- RecordLog::Owner -------------------------------------------------------------
  bool is_latest(RecordLog::Loc loc) override {
    std::string_view key = decode_map_record(*loc.rec, loc.body()).key;
    typename Index::SharedLock lock(index_, key);
    MapEntry* e = index_.find(key);
    return e != nullptr && e->loc == loc;
  }
  bool relocate(RecordLog::Loc from, RecordLog::Loc to) override {
    std::string_view key = decode_map_record(*from.rec, from.body()).key;
    std::lock_guard stripe(stripe_for(key));
    typename Index::ExclusiveLock lock(index_, key);
    MapEntry* e = index_.find(key);
    if (e != nullptr && e->loc == from) {
      e->loc = to;
      return true;
    }
    if (e != nullptr) ++e->older;  // the copy is one more superseded record
    return false;
  }
  void dropped(const RecordHeader& h, const char* body, bool last_copy) override {
    std::string_view key = decode_map_record(h, body).key;
    RecordLog::Loc tomb;
    {
      std::lock_guard stripe(stripe_for(key));
      typename Index::ExclusiveLock lock(index_, key);
      MapEntry* e = index_.find(key);
      if (e != nullptr && e->older > 0 && --e->older == 0 && !e->present) {
        tomb = e->loc;  // nothing older left for the tombstone to hide
        index_.erase(key);
      }
    }
    if (tomb) log_.dead(tomb);
    if (last_copy && h.kind == kPutRef && h.ref != 0) store_.destroy_object(h.ref);
  }

 private:
  MapValue value_of(const MapEntry* e) const {
    MapValue v;
    if (e == nullptr || !e->present) return v;
    v.present = true;
    const RecordHeader& h = *e->loc.rec;
    if (h.kind == kPutRef) {
      v.is_ref = true;
      v.ref = h.ref;
    } else {
      v.bytes = decode_map_record(h, e->loc.body()).value;
    }
    return v;
  }

  std::mutex& stripe_for(std::string_view key) {
    return stripes_[std::hash<std::string_view>{}(key) % kStripes].mu;
  }

  void recover_record(RecordLog::Loc loc, const RecordHeader& h, const char* body) {
    if (h.kind != kPut && h.kind != kPutRef && h.kind != kRemove) return;  // not ours
    std::string_view key = decode_map_record(h, body).key;
    uint64_t v = h.meta;
    uint64_t seen = max_version_.load(std::memory_order_relaxed);
    while (v > seen && !max_version_.compare_exchange_weak(seen, v)) {
    }
    RecordLog::Loc superseded;
    {
      std::lock_guard stripe(stripe_for(key));
      typename Index::ExclusiveLock lock(index_, key);
      MapEntry& e = index_.emplace(key);
      if (!e.loc || v > e.version) {
        if (e.loc) {
          superseded = e.loc;
          ++e.older;
        }
        e.loc = loc;
        e.version = v;
        e.span = static_cast<uint32_t>(record_span(h.body_len));
        e.kind = h.kind;
      } else {
        superseded = loc;
        ++e.older;
      }
      e.present = e.kind != kRemove;
    }
    if (superseded) log_.dead(superseded);
  }

  void finish_recovery() {
    next_version_.store(max_version_.load() + 1);
    // Tombstones hiding nothing are dead; count what is present.
    std::vector<std::string> lone;
    int64_t n = 0;
    index_.for_each_locked(
        [&](const std::string& key, const MapEntry& e) {
          if (e.present)
            ++n;
          else if (e.older == 0)
            lone.push_back(key);
        },
        [] {});
    for (const std::string& key : lone) {
      typename Index::ExclusiveLock lock(index_, key);
      if (MapEntry* e = index_.find(key)) {
        log_.dead(e->loc);
        index_.erase(key);
      }
    }
    size_.store(n);
  }

  struct alignas(64) Stripe {
    std::mutex mu;
  };
  static constexpr size_t kStripes = 256;

  Store& store_;
  mutable Index index_;  // its locks are taken by const reads
  std::array<Stripe, kStripes> stripes_;
  std::atomic<uint64_t> max_version_{0};
  std::atomic<uint64_t> next_version_{1};
  std::atomic<int64_t> size_{0};
  RecordLog log_;  // last: its constructor calls back into the members above
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_MAP_CORE_H_
