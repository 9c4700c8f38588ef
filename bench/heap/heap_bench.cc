// Benchmark of the heap as applications see it: the cost of allocating and
// freeing objects (Store::make / free_object, and the raw allocator below
// them), of failure-atomic blocks by number of writes, and of opening a pool
// by number of live objects, after a clean close and after a crash.
//
//   build/bin/nvobj-bench-heap [--quick] [--max-objects 10000000] [--json FILE]
//                              [--rounds 5] [--budget-ms 200] [--reps 0]
//                              [--sections alloc,blocks,recovery] [--dir /dev/shm]
//                              [--recovery-threads 0]
//
// Allocation and block cases run interleaved (round-robin rounds, as
// nvobj-micro-persist does) with the pmem2 backend and the no-op backend side
// by side, so the ratio shows what the fences and write-backs cost. fences/op
// and wb/op are nvobj's own per-thread counters. Two reference rows ("ref:")
// time an 8-byte store + write-back with and without a following locked
// read-modify-write, which is what separates an allocation's counted cost
// (no fence) from its time on x86 (see run_alloc).
//
// Recovery pools hold `n` 64-byte cells in 64 linked lists whose heads are the
// tail of one object published as a root, so every cell is reachable and
// marking has 64 independent chains to share among threads. Each pool is
// built in a forked child that exits without closing it (a crash image); the
// parent times open_store on it, closes it, and times the clean open that
// follows. Further crash images come from a child that opens the pool and
// exits without closing it.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "allocator/allocator.h"
#include "bench/common/bench_result.h"
#include "recovery/store_open.h"
#include "runtime/log.h"
#include "runtime/persist_stats.h"
#include "runtime/pool.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace {

using Clock = std::chrono::steady_clock;
using nvobj::bench::BenchResult;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// --- persistent classes ----------------------------------------------------------

// A 64-byte payload with one reference: the small object of the allocation
// cases, the target of block writes and the list cell of recovery pools.
struct CellData {
  uint64_t value;
  nvobj::pptr<CellData> next;
  uint64_t pad[6];
};
static_assert(sizeof(CellData) == 64);

class Cell : public nvobj::PObject<Cell, CellData> {
 public:
  static constexpr std::string_view kClassName = "bench.Cell";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<CellData>({offsetof(CellData, next)});
  using PObject::PObject;
  uint64_t value() const { return get(&Data::value); }
  void set_value(uint64_t v) { set(&Data::value, v); }
};

// A 1 KiB payload without references: a record-sized object.
struct KiloData {
  uint64_t words[128];
};
static_assert(sizeof(KiloData) == 1024);

class Kilo : public nvobj::PObject<Kilo, KiloData> {
 public:
  static constexpr std::string_view kClassName = "bench.Kilo";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<KiloData>();
  using PObject::PObject;
};

// The list heads of a recovery pool: {count} then `count` references.
struct HeadsData {
  uint64_t count;
  uint64_t reserved;
};

class Heads : public nvobj::PObject<Heads, HeadsData> {
 public:
  static constexpr std::string_view kClassName = "bench.Heads";
  static constexpr nvobj::RefMap kRefs =
      nvobj::with_tail(nvobj::ref_map<HeadsData>(), nvobj::TailKind::kRefs,
                       offsetof(HeadsData, count), sizeof(HeadsData));
  using PObject::PObject;
  uint64_t size() const { return get(&Data::count); }
  uint64_t head(uint64_t i) const {
    uint64_t off = 0;
    read_tail(i * 8, &off, sizeof(off));
    return off;
  }
  void set_head(uint64_t i, uint64_t off) { write_tail(i * 8, &off, sizeof(off)); }
};

constexpr uint64_t kLists = 64;
constexpr uint32_t kRawClassId = 64;  // raw allocator cases: any id, nothing reads it
constexpr int kBatch = 64;            // ops per latency sample in the allocation cases

std::atomic<uint64_t> g_rmw{0};  // target of the reference locked RMW

// --- measurement -----------------------------------------------------------------

// What one measured operation accumulated over all rounds.
struct Stat {
  std::vector<double> sample_ns;  // per-op ns of each sample
  uint64_t ops = 0;
  double seconds = 0;
  nvobj::PersistCounters counted;
  uint64_t live_bytes = 0;  // heap growth over `live_ops` allocations
  uint64_t live_ops = 0;

