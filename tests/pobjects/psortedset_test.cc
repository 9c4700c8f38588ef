// PSortedSet: every operation and its edge cases (ties ordered by member,
// strict bounds, infinite scores, offset/count, reverse, the empty set,
// -0.0, NaN); a std::map model under random operations across restarts;
// costs (one fence per update, none for unchanged adds and reads); ownership
// through a map; writers and readers at once (the score index stays sorted
// and agrees with score(); run under ThreadSanitizer by `scripts/test
// --sanitize tsan`); fork + SIGKILL.
#include "pobjects/psortedset.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pobjects/root_map.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "tests/testing/kill.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 1;
#else
constexpr int kScale = 10;
#endif

constexpr double kInf = std::numeric_limits<double>::infinity();

using Item = std::pair<std::string, double>;
using Items = std::vector<Item>;

class PSortedSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 128 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(path(), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    set_ = PSortedSet::create(*store_);
    store_->set_root("z", set_);
  }
  void reopen() {
    set_ = {};
    store_.reset();
    auto s = open_store(path());
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    set_ = store_->root<PSortedSet>("z");
  }
  std::string path() const { return dir_.file("z.pool"); }

  Items by_rank(uint64_t from, uint64_t to, bool reverse = false) const {
    Items out;
    set_->range_by_rank(from, to, reverse,
                        [&](std::string_view m, double s) { out.emplace_back(m, s); });
    return out;
  }
  Items by_score(double min, bool min_ex, double max, bool max_ex, bool reverse = false,
                 uint64_t offset = 0, int64_t count = -1) const {
    Items out;
    set_->range_by_score(min, min_ex, max, max_ex, reverse, offset, count,
                         [&](std::string_view m, double s) { out.emplace_back(m, s); });
    return out;
  }
  Items all() const { return by_rank(0, UINT64_MAX); }
  Items members() const {
    Items out;
    set_->for_each([&](std::string_view m, double s) { out.emplace_back(m, s); });
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PSortedSet> set_;
};

TEST_F(PSortedSetTest, EmptySet) {
  EXPECT_EQ(set_->size(), 0u);
  EXPECT_EQ(set_->score("a"), std::nullopt);
  EXPECT_EQ(set_->rank("a"), -1);
  EXPECT_EQ(set_->rank("a", true), -1);
  EXPECT_TRUE(all().empty());
  EXPECT_TRUE(by_rank(0, 10, true).empty());
  EXPECT_TRUE(by_score(-kInf, false, kInf, false).empty());
  EXPECT_TRUE(by_score(-kInf, false, kInf, false, true).empty());
  EXPECT_TRUE(members().empty());
  EXPECT_FALSE(set_->remove("a"));
  EXPECT_EQ(set_->stats().size, 0u);
  reopen();
  EXPECT_EQ(set_->size(), 0u);
}

TEST_F(PSortedSetTest, AddScoreRankAndTiesOrderedByMember) {
  EXPECT_TRUE(set_->add("b", 1));
  EXPECT_TRUE(set_->add("a", 1));
  EXPECT_TRUE(set_->add("c", 0.5));
  EXPECT_TRUE(set_->add("d", 2));
  EXPECT_FALSE(set_->add("d", 2));  // unchanged
  EXPECT_FALSE(set_->add("c", 3));  // moved
  EXPECT_EQ(set_->size(), 4u);
  EXPECT_EQ(set_->score("c"), 3.0);
  EXPECT_EQ(set_->score("zz"), std::nullopt);
  EXPECT_EQ(all(), (Items{{"a", 1}, {"b", 1}, {"d", 2}, {"c", 3}}));
  EXPECT_EQ(set_->rank("a"), 0);
  EXPECT_EQ(set_->rank("b"), 1);
  EXPECT_EQ(set_->rank("c"), 3);
  EXPECT_EQ(set_->rank("c", true), 0);
  EXPECT_EQ(set_->rank("a", true), 3);
  EXPECT_EQ(set_->rank("zz", true), -1);
  EXPECT_EQ(members(), (Items{{"a", 1}, {"b", 1}, {"c", 3}, {"d", 2}}));
  // Members compare as unsigned bytes: "\xff" after "z", "" and "\0" first.
  EXPECT_TRUE(set_->add(std::string("\xff", 1), 1));
  EXPECT_TRUE(set_->add(std::string("\0", 1), 1));
  EXPECT_TRUE(set_->add("", 1));
  EXPECT_EQ(by_score(1, false, 1, false),
            (Items{{"", 1}, {std::string("\0", 1), 1}, {"a", 1}, {"b", 1}, {"\xff", 1}}));
  EXPECT_EQ(set_->rank(""), 0);
  EXPECT_EQ(set_->rank(std::string("\xff", 1)), 4);
  EXPECT_TRUE(set_->remove(""));
  EXPECT_FALSE(set_->remove(""));
  EXPECT_EQ(set_->size(), 6u);
  // Long members (beyond the string's inline buffer) and binary bytes.
  std::string long_member(1000, 'L');
  long_member[500] = '\0';
  EXPECT_TRUE(set_->add(long_member, -5));
  EXPECT_EQ(set_->rank(long_member), 0);
  EXPECT_EQ(set_->score(long_member), -5.0);
  Items before = all();
  reopen();
  EXPECT_EQ(all(), before);
  EXPECT_EQ(set_->score(long_member), -5.0);
  EXPECT_EQ(set_->rank("c", true), 0);
}

