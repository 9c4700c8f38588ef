#include "pobjects/phashmap.h"

#include <thread>

#include "pobjects/map_ops.h"

namespace nvobj {

namespace {
using Core = detail::MapCore<detail::HashIndex>;
using Ops = detail::MapOps<Core>;

const bool kDestroyerRegistered =
    (Store::register_destroyer(PHashMap::kClassName, &PHashMap::destroy_object), true);
}  // namespace

PHashMap::PHashMap(Store& store, uint64_t offset)
    : PObject(store, offset), core_(std::make_unique<Core>(store, raw().lanes)) {}

Ref<PHashMap> PHashMap::create(Store& s) {
  uint64_t lanes = RecordLog::create(s);
  return s.make_detached<PHashMap>(0, lanes);
}

std::optional<std::string> PHashMap::get(std::string_view key) const {
  return Ops::get(*core_, key);
}
bool PHashMap::get(std::string_view key, std::string* value) const {
  return Ops::get(*core_, key, value);
}
bool PHashMap::contains(std::string_view key) const { return Ops::contains(*core_, key); }
uint64_t PHashMap::get_ref(std::string_view key) const { return Ops::get_ref(*core_, key); }
bool PHashMap::put(std::string_view key, std::string_view value) {
  return Ops::put(*core_, key, value);
}
std::optional<std::string> PHashMap::exchange(std::string_view key, std::string_view value) {
  return Ops::exchange(*core_, key, value);
}
bool PHashMap::put_if_absent(std::string_view key, std::string_view value) {
  return Ops::put_if_absent(*core_, key, value);
}
bool PHashMap::replace(std::string_view key, std::string_view value) {
  return Ops::replace(*core_, key, value);
}
bool PHashMap::compare_and_set(std::string_view key, std::string_view expected,
                               std::string_view desired) {
  return Ops::compare_and_set(*core_, key, expected, desired);
}
bool PHashMap::remove(std::string_view key) { return Ops::remove(*core_, key); }
bool PHashMap::remove_if(std::string_view key, std::string_view expected) {
  return Ops::remove_if(*core_, key, expected);
}
std::optional<std::string> PHashMap::compute(
    std::string_view key,
    const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn) {
  return Ops::compute(*core_, key, fn);
}
std::optional<std::string> PHashMap::merge(
    std::string_view key, std::string_view value,
    const std::function<std::optional<std::string>(std::string_view, std::string_view)>& fn) {
  return Ops::merge(*core_, key, value, fn);
}
bool PHashMap::put_ref(std::string_view key, uint64_t object) {
  return Ops::put_ref(*core_, key, object);
}
void PHashMap::clear() { Ops::clear(*core_); }

void PHashMap::for_each(const std::function<void(std::string_view, const MapValue&)>& f) const {
  core_->for_each(f);
}

MapStats PHashMap::stats() const {
  RecordLog::Stats l = core_->log().stats();
  MapStats s;
  s.size = size();
  s.chunks = l.chunks;
  s.pool_bytes = l.pool_bytes;
  s.record_bytes = l.record_bytes;
  s.dead_bytes = l.dead_bytes;
  s.cleanings = l.cleanings;
  s.tombstones = core_->tombstones();
  s.dram_bytes = const_cast<detail::HashIndex&>(core_->index()).dram_bytes();
  return s;
}

void PHashMap::destroy_object(Store& s, uint64_t offset) {
  RecordLog::destroy_unopened(s, s.pool().at<PHashMapData>(offset)->lanes);
  s.free_detached(offset);
}

}  // namespace nvobj
