#include "bench/ycsb/runner.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/ycsb/record.h"
#include "dso-backend/baselines/baselines.h"

namespace nvobj::ycsb {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

uint64_t seed_for(uint64_t seed, std::string_view phase, std::string_view workload, int thread) {
  uint64_t h = seed * 0x9E3779B97F4A7C15ull;
  for (char c : phase) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  for (char c : workload) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h ^ (static_cast<uint64_t>(thread + 1) * 0xD1B54A32D192ED03ull);
}

// What the threads of one phase share.
struct Shared {
  std::atomic<uint64_t> claimed{0};  // operations (or load keys) handed out
  std::atomic<uint64_t> done{0};     // for the progress bar, updated in chunks
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::mutex mu;
  std::string error;

  void fail(const std::string& why) {
    std::lock_guard lock(mu);
    if (error.empty()) error = why;
    stop = true;
  }
};

// Redraws a progress line on the terminal four times a second.
class Progress {
 public:
  Progress(bool enabled, std::string what, uint64_t total, double max_seconds, const Shared& s)
      : enabled_(enabled), what_(std::move(what)), total_(total), max_seconds_(max_seconds), s_(s) {
    if (enabled_) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() {
    if (!enabled_) return;
    {
      std::lock_guard lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::printf("\r\033[K");
    std::fflush(stdout);
  }

 private:
  void loop() {
    auto start = Clock::now();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return finished_; })) {
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      uint64_t done = s_.done.load(std::memory_order_relaxed);
      double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 0;
      if (max_seconds_ > 0) frac = std::max(frac, secs / max_seconds_);
      frac = std::clamp(frac, 0.0, 1.0);
      constexpr int kWidth = 30;
      int filled = static_cast<int>(frac * kWidth);
      std::printf("\r\033[K%s [%s%s] %3.0f%% %llu ops, %.0f ops/s", what_.c_str(),
                  std::string(static_cast<size_t>(filled), '#').c_str(),
                  std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), frac * 100,
                  static_cast<unsigned long long>(done),
                  secs > 0 ? static_cast<double>(done) / secs : 0.0);
      std::fflush(stdout);
    }
  }

  bool enabled_;
  std::string what_;
  uint64_t total_;
  double max_seconds_;
  const Shared& s_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
};

// Runs body(thread index, client) on `threads` threads once all have
// connected; returns the wall time from the common start to the last end.
template <typename Body>
double run_threads(Target& target, int threads, Shared& shared, const Body& body) {
  Clock::time_point start{};
  std::vector<std::thread> pool;
  std::vector<Clock::time_point> ends(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto client = target.connect();
      shared.ready.fetch_add(1);
      if (!client) {
        shared.fail(client.status().to_string());
        return;
      }
      while (!shared.go.load(std::memory_order_acquire)) std::this_thread::yield();
      try {
        body(t, **client);
      } catch (const std::exception& e) {
        shared.fail(e.what());
      }
      ends[static_cast<size_t>(t)] = Clock::now();
    });
  }
  while (shared.ready.load() < threads) std::this_thread::yield();
  start = Clock::now();
  shared.go.store(true, std::memory_order_release);
  for (auto& th : pool) th.join();
  Clock::time_point end = start;
  for (auto e : ends) end = std::max(end, e);
  return std::chrono::duration<double>(end - start).count();
}

void build_record(const WorkloadSpec& spec, const ValueSource& values, LengthChooser& lengths,
                  Rng& rng, std::string* rec) {
  rec->clear();
  for (int64_t f = 0; f < spec.field_count; ++f)
    append_field(rec, values.value(rng, static_cast<size_t>(lengths.next(rng))));
}

size_t value_buffer_bytes(const WorkloadSpec& spec) {
  return std::max<size_t>(size_t{4} << 20, static_cast<size_t>(spec.field_length) * 4);
}

}  // namespace

