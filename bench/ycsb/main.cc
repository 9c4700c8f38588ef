// nvobj-bench: a YCSB-compatible driver. Reads standard YCSB workload files
// and runs them on embedded backends (a dso::Backend in this process) and on
// RESP servers (nvobj-dso, redis-server), side by side in one process so
// that ratios come from one run.
//
//   nvobj-bench -P bench/workloads/workloada --backend nvobj,volatile,pmemobj-tx,fs,fs:/tmp
//   nvobj-bench -P bench/workloads/workloada --server dso=127.0.0.1:7379/emulated
//   nvobj-bench --recovery --backend nvobj,pmemobj-tx,fs --records 1000000
//
// Each target is loaded (records 0..recordcount-1), then every workload
// given with -P runs in order on every target, interleaved (workload 1 on
// each target, then workload 2...), with each --threads count and --rounds
// times; inserts of one workload stay for the next. Results: JSON in
// DESIGN.md's format (--json) and markdown tables (stdout, --markdown).
// See docs/benchmarks.md, section YCSB, for the record mapping.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/common/bench_result.h"
#include "bench/ycsb/db.h"
#include "bench/ycsb/runner.h"
#include "bench/ycsb/workload.h"
#include "pobjects/record_log.h"
#include "runtime/log.h"
#include "runtime/units.h"

