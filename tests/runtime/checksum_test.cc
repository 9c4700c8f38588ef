#include "runtime/checksum.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace nvobj {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) test vectors.
  EXPECT_EQ(crc32c("", 0), 0u);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  unsigned char zeros[32] = {};
  EXPECT_EQ(crc32c(zeros, sizeof zeros), 0x8A9136AAu);
  unsigned char ones[32];
  std::memset(ones, 0xFF, sizeof ones);
  EXPECT_EQ(crc32c(ones, sizeof ones), 0x62A8AB43u);
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::string s = "the quick brown fox jumps over the lazy dog, persistently";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t part = crc32c(s.data(), cut);
    EXPECT_EQ(crc32c(s.data() + cut, s.size() - cut, part), crc32c(s.data(), s.size()));
  }
}

TEST(Crc32cTest, DetectsSingleBitFlips) {
  unsigned char buf[512] = {};
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<unsigned char>(i * 7);
  uint32_t good = crc32c(buf, sizeof buf);
  for (size_t bit = 0; bit < sizeof buf * 8; bit += 37) {
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    EXPECT_NE(crc32c(buf, sizeof buf), good);
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
}

}  // namespace
}  // namespace nvobj
