// MapCore<Index>: the operations of the durable maps (PHashMap, PTreeMap)
// over a RecordLog (record_log.h) and a volatile index of the latest record
// of each key. The two maps differ only in their index.
//
// Records: kind kPut (body: u32 key length, key, value), kPutRef (body: u32
// key length, key; the value is the record's ref, owned by the map) and
// kRemove (a tombstone: body as kPutRef, no ref); meta is the version, from
// a counter per stripe of keys (per map for PList), so the record of a key
// with the highest version is its latest. Recovery keeps, per key, the
// highest version.
//
// Concurrency. An update takes its key's stripe lock (serialising updates of
// a key), reads the current entry, appends its record (durable: one fence)
// and only then changes the index entry, under the index's exclusive lock
// for that key, briefly. Reads take the index's shared lock and copy from the
// record; they never see a record that is not durable, so they never fence.
// The cleaner repoints entries under the index's exclusive lock (see
// record_log.h), and never moves a record appended and not yet installed.
//
// The index keeps a removed key (present = false, loc = its tombstone): the
// tombstone must stay in the log as long as older records of the key do, or
// recovery would bring the key back. Tombstones are swept in batches: when
// they exceed an eighth of the keys (and 256), one pass over the log finds
// those that still hide an older record; the others are dropped. So the
// cleaner never has to look up the keys of the dead records it discards.
#ifndef NVOBJ_POBJECTS_MAP_CORE_H_
#define NVOBJ_POBJECTS_MAP_CORE_H_

#include <algorithm>
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
#include <unordered_map>
#include <vector>

#include "pobjects/index_snapshot.h"
#include "pobjects/record_log.h"

namespace nvobj {

// Space and memory figures of one map (or list).
struct MapStats {
  uint64_t size = 0;
  uint64_t chunks = 0;
  uint64_t pool_bytes = 0;    // log chunks (allocation sizes)
  uint64_t record_bytes = 0;  // bytes of records in them
  uint64_t dead_bytes = 0;    // ... superseded and not yet cleaned
  uint64_t cleanings = 0;
  uint64_t copied_bytes = 0;          // records the cleaner copied since the open
  uint64_t background_cleanings = 0;  // of the cleanings, by the background cleaner
  uint64_t tombstones = 0;            // removed keys whose tombstones are still needed
  uint64_t dram_bytes = 0;            // volatile index, estimated
  bool index_from_snapshot = false;   // this open loaded the index saved at a clean close
};

}  // namespace nvobj

namespace nvobj::detail {

enum MapRecordKind : uint32_t { kPut = 1, kPutRef = 2, kRemove = 3 };

// Tombstones are swept when more than this many (and an eighth of the keys)
// accumulate; tests lower it. Process-wide.
inline std::atomic<int64_t> min_tombstone_sweep{256};

// A map whose log holds fewer record bytes than this saves no index at a
// clean close: scanning it at the next open (a few hundred microseconds)
// costs no more than a snapshot would, and a server with a million small
// hashes would otherwise write and keep a million snapshots. Tests lower
// it. Process-wide.
inline std::atomic<uint64_t> min_snapshot_log_bytes{256 << 10};

// Asks for the cache line at p in a writable state (PREFETCHW; a no-op on
// x86 processors without it, and elsewhere a plain prefetch).
inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

struct MapEntry {
  RecordLog::Loc loc;
  uint64_t version = 0;
  uint32_t span = 0;     // bytes loc's record occupies (so updates need not read it)
  uint8_t kind = 0;      // loc's record kind (a MapRecordKind)
  bool present = false;  // false: loc is a tombstone (or the entry is being made)
};
// In every index slot and list element: kept to half a cache line.
static_assert(sizeof(MapEntry) == 32);

// std::hash of a string, callable with a string_view (for lookups that
// allocate no std::string).
struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
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
//   struct Key { ...; uint64_t hash; };  static Key key(std::string_view);
//   class SharedLock / ExclusiveLock { (Index&, const Key&) };
//   MapEntry* find(const Key&);                       // under either lock
//   MapEntry& emplace(const Key&, RecordLog::Loc);    // exclusive; a new entry
//                                                     // gets the loc (its record holds the key)
//   void erase(const Key&);                           // exclusive
//   void for_each_locked(f, flush)   // f(std::string_view key, const MapEntry&) for
//                                    // every entry under a shared lock; flush() between parts
template <typename Index>
class MapCore final : public RecordLog::Owner {
  using Key = typename Index::Key;

