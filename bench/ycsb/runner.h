// The workload executor: the load phase (insert records 0..n-1) and the run
// phase (operationcount operations, or until maxexecutiontime, of the
// workload's mix) on a Target, with N threads, per-operation latency and,
// where nvobj runs in process, its fence and write-back counts per
// operation type.
#ifndef NVOBJ_BENCH_YCSB_RUNNER_H_
#define NVOBJ_BENCH_YCSB_RUNNER_H_

#include <array>
#include <cstdint>
#include <string>

#include "bench/ycsb/db.h"
#include "bench/ycsb/histogram.h"
#include "bench/ycsb/workload.h"
#include "runtime/persist_stats.h"

namespace nvobj::ycsb {

struct OpStats {
  Histogram latency;
  uint64_t ops = 0;
  uint64_t failed = 0;  // key absent, error reply, storage error
  PersistCounters persist;

  void merge(const OpStats& o) {
    latency.merge(o.latency);
    ops += o.ops;
    failed += o.failed;
    persist += o.persist;
  }
};

struct PhaseResult {
  std::string phase;  // "load" or "run"
  WorkloadSpec spec;  // as run (record_count: records present at the start)
  int threads = 1;
  double seconds = 0;
  std::array<OpStats, kOpKinds> per_op;  // indexed by Op
  OpStats all;
  int64_t records_after = 0;
  std::string error;  // a connection lost or a thread failed: the phase stopped

  uint64_t ops() const { return all.ops; }
};

struct RunOptions {
  int threads = 1;
  uint64_t seed = 1;
  bool progress = false;   // a progress bar on stdout (a terminal)
  double max_seconds = 0;  // caps a run phase (0: the workload's maxexecutiontime)
  int load_pipeline = 1;   // inserts per batch in the load phase
};

// Inserts records [first, first + count) (key numbers; keys by
// build_key_name) with `threads` threads.
PhaseResult run_load(Target& target, const WorkloadSpec& spec, int64_t first, int64_t count,
                     const RunOptions& options);

// Runs the workload's operations on a store holding spec.record_count
// records (key numbers 0..record_count-1); inserts continue from there.
PhaseResult run_operations(Target& target, const WorkloadSpec& spec, const RunOptions& options);

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_RUNNER_H_
