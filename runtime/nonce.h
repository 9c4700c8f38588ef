// fresh_nonce: a random 64-bit value per call, for on-media structures
// whose checks must reject what an earlier object left in the same memory
// (a log chunk's records, a counter's entries).
#ifndef NVOBJ_RUNTIME_NONCE_H_
#define NVOBJ_RUNTIME_NONCE_H_

#include <cstdint>

namespace nvobj {

// Never 0. Reseeded in a forked child (see nonce.cc).
uint64_t fresh_nonce();

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_NONCE_H_
