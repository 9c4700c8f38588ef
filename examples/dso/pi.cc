// nvobj-dso-pi: Monte Carlo estimation of pi by worker processes that share
// one counter on nvobj-dso (the C++ client, dso-backend/client). Each
// worker draws points in the unit square and adds, batch by batch, how
// many fell in the quarter circle to the shared AtomicLong <key>.hits and
// how many it drew to <key>.samples; pi is 4 * hits / samples. run_pi.py
// runs the whole thing against a local server.
//
//   nvobj-dso-pi worker --port 6379 --samples 1000000 --seed 7
//   nvobj-dso-pi result --port 6379       -> "samples 4000000 hits 3141878 pi 3.141878"
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include <CLI/CLI.hpp>

#include "dso-backend/client/client.h"

int main(int argc, char** argv) {
  CLI::App app{"nvobj-dso-pi: Monte Carlo pi on a shared nvobj-dso counter"};
  app.require_subcommand(1);
  nvobj::dso::ClientOptions options;
  std::string key = "pi";
  uint64_t samples = 1000000, batch = 10000, seed = 1;
  app.add_option("--host", options.host, "server address")->capture_default_str();
  app.add_option("--port", options.port, "server port")->capture_default_str();
  app.add_option("--password", options.password, "server password");
  app.add_option("--key", key, "counters <key>.hits and <key>.samples")->capture_default_str();
  auto* worker = app.add_subcommand("worker", "draw points, add them to the shared counters");
  worker->add_option("--samples", samples, "points to draw")->capture_default_str();
  worker->add_option("--batch", batch, "points per update of the counters")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  worker->add_option("--seed", seed, "random seed of this worker")->capture_default_str();
  auto* result = app.add_subcommand("result", "print the shared counters and the estimate");
  CLI11_PARSE(app, argc, argv);

  try {
    nvobj::dso::Client client(options);
    auto hits = client.atomic_long(key + ".hits");
    auto drawn = client.atomic_long(key + ".samples");
    if (*worker) {
      std::mt19937_64 rng(seed);
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      for (uint64_t done = 0; done < samples;) {
        uint64_t n = std::min(batch, samples - done), in = 0;
        for (uint64_t i = 0; i < n; ++i) {
          double x = unit(rng), y = unit(rng);
          if (x * x + y * y <= 1.0) ++in;
        }
        // Hits first: a reader that sees samples also sees their hits.
        hits.add_and_get(static_cast<int64_t>(in));
        drawn.add_and_get(static_cast<int64_t>(n));
        done += n;
      }
    } else if (*result) {
      int64_t s = drawn.get(), h = hits.get();
      std::printf("samples %lld hits %lld pi %.6f\n", static_cast<long long>(s),
                  static_cast<long long>(h), s > 0 ? 4.0 * static_cast<double>(h) / s : 0.0);
    }
  } catch (const nvobj::dso::Error& e) {
    std::fprintf(stderr, "nvobj-dso-pi: %s\n", e.what());
    return 1;
  }
  return 0;
}
