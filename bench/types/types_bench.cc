// nvobj-bench-types: the durable linearizable types against volatile
// equivalents, side by side in one run, at 1 and 2 threads: ns/op,
// fences/op and write-backs/op (nvobj's counters) for each operation.
//
//   build/bin/nvobj-bench-types --json bench/results/types_bench.json
//
// PCounter and PStripedCounter against std::atomic<int64_t>; PHashMap
// against tbb::concurrent_hash_map<std::string, std::string> and PTreeMap
// against std::map under a reader-writer lock (100 B values, 100 K keys,
// uniform keys); PList against std::deque under tbb::mutex (PList's lock); and the maps'
// space: pool bytes and DRAM bytes per entry with 1 KB values, after loading
// and after overwriting every key.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <oneapi/tbb/concurrent_hash_map.h>
#include <oneapi/tbb/mutex.h>
#include <oneapi/tbb/spin_rw_mutex.h>

#include "bench/common/bench_result.h"
#include "bench/common/bench_store.h"
#include "pobjects/log_cleaner.h"
#include "pobjects/pcounter.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "pobjects/ptreemap.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"

namespace {

using Clock = std::chrono::steady_clock;
using nvobj::bench::BenchResult;

// --only: the workloads to measure (all when empty).
std::vector<std::string> only_workloads;
std::string persist_mode_name = "emulated";  // "emulated-noop" under --persist noop
constexpr const char* kSkipped = "skipped";

// Runs op(thread, i) on `threads` threads for about `seconds`, in batches of
// 64 timed operations; returns the result with per-op persistence counts
// (a result of workload kSkipped for a workload --only leaves out).
BenchResult measure(const std::string& workload, const std::string& name,
                    const std::string& backend, int threads, double seconds,
                    const std::function<void(int, uint64_t)>& op) {
  if (!only_workloads.empty() &&
      std::find(only_workloads.begin(), only_workloads.end(), workload) == only_workloads.end()) {
    BenchResult skipped;
    skipped.workload = kSkipped;
    return skipped;
  }
  struct PerThread {
    uint64_t ops = 0;
    std::vector<double> batch_ns;
  };
  std::vector<PerThread> per(threads);
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < threads) {
    }
    uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto t0 = Clock::now();
      for (int k = 0; k < 64; ++k) op(t, i++);
      per[t].batch_ns.push_back(
          std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / 64);
    }
    per[t].ops = i;
  };
  // Every thread's persistence work, the background cleaner's included;
  // and the CPU time of the whole process (the cleaner's thread runs on
  // another core: its time is in the op's cost).
  nvobj::PersistCounters before = nvobj::total_persist_counters();
  timespec cpu0{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(body, t);
  // Asleep, not yielding in a loop: on 2 vCPUs a spinning timer took CPU
  // from the 2-thread cases.
  std::thread timer([&] {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(seconds)));
    stop = true;
  });
  body(0);
  for (auto& th : pool) th.join();
  timer.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  timespec cpu1{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
  double cpu_ns = 1e9 * static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) +
                  static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec);
  nvobj::PersistCounters counters = nvobj::total_persist_counters() - before;
  BenchResult r;
  r.name = name;
  r.backend = backend;
  // The library's default (kAuto) unnamed.
  if (nvobj::BackgroundCleaning m = nvobj::LogCleaner::mode();
      m != nvobj::BackgroundCleaning::kAuto && !backend.starts_with("volatile"))
    r.backend +=
        m == nvobj::BackgroundCleaning::kThread ? " (cleaner thread)" : " (cleaner inline)";
  r.workload = workload;
  bool is_volatile = backend.starts_with("volatile");
  r.mode = is_volatile ? "none" : persist_mode_name;
  r.threads = threads;
  std::vector<double> samples;
  uint64_t fences = counters.fences, wbs = counters.writebacks;
  for (auto& p : per) {
    r.ops += p.ops;
    samples.insert(samples.end(), p.batch_ns.begin(), p.batch_ns.end());
  }
  r.seconds = elapsed;
  r.ops_per_sec = static_cast<double>(r.ops) / elapsed;
  r.p50_ns = nvobj::bench::percentile(samples, 50);
  r.p99_ns = nvobj::bench::percentile(samples, 99);
  if (!is_volatile) {
    r.fences_per_op = static_cast<double>(fences) / static_cast<double>(r.ops);
    r.writebacks_per_op = static_cast<double>(wbs) / static_cast<double>(r.ops);
  }
  r.extra["ns_per_op"] = 1e9 * elapsed * threads / static_cast<double>(r.ops);
  r.extra["cpu_ns_per_op"] = cpu_ns / static_cast<double>(r.ops);
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
  app.add_option("--only", only_workloads,
                 "measure only these workloads: counter, map, ordered map, list (the space "
                 "and reopen figures are always taken)");
  std::string cleaner = "auto";
  app.add_option("--cleaner", cleaner,
                 "inline (updates clean their logs), thread (the background cleaner, "
                 "pobjects/log_cleaner.h) or auto (the library's default: the thread while "
                 "fewer threads write than there are cores)")
      ->capture_default_str()
      ->check(CLI::IsMember({"inline", "thread", "auto"}));
  std::vector<int> thread_counts = {1, 2};
  app.add_option("--threads", thread_counts, "thread counts to measure")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  std::string persist = "pmem2";
  app.add_option("--persist", persist,
                 "pmem2 (write-backs and fences) or noop (none: what the types cost without "
                 "persistence; mode reported as emulated-noop)")
      ->capture_default_str()
      ->check(CLI::IsMember({"pmem2", "noop"}));
  CLI11_PARSE(app, argc, argv);
  if (persist == "noop") persist_mode_name = "emulated-noop";
  nvobj::LogCleaner::set_mode(*nvobj::parse_background_cleaning(cleaner));

  std::string path = dir + "/nvobj-bench-types-" + std::to_string(::getpid()) + ".pool";
  auto store = nvobj::bench::create_bench_store(path, persist == "noop");
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
  // PStripedCounter's volatile equivalent: the same stripes, chosen the
  // same way, summed the same way.
  struct VolatileStriped {
    struct alignas(64) Line {
      std::atomic<uint64_t> v{0};
    };
    std::array<Line, 16> lines;
    void increment() {
      static thread_local const uint64_t kThreadHash =
          std::hash<std::thread::id>{}(std::this_thread::get_id());
      lines[kThreadHash % lines.size()].v.fetch_add(1);
    }
    uint64_t get() const {
      uint64_t sum = 0;
      for (const Line& l : lines) sum += l.v.load();
      return sum;
    }
  } volatile_striped;

  std::vector<BenchResult> results;
  for (int threads : thread_counts) {
    results.push_back(measure("counter", "counter increment", "volatile", threads, seconds,
                              [&](int, uint64_t) { volatile_counter.fetch_add(1); }));
    results.push_back(measure("counter", "counter increment", "nvobj PCounter", threads, seconds,
                              [&](int, uint64_t) { counter->increment(); }));
    results.push_back(measure("counter", "striped counter increment", "volatile 16 stripes",
                              threads, seconds,
                              [&](int, uint64_t) { volatile_striped.increment(); }));
    results.push_back(measure("counter", "striped counter increment", "nvobj PStripedCounter",
                              threads, seconds, [&](int, uint64_t) { striped->increment(); }));
    results.push_back(
        measure("counter", "counter get", "volatile", threads, seconds, [&](int, uint64_t) {
          int64_t v = volatile_counter.load();
          asm volatile("" : : "r"(v));
        }));
    results.push_back(
        measure("counter", "counter get", "nvobj PCounter", threads, seconds, [&](int, uint64_t) {
          int64_t v = counter->get();
          asm volatile("" : : "r"(v));
        }));
    results.push_back(measure("counter", "striped counter get", "volatile 16 stripes", threads,
                              seconds, [&](int, uint64_t) {
                                uint64_t v = volatile_striped.get();
                                asm volatile("" : : "r"(v));
                              }));
    results.push_back(measure("counter", "striped counter get", "nvobj PStripedCounter", threads,
                              seconds, [&](int, uint64_t) {
                                uint64_t v = striped->get();
                                asm volatile("" : : "r"(v));
                              }));
  }

  // --- maps: 100 K keys of 16 B, 100 B values, uniform random keys ----------
  constexpr uint64_t kKeys = 100'000;
  std::vector<std::string> keys(kKeys);
  for (uint64_t i = 0; i < kKeys; ++i)
    keys[i] = fmt::format("user{:012}", i * 2654435761u % 1000003);
  const std::string value(100, 'v');
  using VolatileMap = tbb::concurrent_hash_map<std::string, std::string>;
  VolatileMap vmap;
  auto pmap = nvobj::PHashMap::create(s);
  s.set_root("map", pmap);
  for (const std::string& k : keys) {
    VolatileMap::accessor a;
    vmap.insert(a, k);
    a->second = value;
    pmap->put(k, value);
  }
  // Uniform random: a hash of (thread, i). (Until 2026-12-07 this was
  // i times an odd constant modulo kKeys: a fixed permutation, every key
  // updated once per kKeys puts in the same order, which a log cleans
  // almost for free - its records die in the order they were written.)
  auto key_of = [&](int t, uint64_t i) -> const std::string& {
    uint64_t z = i + (static_cast<uint64_t>(t) << 48) + 0x9E3779B97F4A7C15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return keys[(z ^ (z >> 31)) % kKeys];
  };
  thread_local std::string out;
  for (int threads : thread_counts) {
    results.push_back(measure("map", "map get", "volatile tbb::concurrent_hash_map", threads,
                              seconds, [&](int t, uint64_t i) {
                                VolatileMap::const_accessor a;
                                if (vmap.find(a, key_of(t, i))) out = a->second;
                              }));
    results.push_back(measure("map", "map get", "nvobj PHashMap", threads, seconds,
                              [&](int t, uint64_t i) { pmap->get(key_of(t, i), &out); }));
    results.push_back(measure("map", "map put", "volatile tbb::concurrent_hash_map", threads,
                              seconds, [&](int t, uint64_t i) {
                                VolatileMap::accessor a;
                                vmap.insert(a, key_of(t, i));
                                a->second = value;
                              }));
    results.push_back(measure("map", "map put", "nvobj PHashMap", threads, seconds,
                              [&](int t, uint64_t i) { pmap->put(key_of(t, i), value); }));
  }
  nvobj::MapStats ms = pmap->stats();
  std::printf(
      "PHashMap after the map cases: %llu keys, %llu chunks, %.1f MiB of chunks, %.0f%% dead, %llu "
      "cleanings (%llu by the cleaner's thread)\n",
      static_cast<unsigned long long>(ms.size), static_cast<unsigned long long>(ms.chunks),
      static_cast<double>(ms.pool_bytes) / (1 << 20),
      100.0 * static_cast<double>(ms.dead_bytes) / static_cast<double>(ms.record_bytes),
      static_cast<unsigned long long>(ms.cleanings),
      static_cast<unsigned long long>(ms.background_cleanings));

  // --- ordered map: PTreeMap against std::map under a reader-writer lock ----
  {
    struct LockedMap {
      tbb::spin_rw_mutex mu;
      std::map<std::string, std::string, std::less<>> m;
    } vtree;
    auto ptree = nvobj::PTreeMap::create(s);
    s.set_root("tree", ptree);
    for (const std::string& k : keys) {
      vtree.m[k] = value;
      ptree->put(k, value);
    }
    for (int threads : thread_counts) {
      results.push_back(measure("ordered map", "ordered get", "volatile std::map+rwlock", threads,
                                seconds, [&](int t, uint64_t i) {
                                  tbb::spin_rw_mutex::scoped_lock l(vtree.mu, false);
                                  auto it = vtree.m.find(key_of(t, i));
                                  if (it != vtree.m.end()) out = it->second;
                                }));
      results.push_back(measure("ordered map", "ordered get", "nvobj PTreeMap", threads, seconds,
                                [&](int t, uint64_t i) { ptree->get(key_of(t, i), &out); }));
      results.push_back(measure("ordered map", "ordered put", "volatile std::map+rwlock", threads,
                                seconds, [&](int t, uint64_t i) {
                                  tbb::spin_rw_mutex::scoped_lock l(vtree.mu, true);
                                  vtree.m[key_of(t, i)] = value;
                                }));
      results.push_back(measure("ordered map", "ordered put", "nvobj PTreeMap", threads, seconds,
                                [&](int t, uint64_t i) { ptree->put(key_of(t, i), value); }));
      results.push_back(measure("ordered map", "scan 10", "volatile std::map+rwlock", threads,
                                seconds, [&](int t, uint64_t i) {
                                  tbb::spin_rw_mutex::scoped_lock l(vtree.mu, false);
                                  // The same result as PTreeMap::range: copies.
                                  std::vector<nvobj::MapItem> v;
                                  auto it = vtree.m.lower_bound(key_of(t, i));
                                  for (int n = 0; n < 10 && it != vtree.m.end(); ++n, ++it)
                                    v.push_back({it->first, it->second, 0});
                                  asm volatile("" : : "r"(v.data()));
                                }));
      results.push_back(measure("ordered map", "scan 10", "nvobj PTreeMap", threads, seconds,
                                [&](int t, uint64_t i) {
                                  auto v = ptree->range(key_of(t, i), std::nullopt, 10);
                                  asm volatile("" : : "r"(v.data()));
                                }));
    }
  }

  // --- list: PList against std::deque under a mutex (a queue: append + pop) --
  {
    // The lock PList's updates take (a spin-then-block mutex; std::mutex's
    // futex sleeps cost a contended queue more than its work).
    struct LockedDeque {
      tbb::mutex mu;
      std::deque<std::string> d;
    } vlist;
    auto plist = nvobj::PList::create(s);
    s.set_root("list", plist);
    for (int i = 0; i < 10000; ++i) {
      vlist.d.push_back(value);
      plist->append(value);
    }
    for (int threads : thread_counts) {
      results.push_back(measure("list", "list append+pop_front", "volatile std::deque+tbb::mutex",
                                threads, seconds, [&](int, uint64_t) {
                                  {  // two operations, as on the PList
                                    std::lock_guard l(vlist.mu);
                                    vlist.d.push_back(value);
                                  }
                                  std::lock_guard l(vlist.mu);
                                  out = std::move(vlist.d.front());
                                  vlist.d.pop_front();
                                }));
      results.push_back(measure("list", "list append+pop_front", "nvobj PList", threads, seconds,
                                [&](int, uint64_t) {
                                  plist->append(value);
                                  out = plist->pop_front().value_or("");
                                }));
      results.push_back(
          measure("list", "list get(i)", "volatile std::deque+tbb::mutex", threads, seconds,
                  [&](int t, uint64_t i) {
                    std::lock_guard l(vlist.mu);
                    out = vlist.d[(i * 7919 + static_cast<uint64_t>(t)) % vlist.d.size()];
                  }));
      results.push_back(
          measure("list", "list get(i)", "nvobj PList", threads, seconds, [&](int t, uint64_t i) {
            plist->get(static_cast<int64_t>((i * 7919 + static_cast<uint64_t>(t)) % 10000), &out);
          }));
    }
  }

  // --- space: 1 KB values ---------------------------------------------------------------
  {
    auto big = nvobj::PHashMap::create(s);
    s.set_root("space", big);
    const std::string kb(1000, 'w');
    uint64_t live_before = s.usage().live_bytes;
    for (const std::string& k : keys) big->put(k, kb);
    auto space_result = [&](const std::string& phase) {
      nvobj::MapStats st = big->stats();
      BenchResult r;
      r.name = "map space, 1 KB values (" + phase + ")";
      r.backend = "nvobj PHashMap";
      r.workload = "space";
      r.mode = "emulated";
      r.threads = 1;
      r.ops = st.size;
      double n = static_cast<double>(st.size);
      r.extra["pool_bytes_per_entry"] = static_cast<double>(s.usage().live_bytes - live_before) / n;
      r.extra["record_bytes_per_entry"] = static_cast<double>(st.record_bytes) / n;
      r.extra["dead_fraction"] =
          static_cast<double>(st.dead_bytes) / static_cast<double>(st.record_bytes);
      r.extra["dram_bytes_per_key"] = static_cast<double>(st.dram_bytes) / n;
      std::printf("%s: %.0f pool B/entry (records %.0f B/entry, %.0f%% dead), %.0f DRAM B/key\n",
                  r.name.c_str(), r.extra["pool_bytes_per_entry"],
                  r.extra["record_bytes_per_entry"], 100 * r.extra["dead_fraction"],
                  r.extra["dram_bytes_per_key"]);
      results.push_back(r);
    };
    space_result("loaded");
    for (int pass = 0; pass < 3; ++pass)
      for (const std::string& k : keys) big->put(k, kb);
    space_result("every key overwritten 3 times");
  }

  std::erase_if(results, [](const BenchResult& r) { return r.workload == kSkipped; });
  // Ratios against the volatile equivalent of the same operation and threads.
  for (BenchResult& r : results) {
    for (const BenchResult& v : results)
      if (v.backend.starts_with("volatile") && v.name == r.name && v.threads == r.threads)
        r.extra["ratio_vs_volatile"] = r.extra["ns_per_op"] / v.extra.at("ns_per_op");
    if (r.workload == "space" || r.workload == "recovery") continue;
    r.extra["extra_ns_vs_volatile"] = 0;
    for (const BenchResult& v : results)
      if (v.backend.starts_with("volatile") && v.name == r.name && v.threads == r.threads)
        r.extra["extra_ns_vs_volatile"] = r.extra["ns_per_op"] - v.extra.at("ns_per_op");
  }
  // --- reopen: the maps' indexes, rebuilt from their logs (as after a crash)
  // or loaded from what the clean close saved --------------------------------
  (void)s.close();
  store->reset();  // closed above; the Refs above are not used again
  for (bool crash : {true, false}) {
    nvobj::StoreOptions o;
    o.force_recovery = crash;  // recovery drops the saved indexes
    auto reopened = nvobj::open_store(path, o);
    if (!reopened) {
      std::fprintf(stderr, "nvobj-bench-types: %s\n", reopened.status().to_string().c_str());
      return 1;
    }
    nvobj::Store& r = **reopened;
    for (const char* name : {"map", "space"}) {
      auto t0 = Clock::now();
      auto m = r.root<nvobj::PHashMap>(name);  // builds the index
      double sec = std::chrono::duration<double>(Clock::now() - t0).count();
      nvobj::MapStats st = m->stats();
      BenchResult res;
      res.name = std::string(crash ? "map reopen after a crash (log scan), "
                                   : "map reopen after a clean close (saved index), ") +
                 name;
      res.backend = "nvobj PHashMap";
      res.workload = "recovery";
      res.mode = "emulated";
      res.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      res.ops = st.size;
      res.seconds = sec;
      res.extra["keys"] = static_cast<double>(st.size);
      res.extra["log_mib"] = static_cast<double>(st.record_bytes) / (1 << 20);
      res.extra["keys_per_sec"] = static_cast<double>(st.size) / sec;
      res.extra["index_from_snapshot"] = st.index_from_snapshot ? 1 : 0;
      std::printf("%s: %llu keys, %.1f MiB of records, %.1f ms (%.1f M keys/s)\n", res.name.c_str(),
                  static_cast<unsigned long long>(st.size), res.extra["log_mib"], sec * 1e3,
                  res.extra["keys_per_sec"] / 1e6);
      results.push_back(res);
    }
    (void)r.close();  // saves the indexes for the clean reopen
  }
  std::printf("%s\n", nvobj::bench::markdown_table(results).c_str());
  std::printf("%.1f s per case; ns_per_op = wall time x threads / ops\n", seconds);
  ::unlink(path.c_str());
  if (!json.empty() && !nvobj::bench::write_json(json, results)) return 1;
  return 0;
}
