#include "runtime/units.h"

#include <gtest/gtest.h>

namespace nvobj {
namespace {

TEST(ParseSizeTest, AcceptsPlainAndSuffixed) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("64M"), 64u << 20);
  EXPECT_EQ(*parse_size("64m"), 64u << 20);
  EXPECT_EQ(*parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(*parse_size("2GB"), uint64_t{2} << 30);
  EXPECT_EQ(*parse_size("1.5G"), uint64_t{3} << 29);
  EXPECT_EQ(*parse_size("1T"), uint64_t{1} << 40);
  EXPECT_EQ(*parse_size("12K"), 12u << 10);
}

TEST(ParseSizeTest, RejectsGarbage) {
  for (const char* s : {"", "M", "-1", "12Q", "1.5", "abc", "1e3", "99999999999T", "1..2M"}) {
    auto r = parse_size(s);
    EXPECT_FALSE(r) << s;
    if (!r) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(FormatSizeTest, PicksUnit) {
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(64u << 20), "64.0 MiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
}

}  // namespace
}  // namespace nvobj
