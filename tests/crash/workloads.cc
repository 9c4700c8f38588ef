#include "tests/crash/workloads.h"

#include <cstring>

#include <fmt/format.h>

#include "tests/crash/store_workloads.h"

namespace nvobj::crash {
namespace {

constexpr uint64_t kKiB = 1024;

Status fail(std::string what) { return Status(StatusCode::kCorrupt, std::move(what)); }

// --- pool growth: every grow is a header update plus new file space --------

constexpr uint64_t kGrowStep = 64 * kKiB;

Workload pool_growth(size_t ops) {
  Workload w;
  w.name = "pool-growth";
  w.pool_size = 1 << 20;
  w.ops = ops;
  w.op = [base = w.pool_size](Context& c, size_t i) {
    Pool& p = c.pool();
    uint64_t region = base + i * kGrowStep;
    if (Status s = p.grow(region + kGrowStep); !s) throw std::runtime_error(s.to_string());
    p.persister().store_persist(p.at<uint64_t>(region), uint64_t{i + 1});
  };
  w.check = [base = w.pool_size](Pool& p, size_t completed) -> Status {
    uint64_t min = base + completed * kGrowStep;
    if (p.size() != min && p.size() != min + kGrowStep)
      return fail(fmt::format("size {} after {} completed grows (want {} or {})", p.size(),
                              completed, min, min + kGrowStep));
    for (size_t j = 0; j < completed; ++j) {
      uint64_t v = *p.at<uint64_t>(base + j * kGrowStep);
      if (v != j + 1) return fail(fmt::format("marker of grow {} is {}", j, v));
    }
    if (p.size() > min) {  // the in-flight grow reached the header: marker all or nothing
      uint64_t v = *p.at<uint64_t>(min);
      if (v != 0 && v != completed + 1) return fail(fmt::format("torn marker {}", v));
    }
    return Status::ok();
  };
  return w;
}

// --- header updates: close + open cycles, each rewriting both copies --------

constexpr uint64_t kReopenAnchor = kFirstUserAnchor + 1;

Workload header_reopen(size_t ops) {
  Workload w;
  w.name = "header-reopen";
  w.ops = ops;
  w.op = [](Context& c, size_t i) {
    if (Status s = c.reopen(); !s) throw std::runtime_error(s.to_string());
    Pool& p = c.pool();
    p.persister().store_persist(p.anchor(kReopenAnchor), uint64_t{i + 1});
  };
  w.check = [](Pool& p, size_t completed) -> Status {
    uint64_t v = *p.anchor(kReopenAnchor);
    if (v != completed && v != completed + 1)
      return fail(fmt::format("counter {} after {} completed reopens", v, completed));
    return Status::ok();
  };
  return w;
}

}  // namespace

// --- the run log, correct and broken --------------------------------------

struct LogRecord {
  uint64_t seq;
  uint64_t words[7];
};
static_assert(sizeof(LogRecord) == 64);

Workload run_log_workload(RunLogVariant v, size_t ops) {
  Workload w;
  switch (v) {
    case RunLogVariant::kCorrect: w.name = "run-log"; break;
    case RunLogVariant::kMissingWriteback: w.name = "run-log-bug-missing-writeback"; break;
    case RunLogVariant::kMissingFence: w.name = "run-log-bug-missing-fence"; break;
  }
  w.ops = ops;
  w.pool_size = 1 << 20;
  auto count_of = [](Pool& p) { return p.at<uint64_t>(p.data_offset()); };
  auto record_of = [](Pool& p, uint64_t i) {
    return p.at<LogRecord>(p.data_offset() + kCacheLine * (i + 1));
  };
  w.op = [v, count_of, record_of](Context& c, size_t i) {
    Pool& p = c.pool();
    const Persister& persist = p.persister();
    uint64_t* count = count_of(p);
    LogRecord* r = record_of(p, *count);
    r->seq = i + 1;
    for (uint64_t k = 0; k < 7; ++k) r->words[k] = (i + 1) * 1000 + k;
    switch (v) {
      case RunLogVariant::kCorrect:
        persist.persist(r, sizeof *r);  // the record is durable...
        break;
      case RunLogVariant::kMissingWriteback:
        persist.pfence();  // bug: fenced, but never written back
        break;
      case RunLogVariant::kMissingFence:
        persist.pwb(r, sizeof *r);  // bug: no fence before publishing
        break;
    }
    __atomic_store_n(count, *count + 1, __ATOMIC_RELEASE);  // ...before it is published
    persist.persist(count, sizeof *count);
  };
  w.check = [count_of, record_of](Pool& p, size_t completed) -> Status {
    uint64_t n = *count_of(p);
    if (n != completed && n != completed + 1)
      return fail(fmt::format("count {} after {} completed appends", n, completed));
    for (uint64_t i = 0; i < n; ++i) {
      const LogRecord* r = record_of(p, i);
      bool ok = r->seq == i + 1;
      for (uint64_t k = 0; k < 7 && ok; ++k) ok = r->words[k] == (i + 1) * 1000 + k;
      if (!ok) return fail(fmt::format("record {} is published but not intact", i));
    }
    return Status::ok();
  };
  return w;
}

std::vector<RegisteredWorkload> all_workloads(int scale) {
  size_t s = static_cast<size_t>(scale);
  std::vector<RegisteredWorkload> all = {
      {pool_growth(24 * s), false},
      {header_reopen(24 * s), false},
      {run_log_workload(RunLogVariant::kCorrect, 200 * s), false},
      {run_log_workload(RunLogVariant::kMissingWriteback, 10 * s), true},
      {run_log_workload(RunLogVariant::kMissingFence, 10 * s), true},
  };
  for (Workload& w : store_workloads(scale)) all.push_back({std::move(w), false});
  return all;
}

}  // namespace nvobj::crash