TEST_F(PSortedSetTest, RangeByRankClampsAndReverses) {
  for (int i = 0; i < 10; ++i) set_->add(fmt::format("m{}", i), i * 10);
  EXPECT_EQ(by_rank(0, 3), (Items{{"m0", 0}, {"m1", 10}, {"m2", 20}}));
  EXPECT_EQ(by_rank(8, 100), (Items{{"m8", 80}, {"m9", 90}}));
  EXPECT_EQ(by_rank(0, 2, true), (Items{{"m9", 90}, {"m8", 80}}));
  EXPECT_EQ(by_rank(8, 100, true), (Items{{"m1", 10}, {"m0", 0}}));
  EXPECT_TRUE(by_rank(5, 5).empty());
  EXPECT_TRUE(by_rank(6, 5).empty());
  EXPECT_TRUE(by_rank(10, 20).empty());
  EXPECT_TRUE(by_rank(10, 20, true).empty());
  EXPECT_EQ(by_rank(9, 10), (Items{{"m9", 90}}));
  EXPECT_EQ(by_rank(9, 10, true), (Items{{"m0", 0}}));
  EXPECT_EQ(by_rank(0, UINT64_MAX).size(), 10u);
}

TEST_F(PSortedSetTest, RangeByScoreBoundsInfinitiesOffsetAndCount) {
  set_->add("ninf", -kInf);
  set_->add("a", 1);
  set_->add("b", 1);
  set_->add("c", 2);
  set_->add("d", 3);
  set_->add("pinf", kInf);
  EXPECT_EQ(by_score(1, false, 2, false), (Items{{"a", 1}, {"b", 1}, {"c", 2}}));
  EXPECT_EQ(by_score(1, true, 2, false), (Items{{"c", 2}}));
  EXPECT_EQ(by_score(1, false, 2, true), (Items{{"a", 1}, {"b", 1}}));
  EXPECT_TRUE(by_score(1, true, 2, true).empty());
  EXPECT_TRUE(by_score(2, true, 2, false).empty());
  EXPECT_TRUE(by_score(3, false, 2, false).empty());  // min > max
  EXPECT_EQ(by_score(2, false, 2, false), (Items{{"c", 2}}));
  // Infinite bounds and members.
  EXPECT_EQ(by_score(-kInf, false, kInf, false).size(), 6u);
  EXPECT_EQ(by_score(-kInf, true, kInf, true).size(), 4u);
  EXPECT_EQ(by_score(-kInf, false, -kInf, false), (Items{{"ninf", -kInf}}));
  EXPECT_EQ(by_score(kInf, false, kInf, false), (Items{{"pinf", kInf}}));
  EXPECT_TRUE(by_score(kInf, true, kInf, false).empty());
  EXPECT_TRUE(by_score(-kInf, false, -kInf, true).empty());
  EXPECT_EQ(by_score(3, true, kInf, false), (Items{{"pinf", kInf}}));
  EXPECT_EQ(by_score(-1e308, false, 1e308, false).size(), 4u);
  // Reverse: from max down to min.
  EXPECT_EQ(by_score(1, false, 3, false, true), (Items{{"d", 3}, {"c", 2}, {"b", 1}, {"a", 1}}));
  EXPECT_EQ(by_score(1, false, 3, true, true), (Items{{"c", 2}, {"b", 1}, {"a", 1}}));
  // Offset and count, both directions.
  EXPECT_EQ(by_score(-kInf, false, kInf, false, false, 1, 2), (Items{{"a", 1}, {"b", 1}}));
  EXPECT_EQ(by_score(-kInf, false, kInf, false, true, 1, 2), (Items{{"d", 3}, {"c", 2}}));
  EXPECT_EQ(by_score(-kInf, false, kInf, false, false, 4, -1), (Items{{"d", 3}, {"pinf", kInf}}));
  EXPECT_EQ(by_score(-kInf, false, kInf, false, true, 4, 100), (Items{{"a", 1}, {"ninf", -kInf}}));
  EXPECT_TRUE(by_score(-kInf, false, kInf, false, false, 6, -1).empty());
  EXPECT_TRUE(by_score(-kInf, false, kInf, false, true, 6, -1).empty());
  EXPECT_TRUE(by_score(-kInf, false, kInf, false, false, UINT64_MAX, -1).empty());
  EXPECT_TRUE(by_score(-kInf, false, kInf, false, false, 0, 0).empty());
  EXPECT_EQ(by_score(1, false, 1, false, false, 1, 5), (Items{{"b", 1}}));
  // NaN bounds match nothing.
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(by_score(nan, false, kInf, false).empty());
  EXPECT_TRUE(by_score(-kInf, false, nan, false).empty());
  // Neighbouring doubles: a strict bound excludes exactly its own value.
  set_->add("tiny", std::nextafter(2.0, kInf));
  EXPECT_EQ(by_score(2, true, 3, true), (Items{{"tiny", std::nextafter(2.0, kInf)}}));
  EXPECT_EQ(by_score(2, false, std::nextafter(2.0, kInf), true), (Items{{"c", 2}}));
}