 public:
  // Opens (and recovers) the map whose LogLanes object is at lanes_off:
  // loads the index saved at the last clean close if it still describes
  // the log (index_snapshot.h), else rebuilds it from the log.
  MapCore(Store& store, uint64_t lanes_off)
      : store_(store),
        lanes_off_(lanes_off),
        snapshot_(IndexSnapshot::parse(store.close_snapshot(lanes_off), store.pool().size())),
        log_(
            store, lanes_off, this,
            [this](RecordLog::Loc loc, const RecordHeader& h, const char* body) {
              recover_record(loc, h, body);
            },
            std::max(1u, std::thread::hardware_concurrency()),
            snapshot_ ? &snapshot_->chunks : nullptr) {
    if (log_.from_image())
      load_snapshot();
    else
      finish_recovery();
    snapshot_.reset();
    store.release_close_snapshot(lanes_off);
  }

  // At a clean close (the store closing), saves the index for the next open.
  ~MapCore() override {
    log_.stop_background();  // its steps call relocate() and dropped()
    if (!store_.may_save_close_snapshot(lanes_off_)) return;
    try {
      save_snapshot();
    } catch (const std::exception&) {
      // No snapshot (no memory): the next open scans the log.
    }
  }
  MapCore(const MapCore&) = delete;
  MapCore& operator=(const MapCore&) = delete;

  // Reads: f(MapValue) runs under the key's shared lock.
  template <typename F>
  auto read(std::string_view key, F&& f) const {
    Key k = Index::key(key);
    typename Index::SharedLock lock(index_, k);
    const MapEntry* e = index_.find(k);
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
    Key k = Index::key(key);
    Stripe& st = stripe_of(k);
    std::unique_lock stripe = lock_stripe(st);
    MapEntry cur;
    Decision d;
    {
      typename Index::SharedLock lock(index_, k);
      if (MapEntry* e = index_.find(k)) cur = *e;
      MapValue curv;
      if constexpr (kNeedsBytes) {
        curv = value_of(cur.loc ? &cur : nullptr);
      } else if (cur.present) {
        curv.present = true;
        curv.is_ref = cur.kind == kPutRef;
      }
      d = fn(curv);  // runs with the record readable; the stripe (or the owner) keeps it current
      // Bytes of the current record are copied: once the lock is released
      // the cleaner may move the record and free its chunk.
      if (cur.loc && !d.bytes.empty()) {
        auto rec = reinterpret_cast<uintptr_t>(cur.loc.rec);
        auto at = reinterpret_cast<uintptr_t>(d.bytes.data());
        if (at >= rec && at < rec + cur.span) {
          thread_local std::string own;
          own.assign(d.bytes);
          d.bytes = own;
        }
      }
    }
    if (d.op == Decision::kKeep || (d.op == Decision::kRemoveKey && !cur.present)) {
      d.op = Decision::kKeep;
      return d;
    }
    uint64_t version = take_version(st);
    Written w = write(key, d, version);
    {
      Installing installing{log_, w.loc};
      install(k, w, version, d.op != Decision::kRemoveKey);
    }
    if (stripe.owns_lock()) stripe.unlock();
    log_.maybe_clean(wants_sweep());
    return d;
  }

  // A write whatever the key holds (a put or put_ref decision): its record
  // is appended before the key is looked up, so the lookup's cache misses
  // (its index slot, prefetched first, and the old record it compares the
  // key with) come while the fence's write-backs drain, not before the
  // record is even built; and it takes no shared lock for a decision.
  // Returns whether the key was present.
  bool write_blind(std::string_view key, const Decision& d) {
    Key k = Index::key(key);
    Stripe& st = stripe_of(k);
    // The key's two lock lines, asked for at once: with writers on other
    // cores each is likely in another core's cache (~200 ns to move here),
    // and taken one after the other their moves did not overlap.
    if (!owner_serialises_) prefetch_for_write(&st);
    prefetch_index_lock(k);
    std::unique_lock stripe = lock_stripe(st);
    prefetch_slot(k);
    uint64_t version = take_version(st);
    Written w = write(key, d, version);
    bool was;
    {
      Installing installing{log_, w.loc};
      was = install(k, w, version, /*present=*/true);
    }
    if (stripe.owns_lock()) stripe.unlock();
    log_.maybe_clean(wants_sweep());
    return was;
  }

