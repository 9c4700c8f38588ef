// GroupCommit (runtime/group_commit.h) through the types that defer their
// closing fence: fences and write-backs per batch, tickets, ordering points
// (blocks, references, other stores) and what survives a reopen, including
// records left after a torn one (the record log's scrub at open).
#include "runtime/group_commit.h"

#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "pobjects/pcounter.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "tests/testing/flip_bytes.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("g.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = PHashMap::create(*store_);
    store_->set_root("m", map_);
  }
  void reopen() {
    map_ = {};
    ASSERT_TRUE(store_->close());
    store_.reset();
    auto s = open_store(dir_.file("g.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = store_->root<PHashMap>("m");
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PHashMap> map_;
};

TEST_F(GroupCommitTest, ADefaultTicketIsDurable) { EXPECT_TRUE(CommitTicket().durable()); }

TEST_F(GroupCommitTest, OutsideAScopeEveryUpdateFences) {
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 10; ++i) map_->put("k" + std::to_string(i), "v");
  EXPECT_EQ((thread_persist_counters() - before).fences, 10u);
  EXPECT_TRUE(store_->commit_fence().durable());
}

TEST_F(GroupCommitTest, ABatchOfUpdatesSharesOneFence) {
  map_->put("warm", "up");  // the log's first chunk is in use
  PersistCounters before = thread_persist_counters();
  {
    GroupCommit batch;
    for (int i = 0; i < 10; ++i) map_->put("k" + std::to_string(i), "v" + std::to_string(i));
    // Deferred: neither written back nor fenced yet, and visible to this thread.
    PersistCounters mid = thread_persist_counters() - before;
    EXPECT_EQ(mid.fences, 0u);
    EXPECT_EQ(mid.writebacks, 0u);
    EXPECT_EQ(map_->get("k3"), "v3");
    EXPECT_TRUE(GroupCommit::pending(*store_));
    batch.commit();
    EXPECT_FALSE(GroupCommit::pending(*store_));
  }
  PersistCounters d = thread_persist_counters() - before;
  EXPECT_EQ(d.fences, 1u);
  EXPECT_GE(d.writebacks, 1u);
  reopen();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(map_->get("k" + std::to_string(i)), "v" + std::to_string(i));
}

TEST_F(GroupCommitTest, AScopeCommitsWhenItEnds) {
  PersistCounters before = thread_persist_counters();
  {
    GroupCommit batch;
    map_->put("a", "1");
    map_->put("b", "2");
  }
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u);
  EXPECT_FALSE(GroupCommit::pending(*store_));
}

TEST_F(GroupCommitTest, NestedScopesCommitAtTheOutermost) {
  map_->put("warm", "up");
  PersistCounters before = thread_persist_counters();
  {
    GroupCommit outer;
    {
      GroupCommit inner;
      map_->put("a", "1");
    }
    EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
    map_->put("b", "2");
  }
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u);
}

TEST_F(GroupCommitTest, TicketsBecomeDurableAtTheCommitAndOtherThreadsSeeIt) {
  GroupCommit batch;
  CommitTicket t = store_->commit_fence();
  EXPECT_FALSE(t.durable());
  bool seen = true;
  std::thread([&] { seen = t.durable(); }).join();
  EXPECT_FALSE(seen);
  batch.commit();
  EXPECT_TRUE(t.durable());
  std::thread([&] { seen = t.durable(); }).join();
  EXPECT_TRUE(seen);
  EXPECT_FALSE(CommitTicket::never().durable());
}

TEST_F(GroupCommitTest, AFenceOfAnyKindCommitsTheDeferredWork) {
  GroupCommit batch;
  map_->put("a", "1");
  CommitTicket t = store_->commit_fence();
  EXPECT_FALSE(t.durable());
  store_->durable_fence();  // e.g. an ordering fence inside another update
  EXPECT_TRUE(t.durable());
  EXPECT_FALSE(GroupCommit::pending(*store_));
}

TEST_F(GroupCommitTest, AtMostMaxDeferredUpdatesWaitForTheCommit) {
  PersistCounters before = thread_persist_counters();
  GroupCommit batch;
  CommitTicket first = store_->commit_fence();
  for (uint32_t i = 2; i < GroupCommit::kMaxDeferred; ++i) store_->commit_fence();
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
  EXPECT_FALSE(first.durable());
  CommitTicket last = store_->commit_fence();  // the kMaxDeferred-th: committed on the spot
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u);
  EXPECT_TRUE(first.durable());
  EXPECT_TRUE(last.durable());
  EXPECT_FALSE(GroupCommit::pending(*store_));
}