PhaseResult run_load(Target& target, const WorkloadSpec& spec, int64_t first, int64_t count,
                     const RunOptions& options) {
  PhaseResult res;
  res.phase = "load";
  res.spec = spec;
  res.threads = options.threads;
  Shared shared;
  const ValueSource values(options.seed ^ 0x5eed, value_buffer_bytes(spec));
  const auto field_lengths = make_field_length_chooser(spec);
  if (!field_lengths) {
    res.error = field_lengths.status().to_string();
    return res;
  }
  std::vector<OpStats> stats(static_cast<size_t>(options.threads));
  const bool counts = target.counts_persistence();
  const auto batch = static_cast<uint64_t>(std::max(1, options.load_pipeline));
  {
    Progress progress(options.progress, fmt::format("{} load", target.label()),
                      static_cast<uint64_t>(count), 0, shared);
    res.seconds = run_threads(target, options.threads, shared, [&](int t, DbClient& db) {
      Rng rng(seed_for(options.seed, "load", spec.name, t));
      LengthChooser lengths = *field_lengths;
      OpStats& st = stats[static_cast<size_t>(t)];
      std::vector<std::pair<std::string, std::string>> recs;
      while (!shared.stop.load(std::memory_order_relaxed)) {
        uint64_t k = shared.claimed.fetch_add(batch);
        if (k >= static_cast<uint64_t>(count)) break;
        uint64_t n = std::min<uint64_t>(batch, static_cast<uint64_t>(count) - k);
        recs.resize(n);
        for (uint64_t i = 0; i < n; ++i) {
          recs[i].first = build_key_name(first + static_cast<int64_t>(k + i), spec.zero_padding,
                                         spec.ordered_inserts);
          build_record(spec, values, lengths, rng, &recs[i].second);
        }
        PersistCounters c0 = counts ? thread_persist_counters() : PersistCounters{};
        auto t0 = Clock::now();
        size_t ok = 0;
        try {
          ok = n == 1 ? (db.insert(recs[0].first, recs[0].second) ? 1 : 0) : db.insert_batch(recs);
        } catch (const dso::StorageError& e) {
          shared.fail(fmt::format("load stopped: {}", e.what()));
        }
        auto t1 = Clock::now();
        if (counts) st.persist += thread_persist_counters() - c0;
        uint64_t per = ns_between(t0, t1) / n;
        for (uint64_t i = 0; i < n; ++i) st.latency.record(per);
        st.ops += n;
        st.failed += n - ok;
        shared.done.fetch_add(n, std::memory_order_relaxed);
      }
    });
  }
  res.error = shared.error;
  for (const OpStats& s : stats) {
    res.per_op[static_cast<size_t>(Op::kInsert)].merge(s);
    res.all.merge(s);
  }
  res.records_after = first + count;
  return res;
}

