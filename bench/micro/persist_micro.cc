// Micro-benchmark of the persistence layer: ns per (64 B store + pwb + pfence)
// in each mode, and the cost of nvobj's backend dispatch versus calling
// libpmem2's functions directly. All cases run interleaved in one process
// (round-robin rounds) so that machine noise hits them alike; compare ratios.
//
//   build/bin/nvobj-micro-persist [--rounds 5] [--budget-ms 200] [--json FILE]
//                                 [--disk-dir /var/tmp] [--dax-path /mnt/pmem/x]
//
// For instruction counts (stable on a noisy machine), run one case for a
// fixed number of ops under callgrind; bench/micro/callgrind_persist.sh does
// it for the dispatch comparison:
//   valgrind --tool=callgrind build/bin/nvobj-micro-persist --only pmem2 --ops 100000
#include <fcntl.h>
#include <libpmem2.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/common/bench_result.h"
#include "runtime/log.h"
#include "runtime/persist.h"
#include "runtime/pool.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kRegion = 1 << 20;  // ops cycle over 16 Ki distinct lines
constexpr uint64_t kLines = kRegion / 64;

inline void store_line(char* line, uint64_t v) {
  auto* w = reinterpret_cast<volatile uint64_t*>(line);
  for (int i = 0; i < 8; ++i) w[i] = v + static_cast<uint64_t>(i);
}

struct Case {
  std::string name, backend, mode;
  int batch;                         // ops per timed batch
  std::function<void(uint64_t)> op;  // performs op number i
  // Threads running op at once (the others: op numbers with the thread's
  // index in the top 16 bits); ns per op are the first thread's.
  int threads = 1;
  std::vector<double> batch_ns;  // per-op ns of each batch
  uint64_t ops = 0;
  double seconds = 0;
  nvobj::PersistCounters counted;
};

// A libpmem2 mapping used without nvobj, as a user of libpmem2 would.
struct DirectPmem2 {
  int fd = -1;
  pmem2_source* src = nullptr;
  pmem2_config* cfg = nullptr;
  pmem2_map* map = nullptr;
  char* base = nullptr;
  pmem2_flush_fn flush = nullptr;
  pmem2_drain_fn drain = nullptr;
  std::string path;

  bool open(const std::string& p) {
    path = p;
    fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::posix_fallocate(fd, 0, kRegion) != 0) return false;
    ::setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);  // emulated, as nvobj does
    bool ok = pmem2_source_from_fd(&src, fd) == 0 && pmem2_config_new(&cfg) == 0 &&
              pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) == 0 &&
              pmem2_map_new(&map, cfg, src) == 0;
    ::unsetenv("PMEM2_FORCE_GRANULARITY");
    if (!ok) return false;
    base = static_cast<char*>(pmem2_map_get_address(map));
    flush = pmem2_get_flush_fn(map);
    drain = pmem2_get_drain_fn(map);
    return true;
  }
  ~DirectPmem2() {
    if (map) pmem2_map_delete(&map);
    if (cfg) pmem2_config_delete(&cfg);
    if (src) pmem2_source_delete(&src);
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

std::unique_ptr<nvobj::Pool> make_pool(const std::string& path, nvobj::Mode mode,
                                       nvobj::PersistBackend backend) {
  nvobj::CreateOptions o;
  o.size = 4 * kRegion;
  o.mode = mode;
  o.overwrite = true;
  o.persist.backend = backend;
  auto pool = nvobj::Pool::create(path, o);
  if (!pool) {
    std::fprintf(stderr, "cannot create %s: %s\n", path.c_str(), pool.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(pool).value();
}

void run_case(Case& c, double budget_s, uint64_t& next) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> others;
  for (int t = 1; t < c.threads; ++t)
    others.emplace_back([&c, &stop, t] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i)
        c.op(static_cast<uint64_t>(t) << 48 | i);
    });
  nvobj::PersistCounters before = nvobj::thread_persist_counters();
  Clock::time_point start = Clock::now();
  double elapsed = 0;
  while (elapsed < budget_s) {
    Clock::time_point t0 = Clock::now();
    for (int i = 0; i < c.batch; ++i) c.op(next++);
    Clock::time_point t1 = Clock::now();
    c.batch_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / c.batch);
    c.ops += static_cast<uint64_t>(c.batch);
    elapsed = std::chrono::duration<double>(t1 - start).count();
  }
  c.seconds += elapsed;
  c.counted += nvobj::thread_persist_counters() - before;
  stop = true;
  for (auto& t : others) t.join();
}

}  // namespace

