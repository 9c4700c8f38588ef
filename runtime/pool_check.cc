#include "runtime/pool_check.h"

#include <cstring>

#include <fmt/format.h>

#include "runtime/mode.h"
#include "runtime/pool_header.h"

namespace nvobj {
namespace {

const char* state_name(HeaderCheck c) {
  switch (c) {
    case HeaderCheck::kValid: return "valid";
    case HeaderCheck::kBlank: return "blank";
    case HeaderCheck::kBadMagic: return "foreign";
    case HeaderCheck::kBadChecksum: return "torn";
  }
  return "?";
}

}  // namespace

PoolCheckReport check_pool_bytes(const char* base, uint64_t available) {
  PoolCheckReport r;
  if (available < kDefaultDataOffset) {
    r.problems.push_back(fmt::format("only {} bytes: smaller than the pool metadata", available));
    return r;
  }
  PoolHeader copies[2];
  for (int i = 0; i < 2; ++i)
    std::memcpy(&copies[i], base + kHeaderCopyOffset[i], sizeof(PoolHeader));
  HeaderChoice c = choose_header(copies[0], copies[1]);
  for (int i = 0; i < 2; ++i)
    if (c.copy_state[i] != HeaderCheck::kValid)
      r.problems.push_back(fmt::format("header copy {} is {}", i, state_name(c.copy_state[i])));
  if (c.chosen < 0) return r;
  if (c.needs_repair && r.problems.empty()) r.problems.push_back("header copies differ");
  const PoolHeader& h = copies[c.chosen];
  if (h.layout_major < kOldestLayoutMajor || h.layout_major > kLayoutMajor)
    r.problems.push_back(fmt::format("layout version {}.{} is not {}.x to {}.x", h.layout_major,
                                     h.layout_minor, kOldestLayoutMajor, kLayoutMajor));
  if (h.size > available)
    r.problems.push_back(
        fmt::format("only {} bytes present but the header says {}", available, h.size));
  if (h.size < kMinPoolSize || h.size % kHeaderCopySize != 0)
    r.problems.push_back(fmt::format("pool size {} is not a valid size", h.size));
  if (h.data_offset < kAnchorOffset + kHeaderCopySize || h.data_offset >= h.size)
    r.problems.push_back(fmt::format("data offset {} outside the pool", h.data_offset));
  if (h.requested_mode > static_cast<uint32_t>(Mode::kMsync))
    r.problems.push_back(fmt::format("unknown requested mode {}", h.requested_mode));
  for (uint8_t b : h.reserved)
    if (b != 0) {
      r.problems.push_back("reserved header bytes are not zero");
      break;
    }
  return r;
}

}  // namespace nvobj
