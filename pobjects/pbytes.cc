#include "pobjects/pbytes.h"

#include <cstring>

#include "runtime/checksum.h"

namespace nvobj {

uint64_t PBytes::hash_of(std::string_view bytes) {
  // FNV-1a, then a 64-bit finaliser (splitmix) to spread low-entropy keys.
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return mix64(h);
}

Ref<PBytes> PBytes::create(Store& s, std::string_view bytes) {
  // make_with_tail zero-fills the tail; the copy then goes straight into the
  // new object, which nothing can see yet. Its write-back happens with the
  // fence that publishes it (see Store, "Publishing").
  auto r = s.make_with_tail<PBytes>(bytes.size(), uint64_t{bytes.size()}, hash_of(bytes));
  if (!bytes.empty()) std::memcpy(r->tail_ptr(), bytes.data(), bytes.size());
  return r;
}

}  // namespace nvobj
