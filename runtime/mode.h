// Persistence modes (DESIGN.md "Persistence modes"): what a pool's stores
// survive and which instructions make them durable.
#ifndef NVOBJ_RUNTIME_MODE_H_
#define NVOBJ_RUNTIME_MODE_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace nvobj {

enum class Mode : uint32_t {
  kAuto = 0,      // dax if available, emulated on tmpfs, msync otherwise
  kDax = 1,       // fsdax/devdax with MAP_SYNC: survives power failure
  kEmulated = 2,  // cache-line flushes on an ordinary mapping: process crash only
  kMsync = 3,     // page granularity via msync: power failure, slowly
};

std::string_view mode_name(Mode m);
std::optional<Mode> parse_mode(std::string_view s);
// One line on what a mode survives, printed at open and by `nvobj-pool info`.
std::string_view mode_durability(Mode m);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_MODE_H_
