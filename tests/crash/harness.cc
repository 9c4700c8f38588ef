#include "tests/crash/harness.h"

#include <unistd.h>

#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "runtime/log.h"
#include "runtime/pool_check.h"

namespace nvobj::crash {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Picks the lines (and their versions, possibly torn at 8-byte words) that a
// random image contains. Deterministic in (seed, fence, image).
std::vector<PowerFailureSimulator::Choice> random_choices(const std::vector<CandidateLine>& cands,
                                                          uint64_t seed, uint64_t fence, int image,
                                                          const char* persisted_base) {
  std::mt19937_64 rng(mix(seed ^ mix(fence) ^ mix(static_cast<uint64_t>(image) << 32)));
  std::vector<PowerFailureSimulator::Choice> out;
  for (const CandidateLine& c : cands) {
    if (rng() % 2 == 0) continue;
    const Line& v = c.versions[rng() % c.versions.size()];
    PowerFailureSimulator::Choice ch{c.offset, v};
    if (rng() % 4 == 0) {  // torn: each 8-byte word old or new
      for (size_t w = 0; w < kCacheLine / 8; ++w)
        if (rng() % 2 == 0)
          std::memcpy(ch.content.data() + w * 8, persisted_base + c.offset + w * 8, 8);
    }
    out.push_back(ch);
  }
  return out;
}

class Runner {
 public:
  Runner(const Workload& w, const CrashOptions& o) : w_(w), o_(o) {}

  CrashReport run();

 private:
  void crash_point(uint64_t fence);
  void check_image(uint64_t fence, int image, const std::vector<PowerFailureSimulator::Choice>& c);
  void violation(uint64_t fence, int image, const std::string& what);

