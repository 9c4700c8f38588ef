// nvobj-bench-cleaner: what the record log's cleaner costs an update.
//
//   build/bin/nvobj-bench-cleaner --keys 100000 --value 1000 --dist zipfian
//
// Loads `keys` keys of `value`-byte values into a PHashMap, then updates
// random keys (uniform or YCSB's scrambled Zipfian) on one thread and
// reports, per update: mean and percentile latency, fences and write-backs
// (the runtime's counters: write-backs above the update's own record's are
// the cleaner's copies), cleaning steps, and the log's space against its
// live bytes. --no-clean turns the cleaner off for the comparison; for
// instruction counts run it under callgrind with --callgrind (only the
// update phase is instrumented).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <valgrind/callgrind.h>

#include "bench/ycsb/generators.h"
#include "pobjects/log_cleaner.h"
#include "pobjects/phashmap.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-bench-cleaner: the record log's cleaner under updates"};
  uint64_t keys = 100000, updates = 1000000;
  size_t value = 1000;
  std::string dist = "uniform", dir = "/dev/shm";
  bool no_clean = false, callgrind = false;
  app.add_option("--keys", keys, "keys loaded")->capture_default_str();
  app.add_option("--value", value, "value bytes")->capture_default_str();
  app.add_option("--updates", updates, "updates measured")->capture_default_str();
  app.add_option("--dist", dist, "uniform|zipfian")->capture_default_str();
  app.add_option("--dir", dir, "directory of the pool (tmpfs: emulated mode)");
  app.add_flag("--no-clean", no_clean, "never clean (space grows)");
  std::string cleaner = "auto";
  app.add_option("--cleaner", cleaner,
                 "inline (the updates clean), thread (background cleaning) or auto (the "
                 "library's default: the thread while fewer threads write than there are cores)")
      ->capture_default_str()
      ->check(CLI::IsMember({"inline", "thread", "auto"}));
  app.add_flag("--callgrind", callgrind, "instrument only the updates (under callgrind)");
  CLI11_PARSE(app, argc, argv);
  if (dist != "uniform" && dist != "zipfian") {
    std::fprintf(stderr, "nvobj-bench-cleaner: --dist is uniform or zipfian\n");
    return 2;
  }
  nvobj::LogCleaner::set_mode(*nvobj::parse_background_cleaning(cleaner));
  if (no_clean) nvobj::RecordLog::set_min_clean_bytes(UINT64_MAX);

  std::string path = dir + "/nvobj-bench-cleaner.pool";
  nvobj::StoreOptions o;
  o.create.size = std::max<uint64_t>(uint64_t{1} << 30, keys * (value + 64) * 8);
  o.create.mode = nvobj::Mode::kEmulated;
  o.create.overwrite = true;
  auto store = nvobj::create_store(path, o);
  if (!store.is_ok()) {
    std::fprintf(stderr, "nvobj-bench-cleaner: %s\n", store.status().to_string().c_str());
    return 1;
  }
  nvobj::Store& s = **store;
  auto map = nvobj::PHashMap::create(s);
  s.set_root("cleaner-bench", map);
  std::vector<std::string> names(keys);
  for (uint64_t i = 0; i < keys; ++i) names[i] = fmt::format("user{:012}", i);
  std::string v(value, 'v');
  for (const std::string& k : names) map->put(k, v);

  nvobj::ycsb::Rng rng(42);
  nvobj::ycsb::ScrambledZipfianGenerator zipf(0, static_cast<int64_t>(keys) - 1);
  nvobj::ycsb::UniformGenerator uniform(0, static_cast<int64_t>(keys) - 1);
  std::vector<double> ns(updates);
  uint64_t cleanings0 = map->stats().cleanings;
  nvobj::PersistCounters before = nvobj::total_persist_counters();  // the cleaner's thread too
  if (callgrind) CALLGRIND_START_INSTRUMENTATION;
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < updates; ++i) {
    int64_t k = dist == "zipfian" ? zipf.next(rng) : uniform.next(rng);
    auto a = std::chrono::steady_clock::now();
    map->put(names[static_cast<size_t>(k)], v);
    ns[i] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - a).count();
  }
  double total =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  if (callgrind) CALLGRIND_STOP_INSTRUMENTATION;
  nvobj::PersistCounters d = nvobj::total_persist_counters() - before;
  nvobj::MapStats st = map->stats();
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    return ns[std::min(ns.size() - 1, static_cast<size_t>(p * ns.size()))];
  };
  double n = static_cast<double>(updates);
  uint64_t live = st.record_bytes - st.dead_bytes;
  std::printf(
      "%s, %llu keys x %zu B, %llu updates, emulated: %.0f ns/update (p50 %.0f, p99 %.0f, "
      "p99.9 %.0f), %.4f fences/update, %.2f write-backs/update, %.4f cleaning steps/update, "
      "pool %.3fx live bytes (%.1f%% dead)\n",
      dist.c_str(), static_cast<unsigned long long>(keys), value,
      static_cast<unsigned long long>(updates), total / n, pct(0.5), pct(0.99), pct(0.999),
      static_cast<double>(d.fences) / n, static_cast<double>(d.writebacks) / n,
      static_cast<double>(st.cleanings - cleanings0) / n,
      static_cast<double>(st.pool_bytes) / static_cast<double>(live),
      100.0 * static_cast<double>(st.dead_bytes) / static_cast<double>(st.record_bytes));
  map = {};
  (void)s.close();
  std::remove(path.c_str());
  return 0;
}
