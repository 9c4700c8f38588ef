// The number generators of YCSB's core workload, with YCSB's constants and
// arithmetic, so that a workload file means the same key popularity here as
// in YCSB:
//
//   uniform     UniformGenerator (UniformLongGenerator)
//   zipfian     ScrambledZipfianGenerator: a Zipfian(0.99) draw over 10^10
//               items with YCSB's precomputed zeta (26.46902820178302),
//               hashed (FNV-64) onto the key range, so the popular keys are
//               scattered rather than clustered at the low key numbers
//   latest      SkewedLatestGenerator: Zipfian distance back from the most
//               recently acknowledged insert
//   hotspot     HotspotGenerator
//   sequential  SequentialGenerator
//   exponential ExponentialGenerator
//
// and the insert counters (CounterGenerator, AcknowledgedCounterGenerator).
//
// Randomness is explicit: every draw takes the calling thread's Rng, so runs
// are reproducible from a seed and generators hold no hidden shared state.
// Generators with state that grows (the Zipfian's zeta for `latest`) are
// values that each thread copies; only the counters are shared.
#ifndef NVOBJ_BENCH_YCSB_GENERATORS_H_
#define NVOBJ_BENCH_YCSB_GENERATORS_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace nvobj::ycsb {

__extension__ typedef unsigned __int128 Uint128;  // NOLINT(modernize-use-using)

// xoshiro256** seeded through splitmix64: fast, and good enough for
// workload generation (YCSB itself uses ThreadLocalRandom).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next_u64();
  // Uniform in [0, 1), 53 random bits.
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t next_below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<Uint128>(next_u64()) * n) >> 64);
  }

 private:
  uint64_t s_[4];
};

// YCSB's Utils.fnvhash64: FNV-1 over the 8 bytes of `v`, low byte first,
// then Math.abs (so Long.MIN_VALUE stays negative, as in Java).
int64_t fnvhash64(int64_t v);
// Java's String.hashCode (the score YCSB's Redis binding indexes keys by).
int32_t java_string_hash(std::string_view s);

// UniformLongGenerator: uniform in [lo, hi].
class UniformGenerator {
 public:
  UniformGenerator(int64_t lo, int64_t hi) : lo_(lo), n_(static_cast<uint64_t>(hi - lo + 1)) {}
  int64_t next(Rng& rng) const { return lo_ + static_cast<int64_t>(rng.next_below(n_)); }

 private:
  int64_t lo_;
  uint64_t n_;
};

// YCSB's ZipfianGenerator (Gray et al., "Quickly Generating Billion-Record
// Synthetic Databases", SIGMOD'94): item `min` is the most popular, then
// min+1, and so on. The item count may grow between draws (next_long with a
// larger count): zeta is then extended incrementally, as YCSB does.
class ZipfianGenerator {
 public:
  static constexpr double kZipfianConstant = 0.99;
  // Computes zeta(max - min + 1) (O(items)).
  ZipfianGenerator(int64_t min, int64_t max, double constant = kZipfianConstant);
  // With zeta(max - min + 1) already known.
  ZipfianGenerator(int64_t min, int64_t max, double constant, double zetan);

  // A draw over the generator's own item count.
  int64_t next(Rng& rng) { return next_long(rng, items_); }
  // A draw over `item_count` items (YCSB's nextLong(itemcount)).
  int64_t next_long(Rng& rng, int64_t item_count);

  // sum_{i=st}^{n-1} 1 / (i+1)^theta, added to `initial` (YCSB's zetastatic).
  static double zeta(int64_t st, int64_t n, double theta, double initial);

  int64_t items() const { return items_; }
  double zetan() const { return zetan_; }

 private:
  int64_t items_;
  int64_t base_;
  double theta_;
  double zeta2theta_;
  double alpha_;
  double zetan_;
  double eta_;
  int64_t count_for_zeta_;
};

// YCSB's ScrambledZipfianGenerator over [min, max].
class ScrambledZipfianGenerator {
 public:
  static constexpr double kZetan = 26.46902820178302;  // zeta(10^10 + 1, 0.99)
  static constexpr int64_t kItemCount = 10'000'000'000;
  ScrambledZipfianGenerator(int64_t min, int64_t max);
  int64_t next(Rng& rng);

