#include "runtime/pool_header.h"

#include <cstring>

#include <gtest/gtest.h>

namespace nvobj {
namespace {

PoolHeader make_header(uint64_t generation) {
  PoolHeader h{};
  std::memcpy(h.magic, kPoolMagic, sizeof kPoolMagic);
  h.layout_major = kLayoutMajor;
  h.size = 4 << 20;
  h.data_offset = kDefaultDataOffset;
  h.generation = generation;
  seal_header(h);
  return h;
}

TEST(PoolHeaderTest, SealedHeaderIsValid) {
  EXPECT_EQ(check_header(make_header(1)), HeaderCheck::kValid);
}

TEST(PoolHeaderTest, ClassifiesBlankForeignAndTorn) {
  PoolHeader blank{};
  EXPECT_EQ(check_header(blank), HeaderCheck::kBlank);
  PoolHeader foreign{};
  std::memcpy(foreign.magic, "SQLite f", 8);
  EXPECT_EQ(check_header(foreign), HeaderCheck::kBadMagic);
  PoolHeader torn = make_header(3);
  torn.size += 4096;  // a field changed without resealing = torn write
  EXPECT_EQ(check_header(torn), HeaderCheck::kBadChecksum);
}

TEST(PoolHeaderTest, EveryByteIsCoveredByTheChecksum) {
  PoolHeader h = make_header(5);
  auto* bytes = reinterpret_cast<unsigned char*>(&h);
  for (size_t i = sizeof kPoolMagic; i < sizeof h; ++i) {
    bytes[i] ^= 0x01;
    EXPECT_NE(check_header(h), HeaderCheck::kValid) << "byte " << i;
    bytes[i] ^= 0x01;
  }
}

TEST(PoolHeaderTest, ChoosesNewestValidCopy) {
  PoolHeader a = make_header(4), b = make_header(5);
  HeaderChoice c = choose_header(a, b);
  EXPECT_EQ(c.chosen, 1);
  EXPECT_TRUE(c.needs_repair);
  c = choose_header(b, a);
  EXPECT_EQ(c.chosen, 0);
  c = choose_header(a, a);
  EXPECT_EQ(c.chosen, 0);
  EXPECT_FALSE(c.needs_repair);
}

TEST(PoolHeaderTest, TornCopyLosesToValidOne) {
  PoolHeader good = make_header(7), torn = make_header(8);
  torn.uuid[0] ^= 0xFF;
  for (int order = 0; order < 2; ++order) {
    HeaderChoice c = order == 0 ? choose_header(good, torn) : choose_header(torn, good);
    EXPECT_EQ(c.chosen, order == 0 ? 0 : 1);
    EXPECT_TRUE(c.needs_repair);
  }
}

TEST(PoolHeaderTest, NoValidCopyMeansNoChoice) {
  PoolHeader t1 = make_header(1), t2 = make_header(2);
  t1.size = 1;
  t2.size = 2;
  EXPECT_EQ(choose_header(t1, t2).chosen, -1);
  PoolHeader blank{};
  EXPECT_EQ(choose_header(blank, blank).chosen, -1);
}

TEST(PoolHeaderTest, UuidFormatting) {
  uint8_t u[16];
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(uuid_to_string(u), "00010203-0405-0607-0809-0a0b0c0d0e0f");
}

}  // namespace
}  // namespace nvobj
