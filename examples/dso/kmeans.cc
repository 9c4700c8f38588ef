// nvobj-dso-kmeans: k-means by worker processes sharing one
// kmeans.GlobalCentroids object (examples/modules/kmeans.cc) on nvobj-dso,
// as in Crucial's k-means. run_kmeans.py runs it against a local server.
//
// Each worker owns a part of the points (generated from the seed and its
// id). Per iteration it reads the iteration's starting centroids, assigns
// its points to the nearest, merges its partial means and counts into the
// shared object (update), waits at the iteration's barrier for every
// worker's update, and advances the object to the next iteration (advance
// acts once, whoever calls it first).
//
// A worker may be killed at any point and started again with the same
// arguments: it reads the object's iteration and goes on from there. Its
// update and advance are IDEMPOTENT calls with its own caller id and call
// ids from the iteration number (2i and 2i+1), so a repeat after a restart
// is answered from the object's record instead of merging twice. A
// restarted worker may arrive at a barrier that already tripped (its first
// arrival did trip it): it would wait alone, so it waits in slices and
// stops waiting once the object's iteration moved past the barrier's
// (every worker advances right after passing it). The worker that merges
// an iteration's last update appends "<iteration> <updates> <points>" to
// the list <key>.history, so that a run can be checked: each iteration
// merged every worker's update once.
//
//   nvobj-dso-kmeans worker --port P --id 0 --workers 3 [--points 2000 --k 4 --dims 2 ...]
//   nvobj-dso-kmeans result --port P --k 4 --dims 2       -> iteration, centroids, history
//   nvobj-dso-kmeans reference --workers 3 ...            -> the same k-means, sequential
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dso-backend/client/client.h"

namespace {

constexpr char kType[] = "kmeans.GlobalCentroids";

struct Params {
  int workers = 3;
  int points = 2000;  // per worker
  int k = 4;
  int dims = 2;
  int iterations = 10;
  uint64_t seed = 1;
};

// Points of worker w around k well-separated centres (10*j + d, unit noise).
std::vector<double> points_of(const Params& p, int w) {
  std::mt19937_64 rng(p.seed * 7919 + static_cast<uint64_t>(w) + 1);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> out;
  out.reserve(static_cast<size_t>(p.points) * p.dims);
  for (int i = 0; i < p.points; ++i) {
    int blob = (i * p.workers + w) % p.k;
    for (int d = 0; d < p.dims; ++d) out.push_back(10.0 * blob + d + noise(rng));
  }
  return out;
}

// Starting centroids: each centre moved by up to 4 in every dimension,
// from the seed alone, so that the run converges to the known centres.
std::vector<double> initial_centroids(const Params& p) {
  std::mt19937_64 rng(p.seed);
  std::uniform_real_distribution<double> shift(-4.0, 4.0);
  std::vector<double> c;
  for (int j = 0; j < p.k; ++j)
    for (int d = 0; d < p.dims; ++d) c.push_back(10.0 * j + d + shift(rng));
  return c;
}

// One worker's partial result against centroids: per cluster the mean of
// its points there (0 if none) and how many there were.
struct Partial {
  std::vector<double> means;
  std::vector<int64_t> counts;
};

Partial assign(const Params& p, const std::vector<double>& pts, const std::vector<double>& c) {
  Partial r{std::vector<double>(c.size(), 0.0), std::vector<int64_t>(p.k, 0)};
  for (size_t i = 0; i < pts.size(); i += p.dims) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (int j = 0; j < p.k; ++j) {
      double d2 = 0;
      for (int d = 0; d < p.dims; ++d) {
        double diff = pts[i + d] - c[static_cast<size_t>(j) * p.dims + d];
        d2 += diff * diff;
      }
      if (d2 < best_d) best_d = d2, best = j;
    }
    for (int d = 0; d < p.dims; ++d) r.means[static_cast<size_t>(best) * p.dims + d] += pts[i + d];
    ++r.counts[best];
  }
  for (int j = 0; j < p.k; ++j)
    for (int d = 0; d < p.dims; ++d)
      if (r.counts[j] > 0)
        r.means[static_cast<size_t>(j) * p.dims + d] /= static_cast<double>(r.counts[j]);
  return r;
}

void print_centroids(const std::vector<double>& c) {
  std::printf("centroids");
  for (double v : c) std::printf(" %.17g", v);
  std::printf("\n");
}

void event(int id, const char* what, int64_t iteration) {
  std::printf("worker %d %s %lld\n", id, what, static_cast<long long>(iteration));
  std::fflush(stdout);  // the driver acts on these lines as they come
}

