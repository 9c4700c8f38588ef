#include "pobjects/ptreemap.h"

#include <algorithm>

namespace nvobj {

namespace {

// Entries a scan makes room for at once (a limit beyond grows as needed).
constexpr size_t kScanReserve = 64;

MapItem item(std::string_view key, const MapValue& v) {
  MapItem it;
  it.key = key;
  if (v.is_ref)
    it.ref = v.ref;
  else
    it.value = v.bytes;
  return it;
}

// A present entry's item. The key is copied from the entry's record (which
// holds it, next to the value), not from the tree's node: a key longer than
// std::string keeps inline lives elsewhere on the heap, one more cache
// miss per item.
MapItem item_of(const detail::MapCore<detail::TreeIndex>& core, const detail::MapEntry& e) {
  return item(detail::decode_map_record(*e.loc.rec, e.loc.body()).key, core.value_at(e));
}

// The items of the entries a scan found (under the index's shared lock):
// their records are fetched together, not one cache miss after another.
std::vector<MapItem> items_of(const detail::MapCore<detail::TreeIndex>& core,
                              const std::vector<const detail::MapEntry*>& found) {
  for (const detail::MapEntry* e : found) {
    __builtin_prefetch(e->loc.rec);
    __builtin_prefetch(reinterpret_cast<const char*>(e->loc.rec) + 64);
  }
  std::vector<MapItem> out;
  out.reserve(found.size());
  for (const detail::MapEntry* e : found) out.push_back(item_of(core, *e));
  return out;
}

}  // namespace

std::vector<MapItem> PTreeMap::range(std::string_view from, std::optional<std::string_view> to,
                                     size_t limit) const {
  if (limit == 0) return {};
  std::vector<const detail::MapEntry*> found;
  found.reserve(std::min<size_t>(limit, kScanReserve));
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_up(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k >= *to) return false;
    if (e.present) found.push_back(&e);
    return found.size() < limit;
  });
  return items_of(core(), found);
}

std::vector<MapItem> PTreeMap::range_down(std::optional<std::string_view> from,
                                          std::optional<std::string_view> to, size_t limit) const {
  if (limit == 0) return {};
  std::vector<const detail::MapEntry*> found;
  found.reserve(std::min<size_t>(limit, kScanReserve));
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_down(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k <= *to) return false;
    if (e.present) found.push_back(&e);
    return found.size() < limit;
  });
  return items_of(core(), found);
}

std::optional<MapItem> PTreeMap::first() const {
  auto v = range("", std::nullopt, 1);
  if (v.empty()) return std::nullopt;
  return v[0];
}

std::optional<MapItem> PTreeMap::last() const {
  auto v = range_down(std::nullopt, std::nullopt, 1);
  if (v.empty()) return std::nullopt;
  return v[0];
}

namespace {

template <bool kUp>
std::optional<MapItem> nearest(const detail::MapCore<detail::TreeIndex>& core, std::string_view key,
                               bool inclusive) {
  std::optional<MapItem> out;
  detail::TreeIndex::SharedLock lock(core.index());
  auto f = [&](std::string_view, const detail::MapEntry& e) {
    if (!e.present) return true;
    out = item_of(core, e);
    return false;
  };
  if constexpr (kUp)
    core.index().scan_up(key, inclusive, f);
  else
    core.index().scan_down(key, inclusive, f);
  return out;
}

}  // namespace

std::optional<MapItem> PTreeMap::floor(std::string_view key) const {
  return nearest<false>(core(), key, true);
}
std::optional<MapItem> PTreeMap::ceiling(std::string_view key) const {
  return nearest<true>(core(), key, true);
}
std::optional<MapItem> PTreeMap::lower(std::string_view key) const {
  return nearest<false>(core(), key, false);
}
std::optional<MapItem> PTreeMap::higher(std::string_view key) const {
  return nearest<true>(core(), key, false);
}

}  // namespace nvobj
