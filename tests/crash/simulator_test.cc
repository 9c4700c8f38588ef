// The simulator's model of the cache and the persistence domain.
#include "tests/crash/simulator.h"

#include <cstring>

#include <gtest/gtest.h>

#include "runtime/pool.h"
#include "tests/testing/temp_dir.h"

namespace nvobj::crash {
namespace {

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateOptions o;
    o.size = 1 << 20;
    o.mode = Mode::kEmulated;
    auto p = Pool::create(dir_.file("pool"), o);
    ASSERT_TRUE(p) << p.status().to_string();
    pool_ = std::move(p).value();
    sim_ = std::make_unique<PowerFailureSimulator>(dir_.file("pool"), dir_.file("shadow"));
    ASSERT_TRUE(pool_->set_persist_backend({PersistBackend::kHook, sim_.get()}));
    line_a_ = pool_->at<char>(pool_->data_offset());
    line_b_ = line_a_ + 4 * kCacheLine;
  }
  uint64_t off(const char* p) const { return pool_->offset_of(p); }
  bool persisted_equals(const char* p, const char* text) const {
    return std::memcmp(sim_->persisted() + off(p), text, std::strlen(text)) == 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<PowerFailureSimulator> sim_;  // outlives pool_, whose hook it is
  std::unique_ptr<Pool> pool_;
  char* line_a_ = nullptr;
  char* line_b_ = nullptr;
};

TEST_F(SimulatorTest, WriteBackIsPendingUntilFence) {
  std::memcpy(line_a_, "v1", 3);
  pool_->persister().pwb(line_a_, 3);
  auto pending = sim_->candidates(true, false);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].offset, off(line_a_));
  EXPECT_EQ(std::string(pending[0].versions[0].data()), "v1");
  EXPECT_FALSE(persisted_equals(line_a_, "v1"));
  pool_->persister().pfence();
  EXPECT_TRUE(persisted_equals(line_a_, "v1"));
  EXPECT_TRUE(sim_->candidates(true, true).empty());
}

TEST_F(SimulatorTest, WriteBackTakesContentAtThatMoment) {
  std::memcpy(line_a_, "v1", 3);
  pool_->persister().pwb(line_a_, 3);
  std::memcpy(line_a_, "v2", 3);  // stored again, not written back
  auto all = sim_->candidates(true, true);
  ASSERT_EQ(all.size(), 1u);
  ASSERT_EQ(all[0].versions.size(), 2u);  // the snapshot or the newer dirty value
  EXPECT_EQ(std::string(all[0].versions[0].data()), "v1");
  EXPECT_EQ(std::string(all[0].versions[1].data()), "v2");
  pool_->persister().pfence();
  EXPECT_TRUE(persisted_equals(line_a_, "v1"));
  auto dirty = sim_->candidates(false, true);
  ASSERT_EQ(dirty.size(), 1u);
  EXPECT_EQ(std::string(dirty[0].versions[0].data()), "v2");
}

TEST_F(SimulatorTest, StoresWithoutWriteBackAreDirtyOnly) {
  std::memcpy(line_b_, "dirty", 6);
  EXPECT_TRUE(sim_->candidates(true, false).empty());
  auto dirty = sim_->candidates(false, true);
  ASSERT_EQ(dirty.size(), 1u);
  EXPECT_EQ(dirty[0].offset, off(line_b_));
  pool_->persister().pfence();  // a fence alone persists nothing
  EXPECT_FALSE(persisted_equals(line_b_, "dirty"));
}

TEST_F(SimulatorTest, RangeWriteBackCoversEveryLine) {
  std::memset(line_a_ + 10, 0x5A, 3 * kCacheLine);
  pool_->persister().pwb(line_a_ + 10, 3 * kCacheLine);  // touches 4 lines
  EXPECT_EQ(sim_->candidates(true, false).size(), 4u);
}

TEST_F(SimulatorTest, CrashPointSeesStateBeforeTheFence) {
  int calls = 0;
  bool persisted_at_call = true;
  sim_->set_crash_point_callback([&](uint64_t fence) {
    ++calls;
    EXPECT_EQ(fence, sim_->fences());
    persisted_at_call = persisted_equals(line_a_, "x");
  });
  std::memcpy(line_a_, "x", 2);
  pool_->persister().persist(line_a_, 2);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(persisted_at_call);
  EXPECT_TRUE(persisted_equals(line_a_, "x"));
  sim_->set_crash_point_callback({});  // the fixture's close fences after our locals die
}

TEST_F(SimulatorTest, ApplyAndRevertRestoreThePersistedImage) {
  std::vector<char> before(sim_->persisted(), sim_->persisted() + pool_->size());
  Line l;
  l.fill('Q');
  sim_->apply({{off(line_a_), l}, {off(line_b_), l}});
  EXPECT_EQ(sim_->persisted()[off(line_b_)], 'Q');
  sim_->revert();
  EXPECT_EQ(std::memcmp(before.data(), sim_->persisted(), before.size()), 0);
}

}  // namespace
}  // namespace nvobj::crash