int run_worker(nvobj::dso::Client& client, const std::string& key, const Params& p, int id) {
  auto reader = client.object(kType, key);
  // The caller id is the worker's, so that a restarted worker is the same
  // caller; call ids come from the iteration (2i: update, 2i+1: advance).
  auto writer = client.object(kType, key).idempotent("worker-" + std::to_string(id), 0);
  reader.create(p.k, p.dims, initial_centroids(p));  // the first worker's creates it
  std::vector<double> pts = points_of(p, id);
  int64_t it = reader.call("iteration").as_integer();
  event(id, "joined", it);
  while (it < p.iterations) {
    std::vector<double> start = reader.call("start").as_doubles();
    event(id, "started", it);
    Partial part = assign(p, pts, start);
    int64_t merged = writer.call_with_id(2 * it, "update", part.means, part.counts).as_integer();
    if (merged >= p.workers) {
      // The iteration's last update (none can follow before the barrier):
      // record how many updates and points were merged, which the driver
      // checks (a worker's update merged twice would show here).
      int64_t sum = 0;
      for (const std::string& c : reader.call("counts").as_strings()) sum += std::stoll(c);
      client.list(key + ".history")
          .push(std::to_string(it) + " " + std::to_string(merged) + " " + std::to_string(sum));
    }
    event(id, "updated", it);
    auto barrier = client.barrier(key + ".barrier." + std::to_string(it), p.workers);
    for (;;) {
      try {
        barrier.await(std::chrono::milliseconds(500));
        break;
      } catch (const nvobj::dso::TimeoutError&) {
        if (reader.call("iteration").as_integer() > it) break;  // it tripped without us
      }
    }
    event(id, "passed", it);
    it = writer.call_with_id(2 * it + 1, "advance", it).as_integer();
  }
  event(id, "done", it);
  return 0;
}

// The same iterations in one process: every worker's partial result merged
// in worker order, as the object merges them (count-weighted sums).
std::vector<double> reference(const Params& p) {
  std::vector<double> c = initial_centroids(p);
  std::vector<std::vector<double>> pts;
  for (int w = 0; w < p.workers; ++w) pts.push_back(points_of(p, w));
  for (int it = 0; it < p.iterations; ++it) {
    std::vector<double> sums(c.size(), 0.0);
    std::vector<int64_t> counts(p.k, 0);
    for (int w = 0; w < p.workers; ++w) {
      Partial part = assign(p, pts[w], c);
      for (int j = 0; j < p.k; ++j) {
        for (int d = 0; d < p.dims; ++d) {
          size_t i = static_cast<size_t>(j) * p.dims + d;
          sums[i] += part.means[i] * static_cast<double>(part.counts[j]);
        }
        counts[j] += part.counts[j];
      }
    }
    for (size_t i = 0; i < c.size(); ++i)
      if (counts[i / p.dims] > 0) c[i] = sums[i] / static_cast<double>(counts[i / p.dims]);
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nvobj-dso-kmeans: k-means workers sharing kmeans.GlobalCentroids"};
  app.require_subcommand(1);
  nvobj::dso::ClientOptions options;
  options.retries = 50;
  options.retry_backoff_max = std::chrono::milliseconds(200);
  std::string key = "kmeans";
  Params p;
  int id = 0;
  app.add_option("--host", options.host, "server address")->capture_default_str();
  app.add_option("--port", options.port, "server port")->capture_default_str();
  app.add_option("--password", options.password, "server password");
  app.add_option("--key", key, "the object (and <key>.barrier.<i>)")->capture_default_str();
  app.add_option("--workers", p.workers, "workers")->check(CLI::PositiveNumber);
  app.add_option("--points", p.points, "points per worker")->check(CLI::PositiveNumber);
  app.add_option("--k", p.k, "clusters")->check(CLI::PositiveNumber);
  app.add_option("--dims", p.dims, "dimensions")->check(CLI::PositiveNumber);
  app.add_option("--iterations", p.iterations, "iterations")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", p.seed, "seed of the data and the starting centroids");
  auto* worker = app.add_subcommand("worker", "one worker (restartable)");
  worker->add_option("--id", id, "this worker, 0 .. workers-1")->required();
  auto* result = app.add_subcommand("result", "the object's iteration and centroids");
  auto* ref = app.add_subcommand("reference", "the same k-means in this process, no server");
  CLI11_PARSE(app, argc, argv);

  if (*ref) {
    print_centroids(reference(p));
    return 0;
  }
  try {
    nvobj::dso::Client client(options);
    if (*worker) return run_worker(client, key, p, id);
    if (*result) {
      auto obj = client.object(kType, key);
      std::printf("iteration %lld\n", static_cast<long long>(obj.call("iteration").as_integer()));
      print_centroids(obj.call("start").as_doubles());
      for (const std::string& h : client.list(key + ".history").range(0, -1))
        std::printf("merged %s\n", h.c_str());
    }
  } catch (const nvobj::dso::Error& e) {
    std::fprintf(stderr, "nvobj-dso-kmeans: %s\n", e.what());
    return 1;
  }
  return 0;
}
