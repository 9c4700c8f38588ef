// PList: every operation against a std::deque model under random
// operations, across restarts; position arithmetic; costs (one fence per
// update, none per read).
#include "pobjects/plist.h"

#include <deque>
#include <random>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pobjects/root_map.h"
#include "recovery/store_open.h"
#include "runtime/group_commit.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class PListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("l.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    list_ = PList::create(*store_);
    store_->set_root("l", list_);
  }
  void reopen() {
    list_ = {};
    store_.reset();
    auto s = open_store(dir_.file("l.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    list_ = store_->root<PList>("l");
  }
  std::vector<std::string> all() const { return list_->range(0, INT64_MAX); }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PList> list_;
};

TEST_F(PListTest, Operations) {
  EXPECT_EQ(list_->pop_front(), std::nullopt);
  EXPECT_EQ(list_->get(0), std::nullopt);
  list_->append("b");
  list_->append("c");
  list_->prepend("a");
  EXPECT_EQ(all(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(list_->get(-1), "c");
  EXPECT_EQ(list_->get(3), std::nullopt);
  EXPECT_TRUE(list_->set(1, "B"));
  EXPECT_FALSE(list_->set(5, "x"));
  EXPECT_TRUE(list_->insert_after(0, "a2"));
  EXPECT_TRUE(list_->insert_before(-1, "c0"));
  EXPECT_EQ(all(), (std::vector<std::string>{"a", "a2", "B", "c0", "c"}));
  EXPECT_EQ(list_->index_of("c0"), 3);
  EXPECT_TRUE(list_->remove("a2"));
  EXPECT_FALSE(list_->remove("zz"));
  EXPECT_EQ(list_->remove_at(-2), "c0");
  EXPECT_EQ(list_->pop_back(), "c");
  EXPECT_EQ(list_->range(-2, 10), (std::vector<std::string>{"a", "B"}));
  reopen();
  EXPECT_EQ(all(), (std::vector<std::string>{"a", "B"}));
  EXPECT_EQ(list_->pop_front(), "a");
  EXPECT_EQ(list_->size(), 1u);
}

TEST_F(PListTest, PositionsStayOrderedUnderRepeatedInsertionsAtOnePlace) {
  std::string lo = PList::position_between("", "");
  std::string hi = PList::position_between(lo, "");
  // 1000 insertions just after lo: each new position lies between lo and the
  // previous one; fractions grow by a byte per 8 halvings.
  std::string prev = hi;
  for (int i = 0; i < 1000; ++i) {
    std::string p = PList::position_between(lo, prev);
    ASSERT_LT(lo, p);
    ASSERT_LT(p, prev);
    prev = p;
  }
  EXPECT_LE(prev.size(), 8u + 1000 / 8 + 2);
  // Appends never lengthen positions.
  std::string p = lo;
  for (int i = 0; i < 10000; ++i) p = PList::position_between(p, "");
  EXPECT_EQ(p.size(), 8u);
  std::string q = lo;
  for (int i = 0; i < 10000; ++i) {
    std::string n = PList::position_between("", q);
    ASSERT_LT(n, q);
    q = n;
  }
}

TEST_F(PListTest, RandomOperationsMatchADequeAcrossRestarts) {
  std::mt19937_64 rng(11);
  std::deque<std::string> model;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 2000; ++i) {
      std::string v = fmt::format("v{}-{}", round, i);
      auto n = static_cast<int64_t>(model.size());
      int64_t at = n == 0 ? 0 : static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
      switch (rng() % 8) {
        case 0:
          list_->append(v);
          model.push_back(v);
          break;
        case 1:
          list_->prepend(v);
          model.push_front(v);
          break;
        case 2:
          ASSERT_EQ(list_->pop_front(),
                    model.empty() ? std::nullopt : std::optional<std::string>(model.front()));
          if (!model.empty()) model.pop_front();
          break;
        case 3:
          ASSERT_EQ(list_->pop_back(),
                    model.empty() ? std::nullopt : std::optional<std::string>(model.back()));
          if (!model.empty()) model.pop_back();
          break;
        case 4:
          ASSERT_EQ(list_->set(at, v), n > 0);
          if (n > 0) model[at] = v;
          break;
        case 5:
          ASSERT_EQ(list_->insert_after(at, v), n > 0);
          if (n > 0) model.insert(model.begin() + at + 1, v);
          break;
        case 6:
          ASSERT_EQ(list_->insert_before(at, v), n > 0);
          if (n > 0) model.insert(model.begin() + at, v);
          break;
        case 7:
          if (n > 0) {
            std::string victim = model[at];
            ASSERT_TRUE(list_->remove(victim));
            model.erase(std::find(model.begin(), model.end(), victim));
          }
          break;
      }
    }
    ASSERT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
    reopen();
    ASSERT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
    for (int k = 0; k < 50 && !model.empty(); ++k) {
      int64_t at = static_cast<int64_t>(rng() % model.size());
      ASSERT_EQ(list_->get(at), model[at]);
    }
  }
}

// Reopens as after a crash: the index is rebuilt from every record of the
// log (the popped elements' included), whatever a clean close saved.
void reopen_recovering(testing::TempDir& dir, std::unique_ptr<Store>& store, Ref<PList>& list) {
  list = {};
  store.reset();
  StoreOptions o;
  o.force_recovery = true;
  auto s = open_store(dir.file("l.pool"), o);
  ASSERT_TRUE(s) << s.status().to_string();
  store = std::move(*s);
  list = store->root<PList>("l");
}

// Pops at the ends write the list's trims, not a tombstone per element:
// queues in both directions and stacks at both ends keep one trim per end.
TEST_F(PListTest, PopsAtTheEndsLeaveNoTombstonesAndStayPoppedAfterACrash) {
  std::deque<std::string> model;
  for (int i = 0; i < 20; ++i) {
    list_->append(fmt::format("init{}", i));
    model.push_back(fmt::format("init{}", i));
  }
  for (int i = 0; i < 4000; ++i) {
    std::string v = fmt::format("v{}", i);
    switch (i / 1000) {
      case 0:  // a queue: in at the back, out at the front
        list_->append(v);
        model.push_back(v);
        EXPECT_EQ(list_->pop_front(), model.front());
        model.pop_front();
        break;
      case 1:  // the other way
        list_->prepend(v);
        model.push_front(v);
        EXPECT_EQ(list_->pop_back(), model.back());
        model.pop_back();
        break;
      case 2:  // a stack at the back
        list_->append(v);
        model.push_back(v);
        EXPECT_EQ(list_->pop_back(), model.back());
        model.pop_back();
        break;
      default:  // a stack at the front
        list_->prepend(v);
        model.push_front(v);
        EXPECT_EQ(list_->pop_front(), model.front());
        model.pop_front();
        break;
    }
  }
  EXPECT_EQ(list_->stats().tombstones, 0u);
  EXPECT_EQ(list_->size(), model.size());
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
  EXPECT_EQ(list_->size(), model.size());
  EXPECT_EQ(list_->stats().size, model.size());
}

// A queue's log is cleaned without copying its elements: pops write no
// record (the list's ends), or their trims go to the log's side lane
// (record_log.h), so the chunks of the elements die whole, front first, and
// are freed as they are. (With the trims among the elements, every chunk
// was a third dead as soon as it was written, and cleaning copied each
// element about twice before its pop.) A chunk is at most an eighth of the
// live records, so a short queue's front chunk dies before the log's dead
// share calls for cleaning too (with chunks of up to a quarter, a queue of
// 2,000 elements copied ~140 bytes a pair). After a crash the list is the
// queue the pops left. Returns the bytes copied per append + pop pair.
double queue_copies_per_pair(Ref<PList>& list, testing::TempDir& dir, std::unique_ptr<Store>& store,
                             int queue) {
  auto value = [](int i) { return fmt::format("{:0100}", i); };
  std::deque<std::string> model;
  for (int i = 0; i < queue; ++i) {
    list->append(value(i));
    model.push_back(value(i));
  }
  MapStats before = list->stats();
  constexpr int kPairs = 40000;
  for (int i = queue; i < queue + kPairs; ++i) {
    list->append(value(i));
    model.push_back(value(i));
    EXPECT_EQ(list->pop_front(), model.front());
    model.pop_front();
  }
  MapStats after = list->stats();
  EXPECT_GT(after.cleanings - before.cleanings, 20u);  // the log was cleaned all along
  EXPECT_LT(after.pool_bytes, 3 * uint64_t(queue) * 150 + (1 << 20));  // near the queue's size
  reopen_recovering(dir, store, list);
  EXPECT_EQ(list->range(0, INT64_MAX), std::vector<std::string>(model.begin(), model.end()));
  return static_cast<double>(after.copied_bytes - before.copied_bytes) / kPairs;
}

TEST_F(PListTest, AQueueIsCleanedWithoutCopyingItsElements) {
  // An element's record is ~150 bytes.
  EXPECT_LT(queue_copies_per_pair(list_, dir_, store_, 10000), 15);  // under a tenth of one
}

TEST_F(PListTest, AShortQueueIsCleanedWithoutCopyingItsElements) {
  EXPECT_LT(queue_copies_per_pair(list_, dir_, store_, 2000), 15);
}

// The same through the trims record, which a group commit's pops write
// among the elements (their batch's prefix order): its dead copies must
// not keep the log over the share that starts cleaning (record_log.h,
// dead()). Before, this queue copied ~430 bytes a pair. The batch's
// elements and pops are checked after a crash too.
TEST_F(PListTest, AQueueInGroupCommitsIsCleanedWithoutCopyingItsElements) {
  auto value = [](int i) { return fmt::format("{:0100}", i); };
  std::deque<std::string> model;
  for (int i = 0; i < 2000; ++i) {
    list_->append(value(i));
    model.push_back(value(i));
  }
  MapStats before = list_->stats();
  for (int i = 2000; i < 22000; i += 10) {
    GroupCommit batch;
    for (int k = i; k < i + 10; ++k) {
      list_->append(value(k));
      model.push_back(value(k));
      ASSERT_EQ(list_->pop_front(), model.front());
      model.pop_front();
    }
  }
  MapStats after = list_->stats();
  EXPECT_GT(after.cleanings - before.cleanings, 20u);
  EXPECT_LT(static_cast<double>(after.copied_bytes - before.copied_bytes) / 20000, 15);
  EXPECT_LT(after.pool_bytes, 3 * 2000 * 150);  // the garbage is cleaned too
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
}

// A later trim of an end that reaches less far must not drop an earlier
// one: here the element at the fraction between a and z was popped by a
// trim that the next one (at z's successor) does not cover, and its record
// is still in the log (no cleaning).
TEST_F(PListTest, AnEarlierTrimStillCoversWhatALaterOneDoesNot) {
  RecordLog::set_min_clean_bytes(UINT64_MAX);
  list_->append("a");
  list_->append("b");
  ASSERT_TRUE(list_->insert_after(0, "m"));  // a, m, b: m at a fraction after a
  EXPECT_EQ(list_->pop_back(), "b");
  EXPECT_EQ(list_->pop_back(), "m");  // the back trim now reaches m's position
  list_->append("z");                 // the next whole position after a
  list_->append("w");
  EXPECT_EQ(list_->pop_back(), "w");  // a trim at w's position: m's is not covered by it
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), (std::vector<std::string>{"a", "z"}));
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
}