 private:
  int64_t min_;
  int64_t item_count_;
  ZipfianGenerator gen_;
};

// CounterGenerator: next() returns start, start+1, ... (shared by threads).
class CounterGenerator {
 public:
  explicit CounterGenerator(int64_t start) : counter_(start) {}
  int64_t next() { return counter_.fetch_add(1, std::memory_order_relaxed); }
  int64_t last_value() const { return counter_.load(std::memory_order_relaxed) - 1; }

 private:
  std::atomic<int64_t> counter_;
};

// AcknowledgedCounterGenerator: hands out insert key numbers; last_value()
// is the highest number below which every number has been acknowledged
// (inserted), so readers never pick a key whose insert is still running.
class AcknowledgedCounterGenerator {
 public:
  static constexpr int64_t kWindow = int64_t{1} << 20;  // YCSB's WINDOW_SIZE
  explicit AcknowledgedCounterGenerator(int64_t start);
  int64_t next() { return counter_.fetch_add(1, std::memory_order_relaxed); }
  // Marks `value` inserted and advances last_value() over every contiguous
  // acknowledged number. Returns false if `value` is more than kWindow ahead
  // of last_value() (YCSB throws: too many inserts outstanding).
  bool acknowledge(int64_t value);
  int64_t last_value() const { return limit_.load(std::memory_order_acquire); }

 private:
  std::atomic<int64_t> counter_;
  std::atomic<int64_t> limit_;
  std::mutex mu_;
  std::vector<uint8_t> window_;
};

// SkewedLatestGenerator: last_value() - Zipfian(last_value()), so the most
// recently inserted keys are the most popular.
class SkewedLatestGenerator {
 public:
  explicit SkewedLatestGenerator(const AcknowledgedCounterGenerator& basis);
  int64_t next(Rng& rng);

 private:
  const AcknowledgedCounterGenerator* basis_;
  ZipfianGenerator zipfian_;
};

// HotspotIntegerGenerator: a fraction `hot_opn` of draws falls uniformly in
// the first `hot_data` fraction of [lo, hi], the rest in the remainder.
class HotspotGenerator {
 public:
  HotspotGenerator(int64_t lo, int64_t hi, double hot_data, double hot_opn);
  int64_t next(Rng& rng) const;

 private:
  int64_t lo_;
  int64_t hot_interval_;
  int64_t cold_interval_;
  double hot_opn_;
};

// SequentialGenerator: lo, lo+1, ..., hi, lo, ... (shared by threads).
class SequentialGenerator {
 public:
  SequentialGenerator(int64_t lo, int64_t hi) : lo_(lo), n_(hi - lo + 1) {}
  int64_t next() { return lo_ + counter_.fetch_add(1, std::memory_order_relaxed) % n_; }

 private:
  int64_t lo_;
  int64_t n_;
  std::atomic<int64_t> counter_{0};
};

// ExponentialGenerator: most draws are small; `percentile` percent of them
// fall below `range`. Callers subtract it from the latest key number.
class ExponentialGenerator {
 public:
  ExponentialGenerator(double percentile, double range);
  int64_t next(Rng& rng) const;

 private:
  double gamma_;
};

// DiscreteGenerator: picks one of the added values with probability
// proportional to its weight (YCSB's operation chooser).
template <typename T>
class DiscreteGenerator {
 public:
  void add(T value, double weight) {
    if (weight <= 0) return;
    items_.push_back({value, weight});
    sum_ += weight;
  }
  bool empty() const { return items_.empty(); }
  T next(Rng& rng) const {
    double val = rng.next_double();
    for (const Item& it : items_) {
      double p = it.weight / sum_;
      if (val < p) return it.value;
      val -= p;
    }
    return items_.back().value;  // rounding left val just above the last share
  }

 private:
  struct Item {
    T value;
    double weight;
  };
  std::vector<Item> items_;
  double sum_ = 0;
};

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_GENERATORS_H_
