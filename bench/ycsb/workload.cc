#include "bench/ycsb/workload.h"

#include <fmt/format.h>

namespace nvobj::ycsb {

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kRead: return "read";
    case Op::kUpdate: return "update";
    case Op::kInsert: return "insert";
    case Op::kScan: return "scan";
    case Op::kReadModifyWrite: return "rmw";
  }
  return "?";
}

Result<WorkloadSpec> WorkloadSpec::from_properties(const Properties& p, std::string name) {
  WorkloadSpec s;
  s.name = std::move(name);
  NVOBJ_ASSIGN_OR_RETURN(s.record_count, p.get_int("recordcount", s.record_count));
  NVOBJ_ASSIGN_OR_RETURN(s.operation_count, p.get_int("operationcount", s.operation_count));
  NVOBJ_ASSIGN_OR_RETURN(s.read_proportion, p.get_double("readproportion", s.read_proportion));
  NVOBJ_ASSIGN_OR_RETURN(s.update_proportion,
                         p.get_double("updateproportion", s.update_proportion));
  NVOBJ_ASSIGN_OR_RETURN(s.insert_proportion,
                         p.get_double("insertproportion", s.insert_proportion));
  NVOBJ_ASSIGN_OR_RETURN(s.scan_proportion, p.get_double("scanproportion", s.scan_proportion));
  NVOBJ_ASSIGN_OR_RETURN(s.read_modify_write_proportion,
                         p.get_double("readmodifywriteproportion", s.read_modify_write_proportion));
  s.request_distribution = p.get("requestdistribution", s.request_distribution);
  NVOBJ_ASSIGN_OR_RETURN(s.field_count, p.get_int("fieldcount", s.field_count));
  NVOBJ_ASSIGN_OR_RETURN(s.field_length, p.get_int("fieldlength", s.field_length));
  NVOBJ_ASSIGN_OR_RETURN(s.min_field_length, p.get_int("minfieldlength", s.min_field_length));
  s.field_length_distribution = p.get("fieldlengthdistribution", s.field_length_distribution);
  NVOBJ_ASSIGN_OR_RETURN(s.read_all_fields, p.get_bool("readallfields", s.read_all_fields));
  NVOBJ_ASSIGN_OR_RETURN(s.write_all_fields, p.get_bool("writeallfields", s.write_all_fields));
  NVOBJ_ASSIGN_OR_RETURN(s.min_scan_length, p.get_int("minscanlength", s.min_scan_length));
  NVOBJ_ASSIGN_OR_RETURN(s.max_scan_length, p.get_int("maxscanlength", s.max_scan_length));
  s.scan_length_distribution = p.get("scanlengthdistribution", s.scan_length_distribution);
  std::string order = p.get("insertorder", "hashed");
  if (order != "hashed" && order != "ordered") {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("insertorder must be hashed or ordered, not '{}'", order));
  }
  s.ordered_inserts = order == "ordered";
  NVOBJ_ASSIGN_OR_RETURN(s.insert_start, p.get_int("insertstart", s.insert_start));
  NVOBJ_ASSIGN_OR_RETURN(s.insert_count, p.get_int("insertcount", 0));
  int64_t padding = 0;
  NVOBJ_ASSIGN_OR_RETURN(padding, p.get_int("zeropadding", s.zero_padding));
  s.zero_padding = static_cast<int>(padding);
  NVOBJ_ASSIGN_OR_RETURN(s.hotspot_data_fraction,
                         p.get_double("hotspotdatafraction", s.hotspot_data_fraction));
  NVOBJ_ASSIGN_OR_RETURN(s.hotspot_opn_fraction,
                         p.get_double("hotspotopnfraction", s.hotspot_opn_fraction));
  NVOBJ_ASSIGN_OR_RETURN(s.exponential_percentile,
                         p.get_double("exponential.percentile", s.exponential_percentile));
  NVOBJ_ASSIGN_OR_RETURN(s.exponential_frac, p.get_double("exponential.frac", s.exponential_frac));
  NVOBJ_ASSIGN_OR_RETURN(s.max_execution_seconds,
                         p.get_double("maxexecutiontime", s.max_execution_seconds));

  auto bad = [](std::string what) { return Status(StatusCode::kInvalidArgument, std::move(what)); };
  if (s.record_count <= 0) return bad("recordcount must be positive");
  if (s.operation_count < 0) return bad("operationcount must not be negative");
  if (s.field_count <= 0 || s.field_count > 1'000'000) return bad("fieldcount must be 1..10^6");
  if (s.field_length < 0 || s.min_field_length < 0 || s.min_field_length > s.field_length)
    return bad("need 0 <= minfieldlength <= fieldlength");
  if (s.min_scan_length < 1 || s.max_scan_length < s.min_scan_length)
    return bad("need 1 <= minscanlength <= maxscanlength");
  if (s.insert_start < 0 || s.insert_count < 0 || s.insert_start + s.key_range() > s.record_count)
    return bad("recordcount must be at least insertstart + insertcount");
  for (double v : {s.read_proportion, s.update_proportion, s.insert_proportion, s.scan_proportion,
                   s.read_modify_write_proportion}) {
    if (v < 0) return bad("operation proportions must not be negative");
  }
  if (make_operation_chooser(s).empty()) return bad("every operation proportion is 0");
  return s;
}

