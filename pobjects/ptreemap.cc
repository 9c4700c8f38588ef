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

}  // namespace

std::vector<MapItem> PTreeMap::range(std::string_view from, std::optional<std::string_view> to,
                                     size_t limit) const {
  std::vector<MapItem> out;
  if (limit == 0) return out;
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_up(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k >= *to) return false;
    if (e.present) out.push_back(item(k, core().value_at(e)));
    return out.size() < limit;
  });
  return out;
}

std::vector<MapItem> PTreeMap::range_down(std::optional<std::string_view> from,
                                          std::optional<std::string_view> to, size_t limit) const {
  std::vector<MapItem> out;
  if (limit == 0) return out;
  detail::TreeIndex::SharedLock lock(core().index());
  core().index().scan_down(from, true, [&](std::string_view k, const detail::MapEntry& e) {
    if (to && k <= *to) return false;
    if (e.present) out.push_back(item(k, core().value_at(e)));
    return out.size() < limit;
  });
  return out;
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
