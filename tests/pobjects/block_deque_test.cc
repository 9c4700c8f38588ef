#include "pobjects/block_deque.h"

#include <deque>
#include <memory>
#include <random>

#include <gtest/gtest.h>

namespace nvobj::detail {
namespace {

// Move-only, like ListIndex::Elem (which owns its long position).
using Box = std::unique_ptr<int>;

template <typename D>
void expect_same(const D& d, const std::deque<int>& ref) {
  ASSERT_EQ(d.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_NE(d[i], nullptr) << i;
    ASSERT_EQ(*d[i], ref[i]) << i;
  }
}

template <typename D>
void random_operations_match_std_deque(int steps) {
  D d;
  std::deque<int> ref;
  std::mt19937_64 rng(7);
  for (int step = 0; step < steps; ++step) {
    int op = static_cast<int>(rng() % 100);
    int v = step;
    if (op < 25) {
      d.push_back(std::make_unique<int>(v));
      ref.push_back(v);
    } else if (op < 50) {
      d.push_front(std::make_unique<int>(v));
      ref.push_front(v);
    } else if (op < 62 && !ref.empty()) {
      d.pop_back();
      ref.pop_back();
    } else if (op < 74 && !ref.empty()) {
      d.pop_front();
      ref.pop_front();
    } else if (op < 87) {
      size_t i = rng() % (ref.size() + 1);
      d.insert(i, std::make_unique<int>(v));
      ref.insert(ref.begin() + static_cast<long>(i), v);
    } else if (!ref.empty()) {
      size_t i = rng() % ref.size();
      d.erase(i);
      ref.erase(ref.begin() + static_cast<long>(i));
    }
    if (step % 997 == 0) expect_same(d, ref);
  }
  expect_same(d, ref);
}

TEST(BlockDequeTest, RandomOperationsMatchStdDequeAcrossBlockBoundaries) {
  // 4 elements per block: every few operations cross one.
  random_operations_match_std_deque<BlockDeque<Box, 2>>(200000);
  // Blocks of 8 growing to 64: regroups on the way up, and back to 8 when
  // the deque empties.
  random_operations_match_std_deque<BlockDeque<Box, 6>>(200000);
}

TEST(BlockDequeTest, BlocksGrowWithTheDequeAndAShortOneStaysSmall) {
  BlockDeque<Box> d;
  d.push_back(std::make_unique<int>(0));
  EXPECT_EQ(d.block_size(), 8u);
  EXPECT_LE(d.dram_bytes(), 8 * sizeof(Box) + 8 * sizeof(void*));
  for (int i = 1; i < 100000; ++i)
    i % 2 ? d.push_front(std::make_unique<int>(i)) : d.push_back(std::make_unique<int>(i));
  EXPECT_EQ(d.block_size(), 512u);
  // Blocks of 512: at most two partly used, plus the map.
  EXPECT_LE(d.dram_bytes(), (100000 + 2 * 512) * sizeof(Box) + 4096 * sizeof(void*));
  for (int i = 0; i < 100000; ++i) d.pop_front();
  EXPECT_EQ(d.block_size(), 8u);
  EXPECT_EQ(d.dram_bytes(), 0u);
}

TEST(BlockDequeTest, GrowsAtOneEndAndDrainsFromTheOther) {
  BlockDeque<Box, 3> d;
  for (int i = 0; i < 10000; ++i) d.push_front(std::make_unique<int>(i));
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(*d.back(), i);
    d.pop_back();
  }
  EXPECT_TRUE(d.empty());
  // Emptied, it keeps a block and a spare, not the 1,250 blocks it had.
  EXPECT_LE(d.dram_bytes(), 2 * 8 * sizeof(Box) + 4096);
  for (int i = 0; i < 100; ++i) d.push_back(std::make_unique<int>(i));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(*d[i], i);
}

TEST(BlockDequeTest, PopResetsSlotsSoTheirResourcesAreFreed) {
  auto shared = std::make_shared<int>(1);
  BlockDeque<std::shared_ptr<int>, 2> d;
  for (int i = 0; i < 10; ++i) d.push_back(shared);
  EXPECT_EQ(shared.use_count(), 11);
  d.erase(3);
  d.pop_front();
  d.pop_back();
  EXPECT_EQ(shared.use_count(), 8);
  d.clear();
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(BlockDequeTest, AlternatingPushAndPopAtABlockBoundaryKeepsOneSpare) {
  BlockDeque<Box, 2> d;
  for (int i = 0; i < 4; ++i) d.push_back(std::make_unique<int>(i));
  size_t before = d.dram_bytes();
  for (int i = 0; i < 1000; ++i) {
    d.push_back(std::make_unique<int>(i));  // needs a second block
    d.pop_back();                           // frees it (kept as the spare)
  }
  EXPECT_EQ(d.size(), 4u);
  EXPECT_LE(d.dram_bytes(), before + 4 * sizeof(Box));
}

}  // namespace
}  // namespace nvobj::detail
