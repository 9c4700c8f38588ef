// A persistent run log kept directly in a pool: every run appends a record and
// prints the history, so running it twice shows objects surviving a restart.
// `--crash` exits without closing the pool, and the next run reports that the
// previous session did not shut down cleanly.
//
// It uses only the persistence layer (no allocator): a fixed-size log is
// initialised, persisted, then published by one 8-byte store into an anchor
// slot, the pattern every nvobj structure builds on.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <CLI/CLI.hpp>

#include "runtime/checksum.h"
#include "runtime/log.h"
#include "runtime/pool.h"
#include "runtime/units.h"

namespace {

struct RunRecord {  // one cache line: written back and fenced as a unit
  uint64_t run;
  uint64_t time_ns;
  uint32_t pid;
  uint32_t checksum;  // crc32c of the other fields: a torn record is ignored
  char note[40];
};
static_assert(sizeof(RunRecord) == 64);

constexpr uint64_t kLogMagic = 0x474f4c4f4d454456;  // "VDEMOLOG"
constexpr int kSlots = 16;

struct RunLog {
  uint64_t magic;
  uint64_t runs;  // records [0, runs) are complete
  uint8_t pad[48];
  RunRecord slots[kSlots];
};
static_assert(sizeof(RunLog) == 64 + 64 * kSlots);

constexpr uint64_t kLogAnchor = nvobj::kFirstUserAnchor;

uint32_t record_checksum(const RunRecord& r) {
  RunRecord copy = r;
  copy.checksum = 0;
  return nvobj::crc32c(&copy, sizeof copy);
}

std::string when(uint64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  char buf[32];
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

}  // namespace

// An escaping exception terminates with its message, which is what a CLI wants.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-demo: a run log that survives restarts and crashes"};
  std::string path = "/dev/shm/nvobj/default.pool", size_text = "64M", mode_text = "auto";
  std::string note = "hello from nvobj";
  bool crash = false;
  app.add_option("--pool", path, "pool file (created if missing)")->capture_default_str();
  app.add_option("--size", size_text, "size for a new pool")->capture_default_str();
  app.add_option("--mode", mode_text, "auto|dax|emulated|msync")->capture_default_str();
  app.add_option("--note", note, "text stored with this run");
  app.add_flag("--crash", crash, "exit without closing the pool (simulated crash)");
  CLI11_PARSE(app, argc, argv);

  auto size = nvobj::parse_size(size_text);
  auto mode = nvobj::parse_mode(mode_text);
  if (!size || !mode) {
    std::fprintf(stderr, "nvobj-demo: bad --size or --mode\n");
    return 2;
  }
  nvobj::OpenOptions oo;
  oo.mode = *mode;
  auto pool = nvobj::Pool::open(path, oo);
  bool created = false;
  if (!pool && pool.status().code() == nvobj::StatusCode::kNotFound) {
    nvobj::CreateOptions co;
    co.size = *size;
    co.mode = *mode;
    pool = nvobj::Pool::create(path, co);
    created = true;
  }
  if (!pool) {
    std::fprintf(stderr, "nvobj-demo: %s\n", pool.status().to_string().c_str());
    return 1;
  }
  nvobj::Pool& p = **pool;
  const nvobj::Persister& persist = p.persister();
  nvobj::PersistCounters before = nvobj::thread_persist_counters();

  uint64_t* anchor = p.anchor(kLogAnchor);
  if (*anchor == 0) {
    // Initialise off to the side, make it durable, then publish it.
    uint64_t off = p.data_offset();
    auto* log = p.at<RunLog>(off);
    std::memset(log, 0, sizeof *log);
    log->magic = kLogMagic;
    persist.persist(log, sizeof *log);
    __atomic_store_n(anchor, off, __ATOMIC_RELEASE);
    persist.persist(anchor, sizeof *anchor);
  }
  auto* log = p.at<RunLog>(*anchor);
  if (log->magic != kLogMagic) {
    std::fprintf(stderr, "nvobj-demo: %s holds something else at the demo anchor\n", path.c_str());
    return 1;
  }

  std::printf("pool %s (%s, mode %s, uuid %s)%s\n", path.c_str(),
              nvobj::format_size(p.size()).c_str(), std::string(nvobj::mode_name(p.mode())).c_str(),
              p.uuid().c_str(), created ? " created" : "");
  if (!created)
    std::printf("previous session: %s\n",
                p.was_clean_shutdown() ? "shut down cleanly" : "did NOT shut down cleanly (crash)");
  uint64_t first = log->runs > kSlots ? log->runs - kSlots : 0;
  for (uint64_t i = first; i < log->runs; ++i) {
    const RunRecord& r = log->slots[i % kSlots];
    if (r.checksum != record_checksum(r) || r.run != i + 1) continue;
    std::printf("  run %llu  %s  pid %u  \"%s\"\n", static_cast<unsigned long long>(r.run),
                when(r.time_ns).c_str(), r.pid, r.note);
  }

  // Append: write the record's line, make it durable, then advance `runs`
  // (8-byte store, 1 more fence). A crash between the two leaves the record
  // unpublished and the next run overwrites it.
  RunRecord& slot = log->slots[log->runs % kSlots];
  RunRecord r{};
  r.run = log->runs + 1;
  r.time_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  r.pid = static_cast<uint32_t>(::getpid());
  std::snprintf(r.note, sizeof r.note, "%s", note.c_str());
  r.checksum = record_checksum(r);
  persist.memcpy_persist(&slot, &r, sizeof r);
  persist.store_persist(&log->runs, log->runs + 1);
  nvobj::PersistCounters d = nvobj::thread_persist_counters() - before;
  std::printf("  run %llu  %s  pid %u  \"%s\"  <- this run (%llu write-backs, %llu fences)\n",
              static_cast<unsigned long long>(r.run), when(r.time_ns).c_str(), r.pid, r.note,
              static_cast<unsigned long long>(d.writebacks),
              static_cast<unsigned long long>(d.fences));
  if (crash) {
    std::printf("exiting without closing the pool (simulated crash)\n");
    std::fflush(stdout);
    _exit(0);
  }
  if (nvobj::Status s = p.close(); !s) {
    std::fprintf(stderr, "nvobj-demo: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("run again to see this run survive the restart\n");
  return 0;
}