  void reset() { *this = Stat{}; }
};

BenchResult to_result(const std::string& name, const std::string& backend,
                      const std::string& workload, const Stat& s, int batch) {
  BenchResult r;
  r.name = name;
  r.backend = backend;
  r.workload = workload;
  r.mode = "emulated";
  r.ops = s.ops;
  r.seconds = s.seconds;
  r.ops_per_sec = static_cast<double>(s.ops) / s.seconds;
  r.p50_ns = nvobj::bench::percentile(s.sample_ns, 50);
  r.p99_ns = nvobj::bench::percentile(s.sample_ns, 99);
  r.fences_per_op = static_cast<double>(s.counted.fences) / static_cast<double>(s.ops);
  r.writebacks_per_op = static_cast<double>(s.counted.writebacks) / static_cast<double>(s.ops);
  if (s.live_ops != 0)
    r.pool_bytes_per_record = static_cast<double>(s.live_bytes) / static_cast<double>(s.live_ops);
  r.extra["ns_per_op"] = 1e9 * s.seconds / static_cast<double>(s.ops);
  r.notes["timing"] =
      batch == 1 ? "p50/p99 over single ops" : fmt::format("p50/p99 over batches of {} ops", batch);
  return r;
}

// Sets extra["ratio_vs_noop"] on every result that has a no-op twin (same
// name, backend "noop").
void add_noop_ratios(std::vector<BenchResult>& results) {
  std::map<std::string, double> noop_ns;
  for (const auto& r : results)
    if (r.backend == "noop") noop_ns[r.name] = r.extra.at("ns_per_op");
  for (auto& r : results)
    if (auto it = noop_ns.find(r.name); it != noop_ns.end())
      r.extra["ratio_vs_noop"] = r.extra.at("ns_per_op") / it->second;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "nvobj-bench-heap: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<nvobj::Store> create_store_or_die(const std::string& path, uint64_t size,
                                                  nvobj::PersistBackend backend) {
  nvobj::StoreOptions o;
  o.create.size = size;
  o.create.mode = nvobj::Mode::kEmulated;
  o.create.overwrite = true;
  o.create.persist.backend = backend;
  o.progress = false;
  auto s = nvobj::create_store(path, o);
  if (!s) die(fmt::format("cannot create {}: {}", path, s.status().to_string()));
  return std::move(s).value();
}

void close_and_unlink(nvobj::Store& s) {
  std::string path = s.pool().path();
  if (nvobj::Status st = s.close(); !st) die(fmt::format("close {}: {}", path, st.to_string()));
  ::unlink(path.c_str());
}

const char* backend_name(nvobj::PersistBackend b) {
  return b == nvobj::PersistBackend::kNoop ? "noop" : "pmem2";
}

// --- 1 and 2: allocation and free --------------------------------------------------

// Allocates `per_pass` objects, then frees them in allocation order; both
// halves are timed in batches of kBatch. Repeating passes keeps the heap at
// its steady state (freed blocks are reused) instead of growing the pool.
// A case without free_name is a reference op: only the first half runs.
struct AllocCase {
  std::string alloc_name, free_name, backend;
  uint64_t per_pass;
  std::function<uint64_t()> alloc;
  std::function<void(uint64_t)> free;
  std::function<uint64_t()> live_bytes;
  Stat a, f;
  std::vector<uint64_t> offs;

  void pass() {
    offs.resize(per_pass);
    uint64_t live0 = live_bytes();
    nvobj::PersistCounters c0 = nvobj::thread_persist_counters();
    Clock::time_point start = Clock::now();
    for (uint64_t i = 0; i < per_pass; i += kBatch) {
      Clock::time_point t0 = Clock::now();
      for (int j = 0; j < kBatch; ++j) offs[i + j] = alloc();
      a.sample_ns.push_back(seconds_between(t0, Clock::now()) * 1e9 / kBatch);
    }
    Clock::time_point mid = Clock::now();
    nvobj::PersistCounters c1 = nvobj::thread_persist_counters();
    a.seconds += seconds_between(start, mid);
    a.ops += per_pass;
    a.counted += c1 - c0;
    if (free_name.empty()) return;
    a.live_bytes += live_bytes() - live0;
    a.live_ops += per_pass;
    c1 = nvobj::thread_persist_counters();
    mid = Clock::now();
    for (uint64_t i = 0; i < per_pass; i += kBatch) {
      Clock::time_point t0 = Clock::now();
      for (int j = 0; j < kBatch; ++j) free(offs[i + j]);
      f.sample_ns.push_back(seconds_between(t0, Clock::now()) * 1e9 / kBatch);
    }
    f.seconds += seconds_between(mid, Clock::now());
    f.ops += per_pass;
    f.counted += nvobj::thread_persist_counters() - c1;
  }
  void round(double budget_s) {
    Clock::time_point start = Clock::now();
    do pass();
    while (seconds_between(start, Clock::now()) < budget_s);
  }
};