PhaseResult run_operations(Target& target, const WorkloadSpec& spec, const RunOptions& options) {
  PhaseResult res;
  res.phase = "run";
  res.spec = spec;
  res.threads = options.threads;
  Shared shared;
  AcknowledgedCounterGenerator inserts(spec.record_count);
  auto keys = KeyChooser::make(spec, inserts, nullptr);
  auto field_lengths = make_field_length_chooser(spec);
  auto scan_lengths = make_scan_length_chooser(spec);
  for (const Status* st : {&keys.status(), &field_lengths.status(), &scan_lengths.status()}) {
    if (!st->is_ok()) {
      res.error = st->to_string();
      return res;
    }
  }
  const DiscreteGenerator<Op> ops = make_operation_chooser(spec);
  const ValueSource values(options.seed ^ 0x5eed, value_buffer_bytes(spec));
  const UniformGenerator field_chooser(0, spec.field_count - 1);
  const bool counts = target.counts_persistence();
  const auto op_count = static_cast<uint64_t>(spec.operation_count);
  const double max_seconds =
      options.max_seconds > 0 ? options.max_seconds : spec.max_execution_seconds;
  std::vector<std::array<OpStats, kOpKinds>> stats(static_cast<size_t>(options.threads));
  {
    Progress progress(options.progress, fmt::format("{} {}", target.label(), spec.name), op_count,
                      max_seconds, shared);
    const auto deadline =
        Clock::now() + std::chrono::microseconds(static_cast<int64_t>(max_seconds * 1e6));
    res.seconds = run_threads(target, options.threads, shared, [&](int t, DbClient& db) {
      Rng rng(seed_for(options.seed, "run", spec.name, t));
      KeyChooser key_chooser = *keys;
      LengthChooser flen = *field_lengths;
      LengthChooser slen = *scan_lengths;
      auto& st = stats[static_cast<size_t>(t)];
      std::vector<std::string> fields;
      std::vector<std::vector<std::string>> rows;
      std::string key, rec;
      constexpr uint64_t kChunk = 16;
      uint64_t budget = 0, since_check = 0;
      while (true) {
        if (budget == 0) {
          if (shared.stop.load(std::memory_order_relaxed)) break;
          uint64_t k = shared.claimed.fetch_add(kChunk);
          if (op_count > 0 && k >= op_count) break;
          budget = op_count > 0 ? std::min(kChunk, op_count - k) : kChunk;
          shared.done.fetch_add(budget, std::memory_order_relaxed);  // progress, roughly
        }
        if (max_seconds > 0 && ++since_check == 32) {
          since_check = 0;
          if (Clock::now() >= deadline) {
            shared.stop = true;
            break;
          }
        }
        --budget;
        const Op op = ops.next(rng);
        int64_t keynum = op == Op::kInsert ? inserts.next() : key_chooser.next(rng);
        key = build_key_name(keynum, spec.zero_padding, spec.ordered_inserts);
        int64_t read_field = spec.read_all_fields ? -1 : field_chooser.next(rng);
        int64_t write_field = -1;
        std::string_view value;
        if (op == Op::kUpdate || op == Op::kReadModifyWrite || op == Op::kInsert) {
          if (op == Op::kInsert || spec.write_all_fields) {
            build_record(spec, values, flen, rng, &rec);
            value = rec;
          } else {
            write_field = field_chooser.next(rng);
            value = values.value(rng, static_cast<size_t>(flen.next(rng)));
          }
        }
        int64_t scan_len = op == Op::kScan ? slen.next(rng) : 0;

        PersistCounters c0 = counts ? thread_persist_counters() : PersistCounters{};
        auto t0 = Clock::now();
        bool ok = false;
        try {
          switch (op) {
            case Op::kRead: ok = db.read(key, read_field, &fields); break;
            case Op::kUpdate: ok = db.update(key, write_field, value); break;
            case Op::kInsert: ok = db.insert(key, value); break;
            case Op::kScan: ok = db.scan(key, scan_len, read_field, &rows); break;
            case Op::kReadModifyWrite:
              ok = db.read(key, read_field, &fields) && db.update(key, write_field, value);
              break;
          }
        } catch (const dso::StorageError&) {
          ok = false;  // a full pool or disk: counted, the run goes on
        }
        auto t1 = Clock::now();
        if (op == Op::kInsert && !inserts.acknowledge(keynum))
          shared.fail("more than 2^20 inserts outstanding");
        OpStats& s = st[static_cast<size_t>(op)];
        if (counts) s.persist += thread_persist_counters() - c0;
        s.latency.record(ns_between(t0, t1));
        ++s.ops;
        if (!ok) ++s.failed;
      }
    });
  }
  res.error = shared.error;
  for (const auto& per_thread : stats) {
    for (int i = 0; i < kOpKinds; ++i) {
      res.per_op[static_cast<size_t>(i)].merge(per_thread[static_cast<size_t>(i)]);
      res.all.merge(per_thread[static_cast<size_t>(i)]);
    }
  }
  res.records_after = inserts.last_value() + 1;
  return res;
}

}  // namespace nvobj::ycsb