TEST_F(PSortedSetTest, ZeroSignNanAndIncrement) {
  EXPECT_TRUE(set_->add("z", -0.0));
  EXPECT_FALSE(std::signbit(*set_->score("z")));  // stored as +0.0
  PersistCounters before = thread_persist_counters();
  EXPECT_FALSE(set_->add("z", 0.0));  // the same score: nothing written
  EXPECT_FALSE(set_->add("z", -0.0));
  EXPECT_EQ(set_->increment("z", -0.0), 0.0);
  EXPECT_EQ(thread_persist_counters().fences, before.fences);
  set_->add("neg", -1);
  set_->add("pos", 1);
  EXPECT_EQ(by_score(-0.0, false, 0.0, false), (Items{{"z", 0}}));
  EXPECT_EQ(by_score(0.0, true, 1, false), (Items{{"pos", 1}}));
  EXPECT_EQ(by_score(-1, false, -0.0, true), (Items{{"neg", -1}}));
  // NaN is refused, and nothing is written.
  double nan = std::numeric_limits<double>::quiet_NaN();
  before = thread_persist_counters();
  EXPECT_THROW(set_->add("n", nan), std::invalid_argument);
  EXPECT_THROW(set_->increment("z", nan), std::invalid_argument);
  EXPECT_EQ(set_->score("n"), std::nullopt);
  // Increment: absent counts as 0; -1 + 1 is +0.0.
  EXPECT_EQ(set_->increment("i", 2.5), 2.5);
  EXPECT_EQ(set_->increment("i", -1), 1.5);
  EXPECT_EQ(set_->score("i"), 1.5);
  EXPECT_EQ(set_->increment("neg", 1), 0.0);
  EXPECT_FALSE(std::signbit(*set_->score("neg")));
  EXPECT_EQ(set_->rank("neg"), 0);  // ties with "z" at 0: "neg" < "z"
  // Infinities: inf + finite stays inf (no write); inf + -inf is NaN: refused.
  set_->add("inf", kInf);
  PersistCounters mid = thread_persist_counters();
  EXPECT_EQ(set_->increment("inf", 5), kInf);
  EXPECT_EQ(thread_persist_counters().fences, mid.fences);
  EXPECT_THROW(set_->increment("inf", -kInf), std::invalid_argument);
  EXPECT_EQ(thread_persist_counters().fences, mid.fences);
  EXPECT_EQ(set_->score("inf"), kInf);
  EXPECT_EQ(set_->increment("ninf", -kInf), -kInf);
  EXPECT_EQ(set_->rank("ninf"), 0);
  reopen();
  EXPECT_EQ(set_->score("inf"), kInf);
  EXPECT_EQ(set_->score("ninf"), -kInf);
  EXPECT_EQ(set_->score("i"), 1.5);
  EXPECT_FALSE(std::signbit(*set_->score("z")));
  EXPECT_EQ(set_->size(), 6u);  // z, neg, pos, i, inf, ninf; no "n"
}