// An escaping exception terminates with its message, which is what a CLI wants.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-micro-persist: cost of 64 B store + write-back + fence per mode"};
  int rounds = 5;
  double budget_ms = 200;
  std::string json_path, disk_dir = "/var/tmp", dax_path, shm_dir = "/dev/shm";
  app.add_option("--rounds", rounds, "interleaved rounds")->capture_default_str();
  app.add_option("--budget-ms", budget_ms, "time per case per round")->capture_default_str();
  app.add_option("--json", json_path, "write results (DESIGN.md format)");
  app.add_option("--disk-dir", disk_dir, "directory on a disk file system (msync case)")
      ->capture_default_str();
  app.add_option("--dax-path", dax_path, "pool path on real DAX (adds a dax case)");
  std::string only;
  uint64_t fixed_ops = 0;
  app.add_option("--only", only,
                 "run just the case with this backend (none, pmem2-direct, "
                 "pmem2, noop) in emulated mode");
  app.add_option("--ops", fixed_ops, "with --only: run exactly this many ops, print nothing else");
  CLI11_PARSE(app, argc, argv);
  nvobj::set_log_level("warn");

  std::string tag = std::to_string(::getpid());
  DirectPmem2 direct;
  if (!direct.open(shm_dir + "/nvobj-micro-direct-" + tag)) {
    std::fprintf(stderr, "libpmem2 mapping failed: %s\n", pmem2_errormsg());
    return 1;
  }
  auto emu = make_pool(shm_dir + "/nvobj-micro-emu-" + tag, nvobj::Mode::kEmulated,
                       nvobj::PersistBackend::kPmem2);
  auto noop = make_pool(shm_dir + "/nvobj-micro-noop-" + tag, nvobj::Mode::kEmulated,
                        nvobj::PersistBackend::kNoop);
  auto msync_shm = make_pool(shm_dir + "/nvobj-micro-msync-" + tag, nvobj::Mode::kMsync,
                             nvobj::PersistBackend::kPmem2);
  auto msync_disk = make_pool(disk_dir + "/nvobj-micro-disk-" + tag, nvobj::Mode::kMsync,
                              nvobj::PersistBackend::kPmem2);
  std::unique_ptr<nvobj::Pool> dax;
  if (!dax_path.empty())
    dax = make_pool(dax_path, nvobj::Mode::kDax, nvobj::PersistBackend::kPmem2);

  auto line_of = [](nvobj::Pool& p, uint64_t i) {
    return p.at<char>(p.data_offset() + (i % kLines) * 64);
  };
  std::vector<Case> cases;
  cases.push_back({"store only (no persistence)", "none", "emulated", 64,
                   [&](uint64_t i) { store_line(line_of(*emu, i), i); }});
  cases.push_back(
      {"libpmem2 direct (flush_fn + drain_fn)", "pmem2-direct", "emulated", 64, [&](uint64_t i) {
         char* l = direct.base + (i % kLines) * 64;
         store_line(l, i);
         direct.flush(l, 64);
         direct.drain();
       }});
  auto layer = [&](nvobj::Pool& p) {
    return [&p, line_of](uint64_t i) {
      char* l = line_of(p, i);
      store_line(l, i);
      p.persister().pwb(l, 64);
      p.persister().pfence();
    };
  };
  cases.push_back({"nvobj pwb + pfence", "pmem2", "emulated", 64, layer(*emu)});
  // The same line streamed (Persister::write_nt: non-temporal stores), as
  // the record logs write their records.
  auto streamed = [&](nvobj::Pool& p) {
    return [&p, line_of](uint64_t i) {
      uint64_t words[8];
      for (int k = 0; k < 8; ++k) words[k] = i + static_cast<uint64_t>(k);
      p.persister().write_nt(line_of(p, i), words, sizeof words);
      p.persister().pfence();
    };
  };
  cases.push_back({"nvobj write_nt + pfence", "pmem2-nt", "emulated", 64, streamed(*emu)});
  // Two threads updating one 8-byte word (an atomic add, written back,
  // fenced), and each its own line: the write-backs of one line take turns
  // (why PCounter keeps a line per thread, pobjects/pcounter.h).
  auto added = [&](nvobj::Pool& p, bool shared) {
    return [&p, line_of, shared](uint64_t i) {
      char* l = line_of(p, shared ? 0 : 1 + (i >> 48));
      std::atomic_ref(*reinterpret_cast<uint64_t*>(l)).fetch_add(1);
      p.persister().pwb(l, 8);
      p.persister().pfence();
    };
  };
  cases.push_back({"nvobj atomic add + pwb + pfence, 1 thread", "pmem2-add", "emulated", 64,
                   added(*emu, true)});
  cases.push_back({"... 2 threads, one word", "pmem2-add", "emulated", 64, added(*emu, true), 2});
  cases.push_back(
      {"... 2 threads, a line each", "pmem2-add", "emulated", 64, added(*emu, false), 2});
  cases.push_back({"nvobj pwb + pfence, no-op backend", "noop", "emulated", 64, layer(*noop)});
  cases.push_back({"nvobj pwb + pfence (tmpfs)", "pmem2", "msync", 4, layer(*msync_shm)});
  cases.push_back({"nvobj pwb + pfence (disk)", "pmem2", "msync", 1, layer(*msync_disk)});
  if (dax) {
    cases.push_back({"nvobj pwb + pfence", "pmem2", "dax", 64, layer(*dax)});
    cases.push_back({"nvobj write_nt + pfence", "pmem2-nt", "dax", 64, streamed(*dax)});
  }

  uint64_t next = 0;
  if (!only.empty()) {
    for (auto& c : cases) {
      if (c.backend != only || c.mode != "emulated") continue;
      for (uint64_t i = 0; i < fixed_ops; ++i) c.op(i);
      std::printf("%s: %llu ops\n", c.name.c_str(), static_cast<unsigned long long>(fixed_ops));
      return 0;
    }
    std::fprintf(stderr, "no case with backend '%s'\n", only.c_str());
    return 2;
  }
  for (auto& c : cases) run_case(c, 0.02, next);  // warm-up: fault pages in
  for (auto& c : cases) {
    c.batch_ns.clear();
    c.ops = 0;
    c.seconds = 0;
    c.counted = {};
  }
  for (int r = 0; r < rounds; ++r)
    for (auto& c : cases) run_case(c, budget_ms / 1000.0, next);

  double direct_ns = 0;
  std::vector<nvobj::bench::BenchResult> results;
  for (auto& c : cases) {
    nvobj::bench::BenchResult res;
    res.name = c.name;
    res.backend = c.backend;
    res.workload = c.backend == "pmem2-add" ? "atomic add+pwb+pfence" : "store64+pwb+pfence";
    res.mode = c.mode;
    res.threads = c.threads;
    res.ops = c.ops;
    res.seconds = c.seconds;
    res.ops_per_sec = static_cast<double>(c.ops) / c.seconds;
    res.p50_ns = nvobj::bench::percentile(c.batch_ns, 50);
    res.p99_ns = nvobj::bench::percentile(c.batch_ns, 99);
    res.fences_per_op = static_cast<double>(c.counted.fences) / static_cast<double>(c.ops);
    res.writebacks_per_op = static_cast<double>(c.counted.writebacks) / static_cast<double>(c.ops);
    double ns = 1e9 * c.seconds / static_cast<double>(c.ops);
    res.extra["ns_per_op"] = ns;
    if (c.backend == "pmem2-direct") direct_ns = ns;
    res.notes["timing"] = fmt::format("p50/p99 over batches of {} ops", c.batch);
    results.push_back(res);
  }
  for (auto& r : results) r.extra["ratio_vs_pmem2_direct"] = r.extra["ns_per_op"] / direct_ns;
  std::printf("%s", nvobj::bench::markdown_table(results).c_str());
  std::printf(
      "\nrounds %d x %.0f ms per case, interleaved; fences/wb per op are nvobj's counters "
      "(the libpmem2-direct and store-only cases do not count).\n",
      rounds, budget_ms);
  if (!json_path.empty() && !nvobj::bench::write_json(json_path, results)) return 1;
  for (nvobj::Pool* p : {emu.get(), noop.get(), msync_shm.get(), msync_disk.get()}) {
    std::string path = p->path();
    (void)p->close();
    ::unlink(path.c_str());
  }
  return 0;
}
