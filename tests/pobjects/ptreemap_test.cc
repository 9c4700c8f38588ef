// PTreeMap: ordered reads (range, range_down, first/last, floor/ceiling,
// lower/higher) against a std::map model under random operations, across
// restarts; costs (one fence per update, none per read, ordered or not).
#include "pobjects/ptreemap.h"

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class PTreeMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("t.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = PTreeMap::create(*store_);
    store_->set_root("t", map_);
  }
  void reopen() {
    map_ = {};
    store_.reset();
    auto s = open_store(dir_.file("t.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = store_->root<PTreeMap>("t");
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PTreeMap> map_;
};

using Model = std::map<std::string, std::string>;

std::vector<MapItem> model_range(const Model& m, std::string_view from,
                                 std::optional<std::string_view> to, size_t limit) {
  std::vector<MapItem> out;
  for (auto it = m.lower_bound(std::string(from)); it != m.end() && out.size() < limit; ++it) {
    if (to && it->first >= *to) break;
    out.push_back({it->first, it->second, 0});
  }
  return out;
}

std::optional<MapItem> as_item(const Model& m, Model::const_iterator it) {
  if (it == m.end()) return std::nullopt;
  return MapItem{it->first, it->second, 0};
}

TEST_F(PTreeMapTest, OrderedReadsMatchAModelAcrossRestarts) {
  std::mt19937_64 rng(7);
  Model model;
  auto key = [&] { return fmt::format("k{:03}", rng() % 300); };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; ++i) {
      std::string k = key();
      switch (rng() % 4) {
        case 0:
        case 1: {
          std::string v = std::string(rng() % 200, static_cast<char>('a' + rng() % 26));
          map_->put(k, v);
          model[k] = v;
          break;
        }
        case 2: EXPECT_EQ(map_->remove(k), model.erase(k) == 1); break;
        case 3: {
          std::string k2 = key();
          auto [lo, hi] = std::minmax(k, k2);
          size_t limit = rng() % 20;
          ASSERT_EQ(map_->range(lo, hi, limit), model_range(model, lo, hi, limit));
          break;
        }
      }
    }
    EXPECT_EQ(map_->size(), model.size());
    ASSERT_EQ(map_->range(""), model_range(model, "", std::nullopt, SIZE_MAX));
    std::vector<MapItem> down = map_->range_down(std::nullopt);
    std::reverse(down.begin(), down.end());
    ASSERT_EQ(down, model_range(model, "", std::nullopt, SIZE_MAX));
    EXPECT_EQ(map_->first(), as_item(model, model.begin()));
    EXPECT_EQ(map_->last(), model.empty() ? std::nullopt : as_item(model, std::prev(model.end())));
    for (int i = 0; i < 200; ++i) {
      std::string k = key();
      auto ge = model.lower_bound(k), gt = model.upper_bound(k);
      EXPECT_EQ(map_->ceiling(k), as_item(model, ge)) << k;
      EXPECT_EQ(map_->higher(k), as_item(model, gt)) << k;
      EXPECT_EQ(map_->floor(k), gt == model.begin() ? std::nullopt : as_item(model, std::prev(gt)))
          << k;
      EXPECT_EQ(map_->lower(k), ge == model.begin() ? std::nullopt : as_item(model, std::prev(ge)))
          << k;
    }
    reopen();
    ASSERT_EQ(map_->range(""), model_range(model, "", std::nullopt, SIZE_MAX));
  }
}

TEST_F(PTreeMapTest, RangeDownStopsAtItsBound) {
  for (int i = 0; i < 10; ++i) map_->put(fmt::format("k{}", i), std::to_string(i));
  std::vector<MapItem> got = map_->range_down("k7", "k3", 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "k7");
  EXPECT_EQ(got[2].key, "k5");
  EXPECT_EQ(map_->range_down("k7", "k5").size(), 2u);  // k7, k6
  EXPECT_TRUE(map_->range("k3", "k3").empty());
  EXPECT_EQ(map_->floor("k"), std::nullopt);      // every key is > "k"
  EXPECT_EQ(map_->ceiling("k99"), std::nullopt);  // "k99" > "k9", the last key
  EXPECT_EQ(map_->ceiling("k10")->key, "k2");     // byte order: "k10" < "k2"
}

TEST_F(PTreeMapTest, OneFencePerUpdateNonePerOrderedRead) {
  for (int i = 0; i < 100; ++i) map_->put(fmt::format("w{:03}", i), "v");
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 500; ++i) map_->put(fmt::format("k{:03}", i), std::string(50, 'x'));
  PersistCounters mid = thread_persist_counters();
  EXPECT_EQ(mid.fences - before.fences, 500u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(map_->range(fmt::format("k{:03}", i), std::nullopt, 10).size(), 10u);
    EXPECT_TRUE(map_->floor(fmt::format("k{:03}x", i)).has_value());
    EXPECT_TRUE(map_->get(fmt::format("k{:03}", i)).has_value());
  }
  EXPECT_EQ(thread_persist_counters().fences, mid.fences);
  EXPECT_EQ(thread_persist_counters().writebacks, mid.writebacks);
}

}  // namespace
}  // namespace nvobj