// --- a model -----------------------------------------------------------------------

struct Model {
  std::map<std::string, double> m;

  Items sorted() const {
    Items v(m.begin(), m.end());
    std::sort(v.begin(), v.end(), [](const Item& a, const Item& b) {
      return a.second != b.second ? a.second < b.second : a.first < b.first;
    });
    return v;
  }
  Items by_rank(uint64_t from, uint64_t to, bool reverse) const {
    Items v = sorted();
    if (reverse) std::reverse(v.begin(), v.end());
    Items out;
    for (uint64_t i = from; i < std::min<uint64_t>(to, v.size()); ++i) out.push_back(v[i]);
    return out;
  }
  Items by_score(double min, bool min_ex, double max, bool max_ex, bool reverse, uint64_t offset,
                 int64_t count) const {
    Items v;
    for (const Item& it : sorted()) {
      double s = it.second;
      if ((min_ex ? s > min : s >= min) && (max_ex ? s < max : s <= max)) v.push_back(it);
    }
    if (reverse) std::reverse(v.begin(), v.end());
    Items out;
    for (uint64_t i = offset; i < v.size(); ++i) {
      if (count >= 0 && out.size() >= static_cast<uint64_t>(count)) break;
      out.push_back(v[i]);
    }
    return out;
  }
  int64_t rank(const std::string& member, bool reverse) const {
    if (!m.contains(member)) return -1;
    Items v = sorted();
    auto i = std::find_if(v.begin(), v.end(), [&](const Item& it) { return it.first == member; });
    int64_t r = i - v.begin();
    return reverse ? static_cast<int64_t>(v.size()) - 1 - r : r;
  }
};

TEST_F(PSortedSetTest, RandomOperationsMatchAModelAcrossRestarts) {
  std::mt19937_64 rng(23);
  const std::vector<double> scores = {-kInf, -1e300, -2.5, -1, -0.0,  0.0,
                                      0.5,   1,      2,    3,  1e300, kInf};
  const std::vector<double> deltas = {-1, 0.5, 2, -0.0, 0, kInf, -kInf};
  auto pick = [&](const std::vector<double>& v) { return v[rng() % v.size()]; };
  auto bound = [&] { return rng() % 4 == 0 ? pick(scores) : static_cast<double>(rng() % 7) - 3; };
  Model model;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 3000; ++i) {
      std::string m = fmt::format("m{:03}", rng() % 150);
      if (rng() % 40 == 0) m += std::string(20 + rng() % 40, 'x');  // beyond inline strings
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2: {
          double s = rng() % 3 == 0 ? pick(scores) : static_cast<double>(rng() % 5);
          double stored = s == 0 ? 0.0 : s;
          ASSERT_EQ(set_->add(m, s), !model.m.contains(m));
          model.m[m] = stored;
          break;
        }
        case 3: {
          double d = pick(deltas);
          double now = (model.m.contains(m) ? model.m[m] : 0.0) + d;
          if (std::isnan(now)) {
            ASSERT_THROW(set_->increment(m, d), std::invalid_argument);
          } else {
            if (now == 0) now = 0.0;
            ASSERT_EQ(set_->increment(m, d), now);
            model.m[m] = now;
          }
          break;
        }
        case 4:
        case 5: ASSERT_EQ(set_->remove(m), model.m.erase(m) == 1); break;
        case 6: {
          auto want = model.m.find(m);
          ASSERT_EQ(set_->score(m),
                    want == model.m.end() ? std::nullopt : std::optional<double>(want->second));
          bool rev = rng() % 2;
          ASSERT_EQ(set_->rank(m, rev), model.rank(m, rev)) << m;
          break;
        }
        case 7: {
          uint64_t from = rng() % 160, to = from + rng() % 20;
          bool rev = rng() % 2;
          ASSERT_EQ(by_rank(from, to, rev), model.by_rank(from, to, rev));
          break;
        }
        default: {
          double a = bound(), b = bound();
          if (rng() % 4 != 0 && b < a) std::swap(a, b);
          bool ax = rng() % 2, bx = rng() % 2, rev = rng() % 2;
          uint64_t off = rng() % 3 == 0 ? rng() % 10 : 0;
          int64_t count = rng() % 3 == 0 ? static_cast<int64_t>(rng() % 10) : -1;
          ASSERT_EQ(by_score(a, ax, b, bx, rev, off, count),
                    model.by_score(a, ax, b, bx, rev, off, count))
              << a << (ax ? " ex " : " in ") << b << (bx ? " ex" : " in") << " rev " << rev
              << " off " << off << " count " << count;
          break;
        }
      }
    }
    ASSERT_EQ(set_->size(), model.m.size());
    ASSERT_EQ(all(), model.sorted());
    ASSERT_EQ(members(), Items(model.m.begin(), model.m.end()));
    reopen();
    ASSERT_EQ(set_->size(), model.m.size());
    ASSERT_EQ(all(), model.sorted());
    ASSERT_EQ(members(), Items(model.m.begin(), model.m.end()));
    for (const auto& [m, s] : model.m) {
      ASSERT_EQ(set_->score(m), s);
      ASSERT_EQ(set_->rank(m), model.rank(m, false));
    }
  }
  MapStats st = set_->stats();
  EXPECT_EQ(st.size, model.m.size());
  EXPECT_GT(st.dram_bytes, 0u);
}

