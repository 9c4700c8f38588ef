// nvobj-bench-dso-barrier: latency of back-to-back barriers on nvobj-dso
// through the C++ client (dso-backend/client). C threads, one connection
// each, await the same barrier of C parties B times in a row. A barrier's
// latency is the time between two successive trips, taken when the last
// party's await returned: one full cycle of every client re-arriving, the
// trip, and every client's reply. Prints one JSON object (the figures
// scripts/bench-dso-objects puts in bench/results/dso_objects.json).
//
//   nvobj-bench-dso-barrier --port P --clients 16 --barriers 1000 [--persistent]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/common/bench_result.h"
#include "dso-backend/client/client.h"

int main(int argc, char** argv) {
  CLI::App app{"nvobj-bench-dso-barrier: back-to-back barrier latency on nvobj-dso"};
  nvobj::dso::ClientOptions options;
  int clients = 16, barriers = 1000;
  bool persistent = false;
  std::string key = "bench.barrier";
  app.add_option("--host", options.host, "server address")->capture_default_str();
  app.add_option("--port", options.port, "server port")->required();
  app.add_option("--clients", clients, "parties, one thread and connection each")
      ->check(CLI::Range(1, 4096));
  app.add_option("--barriers", barriers, "barriers measured")->check(CLI::PositiveNumber);
  app.add_option("--key", key, "the barrier's key (deleted first)")->capture_default_str();
  app.add_flag("--persistent", persistent, "a persistent barrier (its generation in the pool)");
  CLI11_PARSE(app, argc, argv);

  using Clock = std::chrono::steady_clock;
  options.pool_size = static_cast<size_t>(clients);
  options.command_timeout = std::chrono::milliseconds(0);
  try {
    nvobj::dso::Client client(options);
    client.remove(key);
    auto barrier = client.barrier(
        key, clients,
        persistent ? nvobj::dso::Persistence::kPersistent : nvobj::dso::Persistence::kEphemeral);
    // returned[c][g]: when client c's await of generation g returned.
    // Generation 0 is a warm-up (every connection open) and not measured.
    std::vector<std::vector<Clock::time_point>> returned(
        clients, std::vector<Clock::time_point>(barriers + 1));
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        for (int g = 0; g <= barriers; ++g) {
          barrier.await();
          returned[c][g] = Clock::now();
        }
      });
    for (auto& t : threads) t.join();
    std::vector<Clock::time_point> last(barriers + 1);
    for (int g = 0; g <= barriers; ++g)
      for (int c = 0; c < clients; ++c) last[g] = std::max(last[g], returned[c][g]);
    std::vector<double> ns;
    for (int g = 1; g <= barriers; ++g)
      ns.push_back(std::chrono::duration<double, std::nano>(last[g] - last[g - 1]).count());
    double seconds = std::chrono::duration<double>(last[barriers] - last[0]).count();
    std::printf(
        "{\"clients\": %d, \"barriers\": %d, \"persistent\": %s, \"seconds\": %.6f, "
        "\"mean_ns\": %.0f, \"p50_ns\": %.0f, \"p99_ns\": %.0f, \"max_ns\": %.0f}\n",
        clients, barriers, persistent ? "true" : "false", seconds, seconds * 1e9 / barriers,
        nvobj::bench::percentile(ns, 50), nvobj::bench::percentile(ns, 99),
        *std::max_element(ns.begin(), ns.end()));
    client.remove(key);
  } catch (const nvobj::dso::Error& e) {
    std::fprintf(stderr, "nvobj-bench-dso-barrier: %s\n", e.what());
    return 1;
  }
  return 0;
}
