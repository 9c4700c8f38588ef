// An nvobj-dso module: k-means's shared centroids (Crucial's
// GlobalCentroids), type "kmeans.GlobalCentroids".
//
// Each worker clusters its part of the points against the current
// centroids, then merges its partial result: per cluster, the mean of its
// points there and how many there were. The object keeps, per cluster, the
// count-weighted sum of what the workers merged this iteration; `get` gives
// the merged centroids, and `advance` makes them the next iteration's
// starting point, which `start` returns (the same whatever was merged
// since, so a worker may read it at any time during the iteration).
// `advance <iteration>` only acts when <iteration> is the current one, so
// every worker may call it after the barrier (and retry it) and the
// iteration moves on once.
//
//   DSO.NEW  kmeans.GlobalCentroids c <k> <dims> [<k*dims initial coordinates>]
//   DSO.CALL kmeans.GlobalCentroids c update <k*dims coordinates> <k counts>  -> updates merged
//   DSO.CALL kmeans.GlobalCentroids c get                -> k*dims coordinates
//   DSO.CALL kmeans.GlobalCentroids c start              -> this iteration's starting point
//   DSO.CALL kmeans.GlobalCentroids c counts             -> k counts merged
//   DSO.CALL kmeans.GlobalCentroids c iteration          -> integer
//   DSO.CALL kmeans.GlobalCentroids c advance <iteration> -> the new iteration
//
// Build: see docs/dso.md, "Writing a module".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/modules/module_api.h"

namespace kmeans {

using nvobj::dso::ArgError;
using nvobj::dso::Args;
using nvobj::dso::Reply;

// The tail holds centroids[k*dims], sums[k*dims] (doubles) and counts[k]
// (int64), `bytes` long.
struct GlobalCentroidsData {
  uint64_t k;
  uint64_t dims;
  uint64_t iteration;
  uint64_t updates;  // merged this iteration
  uint64_t bytes;
};

class GlobalCentroids : public nvobj::PObject<GlobalCentroids, GlobalCentroidsData> {
 public:
  static constexpr std::string_view kClassName = "kmeans.GlobalCentroids";
  static constexpr nvobj::RefMap kRefs =
      nvobj::with_tail(nvobj::ref_map<GlobalCentroidsData>(), nvobj::TailKind::kBytes,
                       offsetof(GlobalCentroidsData, bytes), sizeof(GlobalCentroidsData));
  static constexpr uint64_t kMaxValues = uint64_t{1} << 20;  // k*dims
  using PObject::PObject;

  static nvobj::Ref<GlobalCentroids> create(nvobj::Store& s, const Args& a) {
    if (a.size() < 2) a.expect(2);
    int64_t k = a.integer(0), dims = a.integer(1);
    if (k < 1 || dims < 1 || k > static_cast<int64_t>(kMaxValues) ||
        dims > static_cast<int64_t>(kMaxValues) / k)
      throw ArgError("k and dims must be at least 1, k*dims at most 1048576");
    uint64_t n = static_cast<uint64_t>(k * dims);
    if (a.size() != 2 && a.size() != 2 + n)
      throw ArgError(
          "wrong number of arguments for the constructor: expected k, dims and no or "
          "all k*dims = " +
          std::to_string(n) + " initial coordinates");
    uint64_t bytes = (2 * n + static_cast<uint64_t>(k)) * 8;
    auto c = s.make_with_tail<GlobalCentroids>(bytes, static_cast<uint64_t>(k),
                                               static_cast<uint64_t>(dims), uint64_t{0},
                                               uint64_t{0}, bytes);
    if (a.size() == 2 + n) {
      std::vector<double> init(n);
      for (uint64_t i = 0; i < n; ++i) init[i] = a.number(2 + i);
      c->write_values(0, init);
    }
    return c;
  }

