// The persistence layer's contract, run against every backend: counts are
// exact, data written through it survives a reopen, the hook sees every
// write-back with the bytes as they were at that moment.
#include "runtime/persist.h"

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/pool.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

TEST(CacheLinesSpannedTest, CountsTouchedLines) {
  alignas(64) char buf[256];
  EXPECT_EQ(cache_lines_spanned(buf, 0), 0u);
  EXPECT_EQ(cache_lines_spanned(buf, 1), 1u);
  EXPECT_EQ(cache_lines_spanned(buf, 64), 1u);
  EXPECT_EQ(cache_lines_spanned(buf, 65), 2u);
  EXPECT_EQ(cache_lines_spanned(buf + 63, 2), 2u);
  EXPECT_EQ(cache_lines_spanned(buf + 1, 128), 3u);
  EXPECT_EQ(cache_lines_spanned(buf, 256), 4u);
}

class RecordingHook : public PersistHook {
 public:
  struct Event {
    bool fence;
    const void* addr;
    size_t len;
    std::vector<char> bytes;
  };
  void on_writeback(const void* addr, size_t len) override {
    auto* b = static_cast<const char*>(addr);
    events.push_back({false, addr, len, std::vector<char>(b, b + len)});
  }
  void on_fence() override { events.push_back({true, nullptr, 0, {}}); }
  std::vector<Event> events;
};

struct BackendCase {
  const char* name;
  PersistBackend backend;
};
// gtest looks this name up to print parameters.
void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }  // NOLINT

class PersistBackendTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    opts_.size = 2 << 20;
    opts_.mode = Mode::kEmulated;
    opts_.persist.backend = GetParam().backend;
    opts_.persist.hook = &hook_;
  }
  testing::TempDir dir_;
  RecordingHook hook_;
  CreateOptions opts_;
};

TEST_P(PersistBackendTest, CountersExactThroughPool) {
  auto pool = Pool::create(dir_.file("p"), opts_);
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_EQ((*pool)->persister().backend(), GetParam().backend);
  char* data = (*pool)->at<char>((*pool)->data_offset());
  for (int n : {1, 3, 64}) {
    for (int m : {0, 1, 5}) {
      PersistCounters before = thread_persist_counters();
      for (int i = 0; i < n; ++i) {
        data[64 * i] = static_cast<char>(i);
        (*pool)->persister().pwb(data + 64 * i, 64);
      }
      for (int i = 0; i < m; ++i) (*pool)->persister().pfence();
      PersistCounters d = thread_persist_counters() - before;
      EXPECT_EQ(d.writebacks, static_cast<uint64_t>(n)) << "n=" << n << " m=" << m;
      EXPECT_EQ(d.fences, static_cast<uint64_t>(m)) << "n=" << n << " m=" << m;
      EXPECT_EQ(d.bytes, static_cast<uint64_t>(n) * 64);
    }
  }
}

TEST_P(PersistBackendTest, MemcpyPersistCountsOneFence) {
  auto pool = Pool::create(dir_.file("p"), opts_);
  ASSERT_TRUE(pool) << pool.status().to_string();
  char* data = (*pool)->at<char>((*pool)->data_offset());
  std::vector<char> src(1000, 'x');
  PersistCounters before = thread_persist_counters();
  (*pool)->persister().memcpy_persist(data, src.data(), src.size());
  PersistCounters d = thread_persist_counters() - before;
  EXPECT_EQ(d.writebacks, cache_lines_spanned(data, 1000));
  EXPECT_EQ(d.fences, 1u);
  EXPECT_EQ(std::memcmp(data, src.data(), src.size()), 0);

  before = thread_persist_counters();
  (*pool)->persister().memcpy_nodrain(data + 2000, src.data(), 100);
  d = thread_persist_counters() - before;
  EXPECT_EQ(d.fences, 0u);
  EXPECT_EQ(d.writebacks, cache_lines_spanned(data + 2000, 100));
}