TEST_F(PSortedSetTest, OneFencePerUpdateNoneForUnchangedAddsAndReads) {
  for (int i = 0; i < 100; ++i) set_->add(fmt::format("warm{:03}", i), i);
  uint64_t cleanings = set_->stats().cleanings;
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(set_->add(fmt::format("k{:03}", i), i % 7));
  PersistCounters added = thread_persist_counters();
  EXPECT_EQ(added.fences - before.fences, 500u);
  // Unchanged adds and increments, removals of absent members, and reads.
  for (int i = 0; i < 500; ++i) {
    ASSERT_FALSE(set_->add(fmt::format("k{:03}", i), i % 7));
    ASSERT_EQ(set_->increment(fmt::format("k{:03}", i), 0), i % 7);
    ASSERT_FALSE(set_->remove(fmt::format("absent{}", i)));
    ASSERT_EQ(set_->score(fmt::format("k{:03}", i)), i % 7);
    ASSERT_GE(set_->rank(fmt::format("k{:03}", i), i % 2 == 0), 0);
    set_->range_by_rank(i, i + 10, i % 2 == 0, [](std::string_view, double) {});
    set_->range_by_score(1, false, 3, true, i % 2 == 0, i % 5, 10, [](std::string_view, double) {});
  }
  set_->for_each([](std::string_view, double) {});
  EXPECT_EQ(set_->size(), 600u);
  PersistCounters idle = thread_persist_counters();
  EXPECT_EQ(idle.fences, added.fences);
  EXPECT_EQ(idle.writebacks, added.writebacks);
  // Score changes, increments and removals: one fence each.
  for (int i = 0; i < 200; ++i) ASSERT_FALSE(set_->add(fmt::format("k{:03}", i), 100 + i));
  for (int i = 200; i < 300; ++i) set_->increment(fmt::format("k{:03}", i), 0.5);
  for (int i = 300; i < 400; ++i) ASSERT_TRUE(set_->remove(fmt::format("k{:03}", i)));
  // The cleaner runs meanwhile (small logs are cleaned too): its steps ride
  // on these fences.
  EXPECT_EQ(thread_persist_counters().fences - idle.fences, 400u);
  EXPECT_GT(set_->stats().cleanings, cleanings);
}

