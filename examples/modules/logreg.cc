// An nvobj-dso module: the shared weights of a distributed logistic
// regression (Crucial's logistic-regression demo), type "logreg.Weights".
//
// Each worker computes, over its n samples, the mean gradient of the loss
// and adds it with its sample count; the object keeps the n-weighted sum
// and the total count, so `get` returns the gradient averaged over every
// sample all workers added since the last `reset` (the step every worker
// then applies to its copy of the weights).
//
//   DSO.NEW  logreg.Weights w <dims>
//   DSO.CALL logreg.Weights w add <dims gradient values> <n>  -> samples added so far
//   DSO.CALL logreg.Weights w get                           -> dims values (0 when none added)
//   DSO.CALL logreg.Weights w count                         -> samples added so far
//   DSO.CALL logreg.Weights w reset                         -> OK
//
// Build: see docs/dso.md, "Writing a module".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/modules/module_api.h"

namespace logreg {

using nvobj::dso::ArgError;
using nvobj::dso::Args;
using nvobj::dso::Reply;

// The tail holds the n-weighted sums, `dims` doubles (`bytes` long).
struct WeightsData {
  uint64_t dims;
  uint64_t samples;
  uint64_t bytes;
};

class Weights : public nvobj::PObject<Weights, WeightsData> {
 public:
  static constexpr std::string_view kClassName = "logreg.Weights";
  static constexpr nvobj::RefMap kRefs =
      nvobj::with_tail(nvobj::ref_map<WeightsData>(), nvobj::TailKind::kBytes,
                       offsetof(WeightsData, bytes), sizeof(WeightsData));
  static constexpr int64_t kMaxDims = int64_t{1} << 20;
  using PObject::PObject;

  static nvobj::Ref<Weights> create(nvobj::Store& s, const Args& a) {
    a.expect(1);
    int64_t dims = a.integer(0);
    if (dims < 1 || dims > kMaxDims) throw ArgError("dims must be 1 to 1048576");
    uint64_t bytes = static_cast<uint64_t>(dims) * 8;
    return s.make_with_tail<Weights>(bytes, static_cast<uint64_t>(dims), uint64_t{0}, bytes);
  }

  // add <dims values> <n>: checked whole before anything is written.
  Reply add(const Args& a) {
    uint64_t dims = get(&Data::dims);
    a.expect(dims + 1);
    std::vector<double> g(dims);
    for (uint64_t i = 0; i < dims; ++i) g[i] = a.number(i);
    int64_t n = a.integer(dims);
    if (n < 1) throw ArgError("n must be at least 1");
    std::vector<double> sums = read_sums();
    for (uint64_t i = 0; i < dims; ++i) sums[i] += g[i] * static_cast<double>(n);
    write_tail(0, sums.data(), sums.size() * 8);
    uint64_t samples = get(&Data::samples) + static_cast<uint64_t>(n);
    set(&Data::samples, samples);
    return nvobj::dso::integer_reply(static_cast<int64_t>(samples));
  }

  Reply mean(const Args& a) const {
    a.expect(0);
    auto samples = static_cast<double>(get(&Data::samples));
    std::vector<std::string> out;
    for (double v : read_sums())
      out.push_back(nvobj::dso::format_double(samples > 0 ? v / samples : 0.0));
    return nvobj::dso::array_reply(std::move(out));
  }

  Reply count(const Args& a) const {
    a.expect(0);
    return nvobj::dso::integer_reply(static_cast<int64_t>(get(&Data::samples)));
  }

  Reply reset(const Args& a) {
    a.expect(0);
    std::vector<double> zero(get(&Data::dims), 0.0);
    write_tail(0, zero.data(), zero.size() * 8);
    set(&Data::samples, uint64_t{0});
    return nvobj::dso::ok_reply();
  }

 private:
  std::vector<double> read_sums() const {
    std::vector<double> v(get(&Data::dims));
    read_tail(0, v.data(), v.size() * 8);
    return v;
  }
};

}  // namespace logreg

NVOBJ_DSO_MODULE(logreg, registrar) {
  using logreg::Weights;
  using nvobj::dso::Args;
  registrar.add_type<Weights>()
      .constructor(&Weights::create)
      .method("add", [](Weights& w, const Args& a) { return w.add(a); })
      .method("get", [](Weights& w, const Args& a) { return w.mean(a); })
      .method("count", [](Weights& w, const Args& a) { return w.count(a); })
      .method("reset", [](Weights& w, const Args& a) { return w.reset(a); });
}
