// The allocator: size classes, space efficiency, large extents, pool full and
// growth, cost (no fences), concurrency, the clean-close snapshot and the
// rebuild from live objects that recovery uses.
#include "allocator/allocator.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/layout.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj::alloc {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint32_t kTestClass = kFirstUserClassId;

TEST(SizeClassesTest, SmallestFittingClassWithBoundedWaste) {
  for (int c = 1; c < kNumClasses; ++c) EXPECT_GT(kBlockSizes[c], kBlockSizes[c - 1]);
  for (uint64_t b = 1; b <= kMaxSmallBlock; ++b) {
    int c = size_class_for(b);
    ASSERT_GE(c, 0) << b;
    ASSERT_GE(kBlockSizes[c], b);
    if (c > 0) {
      ASSERT_LT(kBlockSizes[c - 1], b) << "not the smallest class for " << b;
    }
    if (b > 128) {
      ASSERT_LE(kBlockSizes[c], b + b / 8 + 16) << "more than 12.5% waste at " << b;
    }
  }
  EXPECT_EQ(size_class_for(kMaxSmallBlock + 1), -1);
}

class AllocatorTest : public ::testing::Test {
 protected:
  void make_pool(uint64_t size, uint64_t max_size = kDefaultMaxSize) {
    CreateOptions o;
    o.size = size;
    o.mode = Mode::kEmulated;
    o.max_size = max_size;
    pool_.reset();
    auto p = Pool::create(dir_.file("pool" + std::to_string(pools_++)), o);
    ASSERT_TRUE(p) << p.status().to_string();
    pool_ = std::move(*p);
  }
  std::unique_ptr<Allocator> make_allocator(bool grow = false) {
    AllocatorOptions o;
    o.allow_grow = grow;
    o.grow_step = 4 * kMiB;
    return Allocator::create_empty(*pool_, o);
  }
  void SetUp() override { make_pool(32 * kMiB); }

  testing::TempDir dir_;
  std::unique_ptr<Pool> pool_;
  int pools_ = 0;
};

TEST_F(AllocatorTest, ObjectsAreDistinctAlignedAndHeadered) {
  auto a = make_allocator();
  std::vector<std::pair<uint64_t, uint64_t>> got;  // payload, usable
  for (uint64_t size : {1, 8, 24, 100, 1000, 1024, 4000, 16000, 20000, 100000, 1 << 20}) {
    auto r = a->allocate(size, kTestClass);
    ASSERT_TRUE(r) << r.status().to_string();
    uint64_t p = *r;
    EXPECT_EQ(p % kMaxObjectAlign, 0u);
    EXPECT_EQ((p - kObjectHeaderSize) % kObjectGranule, 0u);
    EXPECT_GE(a->usable_size(p), size);
    const auto* h = pool_->at<ObjectHeader>(p - kObjectHeaderSize);
    EXPECT_EQ(h->class_id, kTestClass);
    EXPECT_TRUE(a->is_allocated(p - kObjectHeaderSize));
    got.emplace_back(p, a->usable_size(p));
  }
  std::sort(got.begin(), got.end());
  for (size_t i = 1; i < got.size(); ++i)
    EXPECT_LE(got[i - 1].first + got[i - 1].second + kObjectHeaderSize, got[i].first)
        << "objects overlap";
  for (auto [p, n] : got) a->deallocate(p);
  EXPECT_EQ(a->stats().live_bytes, 0u);
}

TEST_F(AllocatorTest, OneKilobyteRecordsCostCloseToOneKilobyte) {
  auto a = make_allocator();
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(a->allocate(1024, kTestClass));
  AllocatorStats s = a->stats();
  double per_record = static_cast<double>(s.live_bytes + s.run_free_bytes) / kN;
  EXPECT_LE(per_record, 1024 * 1.15) << "pool bytes per 1 KiB record";
  EXPECT_EQ(s.live_objects, static_cast<uint64_t>(kN));
}

