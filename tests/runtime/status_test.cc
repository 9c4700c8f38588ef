#include "runtime/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace nvobj {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s(StatusCode::kCorrupt, "header copy 0 torn");
  EXPECT_FALSE(s);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.to_string(), "corrupt: header copy 0 torn");
}

TEST(StatusTest, FromErrnoMapsCommonCodes) {
  EXPECT_EQ(status_from_errno(ENOENT, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(status_from_errno(EACCES, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(status_from_errno(EEXIST, "x").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(status_from_errno(ENOSPC, "x").code(), StatusCode::kNoSpace);
  EXPECT_EQ(status_from_errno(EWOULDBLOCK, "x").code(), StatusCode::kBusy);
  EXPECT_EQ(status_from_errno(EIO, "x").code(), StatusCode::kIOError);
  EXPECT_NE(status_from_errno(ENOENT, "opening y").message().find("opening y"), std::string::npos);
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> v = 7;
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 7);
  EXPECT_TRUE(v.status().is_ok());
  Result<int> e = Status(StatusCode::kBusy, "locked");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.status().code(), StatusCode::kBusy);
}

}  // namespace
}  // namespace nvobj
