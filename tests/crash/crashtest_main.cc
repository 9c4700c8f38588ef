// nvobj-crashtest: runs the crash workloads under the power-failure simulator.
//
//   nvobj-crashtest                      quick mode, every workload (CI)
//   nvobj-crashtest --soak 20            20 rounds, 4x larger workloads, new seeds
//   nvobj-crashtest --workload run-log --seed 7 --fence 12 --image 5   replay
//   nvobj-crashtest --list
//
// Ends with "crash images checked: N, violations: V"; exits 1 on violations
// (in the deliberately broken workloads, only when named explicitly).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tests/crash/harness.h"
#include "tests/crash/workloads.h"

// An escaping exception terminates with its message, which is what a CLI wants.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-crashtest: crash-consistency tests under a power-failure simulator"};
  std::string only = "all";
  int soak = 0;
  bool list = false;
  nvobj::crash::CrashOptions o;
  o.random_images = 16;  // quick mode: >= 10,000 images across the workloads
  uint64_t fence = 0;
  int image = -1;
  int scale = 0;
  app.add_option("--workload", only, "workload name, or all")->capture_default_str();
  app.add_option("--soak", soak, "soak rounds (bigger workloads, a new seed per round)");
  app.add_option("--seed", o.seed, "seed of the random images")->capture_default_str();
  app.add_option("--images", o.random_images, "random images per crash point")
      ->capture_default_str();
  app.add_option("--sample", o.sample, "fraction of fences that are crash points")
      ->capture_default_str();
  app.add_option("--fence", fence, "replay: only this crash point");
  app.add_option("--image", image, "replay: only this image of it");
  app.add_option("--scale", scale, "operations per workload, x quick mode (soak: 4)");
  app.add_option("--dir", o.dir, "where the pool and images live")->capture_default_str();
  app.add_flag("--list", list, "list workloads");
  CLI11_PARSE(app, argc, argv);
  if (fence != 0) o.only_fence = fence;
  if (image >= 0) o.only_image = image;

  int rounds = soak > 0 ? soak : 1;
  if (scale <= 0) scale = soak > 0 ? 4 : 1;
  if (scale != 1) o.replay_args = fmt::format("--scale {}", scale);
  if (soak > 0) o.random_images = std::max(o.random_images, 16);
  uint64_t images = 0, violations = 0;
  bool ran = false;
  for (int round = 0; round < rounds; ++round) {
    nvobj::crash::CrashOptions ro = o;
    ro.seed = o.seed + static_cast<uint64_t>(round);
    for (const auto& rw : nvobj::crash::all_workloads(scale)) {
      const auto& w = rw.workload;
      if (list) {
        if (round == 0)
          std::printf("%-32s %zu ops%s\n", w.name.c_str(), w.ops,
                      rw.expects_violations ? "  (deliberately broken)" : "");
        continue;
      }
      if (only == "all" ? rw.expects_violations : w.name != only) continue;
      ran = true;
      auto r = nvobj::crash::run_crash_test(w, ro);
      images += r.images;
      violations += r.violation_count;
      std::printf("%-32s seed %llu: %llu fences, %llu crash points, %llu images, %llu violations\n",
                  w.name.c_str(), static_cast<unsigned long long>(ro.seed),
                  static_cast<unsigned long long>(r.fences),
                  static_cast<unsigned long long>(r.crash_points),
                  static_cast<unsigned long long>(r.images),
                  static_cast<unsigned long long>(r.violation_count));
      for (const auto& v : r.violations) std::printf("  VIOLATION %s\n", v.c_str());
    }
  }
  if (list) return 0;
  if (!ran) {
    std::fprintf(stderr, "nvobj-crashtest: no workload named '%s' (see --list)\n", only.c_str());
    return 2;
  }
  std::printf("%s\n", nvobj::crash::summary_line(images, violations).c_str());
  return violations == 0 ? 0 : 1;
}
