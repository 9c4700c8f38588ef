#include "pobjects/ptreemap.h"

namespace nvobj {

namespace {

MapItem item(std::string_view key, const MapValue& v) {
  MapItem it;
  it.key = key;
  if (v.is_ref)
    it.ref = v.ref;
  else
    it.value = v.bytes;
  return it;
}

// The items of the entries a scan found (under the index's shared lock):
// their records are fetched together, not one cache miss after another.
std::vector<MapItem> items_of(
    const detail::MapCore<detail::TreeIndex>& core,
    const std::vector<std::pair<std::string_view, const detail::MapEntry*>>& found) {
  for (const auto& [k, e] : found) {
    __builtin_prefetch(e->loc.rec);
    __builtin_prefetch(reinterpret_cast<const char*>(e->loc.rec) + 64);
  }
  std::vector<MapItem> out;
  out.reserve(found.size());
  for (const auto& [k, e] : found) out.push_back(item(k, core.value_at(*e)));
  return out;
}

}  // namespace

std::vector<MapItem> PTreeMap::range(std::string_view from, std::optional<std::string_view> to,
                                     size_t limit) const {
  if (limit == 0) return {};
  std::vector<std::pair<std::string_view, const detail::MapEntry*>> found;
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_up(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k >= *to) return false;
    if (e.present) found.emplace_back(k, &e);
    return found.size() < limit;
  });
  return items_of(core(), found);
}

std::vector<MapItem> PTreeMap::range_down(std::optional<std::string_view> from,
                                          std::optional<std::string_view> to, size_t limit) const {
  if (limit == 0) return {};
  std::vector<std::pair<std::string_view, const detail::MapEntry*>> found;
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_down(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k <= *to) return false;
    if (e.present) found.emplace_back(k, &e);
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
  auto f = [&](std::string_view k, const detail::MapEntry& e) {
    if (!e.present) return true;
    out = item(k, core.value_at(e));
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
