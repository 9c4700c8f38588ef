#include "bench/common/bench_result.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace nvobj::bench {

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  double rank = p / 100.0 * static_cast<double>(samples.size() - 1);
  auto lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, samples.size() - 1);
  return samples[lo] + (samples[hi] - samples[lo]) * (rank - static_cast<double>(lo));
}

bool write_json(const std::string& path, const std::vector<BenchResult>& results) {
  nlohmann::json arr = nlohmann::json::array();
  for (const BenchResult& r : results) {
    nlohmann::json j = {{"name", r.name},         {"backend", r.backend},
                        {"workload", r.workload}, {"mode", r.mode},
                        {"threads", r.threads},   {"ops", r.ops},
                        {"seconds", r.seconds},   {"ops_per_sec", r.ops_per_sec},
                        {"p50_ns", r.p50_ns},     {"p99_ns", r.p99_ns}};
    if (r.fences_per_op) j["fences_per_op"] = *r.fences_per_op;
    if (r.writebacks_per_op) j["writebacks_per_op"] = *r.writebacks_per_op;
    if (r.pool_bytes_per_record) j["pool_bytes_per_record"] = *r.pool_bytes_per_record;
    for (const auto& [k, v] : r.extra) j[k] = v;
    for (const auto& [k, v] : r.notes) j[k] = v;
    arr.push_back(std::move(j));
  }
  std::ofstream out(path);
  out << arr.dump(2) << "\n";
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

std::string markdown_table(const std::vector<BenchResult>& results) {
  std::set<std::string> extra_keys;
  for (const auto& r : results)
    for (const auto& [k, v] : r.extra) extra_keys.insert(k);
  std::string out =
      "| name | backend | mode | threads | ops/s | p50 ns | p99 ns | fences/op | wb/op |";
  std::string sep = "|---|---|---|---:|---:|---:|---:|---:|---:|";
  for (const auto& k : extra_keys) {
    out += fmt::format(" {} |", k);
    sep += "---:|";
  }
  out += "\n" + sep + "\n";
  auto opt = [](const std::optional<double>& v) {
    return v ? fmt::format("{:.2f}", *v) : std::string("-");
  };
  for (const auto& r : results) {
    out += fmt::format("| {} | {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {} | {} |", r.name,
                       r.backend, r.mode, r.threads, r.ops_per_sec, r.p50_ns, r.p99_ns,
                       opt(r.fences_per_op), opt(r.writebacks_per_op));
    for (const auto& k : extra_keys) {
      auto it = r.extra.find(k);
      out += it == r.extra.end() ? " - |" : fmt::format(" {:.3f} |", it->second);
    }
    out += "\n";
  }
  return out;
}

}  // namespace nvobj::bench
