// The harness finds real bugs (and says how to replay them), passes correct
// code, and checks every workload nvobj registers.
#include "tests/crash/harness.h"

#include <cstdio>

#include <gtest/gtest.h>

#include "tests/crash/workloads.h"

namespace nvobj::crash {
namespace {

struct Replay {
  uint64_t fence = 0;
  int image = -1;
};

Replay parse_replay(const std::string& violation) {
  // (std::regex trips GCC 12's -Wmaybe-uninitialized under ASan.)
  Replay r;
  size_t at = violation.find("--fence ");
  if (at == std::string::npos) return r;
  unsigned long long fence = 0;
  if (std::sscanf(violation.c_str() + at, "--fence %llu --image %d", &fence, &r.image) != 2)
    return Replay{};
  r.fence = fence;
  return r;
}

TEST(CrashHarnessTest, RegisteredWorkloadsAreConsistent) {
  for (const auto& rw : all_workloads()) {
    if (rw.expects_violations) continue;
    CrashReport r = run_crash_test(rw.workload, CrashOptions{});
    EXPECT_EQ(r.violation_count, 0u)
        << rw.workload.name << ": " << (r.violations.empty() ? "" : r.violations.front());
    EXPECT_GT(r.crash_points, rw.workload.ops - rw.workload.noop_ops) << rw.workload.name;
    EXPECT_GT(r.images, r.crash_points) << rw.workload.name;
  }
}

class BrokenLogTest : public ::testing::TestWithParam<RunLogVariant> {};

TEST_P(BrokenLogTest, IsCaughtWithAReplayableSeed) {
  Workload w = run_log_workload(GetParam(), 10);
  CrashOptions o;
  o.seed = 42;
  CrashReport r = run_crash_test(w, o);
  ASSERT_GT(r.violation_count, 0u) << w.name << " was not caught";
  ASSERT_FALSE(r.violations.empty());
  EXPECT_NE(r.violations[0].find("--seed 42"), std::string::npos) << r.violations[0];
  Replay replay = parse_replay(r.violations[0]);
  ASSERT_GT(replay.fence, 0u) << r.violations[0];

  // Replaying that one crash point and image reproduces the same report.
  o.only_fence = replay.fence;
  o.only_image = replay.image;
  CrashReport again = run_crash_test(w, o);
  EXPECT_EQ(again.images, 1u);
  ASSERT_EQ(again.violation_count, 1u);
  EXPECT_EQ(again.violations[0], r.violations[0]);
}

INSTANTIATE_TEST_SUITE_P(Bugs, BrokenLogTest,
                         ::testing::Values(RunLogVariant::kMissingWriteback,
                                           RunLogVariant::kMissingFence),
                         [](const auto& info) {
                           return info.param == RunLogVariant::kMissingWriteback
                                      ? "MissingWriteback"
                                      : "MissingFence";
                         });

TEST(CrashHarnessTest, CorrectLogPassesTheSameSearch) {
  CrashOptions o;
  o.seed = 42;
  o.random_images = 16;
  CrashReport r = run_crash_test(run_log_workload(RunLogVariant::kCorrect, 10), o);
  EXPECT_EQ(r.violation_count, 0u) << (r.violations.empty() ? "" : r.violations.front());
  EXPECT_GT(r.images, 100u);
}

TEST(CrashHarnessTest, RandomImagesAreReproducible) {
  Workload w = run_log_workload(RunLogVariant::kMissingFence, 6);
  CrashOptions o;
  o.seed = 9;
  CrashReport a = run_crash_test(w, o);
  CrashReport b = run_crash_test(w, o);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.violations, b.violations);
}

TEST(CrashHarnessTest, CheckerRunsOnEveryImage) {
  Workload w = run_log_workload(RunLogVariant::kCorrect, 3);
  uint64_t calls = 0;
  auto inner = w.check;
  w.check = [&](Pool& p, size_t completed) {
    ++calls;
    return inner(p, completed);
  };
  CrashReport r = run_crash_test(w, CrashOptions{});
  EXPECT_EQ(calls, r.images);
}

TEST(CrashHarnessTest, SamplingSkipsCrashPoints) {
  Workload w = run_log_workload(RunLogVariant::kCorrect, 20);
  CrashOptions all, some;
  some.sample = 0.25;
  CrashReport ra = run_crash_test(w, all), rs = run_crash_test(w, some);
  EXPECT_LT(rs.crash_points, ra.crash_points);
  EXPECT_GT(rs.crash_points, 0u);
}

}  // namespace
}  // namespace nvobj::crash
