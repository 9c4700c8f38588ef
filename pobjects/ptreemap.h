// PTreeMap: a durable linearizable ordered map from byte strings to byte
// strings (or owned objects), with range scans, first/last and
// floor/ceiling (which made YCSB workload E possible).
//
// Persistence is PHashMap's (one record per update, one fence, fence-free
// reads: record_log.h, map_core.h); the volatile index is ordered
// (tree_index.h), so an ordered read is a consistent snapshot taken under
// the index's shared lock. Keys compare as unsigned bytes
// (std::string_view order).
//
//   auto t = nvobj::PTreeMap::create(store);
//   store.set_root("scores", t);
//   t->put("user:0042", "...");
//   for (const nvobj::MapItem& it : t->range("user:", "user;", 10)) ...
#ifndef NVOBJ_POBJECTS_PTREEMAP_H_
#define NVOBJ_POBJECTS_PTREEMAP_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pobjects/durable_map.h"
#include "pobjects/tree_index.h"

namespace nvobj {

// One entry read from an ordered map: a byte value, or an object (ref != 0).
struct MapItem {
  std::string key;
  std::string value;
  uint64_t ref = 0;
  friend bool operator==(const MapItem&, const MapItem&) = default;
};

class PTreeMap : public DurableMap<PTreeMap, detail::TreeIndex> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PTreeMap";
  using DurableMap::DurableMap;

  // Entries with from <= key < to (no upper bound without `to`), in order,
  // at most `limit` of them.
  std::vector<MapItem> range(std::string_view from, std::optional<std::string_view> to = {},
                             size_t limit = std::numeric_limits<size_t>::max()) const;
  // The same, downwards: entries with to < key <= from (from nullopt: from the
  // last key), in descending order.
  std::vector<MapItem> range_down(std::optional<std::string_view> from,
                                  std::optional<std::string_view> to = {},
                                  size_t limit = std::numeric_limits<size_t>::max()) const;
  std::optional<MapItem> first() const;
  std::optional<MapItem> last() const;
  std::optional<MapItem> floor(std::string_view key) const;    // greatest <= key
  std::optional<MapItem> ceiling(std::string_view key) const;  // least >= key
  std::optional<MapItem> lower(std::string_view key) const;    // greatest < key
  std::optional<MapItem> higher(std::string_view key) const;   // least > key
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PTREEMAP_H_