  uint64_t size() const { return static_cast<uint64_t>(size_.load(std::memory_order_relaxed)); }

  // The empty key's records go to the log's side lane (record_log.h): for an
  // owner whose own entry lives there and is rewritten over and over
  // (PList's trims, at every pop). Before the first update.
  void make_own_key_hot() { own_key_hot_ = true; }

  // The version the next update will get. For an owner that serialises its
  // updates (PList): every record written before has a lower version, every
  // record written after a higher one.
  uint64_t next_version() const { return next_version_.load(std::memory_order_relaxed); }
  // Every version from now on is at least v: for an owner whose durable
  // state outside the log names versions (PList's ends), which recovery,
  // seeing only the records left, could otherwise hand out again. At an open.
  void versions_at_least(uint64_t v) {
    if (version_bound() < v) start_versions_at(v);
  }
  // Makes versions ordered across keys (for next_version()), as PList's
  // trims need. Otherwise a key's versions only grow within its stripe: a
  // version counter shared by every update is a cache line that moves
  // between the writers' cores at every update (~200 ns here, measured
  // with two writers). Before the first update.
  void order_versions_across_keys() { global_versions_ = true; }
  // The owner serialises every update and forget() under a lock of its
  // own (PList's shape lock): the stripes, which only serialise updates of
  // a key, are then not taken (two lock operations per update saved), and
  // versions are taken without a locked instruction. Before the first
  // update. (The tombstone sweep, which may run beside updates, needs no
  // stripe either: it drops a tombstone only after finding it unchanged
  // under the index's exclusive lock, which installs take too.)
  void owner_serialises_updates() { owner_serialises_ = true; }

  // Drops key's present entry without writing a record, its record becoming
  // dead: for a key that a durable record of another key already removes
  // (PList's trims). False if the key is not present.
  bool forget(std::string_view key) {
    Key k = Index::key(key);
    std::unique_lock stripe = lock_stripe(stripe_of(k));
    typename Index::ExclusiveLock lock(index_, k);
    MapEntry* e = index_.find(k);
    if (e == nullptr || !e->present) return false;
    log_.dead(e->loc, e->span);
    index_.erase(k);
    size_.fetch_sub(1, std::memory_order_relaxed);
    return true;
  }
  // forget() of element i of an index kept in order (PList's ends), found
  // by the caller, whose lock keeps it there: no lookup.
  void forget_at(size_t i) requires requires(Index& ix) { ix.erase_at(i); }
  {
    typename Index::ExclusiveLock lock(index_);
    MapEntry& e = index_.entry_at(i);
    log_.dead(e.loc, e.span);
    index_.erase_at(i);
    size_.fetch_sub(1, std::memory_order_relaxed);
  }
  // forget() for every present key pred(key, entry) selects (at an open).
  template <typename Pred>
  void forget_if(Pred&& pred) {
    std::vector<std::string> doomed;
    index_.for_each_locked(
        [&](std::string_view key, const MapEntry& e) {
          if (e.present && pred(key, e)) doomed.emplace_back(key);
        },
        [] {});
    for (const std::string& key : doomed) forget(key);
  }
  uint64_t tombstones() const {
    return static_cast<uint64_t>(tombstones_.load(std::memory_order_relaxed));
  }

