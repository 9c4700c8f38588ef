// nvobj-bench-types: the durable linearizable types against volatile
// equivalents, side by side in one run, at 1 and 2 threads: ns/op,
// fences/op and write-backs/op (nvobj's counters) for each operation.
//
//   build/bin/nvobj-bench-types --json bench/results/types_bench.json
//
// Types land one by one (issue 5); today: PCounter and PStripedCounter
// against std::atomic<int64_t>.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/common/bench_result.h"
#include "pobjects/pcounter.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"

namespace {

using Clock = std::chrono::steady_clock;
using nvobj::bench::BenchResult;

// Runs op(thread, i) on `threads` threads for about `seconds`, in batches of
// 64 timed operations; returns the result with per-op persistence counts.
BenchResult measure(const std::string& name, const std::string& backend, int threads,
                    double seconds, const std::function<void(int, uint64_t)>& op) {
  struct PerThread {
    uint64_t ops = 0;
    nvobj::PersistCounters counters;
    std::vector<double> batch_ns;
  };
  std::vector<PerThread> per(threads);
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < threads) {
    }
    nvobj::PersistCounters before = nvobj::thread_persist_counters();
    uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto t0 = Clock::now();
      for (int k = 0; k < 64; ++k) op(t, i++);
      per[t].batch_ns.push_back(
          std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / 64);
    }
    per[t].ops = i;
    per[t].counters = nvobj::thread_persist_counters() - before;
  };
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(body, t);
  std::thread timer([&] {
    while (std::chrono::duration<double>(Clock::now() - start).count() < seconds)
      std::this_thread::yield();
    stop = true;
  });
  body(0);
  for (auto& th : pool) th.join();
  timer.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  BenchResult r;
  r.name = name;
  r.backend = backend;
  r.workload = "counter";
  r.mode = backend == "volatile" ? "none" : "emulated";
  r.threads = threads;
  std::vector<double> samples;
  uint64_t fences = 0, wbs = 0;
  for (auto& p : per) {
    r.ops += p.ops;
    fences += p.counters.fences;
    wbs += p.counters.writebacks;
    samples.insert(samples.end(), p.batch_ns.begin(), p.batch_ns.end());
  }
  r.seconds = elapsed;
  r.ops_per_sec = static_cast<double>(r.ops) / elapsed;
  r.p50_ns = nvobj::bench::percentile(samples, 50);
  r.p99_ns = nvobj::bench::percentile(samples, 99);
  if (backend != "volatile") {
    r.fences_per_op = static_cast<double>(fences) / static_cast<double>(r.ops);
    r.writebacks_per_op = static_cast<double>(wbs) / static_cast<double>(r.ops);
  }
  r.extra["ns_per_op"] = 1e9 * elapsed * threads / static_cast<double>(r.ops);
  return r;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-bench-types: durable types against volatile equivalents"};
  std::string json, dir = "/dev/shm";
  double seconds = 1.0;
  app.add_option("--json", json, "write results (DESIGN.md format)");
  app.add_option("--dir", dir, "directory for the pool (tmpfs: emulated mode)");
  app.add_option("--seconds", seconds, "time per case")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string path = dir + "/nvobj-bench-types-" + std::to_string(::getpid()) + ".pool";
  nvobj::StoreOptions o;
  o.create.size = 64 << 20;
  o.create.mode = nvobj::Mode::kEmulated;
  o.create.overwrite = true;
  auto store = nvobj::create_store(path, o);
  if (!store) {
    std::fprintf(stderr, "nvobj-bench-types: %s\n", store.status().to_string().c_str());
    return 1;
  }
  nvobj::Store& s = **store;
  auto counter = nvobj::PCounter::create(s);
  auto striped = nvobj::PStripedCounter::create(s, 16);
  nvobj::failure_atomic([&] {
    s.set_root("counter", counter);
    s.set_root("striped", striped);
  });
  counter->increment();  // settle the root block's log before measuring
  alignas(64) std::atomic<int64_t> volatile_counter{0};

  std::vector<BenchResult> results;
  for (int threads : {1, 2}) {
    results.push_back(measure("counter increment", "volatile", threads, seconds,
                              [&](int, uint64_t) { volatile_counter.fetch_add(1); }));
    results.push_back(measure("counter increment", "nvobj PCounter", threads, seconds,
                              [&](int, uint64_t) { counter->increment(); }));
    results.push_back(measure("counter increment", "nvobj PStripedCounter", threads, seconds,
                              [&](int, uint64_t) { striped->increment(); }));
    results.push_back(measure("counter get", "volatile", threads, seconds, [&](int, uint64_t) {
      int64_t v = volatile_counter.load();
      asm volatile("" : : "r"(v));
    }));
    results.push_back(
        measure("counter get", "nvobj PCounter", threads, seconds, [&](int, uint64_t) {
          int64_t v = counter->get();
          asm volatile("" : : "r"(v));
        }));
    results.push_back(
        measure("counter get", "nvobj PStripedCounter", threads, seconds, [&](int, uint64_t) {
          uint64_t v = striped->get();
          asm volatile("" : : "r"(v));
        }));
  }
  // Ratios against the volatile equivalent of the same operation and threads.
  for (BenchResult& r : results) {
    for (const BenchResult& v : results)
      if (v.backend == "volatile" && v.name == r.name && v.threads == r.threads)
        r.extra["ratio_vs_volatile"] = r.extra["ns_per_op"] / v.extra.at("ns_per_op");
    r.extra["extra_ns_vs_volatile"] = 0;
    for (const BenchResult& v : results)
      if (v.backend == "volatile" && v.name == r.name && v.threads == r.threads)
        r.extra["extra_ns_vs_volatile"] = r.extra["ns_per_op"] - v.extra.at("ns_per_op");
  }
  std::printf("%s\n", nvobj::bench::markdown_table(results).c_str());
  std::printf("%.1f s per case; ns_per_op = wall time x threads / ops\n", seconds);
  (void)s.close();
  ::unlink(path.c_str());
  if (!json.empty() && !nvobj::bench::write_json(json, results)) return 1;
  return 0;
}