  const Workload& w_;
  const CrashOptions& o_;
  PowerFailureSimulator* sim_ = nullptr;
  std::string image_path_;
  size_t completed_ = 0;
  CrashReport report_;
};

void Runner::violation(uint64_t fence, int image, const std::string& what) {
  ++report_.violation_count;
  if (report_.violations.size() >= o_.max_violations) return;
  report_.violations.push_back(
      fmt::format("{}: crash at fence {} (ops completed: {}), image {}: {}\n  replay: "
                  "build/bin/nvobj-crashtest "
                  "--workload {} --seed {} --fence {} --image {}{}{}",
                  w_.name, fence, completed_, image, what, w_.name, o_.seed, fence, image,
                  o_.replay_args.empty() ? "" : " ", o_.replay_args));
}

void Runner::check_image(uint64_t fence, int image,
                         const std::vector<PowerFailureSimulator::Choice>& choices) {
  if (o_.only_image && *o_.only_image != image) return;
  sim_->apply(choices);
  ++report_.images;
  OpenOptions oo;
  oo.mode = Mode::kEmulated;
  oo.private_mapping = true;
  oo.max_size = 1;  // no growth: reserve only the pool
  // On a thread of its own: this one is inside the workload's fence, and
  // its thread-local state (objects not yet published, a group commit's
  // deferred work) belongs to the workload's store, which a check that
  // writes to the image must not touch.
  std::thread([&] {
    auto pool = Pool::open(image_path_, oo);
    if (!pool) {
      violation(fence, image, "the image does not open: " + pool.status().to_string());
    } else {
      PoolCheckReport r = check_pool_bytes((*pool)->base(), (*pool)->size());
      if (!r.clean()) violation(fence, image, "pool check: " + r.problems.front());
      Status s = w_.check(**pool, completed_);
      if (!s) violation(fence, image, s.to_string());
    }
  }).join();
  sim_->revert();
}

void Runner::crash_point(uint64_t fence) {
  if (o_.only_fence && *o_.only_fence != fence) return;
  if (!o_.only_fence && o_.sample < 1.0 &&
      static_cast<double>(mix(o_.seed ^ mix(fence)) >> 11) * 0x1.0p-53 >= o_.sample)
    return;
  ++report_.crash_points;
  std::vector<CandidateLine> pending = sim_->candidates(true, false);
  std::vector<CandidateLine> all = sim_->candidates(true, true);
  check_image(fence, 0, {});
  auto everything = [](const std::vector<CandidateLine>& cands) {
    std::vector<PowerFailureSimulator::Choice> out;
    for (const CandidateLine& c : cands) out.push_back({c.offset, c.versions.back()});
    return out;
  };
  if (!pending.empty()) check_image(fence, 1, everything(pending));
  if (all.size() > pending.size() || (!all.empty() && pending.empty()))
    check_image(fence, 2, everything(all));
  if (all.empty()) return;
  for (int i = 0; i < o_.random_images; ++i) {
    int image = kFixedImages + i;
    if (o_.only_image && *o_.only_image != image) continue;
    check_image(fence, image, random_choices(all, o_.seed, fence, image, sim_->persisted()));
  }
}

CrashReport Runner::run() {
  std::string tag = fmt::format("{}/nvobj-crash-{}-{}", o_.dir, ::getpid(), w_.name);
  std::string working = tag + ".pool";
  image_path_ = tag + ".image";
  ::unlink(working.c_str());
  CreateOptions co;
  co.size = w_.pool_size;
  co.mode = Mode::kEmulated;
  auto pool_or = Pool::create(working, co);
  if (!pool_or) {
    report_.violations.push_back("cannot create the working pool: " + pool_or.status().to_string());
    ++report_.violation_count;
    return report_;
  }
  std::unique_ptr<Pool> pool = std::move(pool_or).value();
  w_.setup(*pool);

  PowerFailureSimulator sim(working, image_path_);
  sim_ = &sim;
  sim.set_crash_point_callback([this](uint64_t fence) { crash_point(fence); });
  if (Status s = pool->set_persist_backend({PersistBackend::kHook, &sim}); !s) {
    report_.violations.push_back(s.to_string());
    ++report_.violation_count;
    return report_;
  }
  Context ctx(&pool, &sim, working);
  try {
    for (size_t i = 0; i < w_.ops; ++i) {
      completed_ = i;
      w_.op(ctx, i);
      completed_ = i + 1;
    }
  } catch (const std::exception& e) {
    ++report_.violation_count;
    report_.violations.push_back(
        fmt::format("{}: operation {} failed: {}", w_.name, completed_, e.what()));
    try {
      w_.finish(ctx);
    } catch (const std::exception&) {
    }
    pool.reset();  // closes through the simulator, which must still exist
    ::unlink(working.c_str());
    return report_;
  }
  // A crash after the last operation returned: everything must be there.
  crash_point(kCrashAfterOps);
  w_.finish(ctx);
  if (w_.close_at_end) {
    (void)pool->close();
    sim.on_detach();
    crash_point(kCrashAfterClose);
  }
  report_.fences = sim.fences();
  pool.reset();
  ::unlink(working.c_str());
  return report_;
}

}  // namespace

Status Context::reopen() {
  NVOBJ_RETURN_IF_ERROR((*pool_)->close());
  sim_->on_detach();
  pool_->reset();
  OpenOptions oo;
  oo.mode = Mode::kEmulated;
  oo.persist = {PersistBackend::kHook, sim_};
  auto p = Pool::open(path_, oo);
  if (!p) return p.status();
  *pool_ = std::move(p).value();
  return Status::ok();
}

CrashReport run_crash_test(const Workload& w, const CrashOptions& opts) {
  // Every image open would log; keep the output to the report.
  std::string level = spdlog::level::to_string_view(log().level()).data();
  set_log_level("error");
  CrashReport r = Runner(w, opts).run();
  set_log_level(level);
  return r;
}

std::string summary_line(uint64_t images, uint64_t violations) {
  return fmt::format("crash images checked: {}, violations: {}", images, violations);
}

}  // namespace nvobj::crash