  // Weakly consistent: every key present for the whole call is visited once,
  // with some value it had during the call. f(key, MapValue) is called
  // without locks held (values are copied), so it may use the map.
  template <typename F>
  void for_each(F&& f) const {
    std::vector<std::pair<std::string, std::pair<std::string, uint64_t>>> batch;
    index_.for_each_locked(
        [&](std::string_view key, const MapEntry& e) {
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
  MapStats stats() const {
    RecordLog::Stats l = log_.stats();
    MapStats s;
    s.size = size();
    s.chunks = l.chunks;
    s.pool_bytes = l.pool_bytes;
    s.record_bytes = l.record_bytes;
    s.dead_bytes = l.dead_bytes;
    s.cleanings = l.cleanings;
    s.copied_bytes = l.copied_bytes;
    s.background_cleanings = l.background_cleanings;
    s.tombstones = tombstones();
    s.dram_bytes = index_.dram_bytes();
    s.index_from_snapshot = log_.from_image();
    return s;
  }
  // For ordered reads (PTreeMap): the index, to lock and scan, and the value
  // of an entry found in it (under its lock).
  Index& index() const { return index_; }
  MapValue value_at(const MapEntry& e) const { return value_of(&e); }

  // --- RecordLog::Owner -------------------------------------------------------------
  // Under the index lock alone. An update's record can be in a victim
  // only once installed (RecordLog::installed: a chunk with a record
  // appended and not yet installed is not cleaned; before that rule the
  // relocation took the key's stripe to wait for the install, two lock
  // lines per copied record). An update that installs after this
  // relocation finds the copy and reports it dead.
  bool relocate(RecordLog::Loc from, RecordLog::Loc to, uint64_t hash) override {
    std::string_view key = decode_map_record(*from.rec, from.body()).key;
    Key k = hash != 0 ? Key{key, hash} : Index::key(key);
    typename Index::ExclusiveLock lock(index_, k);
    MapEntry* e;
    if constexpr (requires { index_.find_at(k, from); })
      e = index_.find_at(k, from);
    else
      e = index_.find(k);
    if (e == nullptr || !(e->loc == from)) return false;  // the copy is dead
    e->loc = to;
    return true;
  }
  void prefetch_key(std::string_view key) const { prefetch_slot(Index::key(key)); }
  void prefetch_value(std::string_view key) const {
    if constexpr (requires(Key k) { index_.prefetch_record(k); })
      index_.prefetch_record(Index::key(key));
  }
  uint64_t prefetch(RecordLog::Loc from) override {
    Key k = Index::key(decode_map_record(*from.rec, from.body()).key);
    prefetch_index_lock(k);  // relocate writes it: asked for in that state
    prefetch_slot(k);
    return k.hash;
  }
  void dropped(const RecordHeader& h, const char*, bool last_copy) override {
    if (!last_copy || h.kind != kPutRef || h.ref == 0) return;
    if (shared_refs_left_.load(std::memory_order_acquire) != 0) {
      std::lock_guard lock(shared_refs_mu_);
      if (auto it = shared_refs_.find(h.ref); it != shared_refs_.end()) {
        if (--it->second == 0) shared_refs_.erase(it);
        shared_refs_left_.fetch_sub(1, std::memory_order_release);
        return;  // another record still names the object
      }
    }
    store_.destroy_object(h.ref);
  }
  // Drops the tombstones that hide no older record (cleaner lock held).
  void housekeeping() override { sweep_tombstones(); }

 private:
  // Appends the record of decision d for key (its stripe held).
  // A record just appended: where it is, and what install() would
  // otherwise read from its header (which the log streamed past the cache:
  // reading it back is a miss).
  struct Written {
    RecordLog::Loc loc;
    uint64_t span;
    uint32_t kind;
  };
  Written write(std::string_view key, const Decision& d, uint64_t version) {
    uint32_t klen = static_cast<uint32_t>(key.size());
    std::string_view klen_bytes(reinterpret_cast<const char*>(&klen), sizeof(klen));
    auto stream =
        own_key_hot_ && key.empty() ? RecordLog::Stream::kHot : RecordLog::Stream::kDefault;
    uint64_t body = sizeof(klen) + key.size();
    switch (d.op) {
      case Decision::kPutBytes:
        body += d.bytes.size();
        return {log_.append(kPut, version, 0, {klen_bytes, key, d.bytes}, stream),
                record_span(body), kPut};
      case Decision::kPutRef:
        return {log_.append(kPutRef, version, d.ref, {klen_bytes, key}, stream), record_span(body),
                kPutRef};
      default:
        return {log_.append(kRemove, version, 0, {klen_bytes, key}, stream), record_span(body),
                kRemove};
    }
  }
  // Points k's entry at its new durable record (its stripe held): the old
  // record becomes dead. Returns whether the key was present before.
  bool install(const Key& k, const Written& w, uint64_t version, bool present) {
    RecordLog::Loc loc = w.loc;
    // Only holders of the stripe (or of the owner's lock, for an owner that
    // serialises its updates) change or erase the entry, but it may have
    // moved in the index since an earlier lookup: found again here.
    typename Index::ExclusiveLock lock(index_, k);
    MapEntry& e = index_.emplace(k, loc);  // one lookup: a new entry gets loc, no old one has it
    bool found = !(e.loc == loc);
    if (found) log_.dead(e.loc, e.span, /*hot=*/own_key_hot_ && k.s.empty());
    bool was_tomb = found && !e.present;
    e.loc = loc;
    e.version = version;
    e.span = static_cast<uint32_t>(w.span);
    e.kind = static_cast<uint8_t>(w.kind);
    bool was = e.present;
    e.present = present;
    if (was != e.present) size_.fetch_add(e.present ? 1 : -1, std::memory_order_relaxed);
    if (was_tomb != !e.present)
      tombstones_.fetch_add(e.present ? -1 : 1, std::memory_order_relaxed);
    // New entries start present (ListIndex): only a change moves one.
    if (found ? was != present : !present) presence_changed(k);  // e may move: not used after
    return was;
  }

  // Starts moving the line of k's index lock here (indexes that can).
  void prefetch_index_lock(const Key& k) const {
    if constexpr (requires { index_.prefetch_lock(k); }) index_.prefetch_lock(k);
  }
  // Starts loading where the index looks k up (indexes that can).
  void prefetch_slot(const Key& k) const {
    if constexpr (requires { index_.prefetch(k); }) index_.prefetch(k);
  }
  // Indexes that keep present entries apart (the list's) move the entry.
  void presence_changed(const Key& k) {
    if constexpr (requires { index_.presence_changed(k); }) index_.presence_changed(k);
  }

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

  // Reports an appended record installed (or abandoned, if install throws).
  struct Installing {
    RecordLog& log;
    RecordLog::Loc loc;
    ~Installing() { log.installed(loc); }
  };

  struct alignas(64) Stripe {
    std::mutex mu;
    uint64_t next_version = 1;  // under mu (unless global_versions_)
  };
  static constexpr size_t kStripes = 256;

  Stripe& stripe_of(const Key& k) { return stripes_[(k.hash >> 32) % kStripes]; }
  // The stripe held for an update (not when the owner serialises them).
  std::unique_lock<std::mutex> lock_stripe(Stripe& st) {
    if (owner_serialises_) return {};
    return std::unique_lock(st.mu);
  }
  std::mutex& stripe_for(const Key& k) { return stripe_of(k).mu; }
  // A version for an update of a key of stripe `st` (held): higher than
  // every earlier one of the key, which is all recovery needs to tell a
  // key's records apart (a key's stripe is fixed: by its hash).
  uint64_t take_version(Stripe& st) {
    if (global_versions_) {
      if (!owner_serialises_) return next_version_.fetch_add(1, std::memory_order_relaxed);
      // One writer at a time: no locked instruction needed.
      uint64_t v = next_version_.load(std::memory_order_relaxed);
      next_version_.store(v + 1, std::memory_order_relaxed);
      return v;
    }
    return st.next_version++;
  }
  // Every version from now on is at least v.
  void start_versions_at(uint64_t v) {
    next_version_.store(v, std::memory_order_relaxed);
    for (Stripe& st : stripes_) {
      std::lock_guard lock(st.mu);
      st.next_version = v;
    }
  }
  // Above every version taken so far.
  uint64_t version_bound() {
    uint64_t v = next_version_.load(std::memory_order_relaxed);
    for (Stripe& st : stripes_) {
      std::lock_guard lock(st.mu);
      v = std::max(v, st.next_version);
    }
    return v;
  }

  void recover_record(RecordLog::Loc loc, const RecordHeader& h, const char* body) {
    if (h.kind != kPut && h.kind != kPutRef && h.kind != kRemove) return;  // not ours
    Key k = Index::key(decode_map_record(h, body).key);
    uint64_t v = h.meta;
    uint64_t seen = max_version_.load(std::memory_order_relaxed);
    while (v > seen && !max_version_.compare_exchange_weak(seen, v)) {
    }
    RecordLog::Loc superseded;
    {
      std::lock_guard stripe(stripe_for(k));
      typename Index::ExclusiveLock lock(index_, k);
      MapEntry& e = index_.emplace(k, loc);
      bool fresh = e.loc == loc;
      if (fresh || v > e.version) {
        if (!fresh) superseded = e.loc;
        e.loc = loc;
        e.version = v;
        e.span = static_cast<uint32_t>(record_span(h.body_len));
        e.kind = static_cast<uint8_t>(h.kind);
      } else {
        superseded = loc;
      }
      e.present = e.kind != kRemove;
      presence_changed(k);
    }
    if (!superseded) return;
    if (superseded.rec->kind == kPutRef && superseded.rec->ref != 0) {
      std::lock_guard lock(shared_refs_mu_);
      ++shared_refs_[superseded.rec->ref];  // counted in finish_recovery
    }
    log_.dead(superseded);
  }

  // The index from snapshot_, whose chunks the log found unchanged.
  void load_snapshot() {
    std::atomic<int64_t> present{0}, tombs{0};
    auto load = [&](const IndexSnapshotEntry& s) {
      RecordLog::Loc loc{store_.pool().template at<RecordHeader>(s.rec), log_.image_chunk(s.chunk)};
      auto fill = [&](MapEntry& e) {
        e.loc = loc;
        e.version = s.version;
        e.span = s.span;
        e.kind = s.kind;
        e.present = s.present != 0;
      };
      if constexpr (requires { index_.insert_loaded(s.hash, loc); }) {
        fill(index_.insert_loaded(s.hash, loc));  // the record is not read
      } else {
        Key k = Index::key(decode_map_record(*loc.rec, loc.body()).key);
        fill(index_.emplace(k, loc));
        presence_changed(k);
      }
      log_.live(loc, s.span);  // atomic
    };
    const IndexSnapshotEntry* entries = snapshot_->entries;
    const uint64_t n = snapshot_->entry_count;
    if constexpr (requires(uint64_t h) { index_.presize(Index::shard_of(h), h); }) {
      // Shards are independent: each thread loads the entries of its own
      // range of shards (each reading the whole array, which costs little
      // beside the inserts), into shards sized for them first.
      unsigned threads = n < 100'000 ? 1 : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
      auto work = [&](unsigned t) {
        uint64_t lo = Index::kShards * t / threads, hi = Index::kShards * (t + 1) / threads;
        std::vector<uint64_t> counts(hi - lo);
        for (uint64_t i = 0; i < n; ++i)
          if (uint64_t sh = Index::shard_of(entries[i].hash); sh >= lo && sh < hi)
            ++counts[sh - lo];
        for (uint64_t sh = lo; sh < hi; ++sh) index_.presize(sh, counts[sh - lo]);
        int64_t p = 0, d = 0;
        for (uint64_t i = 0; i < n; ++i) {
          if (uint64_t sh = Index::shard_of(entries[i].hash); sh < lo || sh >= hi) continue;
          load(entries[i]);
          ++(entries[i].present != 0 ? p : d);
        }
        present += p;
        tombs += d;
      };
      std::vector<std::thread> helpers;
      for (unsigned t = 1; t < threads; ++t) helpers.emplace_back(work, t);
      work(0);
      for (auto& h : helpers) h.join();
    } else {
      for (uint64_t i = 0; i < n; ++i) {
        load(entries[i]);
        ++(entries[i].present != 0 ? present : tombs);
      }
    }
    start_versions_at(snapshot_->next_version);
    max_version_.store(snapshot_->next_version - 1);
    size_.store(present.load());
    tombstones_.store(tombs.load());
    log_.finish_image_open();
  }

  void save_snapshot() {
    // Records in the log twice (a relocated victim still linked, or a
    // crash's duplicates not yet cleaned) need the scan's accounting.
    if (log_.stats().record_bytes < min_snapshot_log_bytes.load(std::memory_order_relaxed) ||
        shared_refs_left_.load(std::memory_order_acquire) != 0 || !log_.settle())
      return;
    RecordLog::Image img = log_.image();
    if (img.chunks.empty()) return;
    uint64_t expected = static_cast<uint64_t>(size_.load() + tombstones_.load());
    std::string out = IndexSnapshot::begin(img.chunks, expected, version_bound());
    uint64_t n = 0;
    bool ok = true;
    auto add = [&](uint64_t hash, const MapEntry& e) {
      uint32_t pos = img.position_of(e.loc.chunk);
      if (pos == RecordLog::kNoPosition) {
        ok = false;
        return;
      }
      IndexSnapshotEntry s{};
      s.hash = hash;
      s.rec = store_.pool().offset_of(e.loc.rec);
      s.version = e.version;
      s.span = e.span;
      s.chunk = pos;
      s.kind = e.kind;
      s.present = e.present ? 1 : 0;
      IndexSnapshot::add(out, s);
      ++n;
    };
    if constexpr (requires { index_.for_each_slot(add); })
      index_.for_each_slot(add);
    else
      index_.for_each_locked(
          [&](std::string_view key, const MapEntry& e) { add(Index::key(key).hash, e); }, [] {});
    if (!ok) return;
    IndexSnapshot::end(out, n);
    store_.save_close_snapshot(lanes_off_, out);
  }

  void finish_recovery() {
    start_versions_at(max_version_.load() + 1);
    int64_t present = 0, tombs = 0;
    // A relocated record and its copy both survive a close or a crash
    // before the next cleaning step unlinks the original: recovery keeps
    // one and counts the other dead, and both name the same object. Each
    // record is dropped once; the object must be destroyed once, by the
    // last. shared_refs_ counts, per object that dead records name, the
    // records (dead ones, and a live one) beyond the first: their drops
    // leave it alone.
    index_.for_each_locked(
        [&](std::string_view, const MapEntry& e) {
          ++(e.present ? present : tombs);
          if (e.present && e.kind == kPutRef && !shared_refs_.empty())
            if (auto it = shared_refs_.find(e.loc.rec->ref); it != shared_refs_.end()) ++it->second;
        },
        [] {});
    uint64_t left = 0;
    for (auto it = shared_refs_.begin(); it != shared_refs_.end();) {
      if (--it->second == 0) {
        it = shared_refs_.erase(it);
      } else {
        left += it->second;
        ++it;
      }
    }
    shared_refs_left_.store(left, std::memory_order_release);
    size_.store(present);
    tombstones_.store(tombs);
    if (tombs != 0) sweep_tombstones();
  }

  // A sweep is due when the tombstones have grown by an eighth of the keys
  // (and min_tombstone_sweep) since the last one left some behind: those
  // still hide records the cleaner has not reached, and sweeping again at
  // once would only find them again.
  bool wants_sweep() const {
    int64_t t = tombstones_.load(std::memory_order_relaxed);
    return t > min_tombstone_sweep.load(std::memory_order_relaxed) &&
           t > size_.load(std::memory_order_relaxed) / 8 +
                   swept_left_.load(std::memory_order_relaxed);
  }

  // One pass over the log: a tombstone is needed while a record of its key
  // with a lower version (other than a tombstone) is in the log. Runs with
  // the cleaner excluded, so no record moves; records appended meanwhile
  // carry higher versions.
  void sweep_tombstones() {
    // Looked up by string_view: the pass over the log allocates nothing.
    std::unordered_map<std::string, std::pair<uint64_t, bool>, TransparentHash, std::equal_to<>>
        tombs;  // version, needed
    index_.for_each_locked(
        [&](std::string_view key, const MapEntry& e) {
          if (!e.present) tombs.emplace(std::string(key), std::make_pair(e.version, false));
        },
        [] {});
    if (tombs.empty()) {
      swept_left_.store(0, std::memory_order_relaxed);
      return;
    }
    log_.for_each_record_locked([&](const RecordHeader& h, const char* body) {
      if (h.kind != kPut && h.kind != kPutRef) return;
      auto it = tombs.find(decode_map_record(h, body).key);
      if (it != tombs.end() && h.meta < it->second.first) it->second.second = true;
    });
    for (auto& [key, t] : tombs) {
      if (t.second) continue;
      Key k = Index::key(key);
      std::lock_guard stripe(stripe_for(k));
      typename Index::ExclusiveLock lock(index_, k);
      MapEntry* e = index_.find(k);
      if (e == nullptr || e->present || e->version != t.first) continue;  // changed meanwhile
      log_.dead(e->loc, e->span);
      index_.erase(k);
      tombstones_.fetch_sub(1, std::memory_order_relaxed);
    }
    swept_left_.store(tombstones_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }

  Store& store_;
  uint64_t lanes_off_;
  std::optional<IndexSnapshot> snapshot_;  // while the constructor runs
  mutable Index index_;                    // its locks are taken by const reads
  std::array<Stripe, kStripes> stripes_;
  std::atomic<uint64_t> max_version_{0};
  // Objects named by more than one record (recovery's duplicates, see
  // finish_recovery): drops still to skip, per object.
  std::mutex shared_refs_mu_;
  std::unordered_map<uint64_t, uint32_t> shared_refs_;
  std::atomic<uint64_t> shared_refs_left_{0};
  std::atomic<uint64_t> next_version_{1};  // with global_versions_
  bool global_versions_ = false;
  bool owner_serialises_ = false;
  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> tombstones_{0};  // removed keys kept for their tombstones
  std::atomic<int64_t> swept_left_{0};  // tombstones the last sweep had to keep
  bool own_key_hot_ = false;
  RecordLog log_;  // last: its constructor calls back into the members above
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_MAP_CORE_H_
