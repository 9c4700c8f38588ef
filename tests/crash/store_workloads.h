// Crash workloads over the object layer (allocator, failure-atomic blocks,
// roots, heap snapshot, recovery). See store_workloads.cc.
#ifndef NVOBJ_TESTS_CRASH_STORE_WORKLOADS_H_
#define NVOBJ_TESTS_CRASH_STORE_WORKLOADS_H_

#include <vector>

#include "tests/crash/harness.h"

namespace nvobj::crash {

std::vector<Workload> store_workloads(int scale);

}  // namespace nvobj::crash

#endif  // NVOBJ_TESTS_CRASH_STORE_WORKLOADS_H_