std::vector<BenchResult> run_alloc(const std::string& dir, int rounds, double budget_s) {
  std::vector<std::unique_ptr<nvobj::Store>> stores;
  std::vector<std::unique_ptr<nvobj::Pool>> pools;
  std::vector<std::unique_ptr<nvobj::alloc::Allocator>> heaps;
  std::vector<AllocCase> cases;
  // 16 Ki small objects (20 runs) or 4 Ki 1 KiB objects (4.5 MiB) per pass.
  const uint64_t small_pass = 16384, kilo_pass = 4096;
  for (nvobj::PersistBackend b : {nvobj::PersistBackend::kPmem2, nvobj::PersistBackend::kNoop}) {
    std::string bn = backend_name(b);
    nvobj::Store* s =
        stores
            .emplace_back(create_store_or_die(
                fmt::format("{}/nvobj-bench-heap-alloc-{}-{}", dir, bn, ::getpid()), 64 << 20, b))
            .get();
    auto free_fn = [s](uint64_t off) { s->free_object(off); };
    auto live_fn = [s] { return s->usage().live_bytes; };
    cases.push_back({"Store::make (64 B payload)", "Store::free_object (64 B payload)", bn,
                     small_pass, [s] { return s->make<Cell>().offset(); }, free_fn, live_fn});
    cases.push_back({"Store::make (1 KiB payload)", "Store::free_object (1 KiB payload)", bn,
                     kilo_pass, [s] { return s->make<Kilo>().offset(); }, free_fn, live_fn});

    nvobj::CreateOptions co;
    co.size = 64 << 20;
    co.mode = nvobj::Mode::kEmulated;
    co.overwrite = true;
    co.persist.backend = b;
    std::string raw_path = fmt::format("{}/nvobj-bench-heap-raw-{}-{}", dir, bn, ::getpid());
    auto pool = nvobj::Pool::create(raw_path, co);
    if (!pool) die(fmt::format("cannot create {}: {}", raw_path, pool.status().to_string()));
    nvobj::alloc::Allocator* h =
        heaps.emplace_back(nvobj::alloc::Allocator::create_empty(**pool, {})).get();
    pools.push_back(std::move(pool).value());
    auto raw_alloc = [h](uint64_t size) {
      auto off = h->allocate(size, kRawClassId);
      if (!off) die("raw allocate: " + off.status().to_string());
      return *off;
    };
    auto raw_free = [h](uint64_t off) { h->deallocate(off); };
    auto raw_live = [h] { return h->usage().live_bytes; };
    cases.push_back({"Allocator::allocate (64 B)", "Allocator::deallocate (64 B)", bn, small_pass,
                     [raw_alloc] { return raw_alloc(64); }, raw_free, raw_live});
    cases.push_back({"Allocator::allocate (1 KiB)", "Allocator::deallocate (1 KiB)", bn, kilo_pass,
                     [raw_alloc] { return raw_alloc(1024); }, raw_free, raw_live});

    // Reference ops: what an allocation does to the pool, without the
    // allocator. An 8-byte header store and its write-back (80-byte stride,
    // as headers of 64 B objects), alone and followed by one locked
    // read-modify-write such as the allocator's bitmap update. x86 orders
    // CLWB before a later LOCK-prefixed instruction, so the RMW waits for the
    // write-back: a fence the counters do not see.
    std::string ref_path = fmt::format("{}/nvobj-bench-heap-ref-{}-{}", dir, bn, ::getpid());
    co.size = 4 << 20;
    auto ref_pool = nvobj::Pool::create(ref_path, co);
    if (!ref_pool)
      die(fmt::format("cannot create {}: {}", ref_path, ref_pool.status().to_string()));
    char* area = (*ref_pool)->at<char>((*ref_pool)->data_offset());
    const nvobj::Persister* per = &(*ref_pool)->persister();
    pools.push_back(std::move(ref_pool).value());
    auto no_live = [] { return uint64_t{0}; };
    cases.push_back({"ref: 8 B store + pwb", "", bn, small_pass,
                     [area, per, k = uint64_t{0}]() mutable {
                       auto* h = reinterpret_cast<uint64_t*>(area + (k++ % 16384) * 80);
                       *h = k;
                       per->pwb(h, 8);
                       return uint64_t{0};
                     },
                     nullptr, no_live});
    cases.push_back({"ref: 8 B store + pwb + locked RMW", "", bn, small_pass,
                     [area, per, k = uint64_t{0}]() mutable {
                       auto* h = reinterpret_cast<uint64_t*>(area + (k++ % 16384) * 80);
                       *h = k;
                       per->pwb(h, 8);
                       return g_rmw.fetch_add(1, std::memory_order_relaxed);
                     },
                     nullptr, no_live});
  }

  // Warm-up: registers the classes (a few fences, once), takes the runs and
  // faults the pages in; then measure from a clean slate.
  for (auto& c : cases) {
    c.round(budget_s / 4);
    c.a.reset();
    c.f.reset();
  }
  for (int r = 0; r < rounds; ++r)
    for (auto& c : cases) c.round(budget_s);

  std::vector<BenchResult> out;
  for (auto& c : cases) out.push_back(to_result(c.alloc_name, c.backend, "alloc", c.a, kBatch));
  for (auto& c : cases) {
    if (c.free_name.empty()) continue;
    BenchResult r = to_result(c.free_name, c.backend, "free", c.f, kBatch);
    r.notes["order"] = "frees in allocation order, outside any block";
    out.push_back(std::move(r));
  }
  add_noop_ratios(out);

  heaps.clear();  // before their pools
  for (auto& p : pools) {
    std::string path = p->path();
    (void)p->close();
    ::unlink(path.c_str());
  }
  for (auto& s : stores) close_and_unlink(*s);
  return out;
}

