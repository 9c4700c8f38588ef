// PBytes: an immutable persistent byte string of any size (keys and values
// of the maps, DSO byte values). Written once, before it is published, so
// reads need no synchronisation and no fence; a crash before publication
// leaves an unreachable object that recovery reclaims.
//
//   auto b = nvobj::PBytes::create(store, "hello");   // unpublished, no fence
//   store.set_root("greeting", b);                     // published
//   std::string_view v = b->view();                    // points into the pool
#ifndef NVOBJ_POBJECTS_PBYTES_H_
#define NVOBJ_POBJECTS_PBYTES_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj {

struct PBytesData {
  uint64_t size;  // bytes in the tail
  uint64_t hash;  // of the bytes (for hash maps; 64-bit, seedless)
};

class PBytes : public PObject<PBytes, PBytesData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PBytes";
  static constexpr RefMap kRefs = with_tail(ref_map<PBytesData>(), TailKind::kBytes,
                                            offsetof(PBytesData, size), sizeof(PBytesData));
  using PObject::PObject;

  // Copies `bytes` into a new object. Inside a failure-atomic block the
  // object belongs to the block (freed if it aborts).
  static Ref<PBytes> create(Store& s, std::string_view bytes);

  uint64_t size() const { return raw().size; }
  uint64_t hash() const { return raw().hash; }
  std::string_view view() const { return {tail_ptr(), raw().size}; }
  std::string str() const { return std::string(view()); }
  bool equals(std::string_view other) const { return view() == other; }

  // The hash PBytes stores (so that lookups can hash a probe the same way).
  static uint64_t hash_of(std::string_view bytes);
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PBYTES_H_
