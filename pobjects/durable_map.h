// DurableMap<Self, Index>: the proxy class shared by PHashMap and PTreeMap:
// the persistent layout (a reference to the map's log), the map operations
// and the statistics, over MapCore<Index> (map_core.h). The two maps differ
// in their index and their class name; PTreeMap adds ordered reads.
#ifndef NVOBJ_POBJECTS_DURABLE_MAP_H_
#define NVOBJ_POBJECTS_DURABLE_MAP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pobjects/map_core.h"
#include "pobjects/map_ops.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj {

struct DurableMapData {
  uint64_t lanes;  // reference to the log's LogLanes object
  uint64_t flags;  // what the object's tail holds (PList: kListHasEnds); 0 for the maps
  uint64_t reserved[2];
};
static_assert(sizeof(DurableMapData) == 32);

// What a map holds for a key, as seen by compute-style callbacks.
using MapValue = detail::MapValue;

// Frees an unreachable object whose layout is DurableMapData (the maps,
// the list): its log, the objects the log owns, and the object. The
// destroyer each such class registers (Store::destroy_object).
inline void destroy_log_object(Store& s, uint64_t offset) {
  RecordLog::destroy_unopened(s, s.pool().template at<DurableMapData>(offset)->lanes);
  s.free_detached(offset);
}

template <typename Self, typename Index>
class DurableMap : public PObject<Self, DurableMapData> {
  using Core = detail::MapCore<Index>;
  using Ops = detail::MapOps<Core>;

 public:
  static constexpr RefMap kRefs = ref_map<DurableMapData>({offsetof(DurableMapData, lanes)});

  // Opens the map: loads its index as saved at the last clean close, or
  // rebuilds it from its log (chunks scanned in parallel).
  DurableMap(Store& store, uint64_t offset)
      : PObject<Self, DurableMapData>(store, offset),
        core_(std::make_unique<Core>(store, this->raw().lanes)) {}

  // A new empty map (unpublished: store a reference to it somewhere durable;
  // that store's fence makes the map durable with it).
  static Ref<Self> create(Store& s) {
    uint64_t lanes = RecordLog::create(s);
    return s.make_detached<Self>(0, lanes);
  }

  // --- reads (no fence) ---
  std::optional<std::string> get(std::string_view key) const { return Ops::get(*core_, key); }
  bool get(std::string_view key, std::string* value) const { return Ops::get(*core_, key, value); }
  bool contains(std::string_view key) const { return Ops::contains(*core_, key); }
  // f(std::string_view value) on the stored bytes, under the key's lock; false
  // if the key is absent or holds an object.
  template <typename F>
  bool with_value(std::string_view key, F&& f) const {
    return core_->read(key, [&](const MapValue& v) {
      if (!v.present || v.is_ref) return false;
      f(v.bytes);
      return true;
    });
  }
  // f(const MapValue&) under the key's lock (absent: present == false);
  // returns what f returns. One lookup for callers that need to tell bytes,
  // objects and absence apart. f must not use the map.
  template <typename F>
  auto read(std::string_view key, F&& f) const {
    return core_->read(key, std::forward<F>(f));
  }
  // A hint that key is about to be used: starts loading its index entry
  // (a server runs a pipeline's next command while this arrives).
  void prefetch(std::string_view key) const { core_->prefetch_key(key); }
  // Then, once the entry is likely in cache: starts loading its record.
  void prefetch_value(std::string_view key) const { core_->prefetch_value(key); }
  // The object stored under key by put_ref, or 0.
  uint64_t get_ref(std::string_view key) const { return Ops::get_ref(*core_, key); }
  uint64_t size() const { return core_->size(); }
  bool empty() const { return size() == 0; }

  // --- updates (one fence each when they change the map, none otherwise) ---
  // Returns true if the key was new.
  bool put(std::string_view key, std::string_view value) { return Ops::put(*core_, key, value); }
  // put that returns the previous value (nullopt if none or an object).
  std::optional<std::string> exchange(std::string_view key, std::string_view value) {
    return Ops::exchange(*core_, key, value);
  }
  // Returns true if it inserted.
  bool put_if_absent(std::string_view key, std::string_view value) {
    return Ops::put_if_absent(*core_, key, value);
  }
  // Returns true if the key existed (and now maps to value).
  bool replace(std::string_view key, std::string_view value) {
    return Ops::replace(*core_, key, value);
  }
  // Sets desired if the key maps to expected; returns whether it did.
  bool compare_and_set(std::string_view key, std::string_view expected, std::string_view desired) {
    return Ops::compare_and_set(*core_, key, expected, desired);
  }
  // Returns true if the key existed.
  bool remove(std::string_view key) { return Ops::remove(*core_, key); }
  // Removes key if it maps to expected.
  bool remove_if(std::string_view key, std::string_view expected) {
    return Ops::remove_if(*core_, key, expected);
  }
  // new = fn(old or nullopt); nullopt removes. Returns the new value. fn runs
  // under the key's lock and must not use this map.
  std::optional<std::string> compute(
      std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn) {
    return Ops::compute(*core_, key, fn);
  }
  // compute for keys that hold bytes: a key bound to an object is left as
  // it is (fn not called, *object = true).
  std::optional<std::string> compute_bytes(
      std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn,
      bool* object) {
    return Ops::compute_bytes(*core_, key, fn, object);
  }
  // If absent, stores value; else stores fn(old, value) (nullopt removes).
  std::optional<std::string> merge(
      std::string_view key, std::string_view value,
      const std::function<std::optional<std::string>(std::string_view, std::string_view)>& fn) {
    return Ops::merge(*core_, key, value, fn);
  }
  // Binds key to an object (made by the caller; the map publishes it and
  // owns it from here: it is destroyed once replaced or removed and its last
  // record has been cleaned away). An object may be bound only once.
  bool put_ref(std::string_view key, uint64_t object) { return Ops::put_ref(*core_, key, object); }
  template <typename T>
  bool put_ref(std::string_view key, const Ref<T>& object) {
    return put_ref(key, object.offset());
  }
  // Removes every key present when it starts (one record per key).
  void clear() { Ops::clear(*core_); }

  // Weakly consistent iteration: f(key, MapValue) for every key present
  // for the whole call (once each), with a value it had during the call;
  // keys added or removed meanwhile may or may not appear. f may use the map.
  void for_each(const std::function<void(std::string_view, const MapValue&)>& f) const {
    core_->for_each(f);
  }

  MapStats stats() const { return core_->stats(); }
  static void destroy_object(Store& s, uint64_t offset) { destroy_log_object(s, offset); }

 protected:
  Core& core() const { return *core_; }

 private:
  std::unique_ptr<Core> core_;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_DURABLE_MAP_H_