TEST_F(AllocatorTest, LargeExtentsAreFreedAndCoalesced) {
  auto a = make_allocator();
  uint64_t heap = a->stats().heap_bytes;
  std::vector<uint64_t> objs;
  for (uint64_t size : {20000, 70000, 300000, 17000, 1 << 20}) {
    auto r = a->allocate(size, kTestClass);
    ASSERT_TRUE(r);
    uint64_t pages = (size + kObjectHeaderSize + kPageSize - 1) / kPageSize;
    EXPECT_EQ(a->usable_size(*r), pages * kPageSize - kObjectHeaderSize) << "page-granular extent";
    objs.push_back(*r);
  }
  for (size_t i = 0; i < objs.size(); i += 2) a->deallocate(objs[i]);
  for (size_t i = 1; i < objs.size(); i += 2) a->deallocate(objs[i]);
  AllocatorStats s = a->stats();
  EXPECT_EQ(s.live_bytes, 0u);
  EXPECT_EQ(s.largest_free_extent, heap) << "free extents should merge back into one";
  EXPECT_DOUBLE_EQ(s.external_fragmentation, 0.0);
}

TEST_F(AllocatorTest, AllocationIssuesNoFence) {
  make_pool(256 * kMiB);
  auto a = make_allocator();
  PersistCounters before = thread_persist_counters();
  std::vector<uint64_t> objs;
  for (int i = 0; i < 5000; ++i) {  // many runs and extents
    auto r = a->allocate(static_cast<uint64_t>(16 + (i * 37) % 30000), kTestClass);
    ASSERT_TRUE(r) << r.status().to_string();
    objs.push_back(*r);
  }
  for (uint64_t p : objs) a->deallocate(p);
  PersistCounters d = thread_persist_counters() - before;
  EXPECT_EQ(d.fences, 0u);
  EXPECT_EQ(d.writebacks, 0u) << "the publisher writes the header back, not the allocator";
}

TEST_F(AllocatorTest, FullPoolFailsCleanlyAndKeepsData) {
  make_pool(2 * kMiB, 2 * kMiB);
  auto a = make_allocator(/*grow=*/false);
  std::vector<uint64_t> objs;
  for (;;) {
    auto r = a->allocate(500, kTestClass);
    if (!r) {
      EXPECT_EQ(r.status().code(), StatusCode::kNoSpace);
      EXPECT_NE(r.status().message().find("pool full"), std::string::npos) << r.status().message();
      break;
    }
    std::memset(pool_->at(*r), static_cast<int>(objs.size() & 0xff), 500);
    objs.push_back(*r);
  }
  EXPECT_GT(objs.size(), 3000u);
  auto big = a->allocate(100000, kTestClass);
  EXPECT_FALSE(big);
  for (size_t i = 0; i < objs.size(); ++i)
    for (int b = 0; b < 500; b += 97)
      ASSERT_EQ(pool_->at<unsigned char>(objs[i])[b], i & 0xff) << "data damaged by full pool";
  a->deallocate(objs.back());
  EXPECT_TRUE(a->allocate(500, kTestClass)) << "space freed is usable again";
}

TEST_F(AllocatorTest, GrowsThePoolWhenAllowed) {
  make_pool(2 * kMiB, 64 * kMiB);
  auto a = make_allocator(/*grow=*/true);
  std::vector<uint64_t> objs;
  for (int i = 0; i < 20; ++i) {
    auto r = a->allocate(500000, kTestClass);
    ASSERT_TRUE(r) << r.status().to_string();
    objs.push_back(*r);
  }
  EXPECT_GE(pool_->size(), 20u * 500000);
  for (uint64_t p : objs) EXPECT_TRUE(pool_->contains(pool_->at(p), 500000));
  // Beyond the reservation: a clear error.
  auto huge = a->allocate(100 * kMiB, kTestClass);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.status().code(), StatusCode::kNoSpace);
}

