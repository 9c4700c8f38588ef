// PHashMap: every operation, costs (fences per operation), restarts, space,
// cleaning, owned objects and the pool checker on the maps' logs.
#include "pobjects/phashmap.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "pobjects/pcounter.h"
#include "recovery/check.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class PHashMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("m.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = PHashMap::create(*store_);
    store_->set_root("m", map_);
  }
  void reopen() {
    map_ = {};
    store_.reset();
    auto s = open_store(dir_.file("m.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = store_->root<PHashMap>("m");
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PHashMap> map_;
};

TEST_F(PHashMapTest, Operations) {
  EXPECT_TRUE(map_->put("a", "1"));
  EXPECT_FALSE(map_->put("a", "2"));
  EXPECT_EQ(map_->get("a"), "2");
  EXPECT_EQ(map_->get("zz"), std::nullopt);
  EXPECT_TRUE(map_->contains("a"));
  EXPECT_FALSE(map_->contains("b"));
  EXPECT_EQ(map_->exchange("a", "3"), "2");
  EXPECT_EQ(map_->exchange("new", "x"), std::nullopt);
  EXPECT_FALSE(map_->put_if_absent("a", "9"));
  EXPECT_TRUE(map_->put_if_absent("b", "b1"));
  EXPECT_TRUE(map_->replace("b", "b2"));
  EXPECT_FALSE(map_->replace("c", "c1"));
  EXPECT_FALSE(map_->contains("c"));
  EXPECT_FALSE(map_->compare_and_set("b", "wrong", "b3"));
  EXPECT_TRUE(map_->compare_and_set("b", "b2", "b3"));
  EXPECT_EQ(map_->get("b"), "b3");
  EXPECT_FALSE(map_->remove_if("b", "b2"));
  EXPECT_TRUE(map_->remove_if("b", "b3"));
  EXPECT_FALSE(map_->contains("b"));
  EXPECT_EQ(map_->size(), 2u);  // a, new
  auto inc = [](std::optional<std::string_view> old) -> std::optional<std::string> {
    return std::to_string(old ? std::stoll(std::string(*old)) + 1 : 1);
  };
  EXPECT_EQ(map_->compute("n", inc), "1");
  EXPECT_EQ(map_->compute("n", inc), "2");
  EXPECT_EQ(map_->compute("n", [](auto) { return std::optional<std::string>(); }), std::nullopt);
  EXPECT_FALSE(map_->contains("n"));
  auto concat = [](std::string_view a, std::string_view b) -> std::optional<std::string> {
    return std::string(a) + std::string(b);
  };
  EXPECT_EQ(map_->merge("s", "x", concat), "x");
  EXPECT_EQ(map_->merge("s", "y", concat), "xy");
  EXPECT_TRUE(map_->remove("s"));
  EXPECT_FALSE(map_->remove("s"));
  EXPECT_EQ(map_->size(), 2u);
  std::string big(100000, 'v');
  map_->put("big", big);
  map_->put("", "empty key");
  map_->put("empty value", "");
  EXPECT_EQ(map_->get("big"), big);
  EXPECT_EQ(map_->get(""), "empty key");
  EXPECT_EQ(map_->get("empty value"), "");
  std::map<std::string, std::string> seen;
  map_->for_each([&](std::string_view k, const MapValue& v) { seen[std::string(k)] = v.bytes; });
  std::map<std::string, std::string> want{
      {"a", "3"}, {"new", "x"}, {"big", big}, {"", "empty key"}, {"empty value", ""}};
  EXPECT_EQ(seen, want);

  reopen();
  EXPECT_EQ(map_->size(), 5u);
  std::map<std::string, std::string> after;
  map_->for_each([&](std::string_view k, const MapValue& v) { after[std::string(k)] = v.bytes; });
  EXPECT_EQ(after, want);
  map_->clear();
  EXPECT_EQ(map_->size(), 0u);
  reopen();
  EXPECT_EQ(map_->size(), 0u);
  EXPECT_EQ(map_->get("a"), std::nullopt);
}

TEST_F(PHashMapTest, OneFencePerUpdateNonePerRead) {
  // Warm up: lane chunks made, spare chain primed.
  for (int i = 0; i < 100; ++i) map_->put("warm" + std::to_string(i), "v");
  PersistCounters before = thread_persist_counters();
  constexpr int kOps = 2000;
  for (int i = 0; i < kOps; ++i) map_->put("k" + std::to_string(i), std::string(100, 'x'));
  PersistCounters mid = thread_persist_counters();
  EXPECT_EQ(mid.fences - before.fences, uint64_t{kOps});
  std::string v;
  for (int i = 0; i < kOps; ++i) ASSERT_TRUE(map_->get("k" + std::to_string(i), &v));
  for (int i = 0; i < kOps; ++i) ASSERT_FALSE(map_->contains("absent" + std::to_string(i)));
  PersistCounters reads = thread_persist_counters();
  EXPECT_EQ(reads.fences, mid.fences);
  EXPECT_EQ(reads.writebacks, mid.writebacks);
  // Removes: one fence each. The cleaner runs too (dead records pass 15% of
  // the log), but its copies and unlinks ride on the updates' fences.
  uint64_t cleanings = map_->stats().cleanings;
  for (int i = 0; i < kOps; ++i) map_->remove("k" + std::to_string(i));
  uint64_t cleaned = map_->stats().cleanings - cleanings;
  EXPECT_GT(cleaned, 0u);
  EXPECT_EQ(thread_persist_counters().fences - reads.fences, uint64_t{kOps});
  // Updates that change nothing write nothing.
  PersistCounters idle = thread_persist_counters();
  EXPECT_FALSE(map_->remove("k1"));
  EXPECT_FALSE(map_->replace("k1", "v"));
  EXPECT_FALSE(map_->compare_and_set("warm1", "no", "v"));
  EXPECT_EQ(thread_persist_counters().fences, idle.fences);
}

TEST_F(PHashMapTest, RemovedKeysStayRemovedThroughCleaningSweepsAndRestarts) {
  const std::string kb(1000, 'r');
  constexpr int kKeys = 1000;
  // Removed and kept keys share chunks, so those chunks stay half live and
  // are cleaned late, while the tombstones sit in chunks of their own: a
  // tombstone dropped too early would be cleaned away before the record it
  // hides, and the key would come back at the next open. (No cleaning
  // until the churn, so that the half-live chunks are still there.)
  RecordLog::set_min_clean_bytes(uint64_t{1} << 40);
  for (int i = 0; i < kKeys; ++i) {
    map_->put("gone" + std::to_string(i), kb);
    map_->put("keep" + std::to_string(i), kb);
  }
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(map_->remove("gone" + std::to_string(i)));
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  for (int i = 0; i < 10; ++i) map_->put("churn", std::to_string(i));
  MapStats st = map_->stats();
  EXPECT_GT(st.cleanings, 0u);
  reopen();
  EXPECT_EQ(map_->size(), uint64_t{kKeys} + 1);
  for (int i = 0; i < kKeys; ++i) ASSERT_FALSE(map_->contains("gone" + std::to_string(i))) << i;
  // Once the cleaner has rewritten the half-live chunks, the tombstones hide
  // nothing and sweeps drop them: their space and index entries come back.
  for (int round = 0; round < 10; ++round)
    for (int i = 0; i < kKeys; ++i) map_->put("keep" + std::to_string(i), kb);
  EXPECT_LT(map_->stats().tombstones, uint64_t{kKeys});
  EXPECT_LT(static_cast<double>(map_->stats().dead_bytes),
            0.3 * static_cast<double>(map_->stats().record_bytes));
  reopen();
  EXPECT_EQ(map_->size(), uint64_t{kKeys} + 1);
  for (int i = 0; i < kKeys; ++i) ASSERT_FALSE(map_->contains("gone" + std::to_string(i))) << i;
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(map_->get("keep" + std::to_string(i)), kb);
}

TEST_F(PHashMapTest, AMapOfFewKeysStaysSmallUnderUpdates) {
  // Chunks are sized by the live records and small logs are cleaned: a hash
  // of one field, updated over and over (a session, a counter), keeps a few
  // small chunks, not a log of every value it ever had.
  for (int i = 0; i < 20000; ++i) map_->put("field", "value " + std::to_string(i));
  MapStats st = map_->stats();
  EXPECT_GT(st.cleanings, 0u);
  EXPECT_LT(st.pool_bytes, uint64_t{8} << 10);
  EXPECT_EQ(map_->get("field"), "value 19999");
  reopen();
  EXPECT_EQ(map_->size(), 1u);
  EXPECT_EQ(map_->get("field"), "value 19999");
  for (int i = 0; i < 1000; ++i) map_->put("field", "again " + std::to_string(i));
  EXPECT_LT(map_->stats().pool_bytes, uint64_t{8} << 10);
}

TEST_F(PHashMapTest, AShrunkMapStillCleansItsLargeChunks) {
  // Chunks made while the map was large hold more live bytes than the small
  // chunks it makes once it has shrunk: the next chunks grow to take them.
  const std::string v(200, 'v');
  for (int i = 0; i < 5000; ++i) map_->put("k" + std::to_string(i), v);
  for (int i = 0; i < 5000; ++i)
    if (i % 10 != 0) map_->remove("k" + std::to_string(i));
  for (int round = 0; round < 100; ++round)
    for (int i = 0; i < 5000; i += 10) map_->put("k" + std::to_string(i), v);
  MapStats st = map_->stats();
  EXPECT_LT(static_cast<double>(st.dead_bytes), 0.3 * static_cast<double>(st.record_bytes));
  EXPECT_LT(st.pool_bytes, uint64_t{400} << 10);  // 500 keys of ~250 B: no 64 KB chunks left
  reopen();
  EXPECT_EQ(map_->size(), 500u);
  for (int i = 0; i < 5000; ++i)
    ASSERT_EQ(map_->contains("k" + std::to_string(i)), i % 10 == 0) << i;
}

TEST_F(PHashMapTest, RecordsLargerThanTheSpareChunkMixWithCleaning) {
  // A record too large for a lane's prepared (linked) spare chunk gets a
  // chunk of its own; the spare is passed over and stays in the chain,
  // empty, until the cleaner frees it. Mixed with churn that keeps the
  // cleaner busy, the map must stay exact, in memory and after reopening.
  RecordLog::set_min_clean_bytes(4 << 10);
  std::map<std::string, std::string> want;
  // Record sizes cycle through every chunk size (400 B to 100 KB), with a
  // varying number of small records between them, so that large records
  // meet linked spares of every size.
  for (int round = 0; round < 400; ++round) {
    for (int i = 0; i <= round % 5; ++i) {
      std::string k = "small" + std::to_string((round + i) % 25);
      want[k] = std::string(100, static_cast<char>('a' + round % 26));
      map_->put(k, want[k]);
    }
    std::string big = "big" + std::to_string(round % 5);
    want[big] = std::string(size_t{400} << (round % 9), static_cast<char>('A' + round % 26));
    map_->put(big, want[big]);
  }
  EXPECT_GT(map_->stats().cleanings, 0u);
  auto check = [&] {
    ASSERT_EQ(map_->size(), want.size());
    for (const auto& [k, v] : want) ASSERT_EQ(map_->get(k), v) << k;
  };
  check();
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  reopen();
  check();
}

// Whatever the configured thresholds, a map in a full pool cleans its dead
// records once a chunk could not be made: removing a third of the values
// makes room for new ones. (Values of 40 KB fill a chunk each, so a removed
// one leaves a chunk all dead, which cleaning frees without copying: a
// full pool has no room for the copies of a partly dead chunk.)
TEST_F(PHashMapTest, AFullPoolCleansItsDeadRecordsWhateverTheThresholds) {
  StoreOptions o;
  o.create.size = 4 << 20;
  o.create.max_size = 4 << 20;  // no room to grow
  o.create.mode = Mode::kEmulated;
  auto s = create_store(dir_.file("full.pool"), o);
  ASSERT_TRUE(s) << s.status().to_string();
  auto full = PHashMap::create(**s);
  (*s)->set_root("full", full);
  RecordLog::set_cleaning_thresholds(800, 900);  // would clean at 80% dead
  const std::string value(40 << 10, 'v');
  auto put = [&](const std::string& k) {
    try {
      full->put(k, value);
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.status().code(), StatusCode::kNoSpace) << e.what();
      return false;
    }
  };
  int n = 0;
  while (put("k" + std::to_string(n))) ++n;
  ASSERT_GT(n, 50);
  int removed = 0;
  for (int i = 0; i < n; i += 3, ++removed) ASSERT_TRUE(full->remove("k" + std::to_string(i)));
  int taken = 0;
  while (taken < removed && put("new" + std::to_string(taken))) ++taken;
  RecordLog::set_cleaning_thresholds(150, 300);
  EXPECT_GE(taken, removed / 2) << n << " values, " << removed << " removed";
  for (int i = 0; i < n; ++i) EXPECT_EQ(full->contains("k" + std::to_string(i)), i % 3 != 0) << i;
}

TEST_F(PHashMapTest, OwnedObjectsAreDestroyedOnceTheirRecordIsCleaned) {
  RecordLog::set_min_clean_bytes(4 << 10);
  uint64_t live0 = store_->usage().live_bytes;
  for (int i = 0; i < 200; ++i) {
    auto inner = PHashMap::create(*store_);
    map_->put_ref("inner", inner);  // replaces (and so releases) the previous one
    inner->put("x", std::string(500, 'i'));
    for (int j = 0; j < 10; ++j) map_->put("pad" + std::to_string(j), std::string(300, 'p'));
  }
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  auto inner = store_->ref<PHashMap>(map_->get_ref("inner"));
  EXPECT_EQ(inner->get("x"), std::string(500, 'i'));
  // Without destruction the 199 replaced maps (each with a log chunk)
  // would stay allocated: well over 100 KB.
  EXPECT_LT(store_->usage().live_bytes - live0, uint64_t{100} << 10);
  reopen();
  EXPECT_EQ(store_->ref<PHashMap>(map_->get_ref("inner"))->get("x"), std::string(500, 'i'));
}

// A removed object's record sits in a chunk that a live tombstone keeps
// from dying whole (83% dead for good), among chunks that die further: the
// greedy choice alone never took it, and the object stayed allocated for
// ever. Candidates that waited long enough are taken whatever their share.
TEST_F(PHashMapTest, ARemovedObjectIsDestroyedEvenInAChunkThatStopsDying) {
  RecordLog::set_min_clean_bytes(4 << 10);
  RecordLog::set_cleaning_thresholds(300, 600);  // nvobj-dso's --clean-at 30
  auto doomed = PHashMap::create(*store_);
  map_->put_ref("doomed", doomed);
  for (int i = 0; i < 2000; ++i) doomed->put("d" + std::to_string(i % 50), std::string(4000, 'd'));
  uint64_t doomed_bytes = doomed->stats().pool_bytes;
  doomed = {};
  ASSERT_TRUE(map_->remove("doomed"));
  uint64_t live = store_->usage().live_bytes;
  bool destroyed = false;
  for (int i = 0; i < 200000 && !destroyed; ++i) {
    map_->put("k" + std::to_string(i % 50), std::string(150 + i % 100, 'k'));
    destroyed = store_->usage().live_bytes + doomed_bytes / 2 < live;
  }
  RecordLog::set_cleaning_thresholds(150, 300);
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  EXPECT_TRUE(destroyed);
  EXPECT_FALSE(map_->contains("doomed"));
}

}  // namespace
}  // namespace nvobj
