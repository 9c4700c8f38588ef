// PHashMap: a durable linearizable concurrent hash map from byte strings to
// byte strings (or to objects it owns).
//
// Every update is one record appended to the map's log and made durable
// with one fence before it returns; reads look the key up in a volatile
// index and copy from the record, with no fence (record_log.h, map_core.h).
// After a restart or a crash the map is found by its root name and its index
// is rebuilt from the log on first use, scanning chunks in parallel.
//
//   auto m = nvobj::PHashMap::create(store);
//   store.set_root("users", m);
//   m->put("alice", "42");
//   std::optional<std::string> v = m->get("alice");
//   m->compute("visits", [](std::optional<std::string_view> old) {
//     return std::optional<std::string>(std::to_string(old ? std::stoll(std::string(*old)) + 1 :
//     1));
//   });
//
// Operations are durable on their own; called inside a failure-atomic block
// they do not join it. Functions given to compute/merge run under the key's
// lock and must not use the same map.
#ifndef NVOBJ_POBJECTS_PHASHMAP_H_
#define NVOBJ_POBJECTS_PHASHMAP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pobjects/hash_index.h"
#include "pobjects/map_core.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj {

struct PHashMapData {
  uint64_t lanes;  // reference to the log's LogLanes object
  uint64_t reserved[3];
};
static_assert(sizeof(PHashMapData) == 32);

// What a map holds for a key, as seen by compute-style callbacks.
using MapValue = detail::MapValue;

// Space and memory figures of one map.
struct MapStats {
  uint64_t size = 0;
  uint64_t chunks = 0;
  uint64_t pool_bytes = 0;    // log chunks (allocation sizes)
  uint64_t record_bytes = 0;  // bytes of records in them
  uint64_t dead_bytes = 0;    // ... superseded and not yet cleaned
  uint64_t cleanings = 0;
  uint64_t tombstones = 0;  // removed keys whose tombstones are still needed
  uint64_t dram_bytes = 0;  // volatile index, estimated
};

class PHashMap : public PObject<PHashMap, PHashMapData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PHashMap";
  static constexpr RefMap kRefs = ref_map<PHashMapData>({offsetof(PHashMapData, lanes)});

  // Opens the map: rebuilds its index from its log.
  PHashMap(Store& store, uint64_t offset);

  // A new empty map (unpublished: store a reference to it somewhere durable;
  // that store's fence makes the map durable with it).
  static Ref<PHashMap> create(Store& s);

  // --- reads (no fence) ---
  std::optional<std::string> get(std::string_view key) const;
  bool get(std::string_view key, std::string* value) const;
  bool contains(std::string_view key) const;
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
  // The object stored under key by put_ref, or 0.
  uint64_t get_ref(std::string_view key) const;
  uint64_t size() const { return core_->size(); }
  bool empty() const { return size() == 0; }

  // --- updates (one fence each when they change the map, none otherwise) ---
  // Returns true if the key was new.
  bool put(std::string_view key, std::string_view value);
  // put that returns the previous value (nullopt if none or an object).
  std::optional<std::string> exchange(std::string_view key, std::string_view value);
  // Returns true if it inserted.
  bool put_if_absent(std::string_view key, std::string_view value);
  // Returns true if the key existed (and now maps to value).
  bool replace(std::string_view key, std::string_view value);
  // Sets desired if the key maps to expected; returns whether it did.
  bool compare_and_set(std::string_view key, std::string_view expected, std::string_view desired);
  // Returns true if the key existed.
  bool remove(std::string_view key);
  // Removes key if it maps to expected.
  bool remove_if(std::string_view key, std::string_view expected);
  // new = fn(old or nullopt); nullopt removes. Returns the new value.
  std::optional<std::string> compute(
      std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn);
  // If absent, stores value; else stores fn(old, value) (nullopt removes).
  std::optional<std::string> merge(
      std::string_view key, std::string_view value,
      const std::function<std::optional<std::string>(std::string_view, std::string_view)>& fn);
  // Binds key to an object (made by the caller; the map publishes it and
  // owns it from here: it is destroyed once replaced or removed and its last
  // record has been cleaned away). An object may be bound only once.
  bool put_ref(std::string_view key, uint64_t object);
  template <typename T>
  bool put_ref(std::string_view key, const Ref<T>& object) {
    return put_ref(key, object.offset());
  }
  // Removes every key present when it starts (one record per key).
  void clear();

  // Weakly consistent iteration: f(key, MapValue) for every key present
  // for the whole call (once each), with a value it had during the call;
  // keys added or removed meanwhile may or may not appear. f may use the map.
  void for_each(const std::function<void(std::string_view, const MapValue&)>& f) const;

  MapStats stats() const;

  // The destroyer registered for this class (Store::destroy_object): frees
  // the map's log, the objects it owns, and the map.
  static void destroy_object(Store& s, uint64_t offset);

 private:
  std::unique_ptr<detail::MapCore<detail::HashIndex>> core_;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PHASHMAP_H_