TEST_F(PSortedSetTest, OwnedByAMapFoundAgainAndDestroyedWhenReplaced) {
  auto ns = root_map(*store_);
  auto board = PSortedSet::create(*store_);
  ns->put_ref("board", board);
  board->add("alice", 10);
  board->add("bob", 20);
  reopen();
  auto again = store_->ref<PSortedSet>(root_map(*store_)->get_ref("board"));
  EXPECT_EQ(again->score("bob"), 20.0);
  EXPECT_EQ(again->rank("alice", true), 1);
  // Replaced sets are destroyed with their logs once the map's cleaner
  // drops their records (their class's destroyer is registered).
  RecordLog::set_min_clean_bytes(4 << 10);
  ns = root_map(*store_);
  uint64_t live0 = store_->usage().live_bytes;
  for (int i = 0; i < 200; ++i) {
    auto z = PSortedSet::create(*store_);
    ns->put_ref("board", z);
    for (int j = 0; j < 20; ++j) z->add(fmt::format("member{:02}", j), j);
    for (int j = 0; j < 10; ++j) ns->put(fmt::format("pad{}", j), std::string(300, 'p'));
  }
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  // 199 sets kept alive would hold well over 300 KB of log chunks.
  EXPECT_LT(store_->usage().live_bytes - live0, uint64_t{100} << 10);
  reopen();
  auto last = store_->ref<PSortedSet>(root_map(*store_)->get_ref("board"));
  EXPECT_EQ(last->size(), 20u);
  EXPECT_EQ(last->rank("member19", true), 0);
}

// --- concurrency ---------------------------------------------------------------------

