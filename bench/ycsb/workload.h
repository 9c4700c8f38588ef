// A YCSB core workload: its settings (WorkloadSpec, from the properties of a
// workload file, with YCSB's names and defaults), key names, and the
// per-thread choosers of keys, fields, lengths and operations.
#ifndef NVOBJ_BENCH_YCSB_WORKLOAD_H_
#define NVOBJ_BENCH_YCSB_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "bench/ycsb/generators.h"
#include "bench/ycsb/properties.h"
#include "runtime/status.h"

namespace nvobj::ycsb {

enum class Op : uint8_t { kRead, kUpdate, kInsert, kScan, kReadModifyWrite };
inline constexpr int kOpKinds = 5;
// "read", "update", "insert", "scan", "rmw" (JSON keys and table columns).
std::string_view op_name(Op op);

struct WorkloadSpec {
  std::string name;  // e.g. "workloada" (the file's name)
  int64_t record_count = 1000;
  int64_t operation_count = 1000;
  double read_proportion = 0.95;
  double update_proportion = 0.05;
  double insert_proportion = 0;
  double scan_proportion = 0;
  double read_modify_write_proportion = 0;
  std::string request_distribution = "uniform";
  int64_t field_count = 10;
  int64_t field_length = 100;
  int64_t min_field_length = 1;
  std::string field_length_distribution = "constant";
  bool read_all_fields = true;
  bool write_all_fields = false;
  int64_t min_scan_length = 1;
  int64_t max_scan_length = 1000;
  std::string scan_length_distribution = "uniform";
  bool ordered_inserts = false;  // insertorder=ordered; YCSB's default is hashed
  int64_t insert_start = 0;
  int64_t insert_count = 0;  // 0: record_count - insert_start
  int zero_padding = 1;
  double hotspot_data_fraction = 0.2;
  double hotspot_opn_fraction = 0.8;
  double exponential_percentile = 95;
  double exponential_frac = 0.8571428571;
  double max_execution_seconds = 0;  // maxexecutiontime; 0: none

  // Reads YCSB's property names; unknown distributions and out-of-range
  // values are kInvalidArgument. Properties it does not model (db, table,
  // measurementtype...) are ignored, as YCSB ignores those of other bindings.
  static Result<WorkloadSpec> from_properties(const Properties& p, std::string name);

  // Keys the run phase's choosers draw from: [insert_start, +key_range()).
  int64_t key_range() const {
    return insert_count > 0 ? insert_count : record_count - insert_start;
  }
  // Bytes of a record's field values (fieldcount x fieldlength, constant).
  int64_t record_bytes() const { return field_count * field_length; }
};

// YCSB's CoreWorkload.buildKeyName: "user" + zero padding + the key number,
// hashed with fnvhash64 unless inserts are ordered.
std::string build_key_name(int64_t keynum, int zero_padding, bool ordered);

// Picks the key number of each read, update, scan and read-modify-write
// (YCSB's keychooser + nextKeynum). Cheap to copy: each thread copies one
// built up front (a `latest` chooser's Zipfian computes zeta in O(records)).
class KeyChooser {
 public:
  // `inserts` hands out and acknowledges insert key numbers (its
  // last_value() bounds the keys picked); spec.record_count is how many
  // records exist when the run starts.
  static Result<KeyChooser> make(const WorkloadSpec& spec,
                                 const AcknowledgedCounterGenerator& inserts,
                                 std::shared_ptr<SequentialGenerator> sequential);
  int64_t next(Rng& rng);

 private:
  using Gen =
      std::variant<UniformGenerator, ScrambledZipfianGenerator, SkewedLatestGenerator,
                   HotspotGenerator, ExponentialGenerator, std::shared_ptr<SequentialGenerator>>;
  KeyChooser(Gen gen, const AcknowledgedCounterGenerator& inserts)
      : gen_(std::move(gen)), inserts_(&inserts) {}
  Gen gen_;
  const AcknowledgedCounterGenerator* inserts_;
};

// Field lengths (fieldlengthdistribution) and scan lengths
// (scanlengthdistribution): constant, uniform or zipfian over a range.
class LengthChooser {
 public:
  static LengthChooser constant(int64_t n) { return LengthChooser(n); }
  static LengthChooser uniform(int64_t lo, int64_t hi) {
    return LengthChooser(UniformGenerator(lo, hi));
  }
  static LengthChooser zipfian(int64_t lo, int64_t hi) {
    return LengthChooser(ZipfianGenerator(lo, hi));
  }
  int64_t next(Rng& rng);

 private:
  using Gen = std::variant<int64_t, UniformGenerator, ZipfianGenerator>;
  explicit LengthChooser(Gen g) : gen_(std::move(g)) {}
  Gen gen_;
};

Result<LengthChooser> make_field_length_chooser(const WorkloadSpec& spec);
Result<LengthChooser> make_scan_length_chooser(const WorkloadSpec& spec);
// The operation mix, in YCSB's order (read, update, insert, scan, rmw).
DiscreteGenerator<Op> make_operation_chooser(const WorkloadSpec& spec);

// Random printable field values, as YCSB's RandomByteIterator makes: slices
// of one random buffer, so that generating a value costs a copy, not a
// random draw per byte (which would be most of an in-memory operation).
class ValueSource {
 public:
  explicit ValueSource(uint64_t seed, size_t bytes = size_t{4} << 20);
  // `len` bytes (len <= the buffer's size), at a random offset.
  std::string_view value(Rng& rng, size_t len) const;

 private:
  std::string buf_;
};

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_WORKLOAD_H_
