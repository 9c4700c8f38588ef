#include "pobjects/phashmap.h"

#include <mutex>

#include "pobjects/plist.h"
#include "pobjects/psortedset.h"
#include "pobjects/ptreemap.h"

namespace nvobj {

// Registered by every RecordLog (see record_log.cc): a process that opens
// or makes any log-based type can then destroy objects of all of them, even
// of a class it never opened (an owned map inside a map).
void register_pobject_destroyers() {
  static std::once_flag once;
  std::call_once(once, [] {
    Store::register_destroyer(PHashMap::kClassName, &PHashMap::destroy_object);
    Store::register_destroyer(PTreeMap::kClassName, &PTreeMap::destroy_object);
    Store::register_destroyer(PList::kClassName, &PList::destroy_object);
    Store::register_destroyer(PSortedSet::kClassName, &PSortedSet::destroy_object);
  });
}

}  // namespace nvobj