// An end whose trims would pass PList's limit pops with a tombstone.
TEST_F(PListTest, AnEndWithTooManyTrimsPopsWithTombstones) {
  RecordLog::set_min_clean_bytes(UINT64_MAX);
  std::deque<std::string> model;
  for (int i = 0; i < 40;
       ++i) {  // the stack grows: every pop's trim reaches less far than the last
    for (int k = 0; k < 2; ++k) {
      list_->append(fmt::format("{}.{}", i, k));
      model.push_back(fmt::format("{}.{}", i, k));
    }
    EXPECT_EQ(list_->pop_back(), model.back());
    model.pop_back();
  }
  EXPECT_GT(list_->stats().tombstones, 0u);
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
}

// A pop at a whole position writes the list's ends: no record, one line
// written back, one fence. Pops in a group commit write the trims record
// (a point outside the log could outlive the batch's earlier records).
TEST_F(PListTest, PopsWriteTheEndsOneLineAndNoRecord) {
  RecordLog::set_min_clean_bytes(UINT64_MAX);
  for (int i = 0; i < 100; ++i) list_->append(fmt::format("e{}", i));
  uint64_t records = list_->stats().record_bytes;
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(list_->pop_front(), fmt::format("e{}", i));
    ASSERT_EQ(list_->pop_back(), fmt::format("e{}", 99 - i));
  }
  PersistCounters after = thread_persist_counters();
  EXPECT_EQ(after.fences - before.fences, 80u);
  EXPECT_EQ(after.writebacks - before.writebacks, 80u);
  EXPECT_EQ(list_->stats().record_bytes, records);
  {
    GroupCommit batch;
    EXPECT_EQ(list_->pop_front(), "e40");
  }
  EXPECT_GT(list_->stats().record_bytes, records);
  reopen_recovering(dir_, store_, list_);
  std::vector<std::string> want;
  for (int i = 41; i < 60; ++i) want.push_back(fmt::format("e{}", i));
  EXPECT_EQ(all(), want);
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
}

