#include "pobjects/root_map.h"

#include <mutex>

namespace nvobj {

Ref<PHashMap> root_map(Store& store, std::string_view name) {
  if (auto m = store.root<PHashMap>(name)) return m;
  // One maker at a time in this process (two stores' maps never collide:
  // the lock only makes the check-then-bind atomic).
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto m = store.root<PHashMap>(name)) return m;
  auto m = PHashMap::create(store);
  store.set_root(name, m);  // durable: one fence for the map, one for the binding
  return m;
}

}  // namespace nvobj