// Two writers own disjoint members and give each member increasing scores
// (a writer's counter c grows by one per operation and bounds every score
// it has written; an increment adds 0.5 to a present member), also across
// a remove and a new add. So a reader that saw score s for a member must
// never see a lower one later: it would have seen an update undone (e.g. a
// score() that saw a new record before the score index had it, then a range
// without it). Each range must be sorted and within its bounds.
TEST_F(PSortedSetTest, ReadersSeeASortedIndexThatAgreesWithScoreWhileWritersRun) {
  constexpr int kWriters = 2, kPerWriter = 40;
  const int ops = 2000 * kScale;
  auto member = [](int w, int k) { return fmt::format("w{}:{:02}", w, k); };
  auto id_of = [](std::string_view m) {
    return (m[1] - '0') * kPerWriter + std::stoi(std::string(m.substr(3)));
  };
  std::vector<std::map<int, double>> final_state(kWriters);
  std::atomic<int> writers_left{kWriters};
  std::atomic<bool> bad{false};
  std::vector<std::string> why(2);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(w + 1);
      std::map<int, double>& state = final_state[w];
      for (int c = 1; c <= ops; ++c) {
        int k = static_cast<int>(rng() % kPerWriter);
        auto it = state.find(k);
        switch (rng() % 6) {
          case 0:
            set_->remove(member(w, k));
            state.erase(k);
            break;
          case 1:
            if (it != state.end()) {
              it->second = set_->increment(member(w, k), 0.5);
              break;
            }
            [[fallthrough]];
          default:
            set_->add(member(w, k), c);
            state[k] = c;
            break;
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::vector<double> seen(kWriters * kPerWriter, -kInf);
      std::mt19937_64 rng(100 + r);
      auto fail = [&](std::string msg) {
        if (!bad.exchange(true)) why[r] = std::move(msg);
      };
      auto observe = [&](std::string_view m, double s) {
        double& last = seen[id_of(m)];
        if (s < last) fail(fmt::format("{}: saw {} after {}", m, s, last));
        last = s;
      };
      auto check_sorted = [&](const Items& v, bool reverse) {
        for (size_t i = 1; i < v.size(); ++i) {
          const Item &a = reverse ? v[i] : v[i - 1], &b = reverse ? v[i - 1] : v[i];
          if (!(a.second < b.second || (a.second == b.second && a.first < b.first)))
            fail(fmt::format("unsorted: ({}, {}) before ({}, {})", a.first, a.second, b.first,
                             b.second));
        }
      };
      while (writers_left.load() > 0 && !bad.load()) {
        int w = static_cast<int>(rng() % kWriters), k = static_cast<int>(rng() % kPerWriter);
        std::string m = member(w, k);
        std::optional<double> s = set_->score(m);
        if (s) observe(m, *s);
        int64_t rank = set_->rank(m);
        if (rank >= 0) {
          Items at = by_rank(static_cast<uint64_t>(rank), static_cast<uint64_t>(rank) + 3);
          check_sorted(at, false);
          for (const Item& it : at) observe(it.first, it.second);
        }
        bool rev = rng() % 2;
        Items top = by_rank(0, 20, rev);
        check_sorted(top, rev);
        for (const Item& it : top) observe(it.first, it.second);
        double lo = static_cast<double>(rng() % static_cast<uint64_t>(ops)), hi = lo + 500;
        Items mid = by_score(lo, false, hi, true, rev, rng() % 3, 30);
        check_sorted(mid, rev);
        for (const Item& it : mid) {
          if (it.second < lo || it.second >= hi)
            fail(fmt::format("{} out of [{}, {})", it.second, lo, hi));
          observe(it.first, it.second);
        }
        // A member just read by score() is where rank() says, unless a
        // writer moved it in between: then its score only went up.
        if (s) {
          std::optional<double> again = set_->score(m);
          if (again && *again < *s)
            fail(fmt::format("{}: score went from {} to {}", m, *s, *again));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(bad.load()) << why[0] << why[1];
  // Quiescent: both indexes agree with what the writers did.
  Model want;
  for (int w = 0; w < kWriters; ++w)
    for (auto [k, s] : final_state[w]) want.m[member(w, k)] = s;
  EXPECT_EQ(set_->size(), want.m.size());
  EXPECT_EQ(all(), want.sorted());
  EXPECT_EQ(members(), Items(want.m.begin(), want.m.end()));
  for (const auto& [m, s] : want.m) {
    ASSERT_EQ(set_->score(m), s);
    ASSERT_EQ(set_->rank(m), want.rank(m, false));
  }
  reopen();
  EXPECT_EQ(all(), want.sorted());
}

// --- fork + SIGKILL ------------------------------------------------------------------

// Operation i of the kill test, on member i % 53: add(i), increment(0.5),
// remove, or add a tied score (i % 3).
void kill_op_apply(std::map<std::string, double>& m, int64_t i) {
  std::string key = fmt::format("m{:02}", i % 53);
  switch (i % 5) {
    case 0:
    case 1: m[key] = static_cast<double>(i); break;
    case 2: m[key] = (m.contains(key) ? m[key] : 0.0) + 0.5; break;
    case 3: m.erase(key); break;
    case 4: m[key] = static_cast<double>(i % 3); break;
  }
}

TEST_F(PSortedSetTest, KilledWriterLosesNoAcknowledgedUpdate) {
  set_ = {};
  store_.reset();    // closes the pool: the children open it
  int64_t next = 0;  // operations are numbered across kills
  std::map<std::string, double> model;
  for (int k = 0; k < 20; ++k) {
    int64_t start = next;
    int64_t acked = testing::run_and_kill(path(), 30 + k * 23, [&](Store& s, auto ack) {
      auto z = s.root<PSortedSet>("z");
      for (int64_t i = start;; ++i) {
        std::string key = fmt::format("m{:02}", i % 53);
        switch (i % 5) {
          case 0:
          case 1: z->add(key, static_cast<double>(i)); break;
          case 2: z->increment(key, 0.5); break;
          case 3: z->remove(key); break;
          case 4: z->add(key, static_cast<double>(i % 3)); break;
        }
        ack(i);
      }
    });
    ASSERT_GE(acked, start - 1);
    auto s = open_store(path());
    ASSERT_TRUE(s) << s.status().to_string();
    auto z = (*s)->root<PSortedSet>("z");
    std::map<std::string, double> got;
    z->for_each([&](std::string_view m, double v) { got[std::string(m)] = v; });
    auto with = model;
    for (int64_t i = start; i <= acked; ++i) kill_op_apply(with, i);
    auto with_next = with;
    kill_op_apply(with_next, acked + 1);
    ASSERT_TRUE(got == with || got == with_next) << "kill " << k << " after op " << acked;
    model = got == with ? with : with_next;
    next = got == with ? acked + 1 : acked + 2;
    // The score index was rebuilt from the log: order, ranks and scores.
    Model m{model};
    Items ordered;
    z->range_by_rank(0, UINT64_MAX, false,
                     [&](std::string_view mem, double v) { ordered.emplace_back(mem, v); });
    ASSERT_EQ(ordered, m.sorted());
    EXPECT_EQ(z->size(), model.size());
    for (const auto& [mem, v] : model) {
      ASSERT_EQ(z->score(mem), v);
      ASSERT_EQ(z->rank(mem, true), m.rank(mem, true));
    }
  }
}

}  // namespace
}  // namespace nvobj
