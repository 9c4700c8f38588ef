// The map operations shared by PHashMap and PTreeMap, written once over
// MapCore<Index>::update/read (map_core.h).
#ifndef NVOBJ_POBJECTS_MAP_OPS_H_
#define NVOBJ_POBJECTS_MAP_OPS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "pobjects/map_core.h"

namespace nvobj::detail {

template <typename Core>
struct MapOps {
  using D = typename Core::Decision;

  static bool get(const Core& c, std::string_view key, std::string* out) {
    return c.read(key, [&](const MapValue& v) {
      if (!v.present || v.is_ref) return false;
      out->assign(v.bytes);
      return true;
    });
  }
  static std::optional<std::string> get(const Core& c, std::string_view key) {
    std::string s;
    if (!get(c, key, &s)) return std::nullopt;
    return s;
  }
  static bool contains(const Core& c, std::string_view key) {
    return c.read(key, [](const MapValue& v) { return v.present; });
  }
  static uint64_t get_ref(const Core& c, std::string_view key) {
    return c.read(key, [](const MapValue& v) { return v.present && v.is_ref ? v.ref : 0; });
  }
  static bool put(Core& c, std::string_view key, std::string_view value) {
    return !c.write_blind(key, D{D::kPutBytes, value, 0});
  }
  static std::optional<std::string> exchange(Core& c, std::string_view key,
                                             std::string_view value) {
    std::optional<std::string> old;
    c.update(key, [&](const MapValue& v) {
      if (v.present && !v.is_ref) old.emplace(v.bytes);
      return D{D::kPutBytes, value, 0};
    });
    return old;
  }
  static bool put_if_absent(Core& c, std::string_view key, std::string_view value) {
    return c.update(key, [&](const MapValue& v) {
              return v.present ? D{} : D{D::kPutBytes, value, 0};
            }).op != D::kKeep;
  }
  static bool replace(Core& c, std::string_view key, std::string_view value) {
    return c.update(key, [&](const MapValue& v) {
              return v.present ? D{D::kPutBytes, value, 0} : D{};
            }).op != D::kKeep;
  }
  static bool compare_and_set(Core& c, std::string_view key, std::string_view expected,
                              std::string_view desired) {
    return c.update(key, [&](const MapValue& v) {
              return v.present && !v.is_ref && v.bytes == expected ? D{D::kPutBytes, desired, 0}
                                                                   : D{};
            }).op != D::kKeep;
  }
  static bool remove(Core& c, std::string_view key) {
    return c.template update<false>(key, [](const MapValue&) {
              return D{D::kRemoveKey, {}, 0};
            }).op != D::kKeep;
  }
  static bool remove_if(Core& c, std::string_view key, std::string_view expected) {
    return c.update(key, [&](const MapValue& v) {
              return v.present && !v.is_ref && v.bytes == expected ? D{D::kRemoveKey, {}, 0} : D{};
            }).op != D::kKeep;
  }
  static std::optional<std::string> compute(
      Core& c, std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn) {
    return compute_impl(c, key, fn, nullptr);
  }
  // compute, except that a key bound to an object is left as it is: fn is
  // not called and *object is set.
  static std::optional<std::string> compute_bytes(
      Core& c, std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn,
      bool* object) {
    *object = false;
    return compute_impl(c, key, fn, object);
  }
  static std::optional<std::string> compute_impl(
      Core& c, std::string_view key,
      const std::function<std::optional<std::string>(std::optional<std::string_view>)>& fn,
      bool* object) {
    std::optional<std::string> result;
    c.update(key, [&](const MapValue& v) {
      if (object != nullptr && v.present && v.is_ref) {
        *object = true;
        return D{};
      }
      std::optional<std::string_view> old;
      if (v.present && !v.is_ref) old = v.bytes;
      result = fn(old);
      if (!result) return D{D::kRemoveKey, {}, 0};
      if (old && *old == *result) return D{};  // unchanged: nothing to write
      return D{D::kPutBytes, *result, 0};
    });
    return result;
  }
  static std::optional<std::string> merge(
      Core& c, std::string_view key, std::string_view value,
      const std::function<std::optional<std::string>(std::string_view, std::string_view)>& fn) {
    return compute(c, key, [&](std::optional<std::string_view> old) -> std::optional<std::string> {
      if (!old) return std::string(value);
      return fn(*old, value);
    });
  }
  static bool put_ref(Core& c, std::string_view key, uint64_t object) {
    return !c.write_blind(key, D{D::kPutRef, {}, object});
  }
  static void clear(Core& c) {
    std::vector<std::string> keys;
    c.for_each([&](std::string_view k, const MapValue&) { keys.emplace_back(k); });
    for (const std::string& k : keys) remove(c, k);
  }
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_MAP_OPS_H_
