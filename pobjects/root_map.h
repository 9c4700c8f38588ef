// root_map: an application's namespace as a durable hash map. The store's
// root table (Store::set_root) is a small fixed directory that takes part
// in failure-atomic blocks; root_map() keeps a PHashMap under one of its
// names, created on first use, so that an application can bind any number
// of objects by name with one fence each (PHashMap::put_ref; the map owns
// them) and find them after a restart:
//
//   auto ns = nvobj::root_map(store);           // the PHashMap named "nvobj.root"
//   ns->put_ref("orders", nvobj::PList::create(store));
//   auto orders = store.ref<nvobj::PList>(ns->get_ref("orders"));
#ifndef NVOBJ_POBJECTS_ROOT_MAP_H_
#define NVOBJ_POBJECTS_ROOT_MAP_H_

#include <string_view>

#include "pobjects/phashmap.h"

namespace nvobj {

inline constexpr std::string_view kDefaultRootMap = "nvobj.root";

// The PHashMap bound to root `name`, made (and durably bound) on first use.
// Throws Error if the root names an object of another class.
Ref<PHashMap> root_map(Store& store, std::string_view name = kDefaultRootMap);

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_ROOT_MAP_H_
