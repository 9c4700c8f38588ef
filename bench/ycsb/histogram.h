// A latency histogram with log-linear buckets (exact below 64 ns, then 32
// buckets per power of two: under 3% error), cheap enough to record every
// operation and merged across threads for percentiles.
#ifndef NVOBJ_BENCH_YCSB_HISTOGRAM_H_
#define NVOBJ_BENCH_YCSB_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>

namespace nvobj::ycsb {

class Histogram {
 public:
  void record(uint64_t ns) {
    ++buckets_[index(ns)];
    ++count_;
    sum_ += ns;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return count_; }
  double mean() const {
    return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_);
  }
  uint64_t max() const { return count_ == 0 ? 0 : max_; }
  // The p-th percentile (0..100): the middle of the bucket holding it,
  // clamped to the observed min and max.
  double percentile(double p) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(count_ - 1));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen > rank) {
        double mid = (static_cast<double>(lower(i)) + static_cast<double>(lower(i + 1) - 1)) / 2;
        return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSubBits = 5;  // 32 buckets per power of two
  static constexpr int kMaxExp = 46;  // up to ~19.5 hours in ns
  static constexpr size_t kBuckets = 64 + (kMaxExp - 6 + 1) * (1u << kSubBits);

  static size_t index(uint64_t v) {
    if (v < 64) return v;
    int e = std::min(63 - std::countl_zero(v), kMaxExp);
    uint64_t sub = (v >> (e - kSubBits)) & ((1u << kSubBits) - 1);
    return 64 + static_cast<size_t>(e - 6) * (1u << kSubBits) + sub;
  }
  static uint64_t lower(size_t i) {
    if (i < 64) return i;
    size_t e = (i - 64) / (1u << kSubBits) + 6;
    uint64_t sub = (i - 64) % (1u << kSubBits);
    return (uint64_t{1} << e) + (sub << (e - kSubBits));
  }

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = std::numeric_limits<uint64_t>::max();
  uint64_t max_ = 0;
};

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_HISTOGRAM_H_