std::string build_key_name(int64_t keynum, int zero_padding, bool ordered) {
  if (!ordered) keynum = fnvhash64(keynum);
  std::string digits = std::to_string(keynum);
  std::string key = "user";
  for (int i = static_cast<int>(digits.size()); i < zero_padding; ++i) key.push_back('0');
  return key + digits;
}

Result<KeyChooser> KeyChooser::make(const WorkloadSpec& spec,
                                    const AcknowledgedCounterGenerator& inserts,
                                    std::shared_ptr<SequentialGenerator> sequential) {
  const std::string& d = spec.request_distribution;
  const int64_t lo = spec.insert_start;
  const int64_t hi = spec.insert_start + spec.key_range() - 1;
  if (d == "uniform") return KeyChooser(UniformGenerator(lo, hi), inserts);
  if (d == "zipfian") {
    // As YCSB: the range includes the keys this run is expected to insert
    // (twice the insert share, a fudge factor), so that popularity does not
    // shift as inserts land; picks beyond the last insert are redrawn.
    auto expected_new = static_cast<int64_t>(static_cast<double>(spec.operation_count) *
                                             spec.insert_proportion * 2.0);
    return KeyChooser(
        ScrambledZipfianGenerator(lo, spec.insert_start + spec.key_range() + expected_new),
        inserts);
  }
  if (d == "latest") return KeyChooser(SkewedLatestGenerator(inserts), inserts);
  if (d == "hotspot") {
    return KeyChooser(
        HotspotGenerator(lo, hi, spec.hotspot_data_fraction, spec.hotspot_opn_fraction), inserts);
  }
  if (d == "exponential") {
    return KeyChooser(
        ExponentialGenerator(spec.exponential_percentile,
                             static_cast<double>(spec.record_count) * spec.exponential_frac),
        inserts);
  }
  if (d == "sequential") {
    if (!sequential) sequential = std::make_shared<SequentialGenerator>(lo, hi);
    return KeyChooser(std::move(sequential), inserts);
  }
  return Status(StatusCode::kInvalidArgument, fmt::format("unknown requestdistribution '{}'", d));
}

int64_t KeyChooser::next(Rng& rng) {
  if (auto* e = std::get_if<ExponentialGenerator>(&gen_)) {
    // YCSB: a distance back from the latest insert; redrawn if before key 0.
    for (;;) {
      int64_t k = inserts_->last_value() - e->next(rng);
      if (k >= 0) return k;
    }
  }
  for (;;) {
    int64_t k = std::visit(
        [&](auto& g) -> int64_t {
          using G = std::decay_t<decltype(g)>;
          if constexpr (std::is_same_v<G, std::shared_ptr<SequentialGenerator>>) {
            return g->next();
          } else if constexpr (std::is_same_v<G, ExponentialGenerator>) {
            return 0;  // handled above
          } else {
            return g.next(rng);
          }
        },
        gen_);
    // A key whose insert has not been acknowledged may not exist yet.
    if (k <= inserts_->last_value()) return k;
  }
}

int64_t LengthChooser::next(Rng& rng) {
  return std::visit(
      [&](auto& g) -> int64_t {
        using G = std::decay_t<decltype(g)>;
        if constexpr (std::is_same_v<G, int64_t>) {
          return g;
        } else {
          return g.next(rng);
        }
      },
      gen_);
}

Result<LengthChooser> make_field_length_chooser(const WorkloadSpec& spec) {
  const std::string& d = spec.field_length_distribution;
  if (d == "constant") return LengthChooser::constant(spec.field_length);
  if (d == "uniform") return LengthChooser::uniform(spec.min_field_length, spec.field_length);
  if (d == "zipfian") return LengthChooser::zipfian(spec.min_field_length, spec.field_length);
  return Status(StatusCode::kInvalidArgument,
                fmt::format("fieldlengthdistribution '{}' is not supported "
                            "(constant, uniform or zipfian)",
                            d));
}

Result<LengthChooser> make_scan_length_chooser(const WorkloadSpec& spec) {
  const std::string& d = spec.scan_length_distribution;
  if (d == "uniform") return LengthChooser::uniform(spec.min_scan_length, spec.max_scan_length);
  if (d == "zipfian") return LengthChooser::zipfian(spec.min_scan_length, spec.max_scan_length);
  return Status(
      StatusCode::kInvalidArgument,
      fmt::format("scanlengthdistribution '{}' is not supported (uniform or zipfian)", d));
}

DiscreteGenerator<Op> make_operation_chooser(const WorkloadSpec& spec) {
  DiscreteGenerator<Op> g;
  g.add(Op::kRead, spec.read_proportion);
  g.add(Op::kUpdate, spec.update_proportion);
  g.add(Op::kInsert, spec.insert_proportion);
  g.add(Op::kScan, spec.scan_proportion);
  g.add(Op::kReadModifyWrite, spec.read_modify_write_proportion);
  return g;
}

ValueSource::ValueSource(uint64_t seed, size_t bytes) : buf_(bytes, ' ') {
  Rng rng(seed);
  // Printable ASCII, as YCSB's RandomByteIterator produces.
  for (char& c : buf_) c = static_cast<char>(' ' + rng.next_below(95));
}

std::string_view ValueSource::value(Rng& rng, size_t len) const {
  size_t start = rng.next_below(buf_.size() - len + 1);
  return std::string_view(buf_).substr(start, len);
}

}  // namespace nvobj::ycsb