namespace {

using nvobj::Result;
using nvobj::Status;
using nvobj::bench::BenchResult;
using namespace nvobj::ycsb;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

constexpr Op kAllOps[] = {Op::kRead, Op::kUpdate, Op::kInsert, Op::kScan, Op::kReadModifyWrite};

std::string machine() { return fmt::format("{} vCPU x86_64", std::thread::hardware_concurrency()); }

// "workloada" -> "YCSB-A"; other names are kept.
std::string display_name(const std::string& workload) {
  if (workload.size() == 9 && workload.starts_with("workload"))
    return fmt::format("YCSB-{}", static_cast<char>(std::toupper(workload[8])));
  return workload;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Store statistics whose change over a phase is worth reporting per op.
const std::pair<const char*, const char*> kCounted[] = {
    {"nvobj_fences", "server_fences_per_op"},
    {"nvobj_writebacks", "server_writebacks_per_op"},
    {"fs_fsyncs", "fsyncs_per_op"},
    {"pmemobj_tx_commits", "tx_per_op"},
};

BenchResult to_result(const PhaseResult& r, Target& target,
                      const std::map<std::string, double>& before,
                      const std::map<std::string, double>& after, uint64_t seed) {
  BenchResult b;
  const bool load = r.phase == "load";
  b.name = load ? "YCSB load" : display_name(r.spec.name);
  b.backend = target.label();
  b.workload = load ? "load" : r.spec.name;
  b.mode = target.mode();
  b.threads = r.threads;
  b.ops = r.ops();
  b.seconds = r.seconds;
  b.ops_per_sec = r.seconds > 0 ? static_cast<double>(r.ops()) / r.seconds : 0;
  b.p50_ns = r.all.latency.percentile(50);
  b.p99_ns = r.all.latency.percentile(99);
  const double ops = std::max<double>(1, static_cast<double>(r.ops()));
  if (target.counts_persistence()) {
    b.fences_per_op = static_cast<double>(r.all.persist.fences) / ops;
    b.writebacks_per_op = static_cast<double>(r.all.persist.writebacks) / ops;
  }
  auto it = after.end();
  for (const char* k : {"nvobj_live_bytes", "pmemobj_allocated_bytes", "fs_file_bytes"}) {
    if ((it = after.find(k)) != after.end()) break;
  }
  if (it != after.end() && r.records_after > 0) {
    b.pool_bytes_per_record = it->second / static_cast<double>(r.records_after);
    b.extra["store_bytes"] = it->second;
  }
  b.extra["records"] = static_cast<double>(r.spec.record_count);
  b.extra["records_after"] = static_cast<double>(r.records_after);
  b.extra["failed"] = static_cast<double>(r.all.failed);
  b.extra["mean_ns"] = r.all.latency.mean();
  b.extra["p999_ns"] = r.all.latency.percentile(99.9);
  b.extra["field_count"] = static_cast<double>(r.spec.field_count);
  b.extra["field_length"] = static_cast<double>(r.spec.field_length);
  for (const auto& [stat, key] : kCounted) {
    auto a = after.find(stat), o = before.find(stat);
    if (a == after.end() || o == before.end()) continue;
    // In process, nvobj's own fences are counted per operation above; the
    // store-wide figure is for servers.
    if (target.embedded() && std::string_view(stat).starts_with("nvobj_")) continue;
    b.extra[key] = (a->second - o->second) / ops;
  }
  if (after.count("fs_reopen_seconds"))
    b.extra["fs_reopen_seconds"] = after.at("fs_reopen_seconds");
  for (Op op : kAllOps) {
    const OpStats& s = r.per_op[static_cast<size_t>(op)];
    if (s.ops == 0) continue;
    std::string n(op_name(op));
    b.extra[n + "_ops"] = static_cast<double>(s.ops);
    b.extra[n + "_p50_ns"] = s.latency.percentile(50);
    b.extra[n + "_p99_ns"] = s.latency.percentile(99);
    b.extra[n + "_mean_ns"] = s.latency.mean();
    if (s.failed) b.extra[n + "_failed"] = static_cast<double>(s.failed);
    if (target.counts_persistence()) {
      b.extra[n + "_fences_per_op"] =
          static_cast<double>(s.persist.fences) / static_cast<double>(s.ops);
      b.extra[n + "_writebacks_per_op"] =
          static_cast<double>(s.persist.writebacks) / static_cast<double>(s.ops);
    }
  }
  b.notes = target.notes();
  b.notes["target"] = target.embedded() ? "embedded" : "network";
  b.notes["phase"] = r.phase;
  b.notes["requestdistribution"] = r.spec.request_distribution;
  b.notes["machine"] = machine();
  b.notes["seed"] = std::to_string(seed);
  if (!r.error.empty()) b.notes["error"] = r.error;
  return b;
}

std::string us(double ns) { return fmt::format("{:.1f}", ns / 1000); }
std::string opt(const std::optional<double>& v) {
  return v ? fmt::format("{:.2f}", *v) : std::string("-");
}

std::string markdown(const std::vector<BenchResult>& results) {
  std::string out =
      "| workload | backend | mode | threads | records | ops/s | p50 us | p99 us | fences/op | "
      "wb/op | bytes/record |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const BenchResult& r : results) {
    out += fmt::format("| {} | {} | {} | {} | {:.0f} | {:.0f} | {} | {} | {} | {} | {} |\n", r.name,
                       r.backend, r.mode, r.threads, r.extra.at("records"), r.ops_per_sec,
                       us(r.p50_ns), us(r.p99_ns), opt(r.fences_per_op), opt(r.writebacks_per_op),
                       r.pool_bytes_per_record ? fmt::format("{:.0f}", *r.pool_bytes_per_record)
                                               : std::string("-"));
  }
  out +=
      "\nper operation type:\n\n| workload | backend | threads | op | ops | p50 us | p99 us | "
      "fences/op | wb/op |\n|---|---|---:|---|---:|---:|---:|---:|---:|\n";
  for (const BenchResult& r : results) {
    for (Op op : kAllOps) {
      std::string n(op_name(op));
      auto it = r.extra.find(n + "_ops");
      if (it == r.extra.end()) continue;
      auto f = r.extra.find(n + "_fences_per_op");
      auto w = r.extra.find(n + "_writebacks_per_op");
      out += fmt::format("| {} | {} | {} | {} | {:.0f} | {} | {} | {} | {} |\n", r.name, r.backend,
                         r.threads, n, it->second, us(r.extra.at(n + "_p50_ns")),
                         us(r.extra.at(n + "_p99_ns")),
                         f == r.extra.end() ? "-" : fmt::format("{:.2f}", f->second),
                         w == r.extra.end() ? "-" : fmt::format("{:.2f}", w->second));
    }
  }
  return out;
}

struct Options {
  std::vector<std::string> workload_files;
  std::vector<std::string> assignments;
  std::string backends;
  std::vector<std::string> servers;
  int64_t records = 0;
  int64_t operations = -1;
  double max_seconds = 0;
  std::string threads = "1";
  uint64_t seed = 1;
  int rounds = 1;
  bool no_load = false;
  bool no_flush = false;
  int load_pipeline = 1;
  int load_threads = 0;  // 0: the first --threads value
  std::string dir = "/dev/shm";
  std::string stage_dir;
  std::string pool_size;
  std::string nvobj_cleaning;
  bool recovery = false;
  std::string json, markdown_file;
  std::string progress = "auto";
};

// Bytes an nvobj pool or pmemobj pool should start with for `records`
// records of the workload (pmemobj's cannot grow): the payload plus room
// for keys, index entries, allocator rounding and inserts.
uint64_t pool_bytes_for(const WorkloadSpec& spec, int64_t records) {
  double per = static_cast<double>(spec.record_bytes() + 4 * spec.field_count) * 1.6 + 512;
  return static_cast<uint64_t>(per * static_cast<double>(records)) + (uint64_t{128} << 20);
}

Result<std::vector<WorkloadSpec>> read_specs(const Options& o) {
  std::vector<WorkloadSpec> specs;
  for (const std::string& file : o.workload_files) {
    Properties p;
    NVOBJ_RETURN_IF_ERROR(p.load_file(file));
    for (const std::string& a : o.assignments) NVOBJ_RETURN_IF_ERROR(p.parse_assignment(a));
    if (o.records > 0) p.set("recordcount", std::to_string(o.records));
    if (o.operations >= 0) p.set("operationcount", std::to_string(o.operations));
    auto spec = WorkloadSpec::from_properties(p, std::filesystem::path(file).filename().string());
    if (!spec) {
      return Status(spec.status().code(), fmt::format("{}: {}", file, spec.status().message()));
    }
    specs.push_back(*spec);
  }
  if (specs.empty()) {
    // No file: YCSB's defaults with -p settings.
    Properties p;
    for (const std::string& a : o.assignments) NVOBJ_RETURN_IF_ERROR(p.parse_assignment(a));
    if (o.records > 0) p.set("recordcount", std::to_string(o.records));
    if (o.operations >= 0) p.set("operationcount", std::to_string(o.operations));
    NVOBJ_ASSIGN_OR_RETURN(auto spec, WorkloadSpec::from_properties(p, "properties"));
    specs.push_back(spec);
  }
  return specs;
}

// Recovery time: a child process creates the store, loads it and is killed
// with SIGKILL; this process then times reopening it and reading one record
// (the first access), closes it cleanly, and times a reopen and first read
// again: after a crash and after a clean close, for each backend.
int measure_recovery(const Options& o, const WorkloadSpec& spec, std::vector<BenchResult>* out) {
  RunOptions ro;
  ro.seed = o.seed;
  ro.threads = o.load_threads;
  for (const std::string& b : split(o.backends, ',')) {
    const std::string kind = b.substr(0, b.find(':'));
    if (kind == "volatile") continue;  // nothing to recover
    const std::string dir = b.find(':') == std::string::npos ? o.dir : b.substr(b.find(':') + 1);
    const std::filesystem::path top =
        std::filesystem::path(dir) / fmt::format("nvobj-bench-recovery-{}-{}", ::getpid(), kind);
    const std::string path = (top / (kind == "fs" ? "store" : "pool")).string();
    std::error_code ec;
    std::filesystem::create_directories(top, ec);
    EmbeddedOptions eo;
    eo.path = path;
    eo.keep = true;
    eo.pool_bytes = pool_bytes_for(spec, spec.record_count);
    auto build_start = Clock::now();
    std::fflush(stdout);
    pid_t pid = ::fork();
    if (pid == 0) {
      auto t = open_embedded_target(b, eo);
      if (!t) {
        std::fprintf(stderr, "nvobj-bench: %s\n", t.status().to_string().c_str());
        ::_exit(1);
      }
      PhaseResult load = run_load(**t, spec, 0, spec.record_count, ro);
      if (!load.error.empty()) {
        std::fprintf(stderr, "nvobj-bench: %s\n", load.error.c_str());
        ::_exit(1);
      }
      ::raise(SIGKILL);  // no clean close: the next open recovers
    }
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    const double build_seconds = std::chrono::duration<double>(Clock::now() - build_start).count();
    if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL) {
      std::fprintf(stderr, "nvobj-bench: building the %s store for recovery failed\n", b.c_str());
      std::filesystem::remove_all(top, ec);
      return 1;
    }
    eo.reopen = true;
    for (bool crash : {true, false}) {
      eo.keep = crash;  // the clean reopen's close removes the store
      auto t0 = Clock::now();
      auto t = open_embedded_target(b, eo);
      auto t1 = Clock::now();
      if (!t) {
        std::fprintf(stderr, "nvobj-bench: reopen %s: %s\n", b.c_str(),
                     t.status().to_string().c_str());
        std::filesystem::remove_all(top, ec);
        return 1;
      }
      auto client = (*t)->connect();
      std::vector<std::string> fields;
      const std::string key =
          build_key_name(spec.record_count / 2, spec.zero_padding, spec.ordered_inserts);
      const bool found = client && (*client)->read(key, -1, &fields);
      auto t2 = Clock::now();
      auto stats = (*t)->stats();
      BenchResult r;
      r.name = crash ? "reopen after SIGKILL" : "reopen after clean close";
      r.backend = (*t)->label();
      r.workload = "recovery";
      r.mode = (*t)->mode();
      r.threads = 1;
      r.ops = static_cast<uint64_t>(spec.record_count);
      r.seconds = std::chrono::duration<double>(t2 - t0).count();
      r.ops_per_sec = static_cast<double>(spec.record_count) / r.seconds;
      r.p50_ns = r.p99_ns = r.seconds * 1e9;
      r.extra["records"] = static_cast<double>(spec.record_count);
      r.extra["open_seconds"] = std::chrono::duration<double>(t1 - t0).count();
      r.extra["first_access_seconds"] = std::chrono::duration<double>(t2 - t1).count();
      r.extra["build_seconds"] = build_seconds;
      r.extra["found"] = found ? 1 : 0;
      if (auto bytes = (*t)->store_bytes()) {
        r.pool_bytes_per_record = *bytes / static_cast<double>(spec.record_count);
        r.extra["store_bytes"] = *bytes;
      }
      for (const char* k :
           {"nvobj_recovery_seconds", "nvobj_recovery_objects", "nvobj_recovery_clean"}) {
        if (stats.count(k)) r.extra[k] = stats[k];
      }
      r.notes = (*t)->notes();
      r.notes["target"] = "embedded";
      r.notes["phase"] = "recovery";
      r.notes["machine"] = machine();
      out->push_back(r);
      std::printf("%-12s %-26s %9lld records: open %.3f s + first read %.3f ms%s\n",
                  r.backend.c_str(), r.name.c_str(), static_cast<long long>(spec.record_count),
                  r.extra["open_seconds"], r.extra["first_access_seconds"] * 1e3,
                  found ? "" : " (record NOT found)");
      std::fflush(stdout);
      Status st = (*t)->close();
      if (!st || !found) {
        if (!st)
          std::fprintf(stderr, "nvobj-bench: close %s: %s\n", b.c_str(), st.to_string().c_str());
        std::filesystem::remove_all(top, ec);
        return 1;
      }
    }
    std::filesystem::remove_all(top, ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-bench: YCSB workloads on nvobj-dso's backends, in process or over RESP"};
  Options o;
  app.add_option("-P,--workload", o.workload_files,
                 "YCSB workload file (repeatable: run in order)");
  app.add_option("-p,--property", o.assignments, "key=value, overriding the workload files");
  app.add_option("--backend", o.backends,
                 "embedded targets, comma-separated: nvobj, volatile, pmemobj-tx, fs; "
                 "KIND:DIR puts the store in DIR");
  app.add_option("--server", o.servers, "network target LABEL=HOST:PORT[/MODE] (repeatable)");
  app.add_option("--records", o.records, "recordcount (overrides the files)");
  app.add_option("--operations", o.operations, "operationcount (overrides the files)");
  app.add_option("--max-seconds", o.max_seconds, "cap on each run phase (maxexecutiontime)");
  app.add_option("--threads", o.threads, "client threads; a list (1,2) runs each")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--rounds", o.rounds, "runs per workload and target; the median is reported")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--no-load", o.no_load, "skip the load phase (the store is loaded already)");
  app.add_flag("--no-flush", o.no_flush, "do not FLUSHALL a server before loading");
  app.add_option("--load-threads", o.load_threads,
                 "threads of the load phase (default: --threads)");
  app.add_option("--load-pipeline", o.load_pipeline, "inserts per round trip when loading a server")
      ->capture_default_str();
  app.add_option("--dir", o.dir, "default directory of embedded stores")->capture_default_str();
  app.add_option("--stage-dir", o.stage_dir,
                 "load fs stores that are not on tmpfs here (a tmpfs) and copy them into place");
  app.add_option("--pool-size", o.pool_size,
                 "nvobj and pmemobj-tx pool size (default: from records)");
  app.add_option("--nvobj-cleaning", o.nvobj_cleaning,
                 "DEAD,VICTIM: nvobj's record-log cleaning thresholds in permille "
                 "(default 150,300: clean when 15% of a log is dead)");
  app.add_flag("--recovery", o.recovery,
               "time reopening each backend's store after SIGKILL and after a clean close");
  app.add_option("--json", o.json, "write results (DESIGN.md format)");
  app.add_option("--markdown", o.markdown_file, "write the markdown tables");
  app.add_option("--progress", o.progress, "auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (std::getenv("NVOBJ_LOG_LEVEL") == nullptr) nvobj::set_log_level("error");

  auto specs_or = read_specs(o);
  if (!specs_or) {
    std::fprintf(stderr, "nvobj-bench: %s\n", specs_or.status().to_string().c_str());
    return 2;
  }
  std::vector<WorkloadSpec> specs = *specs_or;
  const WorkloadSpec& first = specs.front();
  std::vector<int> thread_counts;
  for (const std::string& t : split(o.threads, ','))
    thread_counts.push_back(std::max(1, std::stoi(t)));
  if (o.backends.empty() && o.servers.empty()) {
    std::fprintf(stderr, "nvobj-bench: give --backend and/or --server\n");
    return 2;
  }
  if (o.load_threads <= 0) o.load_threads = thread_counts.front();
  if (!o.nvobj_cleaning.empty()) {
    std::vector<std::string> t = split(o.nvobj_cleaning, ',');
    if (t.size() != 2) {
      std::fprintf(stderr, "nvobj-bench: --nvobj-cleaning wants DEAD,VICTIM\n");
      return 2;
    }
    nvobj::RecordLog::set_cleaning_thresholds(std::stoull(t[0]), std::stoull(t[1]));
  }
  const bool progress = o.progress == "always" || (o.progress == "auto" && ::isatty(STDOUT_FILENO));
  std::vector<BenchResult> results;

  auto finish = [&](int rc) {
    if (!o.json.empty() && !nvobj::bench::write_json(o.json, results)) rc = 1;
    std::string md = markdown(results);
    if (!o.markdown_file.empty()) std::ofstream(o.markdown_file) << md;
    if (!o.recovery) std::printf("\n%s", md.c_str());
    return rc;
  };

  if (o.recovery) {
    int rc = measure_recovery(o, first, &results);
    if (!o.json.empty() && !nvobj::bench::write_json(o.json, results)) rc = 1;
    return rc;
  }

  // --- targets --------------------------------------------------------------
  EmbeddedOptions eo;
  eo.base_dir = o.dir;
  eo.stage_dir = o.stage_dir;
  int64_t max_records = first.record_count;
  for (const WorkloadSpec& s : specs) {
    max_records +=
        static_cast<int64_t>(static_cast<double>(s.operation_count) * s.insert_proportion *
                             static_cast<double>(thread_counts.size() * o.rounds));
  }
  eo.pool_bytes = pool_bytes_for(first, max_records);
  if (!o.pool_size.empty()) {
    auto sz = nvobj::parse_size(o.pool_size);
    if (!sz) {
      std::fprintf(stderr, "nvobj-bench: bad --pool-size\n");
      return 2;
    }
    eo.pool_bytes = *sz;
  }
  std::vector<std::unique_ptr<Target>> targets;
  for (const std::string& b : split(o.backends, ',')) {
    auto t = open_embedded_target(b, eo);
    if (!t) {
      std::fprintf(stderr, "nvobj-bench: %s: %s\n", b.c_str(), t.status().to_string().c_str());
      return 1;
    }
    targets.push_back(std::move(*t));
  }
  for (const std::string& s : o.servers) {
    auto t = open_network_target(s, !o.no_flush && !o.no_load);
    if (!t) {
      std::fprintf(stderr, "nvobj-bench: %s\n", t.status().to_string().c_str());
      return 1;
    }
    targets.push_back(std::move(*t));
  }
  auto close_all = [&] {
    for (auto& t : targets) {
      if (Status st = t->close(); !st)
        std::fprintf(stderr, "nvobj-bench: %s\n", st.to_string().c_str());
    }
  };

  // --- load -----------------------------------------------------------------
  std::vector<int64_t> present(targets.size(), first.record_count);
  if (!o.no_load) {
    for (size_t i = 0; i < targets.size(); ++i) {
      Target& t = *targets[i];
      RunOptions ro;
      ro.threads = o.load_threads;
      ro.seed = o.seed;
      ro.progress = progress;
      ro.load_pipeline = t.embedded() ? 1 : o.load_pipeline;
      auto before = t.stats();
      PhaseResult r = run_load(t, first, 0, first.record_count, ro);
      if (Status st = t.finish_load(); !st) r.error = st.to_string();
      results.push_back(to_result(r, t, before, t.stats(), o.seed));
      if (!r.error.empty()) {
        std::fprintf(stderr, "nvobj-bench: %s load: %s\n", t.label().c_str(), r.error.c_str());
        close_all();
        return finish(1);
      }
      std::printf("%-14s load      %10lld records  %10.0f ops/s\n", t.label().c_str(),
                  static_cast<long long>(r.ops()), results.back().ops_per_sec);
      std::fflush(stdout);
    }
  }

  // --- runs, interleaved over the targets -----------------------------------
  int rc = 0;
  // Every run (workload, thread count, round) draws its own random stream,
  // the same on every target. Reusing one stream would replay the previous
  // run's updates, which write values the records already hold: nvobj skips
  // such writes (no fence), which flattered a second run with the same seed.
  uint64_t run_index = 0;
  for (const WorkloadSpec& spec : specs) {
    for (int threads : thread_counts) {
      std::vector<std::vector<BenchResult>> rounds(targets.size());
      for (int round = 0; round < o.rounds && rc == 0; ++round) {
        ++run_index;
        for (size_t i = 0; i < targets.size(); ++i) {
          Target& t = *targets[i];
          WorkloadSpec run = spec;
          run.record_count = present[i];
          run.insert_count = 0;
          RunOptions ro;
          ro.threads = threads;
          ro.seed = o.seed + (run_index - 1) * 1'000'003;
          ro.progress = progress;
          ro.max_seconds = o.max_seconds;
          auto before = t.stats();
          PhaseResult r = run_operations(t, run, ro);
          present[i] = r.records_after;
          rounds[i].push_back(to_result(r, t, before, t.stats(), ro.seed));
          const BenchResult& b = rounds[i].back();
          std::printf(
              "%-14s %-9s %2d thr %10llu ops  %10.0f ops/s  p99 %8.1f us%s\n", t.label().c_str(),
              display_name(spec.name).c_str(), threads, static_cast<unsigned long long>(b.ops),
              b.ops_per_sec, b.p99_ns / 1000,
              b.fences_per_op ? fmt::format("  {:.2f} fences/op", *b.fences_per_op).c_str() : "");
          std::fflush(stdout);
          if (!r.error.empty()) {
            std::fprintf(stderr, "nvobj-bench: %s %s: %s\n", t.label().c_str(), spec.name.c_str(),
                         r.error.c_str());
            rc = 1;
            break;
          }
        }
      }
      for (auto& rs : rounds) {
        if (rs.empty()) continue;
        std::vector<double> all;
        for (const auto& r : rs) all.push_back(r.ops_per_sec);
        std::sort(rs.begin(), rs.end(), [](const BenchResult& a, const BenchResult& b) {
          return a.ops_per_sec < b.ops_per_sec;
        });
        BenchResult med = rs[rs.size() / 2];
        if (rs.size() > 1) {
          med.extra["rounds"] = static_cast<double>(rs.size());
          med.extra["ops_per_sec_min"] = rs.front().ops_per_sec;
          med.extra["ops_per_sec_max"] = rs.back().ops_per_sec;
        }
        results.push_back(std::move(med));
      }
    }
  }
  close_all();
  return finish(rc);
}
