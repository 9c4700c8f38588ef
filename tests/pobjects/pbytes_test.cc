// PBytes: contents, sizes from empty to megabytes, restarts, space cost,
// and creation inside an aborted block.
#include "pobjects/pbytes.h"

#include <string>

#include <gtest/gtest.h>

#include "allocator/size_classes.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return s;
}

class PBytesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 32 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("b.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(PBytesTest, HoldsAnySizeAcrossARestart) {
  const size_t sizes[] = {0, 1, 15, 16, 100, 1000, 1024, 4096, 70000, 3 << 20};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    auto b = PBytes::create(*store_, pattern(sizes[i], static_cast<int>(i)));
    EXPECT_EQ(b->size(), sizes[i]);
    EXPECT_TRUE(b->equals(pattern(sizes[i], static_cast<int>(i))));
    store_->set_root("b" + std::to_string(i), b);
  }
  store_.reset();
  auto s = open_store(dir_.file("b.pool"));
  ASSERT_TRUE(s) << s.status().to_string();
  for (size_t i = 0; i < std::size(sizes); ++i) {
    auto b = (*s)->root<PBytes>("b" + std::to_string(i));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->str(), pattern(sizes[i], static_cast<int>(i))) << sizes[i] << " bytes";
    EXPECT_EQ(b->hash(), PBytes::hash_of(pattern(sizes[i], static_cast<int>(i))));
  }
}

TEST_F(PBytesTest, CreationCostsNoFenceAndLittleSpace) {
  (void)PBytes::create(*store_, "");  // registering the class costs fences, once per pool
  PersistCounters before = thread_persist_counters();
  auto b = PBytes::create(*store_, pattern(1000, 1));
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
  EXPECT_EQ(b->size(), 1000u);
  // 1000 bytes + 16-byte layout + 8-byte header fit a 1152-byte block: 1.15x.
  int cls = alloc::size_class_for(1000 + sizeof(PBytesData) + kObjectHeaderSize);
  EXPECT_LE(alloc::kBlockSizes[cls], 1250u);
}

TEST_F(PBytesTest, DistinctContentsHashApart) {
  EXPECT_NE(PBytes::hash_of("a"), PBytes::hash_of("b"));
  EXPECT_NE(PBytes::hash_of("key1"), PBytes::hash_of("key2"));
  EXPECT_EQ(PBytes::hash_of("same"), PBytes::hash_of(std::string("same")));
}

TEST_F(PBytesTest, AbortedBlockFreesItsBytes) {
  store_->set_root("first", PBytes::create(*store_, "class and roots exist"));
  uint64_t live = store_->usage().live_bytes;
  EXPECT_THROW(failure_atomic([&] {
                 store_->set_root("x", PBytes::create(*store_, pattern(5000, 3)));
                 throw std::runtime_error("abort");
               }),
               std::runtime_error);
  EXPECT_FALSE(store_->root<PBytes>("x"));
  EXPECT_EQ(store_->usage().live_bytes, live);
}

}  // namespace
}  // namespace nvobj