  // update <k*dims coordinates> <k counts>: every argument is checked before
  // anything is written.
  Reply update(const Args& a) {
    uint64_t k = get(&Data::k), n = values();
    a.expect(n + k);
    std::vector<double> coords(n);
    for (uint64_t i = 0; i < n; ++i) coords[i] = a.number(i);
    std::vector<int64_t> counts(k);
    for (uint64_t j = 0; j < k; ++j) {
      counts[j] = a.integer(n + j);
      if (counts[j] < 0) throw ArgError("counts must not be negative");
    }
    std::vector<double> sums = read_values(n, n);
    std::vector<int64_t> merged = read_counts();
    uint64_t dims = get(&Data::dims);
    for (uint64_t j = 0; j < k; ++j) {
      for (uint64_t d = 0; d < dims; ++d)
        sums[j * dims + d] += coords[j * dims + d] * static_cast<double>(counts[j]);
      merged[j] += counts[j];
    }
    write_values(n, sums);
    write_counts(merged);
    uint64_t updates = get(&Data::updates) + 1;
    set(&Data::updates, updates);
    return nvobj::dso::integer_reply(static_cast<int64_t>(updates));
  }

  Reply get_centroids(const Args& a) const {
    a.expect(0);
    return numbers_reply(merged());
  }

  Reply start(const Args& a) const {
    a.expect(0);
    return numbers_reply(read_values(0, values()));
  }

  Reply counts(const Args& a) const {
    a.expect(0);
    std::vector<std::string> out;
    for (int64_t c : read_counts()) out.push_back(std::to_string(c));
    return nvobj::dso::array_reply(std::move(out));
  }

  Reply iteration(const Args& a) const {
    a.expect(0);
    return nvobj::dso::integer_reply(static_cast<int64_t>(get(&Data::iteration)));
  }

  Reply advance(const Args& a) {
    a.expect(1);
    int64_t want = a.integer(0);
    auto now = static_cast<int64_t>(get(&Data::iteration));
    if (want > now)
      throw ArgError("iteration " + std::to_string(want) + " is ahead of the object's " +
                     std::to_string(now));
    if (want == now) {
      uint64_t n = values();
      write_values(0, merged());
      write_values(n, std::vector<double>(n, 0.0));
      write_counts(std::vector<int64_t>(get(&Data::k), 0));
      set(&Data::updates, uint64_t{0});
      set(&Data::iteration, static_cast<uint64_t>(++now));
    }
    return nvobj::dso::integer_reply(now);
  }

 private:
  static Reply numbers_reply(const std::vector<double>& v) {
    std::vector<std::string> out;
    for (double x : v) out.push_back(nvobj::dso::format_double(x));
    return nvobj::dso::array_reply(std::move(out));
  }
  uint64_t values() const { return get(&Data::k) * get(&Data::dims); }
  std::vector<double> read_values(uint64_t at, uint64_t n) const {
    std::vector<double> v(n);
    read_tail(at * 8, v.data(), n * 8);
    return v;
  }
  void write_values(uint64_t at, const std::vector<double>& v) {
    write_tail(at * 8, v.data(), v.size() * 8);
  }
  std::vector<int64_t> read_counts() const {
    std::vector<int64_t> c(get(&Data::k));
    read_tail(2 * values() * 8, c.data(), c.size() * 8);
    return c;
  }
  void write_counts(const std::vector<int64_t>& c) {
    write_tail(2 * values() * 8, c.data(), c.size() * 8);
  }
  // This iteration's centroids: the weighted mean of what was merged, or
  // the starting point for a cluster nothing was merged into.
  std::vector<double> merged() const {
    uint64_t n = values(), dims = get(&Data::dims);
    std::vector<double> c = read_values(0, n), sums = read_values(n, n);
    std::vector<int64_t> counts = read_counts();
    for (uint64_t i = 0; i < n; ++i)
      if (counts[i / dims] > 0) c[i] = sums[i] / static_cast<double>(counts[i / dims]);
    return c;
  }
};

}  // namespace kmeans

NVOBJ_DSO_MODULE(kmeans, registrar) {
  using kmeans::GlobalCentroids;
  using nvobj::dso::Args;
  registrar.add_type<GlobalCentroids>()
      .constructor(&GlobalCentroids::create)
      .method("update", [](GlobalCentroids& c, const Args& a) { return c.update(a); })
      .method("get", [](GlobalCentroids& c, const Args& a) { return c.get_centroids(a); })
      .method("start", [](GlobalCentroids& c, const Args& a) { return c.start(a); })
      .method("counts", [](GlobalCentroids& c, const Args& a) { return c.counts(a); })
      .method("iteration", [](GlobalCentroids& c, const Args& a) { return c.iteration(a); })
      .method("advance", [](GlobalCentroids& c, const Args& a) { return c.advance(a); });
}
