// Human-readable byte sizes for flags and reports: "64M", "1.5G", "4096".
#ifndef NVOBJ_RUNTIME_UNITS_H_
#define NVOBJ_RUNTIME_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace nvobj {

// Parses a byte count with an optional binary suffix K, M, G, T (case
// insensitive, optional trailing "B" or "iB"). Rejects garbage and overflow.
Result<uint64_t> parse_size(std::string_view text);
// "64.0 MiB", "512 B".
std::string format_size(uint64_t bytes);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_UNITS_H_
