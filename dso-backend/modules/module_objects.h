// How user-defined objects live in the key space (nvobj backend): the key
// space owns a ModuleObject (class "nvobj.dso.Object"), which references
// the module type's object and, once IDEMPOTENT calls were made, the call
// table that records each caller's last call and its reply.
//
//   key --put_ref--> ModuleObject {object, calls}
//                      object -> the module's class (kmeans.GlobalCentroids...)
//                      calls  -> CallTable {slots, seq} + slot refs -> CallRecord
//                                CallRecord {call id, seq, caller bytes} + caller + reply
//
// A call runs the method and records its reply in ONE failure-atomic block,
// so a crash leaves both or neither: a retry after a crash finds the reply
// iff the method's effects are there. The type of the key's value is the
// module object's class name, which is also its module type name, so TYPE
// answers even when the module is not loaded.
//
// Idempotency record: per object, the highest call id of each caller and
// that call's reply (callers number their calls on an object in increasing
// order, with at most one call in flight). A retry with that call id gets
// the recorded reply without running; a lower call id is refused as stale;
// a higher one runs. At most kMaxCallers callers are kept per object: the
// one whose last call is the oldest is forgotten first.
#ifndef NVOBJ_DSO_BACKEND_MODULES_MODULE_OBJECTS_H_
#define NVOBJ_DSO_BACKEND_MODULES_MODULE_OBJECTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dso-backend/modules/module_api.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj::dso {

struct ModuleObjectData {
  uint64_t object;  // the module type's object
  uint64_t calls;   // CallTable, 0 before the first IDEMPOTENT call
};

class ModuleObject : public PObject<ModuleObject, ModuleObjectData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.dso.Object";
  static constexpr RefMap kRefs = ref_map<ModuleObjectData>(
      {offsetof(ModuleObjectData, object), offsetof(ModuleObjectData, calls)});
  static constexpr uint32_t kMaxCallers = 1024;
  static constexpr size_t kMaxCallerBytes = 256;
  using PObject::PObject;

  uint64_t object() const { return get(&Data::object); }

  enum class Seen { kNew, kRecorded, kStale };
  // What the record says of (caller, call_id): kRecorded fills *reply with
  // the encoded reply; kStale sets *last to the caller's recorded call id.
  Seen lookup(std::string_view caller, uint64_t call_id, std::string* reply, uint64_t* last);

  // Records (caller, call_id) -> reply; call inside the block that runs the
  // call. What the volatile index must learn once the block committed is
  // returned, for commit().
  struct Pending {
    std::string caller;
    uint64_t call_id = 0;
    uint64_t seq = 0;
    uint32_t slot = 0;
    uint32_t added_from = 0, added_to = 0;  // slots a growth added, free but for `slot`
    std::string evicted;
    bool used_free_slot = false;
  };
  Pending record(std::string_view caller, uint64_t call_id, std::string_view reply);
  void commit(const Pending& p);

  // Frees an unreachable ModuleObject with its call table, records and
  // module object (through that class's destroyer, if it registered one).
  static void destroy(Store& s, uint64_t offset);

 private:
  struct Entry {
    uint32_t slot;
    uint64_t call_id;
    uint64_t seq;
  };
  void load_index();

  // The volatile index of the call table, built on first use. The caller
  // holds the key's lock, which serialises everything that touches it.
  bool loaded_ = false;
  std::unordered_map<std::string, Entry> index_;
  std::vector<uint32_t> free_slots_;
};

// Registers ModuleObject's destroyer (idempotent).
void register_module_object_classes();

// A reply as bytes (the idempotency record) and back.
std::string encode_reply(const Reply& r);
Reply decode_reply(std::string_view bytes);

// The class name of the module object a ModuleObject holds: its type.
std::string module_type_of(Store& s, uint64_t module_object);

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_MODULES_MODULE_OBJECTS_H_