// --- 3: failure-atomic blocks --------------------------------------------------------

// Blocks of `writes` 8-byte writes, each to a different existing cell (cells
// are 80-byte blocks, so each write dirties its own cache line). in_block =
// false runs the writes one by one outside a block, for comparison.
struct BlockCase {
  std::string name, backend;
  int writes;
  bool in_block;
  std::vector<Cell*>* cells;
  Stat s;
  uint64_t next = 0;

  void one() {
    const uint64_t n = cells->size();
    auto body = [&] {
      for (int w = 0; w < writes; ++w) {
        (*cells)[next % n]->set_value(next);
        ++next;
      }
    };
    if (in_block)
      nvobj::failure_atomic(body);
    else
      body();
  }
  void round(double budget_s) {
    nvobj::PersistCounters c0 = nvobj::thread_persist_counters();
    Clock::time_point start = Clock::now(), t1 = start;
    do {
      Clock::time_point t0 = Clock::now();
      one();
      t1 = Clock::now();
      s.sample_ns.push_back(seconds_between(t0, t1) * 1e9);
      ++s.ops;
    } while (seconds_between(start, t1) < budget_s);
    s.seconds += seconds_between(start, t1);
    s.counted += nvobj::thread_persist_counters() - c0;
  }
};

std::vector<BenchResult> run_blocks(const std::string& dir, int rounds, double budget_s) {
  constexpr uint64_t kCells = 10000;  // the largest block writes each once
  std::vector<std::unique_ptr<nvobj::Store>> stores;
  std::vector<std::vector<Cell*>> cell_sets;
  cell_sets.reserve(2);  // cases keep pointers to the sets
  std::vector<BlockCase> cases;
  for (nvobj::PersistBackend b : {nvobj::PersistBackend::kPmem2, nvobj::PersistBackend::kNoop}) {
    std::string bn = backend_name(b);
    nvobj::Store* s =
        stores
            .emplace_back(create_store_or_die(
                fmt::format("{}/nvobj-bench-heap-blocks-{}-{}", dir, bn, ::getpid()), 64 << 20, b))
            .get();
    // Proxies are made once here: the cases measure the writes, not the
    // proxy map.
    std::vector<Cell*>& cells = cell_sets.emplace_back();
    for (uint64_t i = 0; i < kCells; ++i) {
      Cell& c = *s->make<Cell>(i);
      cells.push_back(&c);
    }
    for (int w : {1, 10, 100, 1000, 10000})
      cases.push_back(
          {fmt::format("block of {} write{}", w, w == 1 ? "" : "s"), bn, w, true, &cells});
    for (int w : {1, 10})
      cases.push_back(
          {fmt::format("{} write{} outside a block", w, w == 1 ? "" : "s"), bn, w, false, &cells});
  }
  for (auto& c : cases) {  // warm-up: grows the redo logs, faults shadow memory in
    c.round(budget_s / 4);
    c.s.reset();
  }
  for (int r = 0; r < rounds; ++r)
    for (auto& c : cases) c.round(budget_s);

  std::vector<BenchResult> out;
  for (auto& c : cases) {
    BenchResult r = to_result(c.name, c.backend, "block", c.s, 1);
    r.notes["op"] = c.in_block ? "one failure-atomic block" : "the writes, each durable on return";
    r.extra["writes"] = c.writes;
    r.extra["ns_per_write"] = r.extra["ns_per_op"] / c.writes;
    out.push_back(std::move(r));
  }
  add_noop_ratios(out);
  for (auto& s : stores) close_and_unlink(*s);
  return out;
}