// Drained by pops at both ends, the list is empty after a crash, however
// its ends' points lie; positions start again from 0 behind them, and
// the new elements stay.
TEST_F(PListTest, ADrainedListStaysEmptyAndItsNewElementsStay) {
  std::deque<std::string> model;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 30; ++i) {
      std::string v = fmt::format("r{}.{}", round, i);
      i % 3 == 0 ? list_->prepend(v) : list_->append(v);
      i % 3 == 0 ? model.push_front(v) : model.push_back(v);
    }
    for (int i = 0; !model.empty(); ++i) {
      bool front = i % 4 != 0;
      EXPECT_EQ(front ? list_->pop_front() : list_->pop_back(),
                front ? model.front() : model.back());
      front ? model.pop_front() : model.pop_back();
    }
    EXPECT_EQ(list_->pop_front(), std::nullopt);
    reopen_recovering(dir_, store_, list_);
    EXPECT_EQ(all(), std::vector<std::string>{}) << "round " << round;
  }
  list_->append("after");
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), std::vector<std::string>{"after"});
}

// When the front moves back past both of its points (a newer point at a
// lower position than an older one), neither entry may be overwritten:
// the pop writes the trims record, and every point still counts.
TEST_F(PListTest, AnEndMovedBackPastBothPointsPopsWithTheTrimsRecord) {
  RecordLog::set_min_clean_bytes(UINT64_MAX);
  for (int i = 0; i < 6; ++i) list_->append(fmt::format("e{}", i));  // majors 0..5
  EXPECT_EQ(list_->pop_front(), "e0");                               // points (0, v) ...
  EXPECT_EQ(list_->pop_front(), "e1");                               // ... and (1, v)
  list_->prepend("x");                                               // at 1
  EXPECT_EQ(list_->pop_front(), "x");                                // (1, v') over (0, v)
  list_->prepend("y");                                               // at 1
  list_->prepend("z");                                               // at 0
  EXPECT_EQ(list_->pop_front(), "z");                                // (0, v'') over (1, v)
  uint64_t records = list_->stats().record_bytes;
  EXPECT_EQ(list_->pop_front(), "y");  // (1, v') and (0, v''): neither implies the other
  EXPECT_GT(list_->stats().record_bytes, records);
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), (std::vector<std::string>{"e2", "e3", "e4", "e5"}));
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
}