TEST_F(GroupCommitTest, ABlockComesAfterTheDeferredUpdates) {
  auto counter = PCounter::create(*store_, 0);
  store_->set_root("c", counter);
  GroupCommit batch;
  map_->put("a", "1");
  CommitTicket t = store_->commit_fence();
  failure_atomic([&] { counter->add_and_get(1); });
  EXPECT_TRUE(t.durable());
  EXPECT_FALSE(GroupCommit::pending(*store_));
}

TEST_F(GroupCommitTest, AReferenceComesAfterTheDeferredUpdates) {
  // A new list's first element is deferred; binding the list in the map
  // (a record naming it) makes the element durable first.
  GroupCommit batch;
  auto list = PList::create(*store_);
  list->append("first");
  EXPECT_TRUE(GroupCommit::pending(*store_));
  PersistCounters before = thread_persist_counters();
  map_->put_ref("list", list);
  EXPECT_GE((thread_persist_counters() - before).fences, 1u);
}

TEST_F(GroupCommitTest, UpdatesOfAnotherStoreCommitTheFirstStoresWork) {
  StoreOptions o;
  o.create.size = 16 << 20;
  o.create.mode = Mode::kEmulated;
  auto other = create_store(dir_.file("other.pool"), o);
  ASSERT_TRUE(other) << other.status().to_string();
  auto m2 = PHashMap::create(**other);
  (*other)->set_root("m", m2);
  GroupCommit batch;
  map_->put("a", "1");
  EXPECT_TRUE(GroupCommit::pending(*store_));
  m2->put("b", "2");
  EXPECT_FALSE(GroupCommit::pending(*store_));
  EXPECT_TRUE(GroupCommit::pending(**other));
  batch.commit();
  EXPECT_FALSE(GroupCommit::pending(**other));
  ASSERT_TRUE((*other)->close());
}

TEST_F(GroupCommitTest, CleaningWaitsForTheCommitAndKeepsUp) {
  // Updates of a few keys under small chunks: cleaning steps ride on
  // deferred fences, and are finished only once those are done.
  RecordLog::set_min_clean_bytes(0);
  std::string value(200, 'v');
  PersistCounters before = thread_persist_counters();
  for (int round = 0; round < 400; ++round) {
    GroupCommit batch;
    for (int i = 0; i < 16; ++i)
      map_->put("k" + std::to_string(i % 5), value + std::to_string(round));
  }
  PersistCounters d = thread_persist_counters() - before;
  MapStats st = map_->stats();
  // A log this small is cleaned at almost every update, each cleaning
  // committing early (far behind): no more than a fence per update.
  EXPECT_LE(d.fences, 400u * 16u);
  EXPECT_GT(st.cleanings, 10u);
  // 5 live records of ~240 B: the log stays small however many updates.
  EXPECT_LT(st.pool_bytes, 64u << 10);
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  reopen();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(map_->get("k" + std::to_string(i)), value + "399");
}

// A crash in a batch may leave a torn record with durable ones after it.
// The records after the torn one are not part of the log; after the first
// update that reuses the space, a reopen must not bring them back. The torn
// record is made by hand here (the crash simulator's group workloads reach
// the same state through real crashes).
TEST_F(GroupCommitTest, RecordsAfterATornOneNeverComeBack) {
  std::string v(40, 'x');  // every record the same size
  map_->put("a", v);
  {
    GroupCommit batch;
    map_->put("b", v);
    map_->put("c", v);
  }
  ASSERT_TRUE(store_->close());
  map_ = {};
  store_.reset();
  // Tear b: one byte of its key (after the 4-byte key length), so its
  // checksum fails.
  ASSERT_TRUE(testing::flip_byte_after(dir_.file("g.pool"),
                                       std::string_view("\x01\x00\x00\x00"
                                                        "b",
                                                        5),
                                       4, 'b' ^ 'B'));
  // As a crash would leave it: recovered, the map's log scanned (a clean
  // open would load the map's index saved at the close, which predates the
  // tear).
  StoreOptions crashed;
  crashed.force_recovery = true;
  auto s = open_store(dir_.file("g.pool"), crashed);
  ASSERT_TRUE(s) << s.status().to_string();
  store_ = std::move(*s);
  map_ = store_->root<PHashMap>("m");
  EXPECT_EQ(map_->get("a"), v);
  EXPECT_EQ(map_->get("b"), std::nullopt);
  EXPECT_EQ(map_->get("c"), std::nullopt);  // after the torn one
  map_->put("d", v);                        // goes where b was; c's record would follow it
  reopen();
  EXPECT_EQ(map_->get("a"), v);
  EXPECT_EQ(map_->get("d"), v);
  EXPECT_EQ(map_->get("c"), std::nullopt);
  EXPECT_EQ(map_->size(), 2u);
}

}  // namespace
}  // namespace nvobj