// --- 4: recovery -----------------------------------------------------------------

uint64_t pool_size_for(uint64_t n) {
  // 64 B cells take 80-byte blocks; leave room for the heap snapshot, the
  // logs and partly filled runs so the build does not have to grow the pool.
  return n * 80 + n / 8 + (uint64_t{32} << 20);
}

nvobj::StoreOptions recovery_options(unsigned threads) {
  nvobj::StoreOptions o;
  o.recovery_threads = threads;
  o.progress = false;
  return o;
}

// Runs fn() in a child process; fn returns a failure status or leaves with
// crash_now(). The child never returns to the parent's code.
// Ends the calling (child) process as a crash would: no destructor runs, so
// a store that is still open is never closed. Called where the store is in
// scope: returning first would destroy it, which closes it cleanly.
[[noreturn]] void crash_now() {
  std::fflush(nullptr);
  ::_exit(0);
}

void in_child(const std::string& what, const std::function<int()>& fn) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    int rc = 5;  // fn must not return normally (see crash_now)
    try {
      rc = fn();
      if (rc == 0) rc = 5;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", what.c_str(), e.what());
      rc = 4;
    }
    ::_exit(rc);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die(fmt::format("{} failed (wait status {})", what, status));
}

// Builds a pool of n cells in a child that exits without closing it.
void build_crashed_pool(const std::string& path, uint64_t n) {
  in_child("building " + path, [&] {
    nvobj::StoreOptions o;
    o.create.size = pool_size_for(n);
    o.create.mode = nvobj::Mode::kEmulated;
    o.create.overwrite = true;
    o.progress = false;
    auto s = nvobj::create_store(path, o);
    if (!s) {
      std::fprintf(stderr, "create %s: %s\n", path.c_str(), s.status().to_string().c_str());
      return 3;
    }
    nvobj::Store& st = **s;
    auto heads = st.make_with_tail<Heads>(kLists * 8, kLists, uint64_t{0});
    uint64_t value = 0;
    for (uint64_t l = 0; l < kLists; ++l) {
      uint64_t len = n / kLists + (l < n % kLists ? 1 : 0);
      uint64_t prev = 0;
      for (uint64_t j = 0; j < len; ++j)
        prev = st.make<Cell>(value++, nvobj::pptr<CellData>(prev)).offset();
      // Outside a block this write fences, which also makes the list's cells
      // (written back by make) durable before they become reachable.
      heads->set_head(l, prev);
    }
    st.set_root("heads", heads);
    crash_now();
  });
}

// Walks the lists without proxies; returns the cells found and checks that
// their values are 0..n-1 (by sum).
bool verify_lists(nvobj::Store& s, uint64_t n, std::string* why) {
  auto heads = s.root<Heads>("heads");
  if (!heads) {
    *why = "root 'heads' is missing";
    return false;
  }
  uint64_t count = 0, sum = 0;
  for (uint64_t l = 0; l < heads->size(); ++l) {
    for (uint64_t off = heads->head(l); off != 0;) {
      const CellData* c = s.pool().at<CellData>(off);
      ++count;
      sum += c->value;
      off = c->next.offset();
    }
  }
  uint64_t want = n == 0 ? 0 : n * (n - 1) / 2;
  if (count != n || sum != want) {
    *why = fmt::format("found {} cells with value sum {}, expected {} and {}", count, sum, n, want);
    return false;
  }
  return true;
}

