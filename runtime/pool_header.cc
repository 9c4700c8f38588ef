#include "runtime/pool_header.h"

#include <cstring>

#include <fmt/format.h>

#include "runtime/checksum.h"

namespace nvobj {

void seal_header(PoolHeader& h) { h.checksum = crc32c(&h, offsetof(PoolHeader, checksum)); }

HeaderCheck check_header(const PoolHeader& h) {
  if (std::memcmp(h.magic, kPoolMagic, sizeof(kPoolMagic)) != 0) {
    const auto* b = reinterpret_cast<const unsigned char*>(&h);
    for (size_t i = 0; i < sizeof(h); ++i)
      if (b[i] != 0) return HeaderCheck::kBadMagic;
    return HeaderCheck::kBlank;
  }
  if (h.checksum != crc32c(&h, offsetof(PoolHeader, checksum))) return HeaderCheck::kBadChecksum;
  return HeaderCheck::kValid;
}

HeaderChoice choose_header(const PoolHeader& copy0, const PoolHeader& copy1) {
  HeaderChoice c;
  c.copy_state[0] = check_header(copy0);
  c.copy_state[1] = check_header(copy1);
  bool v0 = c.copy_state[0] == HeaderCheck::kValid;
  bool v1 = c.copy_state[1] == HeaderCheck::kValid;
  if (v0 && v1) {
    c.chosen = copy1.generation > copy0.generation ? 1 : 0;
    c.needs_repair = std::memcmp(&copy0, &copy1, sizeof(PoolHeader)) != 0;
  } else if (v0 || v1) {
    c.chosen = v0 ? 0 : 1;
    c.needs_repair = true;
  }
  return c;
}

std::string uuid_to_string(const uint8_t (&u)[16]) {
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
      u[15]);
}

}  // namespace nvobj