// A list made before the ends existed (no flag, no tail) pops through its
// trims record, across crashes.
TEST_F(PListTest, AListWithoutEndsPopsThroughItsTrimsRecord) {
  uint64_t lanes = RecordLog::create(*store_);
  Ref<PList> old = store_->make_detached<PList>(0, lanes);
  store_->set_root("l", old);
  list_ = old;
  std::deque<std::string> model;
  for (int i = 0; i < 300; ++i) {
    std::string v = fmt::format("v{}", i);
    list_->append(v);
    model.push_back(v);
    if (i % 3 != 0) {
      EXPECT_EQ(list_->pop_front(), model.front());
      model.pop_front();
    }
  }
  uint64_t records = list_->stats().record_bytes;
  EXPECT_EQ(list_->pop_back(), model.back());
  model.pop_back();
  EXPECT_NE(list_->stats().record_bytes, records);
  reopen_recovering(dir_, store_, list_);
  EXPECT_EQ(all(), std::vector<std::string>(model.begin(), model.end()));
}

TEST_F(PListTest, OneFencePerUpdateNonePerRead) {
  for (int i = 0; i < 50; ++i) list_->append("warm");
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 200; ++i) {
    list_->append("x");
    list_->prepend("y");
    list_->insert_after(10, "z");
    list_->set(5, "s");
    (void)list_->pop_back();
  }
  PersistCounters mid = thread_persist_counters();
  EXPECT_EQ(mid.fences - before.fences, 1000u);
  for (int i = 0; i < 200; ++i) {
    (void)list_->get(i);
    (void)list_->range(i, i + 10);
    (void)list_->index_of("nope");
  }
  EXPECT_EQ(thread_persist_counters().fences, mid.fences);
}

TEST_F(PListTest, ObjectsFoundByNameThroughTheRootMap) {
  auto ns = root_map(*store_);
  EXPECT_EQ(root_map(*store_), ns);  // made once
  auto orders = PList::create(*store_);
  ns->put_ref("orders", orders);
  orders->append("o1");
  ns->put("greeting", "hello");
  reopen();
  auto again = root_map(*store_);
  EXPECT_EQ(again->get("greeting"), "hello");
  EXPECT_EQ(store_->ref<PList>(again->get_ref("orders"))->get(0), "o1");
  EXPECT_THROW(root_map(*store_, "l"), Error);  // "l" names the PList
}

}  // namespace
}  // namespace nvobj
