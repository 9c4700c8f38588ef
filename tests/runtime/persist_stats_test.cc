#include "runtime/persist_stats.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/persist.h"

namespace nvobj {
namespace {

TEST(PersistStatsTest, ThreadCountersAreExact) {
  Persister p = Persister::noop();
  alignas(64) static char buf[64 * 20];
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 10; ++i) p.pwb(buf + 64 * i, 64);  // 10 lines
  p.pwb(buf, 64 * 5);                                    // 5 lines
  p.pwb(buf + 60, 8);                                    // straddles 2 lines
  for (int i = 0; i < 7; ++i) p.pfence();
  PersistCounters d = thread_persist_counters() - before;
  EXPECT_EQ(d.writebacks, 17u);
  EXPECT_EQ(d.fences, 7u);
  EXPECT_EQ(d.bytes, 10u * 64 + 64 * 5 + 8);
}

TEST(PersistStatsTest, TotalsIncludeExitedThreads) {
  Persister p = Persister::noop();
  alignas(64) static char buf[64];
  constexpr int kThreads = 4, kOps = 10000;
  PersistCounters before = total_persist_counters();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kOps; ++i) p.persist(buf, 64);
    });
  for (auto& t : threads) t.join();
  PersistCounters d = total_persist_counters() - before;
  // Other tests in this process may count concurrently only from this thread,
  // which is idle here, so the delta is exact.
  EXPECT_EQ(d.writebacks, uint64_t{kThreads} * kOps);
  EXPECT_EQ(d.fences, uint64_t{kThreads} * kOps);
}

TEST(PersistStatsTest, PerThreadSnapshotsSeeLiveThreads) {
  Persister p = Persister::noop();
  alignas(64) static char buf[64];
  std::atomic<int> phase{0};
  std::thread worker([&] {
    for (int i = 0; i < 123; ++i) p.pfence();
    phase.store(1);
    while (phase.load() != 2) std::this_thread::yield();
  });
  while (phase.load() != 1) std::this_thread::yield();
  bool found = false;
  for (const auto& t : per_thread_persist_counters())
    if (t.counters.fences == 123 && t.counters.writebacks == 0) found = true;
  phase.store(2);
  worker.join();
  EXPECT_TRUE(found);
  (void)buf;
}

TEST(PersistStatsTest, SlotsAreReusedAfterThreadExit) {
  Persister p = Persister::noop();
  size_t live_before = per_thread_persist_counters().size();
  for (int round = 0; round < 50; ++round) std::thread([&] { p.pfence(); }).join();
  EXPECT_LE(per_thread_persist_counters().size(), live_before + 1);
}

}  // namespace
}  // namespace nvobj