TEST_F(AllocatorTest, TrimLetsOtherClassesReuseEmptyRuns) {
  make_pool(4 * kMiB, 4 * kMiB);
  auto a = make_allocator();
  std::vector<uint64_t> objs;
  for (;;) {
    auto r = a->allocate(40, kTestClass);
    if (!r) break;
    objs.push_back(*r);
  }
  for (uint64_t p : objs) a->deallocate(p);
  // Every chunk is now an empty run of the 48-byte class; a different class
  // and a large object must still find room.
  auto s = a->allocate(3000, kTestClass);
  EXPECT_TRUE(s) << s.status().to_string();
  auto l = a->allocate(kMiB, kTestClass);
  EXPECT_TRUE(l) << l.status().to_string();
}

TEST_F(AllocatorTest, ClassStatsCountRunsAndBlocks) {
  auto a = make_allocator();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(a->allocate(1000, kTestClass));
  AllocatorStats s = a->stats();
  int c = size_class_for(1000 + kObjectHeaderSize);
  EXPECT_EQ(s.classes[c].used_blocks, 100u);
  EXPECT_EQ(s.classes[c].runs, (100 + blocks_per_run(c) - 1) / blocks_per_run(c));
  EXPECT_EQ(s.live_bytes, 100u * kBlockSizes[c]);
  EXPECT_EQ(s.free_bytes + s.live_bytes, s.heap_bytes);
}

TEST_F(AllocatorTest, DoubleFreeIsFatal) {
  auto a = make_allocator();
  auto r = a->allocate(64, kTestClass);
  ASSERT_TRUE(r);
  a->deallocate(*r);
  EXPECT_DEATH(a->deallocate(*r), "double free");
}

// Threads allocate, hand objects to each other and free them: no object is
// ever given to two owners (each fills its objects and checks them).
TEST_F(AllocatorTest, ConcurrentAllocateAndCrossThreadFree) {
  auto a = make_allocator(/*grow=*/true);
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::vector<uint64_t>> handoff(kThreads);
  std::vector<std::mutex> mu(kThreads);
  std::atomic<int> failures{0};
  auto worker = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t));
    std::vector<uint64_t> mine;
    for (int i = 0; i < kRounds; ++i) {
      uint64_t size = 8 + rng() % (i % 100 == 0 ? 40000 : 600);
      auto r = a->allocate(size, kTestClass);
      if (!r) {
        failures++;
        return;
      }
      auto* bytes = pool_->at<unsigned char>(*r);
      std::memset(bytes, t + 1, 8);
      mine.push_back(*r);
      if (mine.size() > 64) {  // give half to the next thread, free what we were given
        int to = (t + 1) % kThreads;
        {
          std::lock_guard lock(mu[to]);
          handoff[to].insert(handoff[to].end(), mine.begin(), mine.begin() + 32);
        }
        mine.erase(mine.begin(), mine.begin() + 32);
        std::vector<uint64_t> given;
        {
          std::lock_guard lock(mu[t]);
          given.swap(handoff[t]);
        }
        int from = (t + kThreads - 1) % kThreads;
        for (uint64_t p : given) {
          if (pool_->at<unsigned char>(p)[0] != from + 1) failures++;
          a->deallocate(p);
        }
      }
    }
    for (uint64_t p : mine) {
      if (pool_->at<unsigned char>(p)[0] != t + 1) failures++;
      a->deallocate(p);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (auto& h : handoff)
    for (uint64_t p : h) a->deallocate(p);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->stats().live_objects, 0u);
}

