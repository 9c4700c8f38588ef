// One benchmark measurement in the format of DESIGN.md "Benchmark results
// format", plus helpers to summarise latency samples and to write the JSON
// file and a markdown table. Every nvobj benchmark driver reports through it.
#ifndef NVOBJ_BENCH_COMMON_BENCH_RESULT_H_
#define NVOBJ_BENCH_COMMON_BENCH_RESULT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nvobj::bench {

struct BenchResult {
  std::string name;
  std::string backend;
  std::string workload;
  std::string mode;  // dax, emulated, msync, none
  int threads = 1;
  uint64_t ops = 0;
  double seconds = 0;
  double ops_per_sec = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  std::optional<double> fences_per_op;
  std::optional<double> writebacks_per_op;
  std::optional<double> pool_bytes_per_record;
  std::map<std::string, double> extra;  // driver-specific numbers, e.g. ratios
  std::map<std::string, std::string> notes;
};

// p-th percentile (0..100) of samples; sorts a copy.
double percentile(std::vector<double> samples, double p);

// Writes the array of results; returns false (and prints why) on I/O error.
bool write_json(const std::string& path, const std::vector<BenchResult>& results);
// A markdown table of the common columns, ratios included from `extra`.
std::string markdown_table(const std::vector<BenchResult>& results);

}  // namespace nvobj::bench

#endif  // NVOBJ_BENCH_COMMON_BENCH_RESULT_H_
