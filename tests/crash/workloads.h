// The crash workloads nvobj-crashtest and the crash tests run. Each layer adds
// its own as it lands (allocator, failure-atomic blocks, pobjects).
#ifndef NVOBJ_TESTS_CRASH_WORKLOADS_H_
#define NVOBJ_TESTS_CRASH_WORKLOADS_H_

#include <string>
#include <vector>

#include "tests/crash/harness.h"

namespace nvobj::crash {

struct RegisteredWorkload {
  Workload workload;
  // Test-only variants with a deliberate bug: violations are the expected
  // outcome. They are not part of the quick/soak runs.
  bool expects_violations = false;
};

// `scale` multiplies operation counts (1 = quick mode, more for soak).
std::vector<RegisteredWorkload> all_workloads(int scale = 1);

// A persistent append-only log: each append writes a 64-byte record, makes it
// durable, then publishes it by bumping the count (one 8-byte store).
enum class RunLogVariant { kCorrect, kMissingWriteback, kMissingFence };
Workload run_log_workload(RunLogVariant v, size_t ops);

}  // namespace nvobj::crash

#endif  // NVOBJ_TESTS_CRASH_WORKLOADS_H_