// write_nt: every 8-aligned destination and multiple-of-8 length (the
// 16-byte stores start at the first 16-aligned address), from an unaligned
// source; the bytes around it untouched; counted as write-backs, no fence.
TEST_P(PersistBackendTest, WriteNtCopiesAndCountsAsWriteBacks) {
  auto pool = Pool::create(dir_.file("p"), opts_);
  ASSERT_TRUE(pool) << pool.status().to_string();
  const Persister& p = (*pool)->persister();
  // Emulation flushes cache lines: its stores are non-temporal.
  EXPECT_EQ(p.nontemporal(), GetParam().backend == PersistBackend::kPmem2);
  char* data = (*pool)->at<char>((*pool)->data_offset());
  std::vector<char> src(2048);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<char>(i * 7 + 1);
  for (size_t off : {0, 8, 16, 24, 56, 64, 72}) {
    for (size_t n : {8, 16, 24, 32, 40, 136, 1000}) {
      std::memset(data, 0x5a, 1200);
      hook_.events.clear();
      PersistCounters before = thread_persist_counters();
      p.write_nt(data + off, src.data() + 3, n);
      PersistCounters d = thread_persist_counters() - before;
      EXPECT_EQ(std::memcmp(data + off, src.data() + 3, n), 0) << off << " " << n;
      for (size_t i = 0; i < 1200; ++i)
        if (i < off || i >= off + n) {
          ASSERT_EQ(data[i], 0x5a) << off << " " << n << " at " << i;
        }
      EXPECT_EQ(d.writebacks, cache_lines_spanned(data + off, n));
      EXPECT_EQ(d.bytes, n);
      EXPECT_EQ(d.fences, 0u);
      if (GetParam().backend == PersistBackend::kHook) {
        ASSERT_EQ(hook_.events.size(), 1u);
        EXPECT_EQ(hook_.events[0].addr, data + off);
        EXPECT_EQ(hook_.events[0].len, n);
      }
    }
  }
}

TEST_P(PersistBackendTest, DataSurvivesReopen) {
  std::string path = dir_.file("p");
  uint64_t off;
  uint64_t aligned;  // 8-byte stores must be aligned to be failure-atomic
  {
    auto pool = Pool::create(path, opts_);
    ASSERT_TRUE(pool) << pool.status().to_string();
    off = (*pool)->data_offset() + 12345;  // deliberately unaligned bytes
    aligned = (*pool)->data_offset() + 8192;
    (*pool)->persister().memcpy_persist((*pool)->at(off), "persistent!", 12);
    uint64_t v = 0xfeedface;
    (*pool)->persister().store_persist((*pool)->at<uint64_t>(aligned), v);
    (*pool)->persister().write_nt((*pool)->at(aligned + 64), "streamed record", 16);
    (*pool)->persister().pfence();
  }
  OpenOptions o;
  o.persist = opts_.persist;
  auto pool = Pool::open(path, o);
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_STREQ((*pool)->at<char>(off), "persistent!");
  EXPECT_EQ(*(*pool)->at<uint64_t>(aligned), 0xfeedfaceu);
  EXPECT_STREQ((*pool)->at<char>(aligned + 64), "streamed record");
}

INSTANTIATE_TEST_SUITE_P(Backends, PersistBackendTest,
                         ::testing::Values(BackendCase{"pmem2", PersistBackend::kPmem2},
                                           BackendCase{"noop", PersistBackend::kNoop},
                                           BackendCase{"hook", PersistBackend::kHook}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PersistHookTest, SeesWritebacksWithTheirContentAndFences) {
  RecordingHook hook;
  Persister p = Persister::hook(&hook);
  alignas(64) char buf[128] = {};
  std::memcpy(buf, "first", 6);
  p.pwb(buf, 6);
  std::memcpy(buf, "later", 6);  // a store after the write-back is not in it
  p.pfence();
  p.memcpy_persist(buf + 64, "copy", 5);
  ASSERT_EQ(hook.events.size(), 4u);
  EXPECT_FALSE(hook.events[0].fence);
  EXPECT_EQ(hook.events[0].addr, buf);
  EXPECT_EQ(std::string(hook.events[0].bytes.data()), "first");
  EXPECT_TRUE(hook.events[1].fence);
  EXPECT_EQ(hook.events[2].addr, buf + 64);
  EXPECT_EQ(hook.events[2].len, 5u);
  EXPECT_TRUE(hook.events[3].fence);
}

TEST(PersistHookTest, PoolCanSwitchBackends) {
  testing::TempDir dir;
  CreateOptions o;
  o.size = 1 << 20;
  o.mode = Mode::kEmulated;
  auto pool = Pool::create(dir.file("p"), o);
  ASSERT_TRUE(pool);
  RecordingHook hook;
  ASSERT_TRUE((*pool)->set_persist_backend({PersistBackend::kHook, &hook}));
  (*pool)->persister().pfence();
  EXPECT_EQ(hook.events.size(), 1u);
  ASSERT_TRUE((*pool)->set_persist_backend({PersistBackend::kPmem2, nullptr}));
  (*pool)->persister().pfence();
  EXPECT_EQ(hook.events.size(), 1u);
  EXPECT_EQ((*pool)->set_persist_backend({PersistBackend::kHook, nullptr}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nvobj