TEST_F(AllocatorTest, SnapshotRestoresTheExactState) {
  std::vector<uint64_t> kept;
  {
    auto a = make_allocator();
    std::vector<uint64_t> all;
    for (int i = 0; i < 3000; ++i) {
      auto r = a->allocate(static_cast<uint64_t>(10 + (i * 53) % 5000), kTestClass);
      ASSERT_TRUE(r);
      all.push_back(*r);
    }
    for (int i = 0; i < 5; ++i) all.push_back(*a->allocate(50000 + i * 10000, kTestClass));
    for (size_t i = 0; i < all.size(); ++i)
      if (i % 3 == 0)
        a->deallocate(all[i]);
      else
        kept.push_back(all[i]);
    ASSERT_TRUE(a->save_snapshot());
  }
  ASSERT_NE(*pool_->anchor(kAnchorAllocSnapshot), 0u);
  PersistCounters before = thread_persist_counters();
  auto b = Allocator::load_snapshot(*pool_, AllocatorOptions{});
  ASSERT_TRUE(b) << b.status().to_string();
  EXPECT_EQ(*pool_->anchor(kAnchorAllocSnapshot), 0u) << "anchor cleared once loaded";
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u) << "one fence to clear the anchor";
  Allocator& a = **b;
  for (uint64_t p : kept) EXPECT_TRUE(a.is_allocated(p - kObjectHeaderSize));
  EXPECT_EQ(a.stats().live_objects, kept.size()) << "snapshot object itself was freed";
  // New allocations never land on kept objects.
  std::set<uint64_t> live(kept.begin(), kept.end());
  for (int i = 0; i < 3000; ++i) {
    auto r = a.allocate(static_cast<uint64_t>(10 + (i * 53) % 5000), kTestClass);
    ASSERT_TRUE(r);
    ASSERT_FALSE(live.contains(*r)) << "reused a live block";
  }
}

TEST_F(AllocatorTest, DamagedSnapshotIsRefused) {
  {
    auto a = make_allocator();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(a->allocate(100, kTestClass));
    ASSERT_TRUE(a->save_snapshot());
  }
  uint64_t snap = *pool_->anchor(kAnchorAllocSnapshot);
  pool_->at<char>(snap)[100] ^= 1;
  auto b = Allocator::load_snapshot(*pool_, AllocatorOptions{});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(b.status().message().find("checksum"), std::string::npos) << b.status().message();
}

TEST_F(AllocatorTest, RebuildKeepsExactlyTheMarkedObjects) {
  std::vector<uint64_t> marked, unmarked;
  {
    auto a = make_allocator();
    for (int i = 0; i < 2000; ++i) {
      uint64_t size = i % 50 == 0 ? 30000 + i : 20 + (i * 31) % 3000;
      auto r = a->allocate(size, kTestClass);
      ASSERT_TRUE(r);
      (i % 2 ? marked : unmarked).push_back(*r);
    }
  }
  LiveBitmap live(heap_begin_for(pool_->data_offset()), pool_->size());
  for (uint64_t p : marked) live.mark(p - kObjectHeaderSize);
  auto b = Allocator::rebuild(*pool_, AllocatorOptions{}, live, 2);
  ASSERT_TRUE(b) << b.status().to_string();
  Allocator& a = **b;
  for (uint64_t p : marked) EXPECT_TRUE(a.is_allocated(p - kObjectHeaderSize));
  for (uint64_t p : unmarked) EXPECT_FALSE(a.is_allocated(p - kObjectHeaderSize));
  EXPECT_EQ(a.stats().live_objects, marked.size());
  std::set<uint64_t> live_set(marked.begin(), marked.end());
  for (int i = 0; i < 4000; ++i) {
    auto r = a.allocate(20 + (i * 31) % 3000, kTestClass);
    ASSERT_TRUE(r);
    ASSERT_FALSE(live_set.contains(*r));
  }
}

TEST_F(AllocatorTest, RebuildRefusesInconsistentHeaders) {
  uint64_t p1, p2;
  {
    auto a = make_allocator();
    p1 = *a->allocate(100, kTestClass);
    p2 = *a->allocate(100, kTestClass);  // same run
  }
  // Claim a different size class for the second object.
  pool_->at<ObjectHeader>(p2 - kObjectHeaderSize)->size_word = 20;
  LiveBitmap live(heap_begin_for(pool_->data_offset()), pool_->size());
  live.mark(p1 - kObjectHeaderSize);
  live.mark(p2 - kObjectHeaderSize);
  auto b = Allocator::rebuild(*pool_, AllocatorOptions{}, live, 1);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace nvobj::alloc
