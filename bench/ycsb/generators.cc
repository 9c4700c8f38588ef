#include "bench/ycsb/generators.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nvobj::ycsb {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

int64_t fnvhash64(int64_t v) {
  // Java arithmetic: 64-bit wrap-around multiplication, arithmetic shift of
  // the (signed) input. Unsigned arithmetic gives the same bits.
  constexpr uint64_t kOffsetBasis = 0xCBF29CE484222325ull;
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t hash = kOffsetBasis;
  auto val = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) {
    uint64_t octet = val & 0xff;
    val = static_cast<uint64_t>(static_cast<int64_t>(val) >> 8);
    hash ^= octet;
    hash *= kPrime;
  }
  auto h = static_cast<int64_t>(hash);
  if (h == std::numeric_limits<int64_t>::min()) return h;  // Math.abs leaves it
  return h < 0 ? -h : h;
}

int32_t java_string_hash(std::string_view s) {
  // Java hashes UTF-16 code units; YCSB keys are ASCII, where bytes and code
  // units agree.
  uint32_t h = 0;
  for (char c : s) h = 31 * h + static_cast<unsigned char>(c);
  return static_cast<int32_t>(h);
}

ZipfianGenerator::ZipfianGenerator(int64_t min, int64_t max, double constant)
    : ZipfianGenerator(min, max, constant, zeta(0, max - min + 1, constant, 0)) {}

ZipfianGenerator::ZipfianGenerator(int64_t min, int64_t max, double constant, double zetan)
    : items_(max - min + 1),
      base_(min),
      theta_(constant),
      zeta2theta_(zeta(0, 2, constant, 0)),
      alpha_(1.0 / (1.0 - constant)),
      zetan_(zetan),
      count_for_zeta_(items_) {
  eta_ = (1 - std::pow(2.0 / static_cast<double>(items_), 1 - theta_)) / (1 - zeta2theta_ / zetan_);
}

double ZipfianGenerator::zeta(int64_t st, int64_t n, double theta, double initial) {
  double sum = initial;
  for (int64_t i = st; i < n; ++i) sum += 1 / std::pow(static_cast<double>(i + 1), theta);
  return sum;
}

int64_t ZipfianGenerator::next_long(Rng& rng, int64_t item_count) {
  if (item_count > count_for_zeta_) {
    // As YCSB: extend zeta to the new count; eta keeps using items_ (the
    // constructor's count), which is YCSB's arithmetic, quirk included.
    zetan_ = zeta(count_for_zeta_, item_count, theta_, zetan_);
    count_for_zeta_ = item_count;
    eta_ =
        (1 - std::pow(2.0 / static_cast<double>(items_), 1 - theta_)) / (1 - zeta2theta_ / zetan_);
  }
  double u = rng.next_double();
  double uz = u * zetan_;
  if (uz < 1.0) return base_;
  if (uz < 1.0 + std::pow(0.5, theta_)) return base_ + 1;
  auto ret =
      static_cast<int64_t>(static_cast<double>(item_count) * std::pow(eta_ * u - eta_ + 1, alpha_));
  // u < 1 keeps ret below item_count in exact arithmetic; rounding could
  // reach it for u within an ulp of 1.
  return base_ + std::min(ret, item_count - 1);
}

ScrambledZipfianGenerator::ScrambledZipfianGenerator(int64_t min, int64_t max)
    : min_(min),
      item_count_(max - min + 1),
      gen_(0, kItemCount, ZipfianGenerator::kZipfianConstant, kZetan) {}

int64_t ScrambledZipfianGenerator::next(Rng& rng) {
  int64_t r = gen_.next(rng);
  int64_t h = fnvhash64(r);
  // Java's % keeps the sign; fnvhash64 is negative only for Long.MIN_VALUE
  // (probability 2^-64), which we fold onto the range instead.
  int64_t m = h % item_count_;
  if (m < 0) m += item_count_;
  return min_ + m;
}

AcknowledgedCounterGenerator::AcknowledgedCounterGenerator(int64_t start)
    : counter_(start), limit_(start - 1), window_(static_cast<size_t>(kWindow), 0) {}

bool AcknowledgedCounterGenerator::acknowledge(int64_t value) {
  constexpr int64_t kMask = kWindow - 1;
  std::lock_guard lock(mu_);
  int64_t limit = limit_.load(std::memory_order_relaxed);
  if (value <= limit) return true;  // acknowledged twice: nothing to do
  if (value - limit > kWindow) return false;
  window_[static_cast<size_t>(value & kMask)] = 1;
  while (window_[static_cast<size_t>((limit + 1) & kMask)] != 0) {
    window_[static_cast<size_t>((limit + 1) & kMask)] = 0;
    ++limit;
  }
  limit_.store(limit, std::memory_order_release);
  return true;
}

SkewedLatestGenerator::SkewedLatestGenerator(const AcknowledgedCounterGenerator& basis)
    // YCSB: new ZipfianGenerator(basis.lastValue()), i.e. items 0..last-1.
    // At least one item, so that a store of one record still works.
    : basis_(&basis), zipfian_(0, std::max<int64_t>(basis.last_value(), 1) - 1) {}

int64_t SkewedLatestGenerator::next(Rng& rng) {
  int64_t max = basis_->last_value();
  return max - zipfian_.next_long(rng, std::max<int64_t>(max, 1));
}

HotspotGenerator::HotspotGenerator(int64_t lo, int64_t hi, double hot_data, double hot_opn)
    : lo_(lo), hot_opn_(hot_opn) {
  hot_data = std::clamp(hot_data, 0.0, 1.0);
  int64_t interval = hi - lo + 1;
  hot_interval_ = static_cast<int64_t>(static_cast<double>(interval) * hot_data);
  cold_interval_ = interval - hot_interval_;
}

int64_t HotspotGenerator::next(Rng& rng) const {
  bool hot = rng.next_double() < hot_opn_;
  if ((hot && hot_interval_ > 0) || cold_interval_ == 0) {
    return lo_ + static_cast<int64_t>(rng.next_below(static_cast<uint64_t>(hot_interval_)));
  }
  return lo_ + hot_interval_ +
         static_cast<int64_t>(rng.next_below(static_cast<uint64_t>(cold_interval_)));
}

ExponentialGenerator::ExponentialGenerator(double percentile, double range)
    : gamma_(-std::log(1.0 - percentile / 100.0) / range) {}

int64_t ExponentialGenerator::next(Rng& rng) const {
  // 1 - u is in (0, 1]: log never sees 0.
  return static_cast<int64_t>(-std::log(1.0 - rng.next_double()) / gamma_);
}

}  // namespace nvobj::ycsb