struct OpenSample {
  nvobj::OpenReport report;
  double wall_s = 0;   // open_store as the caller sees it
  double close_s = 0;  // the close that followed
  nvobj::PersistCounters counted;
};

struct RecoveryPoint {
  uint64_t n = 0;
  double build_s = 0;
  std::vector<OpenSample> crash, clean;
};

// Opens and times; verifies when asked; closes (timed).
OpenSample timed_open(const std::string& path, unsigned threads, uint64_t n, bool verify,
                      bool* ok) {
  OpenSample out;
  nvobj::PersistCounters c0 = nvobj::total_persist_counters();
  Clock::time_point t0 = Clock::now();
  auto s = nvobj::open_store(path, recovery_options(threads));
  out.wall_s = seconds_between(t0, Clock::now());
  out.counted = nvobj::total_persist_counters() - c0;
  if (!s) die(fmt::format("open {}: {}", path, s.status().to_string()));
  out.report = (*s)->open_report();
  std::string why;
  if (verify && !verify_lists(**s, n, &why)) {
    std::fprintf(stderr, "VERIFY FAILED for %s after %s open: %s\n", path.c_str(),
                 out.report.clean ? "clean" : "crash", why.c_str());
    *ok = false;
  }
  Clock::time_point t1 = Clock::now();
  if (nvobj::Status st = (*s)->close(); !st) die(fmt::format("close {}: {}", path, st.to_string()));
  out.close_s = seconds_between(t1, Clock::now());
  return out;
}

RecoveryPoint run_recovery_point(const std::string& dir, uint64_t n, int reps, unsigned threads,
                                 bool* ok) {
  RecoveryPoint p;
  p.n = n;
  std::string path = fmt::format("{}/nvobj-bench-heap-recovery-{}", dir, ::getpid());
  Clock::time_point t0 = Clock::now();
  build_crashed_pool(path, n);
  p.build_s = seconds_between(t0, Clock::now());
  for (int r = 0; r < reps; ++r) {
    if (r > 0) {  // a fresh crash image: open (cleanly) and die without closing
      in_child("crashing " + path, [&] {
        auto s = nvobj::open_store(path, recovery_options(threads));
        if (!s) {
          std::fprintf(stderr, "open %s: %s\n", path.c_str(), s.status().to_string().c_str());
          return 3;
        }
        crash_now();
      });
    }
    // Verify the contents once per kind of open, outside the timing.
    p.crash.push_back(timed_open(path, threads, n, r == 0, ok));
    p.clean.push_back(timed_open(path, threads, n, r == 0, ok));
    const nvobj::OpenReport& a = p.crash.back().report;
    const nvobj::OpenReport& b = p.clean.back().report;
    if (a.clean || !b.clean || !b.snapshot_used || a.objects != b.objects || a.objects < n + 1) {
      std::fprintf(stderr,
                   "UNEXPECTED open reports for %llu cells: crash open clean=%d objects=%llu, "
                   "clean open clean=%d snapshot=%d objects=%llu\n",
                   static_cast<unsigned long long>(n), a.clean,
                   static_cast<unsigned long long>(a.objects), b.clean, b.snapshot_used,
                   static_cast<unsigned long long>(b.objects));
      *ok = false;
    }
  }
  ::unlink(path.c_str());
  return p;
}

std::string count_label(uint64_t n) {
  if (n >= 1000000 && n % 1000000 == 0) return fmt::format("{}M", n / 1000000);
  if (n >= 1000 && n % 1000 == 0) return fmt::format("{}K", n / 1000);
  return std::to_string(n);
}

