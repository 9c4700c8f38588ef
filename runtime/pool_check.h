// Invariants of a pool's bytes that any consistent pool satisfies, checked
// without changing anything. `nvobj-pool check` runs them on a file and the
// crash harness on every recovered crash image; the layers above add their
// own checks (allocator state, references) as they land.
#ifndef NVOBJ_RUNTIME_POOL_CHECK_H_
#define NVOBJ_RUNTIME_POOL_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

namespace nvobj {

struct PoolCheckReport {
  std::vector<std::string> problems;  // one line each, empty when clean
  bool clean() const { return problems.empty(); }
};

// `base` points at the pool's first byte; `available` is how many bytes can
// be read there (the file or mapping length).
PoolCheckReport check_pool_bytes(const char* base, uint64_t available);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_POOL_CHECK_H_
