// PHashMap: a durable linearizable concurrent hash map from byte strings to
// byte strings (or to objects it owns).
//
// Every update is one record appended to the map's log and made durable
// with one fence before it returns; reads look the key up in a volatile
// index and copy from the record, with no fence (record_log.h, map_core.h,
// hash_index.h). After a restart or a crash the map is found by its root
// name and its index is rebuilt from the log on first use, scanning chunks
// in parallel. The operations are those of DurableMap (durable_map.h).
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
// they do not join it.
#ifndef NVOBJ_POBJECTS_PHASHMAP_H_
#define NVOBJ_POBJECTS_PHASHMAP_H_

#include <string_view>

#include "pobjects/durable_map.h"
#include "pobjects/hash_index.h"

namespace nvobj {

class PHashMap : public DurableMap<PHashMap, detail::HashIndex> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PHashMap";
  using DurableMap::DurableMap;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PHASHMAP_H_