BenchResult recovery_result(const RecoveryPoint& p, bool crash) {
  const std::vector<OpenSample>& v = crash ? p.crash : p.clean;
  std::vector<double> secs, per_obj_ns, wall, close;
  double total = 0;
  nvobj::PersistCounters counted;
  for (const OpenSample& s : v) {
    secs.push_back(s.report.seconds);
    per_obj_ns.push_back(s.report.seconds * 1e9 / static_cast<double>(s.report.objects));
    wall.push_back(s.wall_s);
    close.push_back(s.close_s);
    total += s.report.seconds;
    counted += s.counted;
  }
  const nvobj::OpenReport& rep = v.back().report;
  double median = nvobj::bench::percentile(secs, 50);
  auto opens = static_cast<double>(v.size());
  BenchResult r;
  r.name =
      fmt::format("open after {}, {} cells", crash ? "crash" : "clean close", count_label(p.n));
  r.backend = "pmem2";
  r.workload = crash ? "recovery-crash" : "recovery-clean";
  r.mode = "emulated";
  r.threads = static_cast<int>(rep.threads);
  // One op is one live object brought back by an open.
  r.ops = rep.objects;
  r.seconds = median;
  r.ops_per_sec = static_cast<double>(rep.objects) / median;
  r.p50_ns = nvobj::bench::percentile(per_obj_ns, 50);
  r.p99_ns = *std::max_element(per_obj_ns.begin(), per_obj_ns.end());
  r.fences_per_op = static_cast<double>(counted.fences) / opens / static_cast<double>(rep.objects);
  r.writebacks_per_op =
      static_cast<double>(counted.writebacks) / opens / static_cast<double>(rep.objects);
  r.pool_bytes_per_record = static_cast<double>(rep.live_bytes) / static_cast<double>(rep.objects);
  r.extra["cells"] = static_cast<double>(p.n);
  r.extra["reps"] = opens;
  r.extra["open_s_p50"] = median;
  r.extra["open_s_min"] = *std::min_element(secs.begin(), secs.end());
  r.extra["open_s_max"] = *std::max_element(secs.begin(), secs.end());
  r.extra["wall_s_p50"] = nvobj::bench::percentile(wall, 50);
  r.extra["close_s_p50"] = nvobj::bench::percentile(close, 50);
  r.extra["fences_per_open"] = static_cast<double>(counted.fences) / opens;
  r.extra["writebacks_per_open"] = static_cast<double>(counted.writebacks) / opens;
  r.extra["build_s"] = p.build_s;
  // The OpenReport of the last open of this kind.
  r.extra["report_clean"] = rep.clean;
  r.extra["report_snapshot_used"] = rep.snapshot_used;
  r.extra["report_seconds"] = rep.seconds;
  r.extra["report_logs_replayed"] = static_cast<double>(rep.logs_replayed);
  r.extra["report_logs_dropped"] = static_cast<double>(rep.logs_dropped);
  r.extra["report_objects"] = static_cast<double>(rep.objects);
  r.extra["report_live_bytes"] = static_cast<double>(rep.live_bytes);
  r.extra["report_free_bytes"] = static_cast<double>(rep.free_bytes);
  r.extra["report_threads"] = rep.threads;
  r.notes["timing"] =
      "seconds = median OpenReport::seconds over reps; p50/p99 ns = ns per live object of "
      "the median and the slowest open";
  r.notes["pool"] = fmt::format(
      "{} 64-byte cells in {} linked lists, heads in one object published as a root", p.n, kLists);
  return r;
}

// A compact table for the recovery rows (markdown_table would print every
// OpenReport field as its own column).
std::string recovery_table(const std::vector<BenchResult>& rows) {
  std::string out =
      "| open | live objects | reps | s p50 | s min | s max | objects/s | ns/object | clean | "
      "snapshot | threads | replayed | dropped | live MiB | fences/open | close s | build s |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const BenchResult& r : rows) {
    auto x = [&](const char* k) { return r.extra.at(k); };
    out += fmt::format(
        "| {} | {:.0f} | {:.0f} | {:.4f} | {:.4f} | {:.4f} | {:.3g} | {:.0f} | {} | {} | {:.0f} | "
        "{:.0f} | {:.0f} | {:.1f} | {:.0f} | {:.4f} | {:.2f} |\n",
        r.name, x("report_objects"), x("reps"), x("open_s_p50"), x("open_s_min"), x("open_s_max"),
        r.ops_per_sec, r.p50_ns, x("report_clean") != 0 ? "yes" : "no",
        x("report_snapshot_used") != 0 ? "yes" : "no", x("report_threads"),
        x("report_logs_replayed"), x("report_logs_dropped"), x("report_live_bytes") / (1 << 20),
        x("fences_per_open"), x("close_s_p50"), x("build_s"));
  }
  return out;
}

std::vector<BenchResult> run_recovery(const std::string& dir, uint64_t max_objects, int reps_opt,
                                      unsigned threads, bool quick, bool* ok) {
  std::vector<BenchResult> crash_rows, clean_rows;
  for (uint64_t n = 1000; n <= max_objects; n *= 10) {
    int reps = reps_opt > 0 ? reps_opt : quick ? 2 : n <= 100000 ? 5 : n <= 1000000 ? 3 : 2;
    std::fprintf(stderr, "recovery: %s cells, %d reps...\n", count_label(n).c_str(), reps);
    RecoveryPoint p = run_recovery_point(dir, n, reps, threads, ok);
    crash_rows.push_back(recovery_result(p, true));
    clean_rows.push_back(recovery_result(p, false));
  }
  std::vector<BenchResult> out = crash_rows;
  out.insert(out.end(), clean_rows.begin(), clean_rows.end());
  return out;
}

}  // namespace

// An escaping exception terminates with its message, which is what a CLI wants.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-bench-heap: allocation, free, failure-atomic blocks and open/recovery time"};
  int rounds = 5, reps = 0;
  double budget_ms = 200;
  uint64_t max_objects = 10000000;
  unsigned threads = 0;
  bool quick = false;
  std::string json_path, dir = "/dev/shm", sections = "alloc,blocks,recovery";
  app.add_option("--rounds", rounds, "interleaved rounds (alloc, blocks)")->capture_default_str();
  app.add_option("--budget-ms", budget_ms, "time per case per round (alloc, blocks)")
      ->capture_default_str();
  app.add_option("--max-objects", max_objects,
                 "largest recovery pool, in cells (1K, 10K, ... up to this)")
      ->capture_default_str();
  app.add_option("--reps", reps,
                 "opens of each kind per pool size (0: 5 up to 100K, 3 at 1M, 2 "
                 "beyond)")
      ->capture_default_str();
  app.add_option("--recovery-threads", threads, "recovery threads (0: one per hardware thread)")
      ->capture_default_str();
  app.add_option("--dir", dir, "directory for the pools (tmpfs: emulated mode)")
      ->capture_default_str();
  app.add_option("--sections", sections, "comma-separated: alloc, blocks, recovery")
      ->capture_default_str();
  app.add_option("--json", json_path, "write results (DESIGN.md format)");
  app.add_flag("--quick", quick, "short run: 2 rounds of 50 ms, pools up to 100K cells");
  CLI11_PARSE(app, argc, argv);
  if (std::getenv("NVOBJ_LOG_LEVEL") == nullptr) nvobj::set_log_level("warn");
  if (quick) {
    rounds = std::min(rounds, 2);
    budget_ms = std::min(budget_ms, 50.0);
    max_objects = std::min<uint64_t>(max_objects, 100000);
  }
  auto want = [&](std::string_view s) {
    std::stringstream ss(sections);
    for (std::string item; std::getline(ss, item, ',');)
      if (item == s) return true;
    return false;
  };

  bool ok = true;
  std::vector<BenchResult> all;
  double budget_s = budget_ms / 1000.0;
  if (want("alloc")) {
    std::fprintf(stderr, "allocation and free...\n");
    std::vector<BenchResult> r = run_alloc(dir, rounds, budget_s);
    std::printf("## Allocation and free (single thread)\n\n%s\n",
                nvobj::bench::markdown_table(r).c_str());
    all.insert(all.end(), r.begin(), r.end());
  }
  if (want("blocks")) {
    std::fprintf(stderr, "failure-atomic blocks...\n");
    std::vector<BenchResult> r = run_blocks(dir, rounds, budget_s);
    std::printf("## Failure-atomic blocks (ops are blocks)\n\n%s\n",
                nvobj::bench::markdown_table(r).c_str());
    all.insert(all.end(), r.begin(), r.end());
  }
  if (want("recovery")) {
    std::vector<BenchResult> r = run_recovery(dir, max_objects, reps, threads, quick, &ok);
    std::printf("## Open time by live objects\n\n%s\n", recovery_table(r).c_str());
    all.insert(all.end(), r.begin(), r.end());
  }
  std::printf("rounds %d x %.0f ms per case, interleaved; fences/wb per op are nvobj's counters.\n",
              rounds, budget_ms);
  if (!json_path.empty() && !nvobj::bench::write_json(json_path, all)) return 1;
  if (!ok) {
    std::fprintf(stderr, "nvobj-bench-heap: some checks FAILED (see above)\n");
    return 2;
  }
  return 0;
}
