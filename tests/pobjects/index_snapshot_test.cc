// The maps' indexes saved at a clean close (pobjects/index_snapshot.h,
// runtime/close_snapshots.h): the next open loads them instead of scanning
// the logs, finds what a scan finds, and never trusts one that does not
// describe the pool any more (a crash, a damaged snapshot, a changed log).
#include "pobjects/index_snapshot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pobjects/pcounter.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "pobjects/psortedset.h"
#include "pobjects/ptreemap.h"
#include "recovery/check.h"
#include "recovery/store_open.h"
#include "tests/testing/flip_bytes.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

using Contents = std::map<std::string, std::string>;  // key -> bytes, or "ref:<counter>"
const uint64_t kDefaultMinSnapshotBytes = detail::min_snapshot_log_bytes.load();

class IndexSnapshotTest : public ::testing::Test {
 protected:
  void TearDown() override { detail::min_snapshot_log_bytes = kDefaultMinSnapshotBytes; }
  void SetUp() override {
    detail::min_snapshot_log_bytes = 0;  // every map, however small
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(path(), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  std::string path() { return dir_.file("s.pool"); }
  void close() {
    if (store_ != nullptr) {
      ASSERT_TRUE(store_->close());
    }
    store_.reset();
  }
  void open(bool force_recovery = false) {
    close();
    StoreOptions o;
    o.force_recovery = force_recovery;
    auto s = open_store(path(), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  // The pool as `nvobj-pool check` sees it: consistent, and no object
  // allocated that nothing reaches.
  void expect_clean_heap() {
    close();
    auto r = recovery::check_heap(path());
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_TRUE(r->consistent()) << r->problems.front();
    EXPECT_EQ(r->leaked_bytes, 0u);
  }
  Contents contents(PHashMap& m) {
    Contents c;
    m.for_each([&](std::string_view k, const MapValue& v) {
      c[std::string(k)] = v.is_ref ? "ref:" + std::to_string(store_->ref<PCounter>(v.ref)->get())
                                   : std::string(v.bytes);
    });
    return c;
  }
  // A map with values, removed keys (tombstones), owned objects, and enough
  // overwrites that its cleaner has run.
  Contents fill(PHashMap& m) {
    Contents want;
    for (int i = 0; i < 3000; ++i) {
      std::string k = "k" + std::to_string(i % 700);
      if (i % 11 == 0) {
        m.put_ref(k, PCounter::create(*store_, i));
        want[k] = "ref:" + std::to_string(i);
      } else if (i % 7 == 0) {
        m.remove(k);
        want.erase(k);
      } else {
        std::string v(100 + i % 400, static_cast<char>('a' + i % 26));
        m.put(k, v);
        want[k] = v;
      }
    }
    return want;
  }

  // A new root map `name`, filled as fill() does.
  Contents create_filled(const char* name) {
    auto m = PHashMap::create(*store_);
    store_->set_root(name, m);
    return fill(*m);
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(IndexSnapshotTest, ACleanReopenLoadsTheIndexAndFindsWhatAScanFinds) {
  Contents want;
  {
    auto m = PHashMap::create(*store_);
    store_->set_root("m", m);
    want = fill(*m);
    EXPECT_FALSE(m->stats().index_from_snapshot);
    EXPECT_GT(m->stats().cleanings, 0u);
    EXPECT_GT(m->stats().tombstones, 0u);
  }
  open();
  auto m = store_->root<PHashMap>("m");
  MapStats loaded = m->stats();
  EXPECT_TRUE(loaded.index_from_snapshot);
  EXPECT_EQ(contents(*m), want);
  EXPECT_EQ(m->size(), want.size());
  for (auto& [k, v] : want)
    if (v.rfind("ref:", 0) != 0) {
      ASSERT_EQ(m->get(k), v) << k;
    }
  m = {};

  // A scan of the same log finds the same map and the same accounting,
  // except that an open that scans also sweeps the tombstones (map_core.h):
  // those that hide no older record become dead bytes (each a record of a
  // key of at most 4 bytes here).
  open(/*force_recovery=*/true);
  m = store_->root<PHashMap>("m");
  MapStats scanned = m->stats();
  EXPECT_FALSE(scanned.index_from_snapshot);
  EXPECT_EQ(contents(*m), want);
  EXPECT_EQ(scanned.size, loaded.size);
  EXPECT_EQ(scanned.chunks, loaded.chunks);
  EXPECT_EQ(scanned.record_bytes, loaded.record_bytes);
  ASSERT_LE(scanned.tombstones, loaded.tombstones);
  EXPECT_EQ(scanned.dead_bytes,
            loaded.dead_bytes + (loaded.tombstones - scanned.tombstones) * record_span(4 + 4));
  m = {};
  expect_clean_heap();
}

TEST_F(IndexSnapshotTest, AMapLoadedFromItsSnapshotKeepsWorkingAcrossManyReopens) {
  // Owned objects and cleaning across closes: a close takes the cleaner's
  // last victim out of the log first (RecordLog::settle), or its records
  // would be in the log twice and the next cleaning of it would destroy
  // objects that the copies still hold.
  Contents want;
  auto m = PHashMap::create(*store_);
  store_->set_root("m", m);
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 400; ++i) {
      std::string k = "k" + std::to_string((i * 7 + round) % 300);
      if ((i + round) % 3 == 0) {
        m->put_ref(k, PCounter::create(*store_, round * 1000 + i));
        want[k] = "ref:" + std::to_string(round * 1000 + i);
      } else if ((i + round) % 13 == 0) {
        m->remove(k);
        want.erase(k);
      } else {
        std::string v(50 + (i * round) % 900, static_cast<char>('a' + round));
        m->put(k, v);
        want[k] = v;
      }
    }
    ASSERT_GT(m->stats().cleanings, 0u) << round;
    m = {};
    open();
    m = store_->root<PHashMap>("m");
    ASSERT_TRUE(m->stats().index_from_snapshot) << round;
    ASSERT_EQ(contents(*m), want) << round;
  }
  m = {};
  expect_clean_heap();
  open(/*force_recovery=*/true);
  EXPECT_EQ(contents(*store_->root<PHashMap>("m")), want);
}

TEST_F(IndexSnapshotTest, AMapOfManyKeysLoadsItsIndexOnEveryThreadAndFindsEveryKey) {
  // Over 100 K entries the load is split by shard between threads.
  constexpr int kKeys = 150'000;
  {
    auto m = PHashMap::create(*store_);
    store_->set_root("m", m);
    for (int i = 0; i < kKeys; ++i) m->put("key" + std::to_string(i), std::to_string(i * 3));
    for (int i = 0; i < kKeys; i += 10) m->remove("key" + std::to_string(i));
  }
  open();
  auto m = store_->root<PHashMap>("m");
  MapStats st = m->stats();
  EXPECT_TRUE(st.index_from_snapshot);
  EXPECT_EQ(m->size(), uint64_t{kKeys - kKeys / 10});
  std::string v;
  for (int i = 0; i < kKeys; ++i) {
    bool found = m->get("key" + std::to_string(i), &v);
    ASSERT_EQ(found, i % 10 != 0) << i;
    if (found) {
      ASSERT_EQ(v, std::to_string(i * 3)) << i;
    }
  }
  // The log's accounting as a scan makes it (sweeps aside: none due here).
  for (int i = 0; i < 1000; ++i) m->put("key" + std::to_string(i), "again");
  EXPECT_EQ(m->size(), uint64_t{kKeys - kKeys / 10 + 100});
  m = {};
  expect_clean_heap();
}

TEST_F(IndexSnapshotTest, EveryLogTypeReopensFromItsSnapshot) {
  std::map<std::string, std::string> tree_want;
  std::vector<std::string> list_want;
  std::map<std::string, double> zset_want;
  {
    auto t = PTreeMap::create(*store_);
    auto l = PList::create(*store_);
    auto z = PSortedSet::create(*store_);
    store_->set_root("t", t);
    store_->set_root("l", l);
    store_->set_root("z", z);
    for (int i = 0; i < 2000; ++i) {
      std::string k = "key" + std::to_string(i % 300);
      if (i % 5 == 4) {
        t->remove(k);
        tree_want.erase(k);
        z->remove(k);
        zset_want.erase(k);
      } else {
        t->put(k, std::to_string(i));
        tree_want[k] = std::to_string(i);
        z->add(k, i % 17);
        zset_want[k] = i % 17;
      }
      l->append("v" + std::to_string(i));
      if (i % 3 == 0) l->pop_front();
    }
    auto items = l->range(0, INT64_MAX);
    list_want.assign(items.begin(), items.end());
    EXPECT_GT(t->stats().cleanings, 0u);
  }
  open();
  auto t = store_->root<PTreeMap>("t");
  auto l = store_->root<PList>("l");
  auto z = store_->root<PSortedSet>("z");
  EXPECT_TRUE(t->stats().index_from_snapshot);
  EXPECT_TRUE(l->stats().index_from_snapshot);
  EXPECT_TRUE(z->stats().index_from_snapshot);
  std::map<std::string, std::string> tree_got;
  for (const MapItem& it : t->range("", std::nullopt, 100000)) tree_got[it.key] = it.value;
  EXPECT_EQ(tree_got, tree_want);
  EXPECT_EQ(l->range(0, INT64_MAX), list_want);
  std::map<std::string, double> zset_got;
  z->for_each([&](std::string_view m, double s) { zset_got[std::string(m)] = s; });
  EXPECT_EQ(zset_got, zset_want);
  EXPECT_EQ(z->size(), zset_want.size());
  // And they keep working: prepend before the loaded elements, rank.
  l->prepend("first");
  EXPECT_EQ(l->get(0), "first");
  EXPECT_EQ(l->size(), list_want.size() + 1);
  t = {};
  l = {};
  z = {};
  expect_clean_heap();
}

TEST_F(IndexSnapshotTest, OnlyMapsWithLargeLogsSaveTheirIndex) {
  detail::min_snapshot_log_bytes = kDefaultMinSnapshotBytes;
  {
    auto small = PHashMap::create(*store_);
    auto large = PHashMap::create(*store_);
    store_->set_root("small", small);
    store_->set_root("large", large);
    for (int i = 0; i < 100; ++i) small->put("k" + std::to_string(i), "v");
    for (int i = 0; i < 1000; ++i) large->put("k" + std::to_string(i), std::string(1000, 'v'));
    ASSERT_LT(small->stats().record_bytes, kDefaultMinSnapshotBytes);
    ASSERT_GE(large->stats().record_bytes, kDefaultMinSnapshotBytes);
  }
  open();
  auto small = store_->root<PHashMap>("small");
  auto large = store_->root<PHashMap>("large");
  EXPECT_FALSE(small->stats().index_from_snapshot);
  EXPECT_TRUE(large->stats().index_from_snapshot);
  EXPECT_EQ(small->size(), 100u);
  EXPECT_EQ(large->get("k999"), std::string(1000, 'v'));
}

TEST_F(IndexSnapshotTest, ASnapshotIsKeptThroughASessionThatDoesNotOpenItsMap) {
  Contents want = create_filled("m");
  open();  // the map is not opened in this session
  store_->set_root("other", PHashMap::create(*store_));
  open();
  auto m = store_->root<PHashMap>("m");
  EXPECT_TRUE(m->stats().index_from_snapshot);
  EXPECT_EQ(contents(*m), want);
  m = {};
  expect_clean_heap();
}

TEST_F(IndexSnapshotTest, ADestroyedMapLeavesNoSnapshotBehind) {
  create_filled("m");
  open();
  uint64_t off = store_->root_offset("m");
  ASSERT_TRUE(store_->remove_root("m"));
  store_->destroy_object(off);  // not opened in this session: its snapshot is in the directory
  expect_clean_heap();
  auto r = recovery::check_heap(path());
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->objects_by_class.count("nvobj.Bytes"), 0u);  // no snapshot
  EXPECT_EQ(r->objects_by_class.count("nvobj.CloseSnapshots"), 0u);
  EXPECT_EQ(r->objects_by_class.count("nvobj.LogChunk"), 0u);
}

TEST_F(IndexSnapshotTest, SnapshotsAreDroppedIfAnotherProgramOpenedThePoolInBetween) {
  Contents want = create_filled("m");
  close();
  {
    // A program that knows nothing of snapshots (here: the pool layer
    // alone) opens and closes the pool: it could have changed the map.
    auto p = Pool::open(path(), {});
    ASSERT_TRUE(p) << p.status().to_string();
    ASSERT_TRUE((*p)->close());
  }
  open();
  EXPECT_TRUE(store_->open_report().snapshot_used);  // the heap's own snapshot still holds
  auto m = store_->root<PHashMap>("m");
  EXPECT_FALSE(m->stats().index_from_snapshot);
  EXPECT_EQ(contents(*m), want);
  m = {};
  expect_clean_heap();  // the dropped snapshots were freed
  open();
  EXPECT_TRUE(store_->root<PHashMap>("m")->stats().index_from_snapshot);  // saved again
}

TEST_F(IndexSnapshotTest, ADamagedSnapshotIsIgnoredAndTheLogScanned) {
  Contents want = create_filled("m");
  close();
  // One byte of the snapshot's chunk list: its checksum fails.
  ASSERT_TRUE(testing::flip_byte_after(
      path(), std::string_view(detail::kIndexSnapshotMagic, sizeof(detail::kIndexSnapshotMagic)),
      sizeof(detail::IndexSnapshotHead) + 9, 1));
  open();
  auto m = store_->root<PHashMap>("m");
  EXPECT_FALSE(m->stats().index_from_snapshot);
  EXPECT_EQ(contents(*m), want);
  m = {};
  expect_clean_heap();
}

TEST_F(IndexSnapshotTest, ACrashAfterACleanOpenDropsEverySnapshot) {
  Contents want = create_filled("a");
  create_filled("b");
  close();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Opens cleanly, updates a through its loaded index and dies without
    // closing; b is never opened.
    auto s = open_store(path());
    if (!s) ::_exit(2);
    auto a = (*s)->root<PHashMap>("a");
    if (!a->stats().index_from_snapshot) ::_exit(3);
    a->put("after", "crash");
    a->remove("k1");
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  want["after"] = "crash";
  want.erase("k1");
  {
    auto r = recovery::check_heap(path());
    ASSERT_TRUE(r) << r.status().to_string();
    EXPECT_TRUE(r->consistent()) << r->problems.front();
  }
  open();
  EXPECT_FALSE(store_->open_report().clean);
  auto a = store_->root<PHashMap>("a");
  auto b = store_->root<PHashMap>("b");
  EXPECT_FALSE(a->stats().index_from_snapshot);
  EXPECT_FALSE(b->stats().index_from_snapshot);
  EXPECT_EQ(contents(*a), want);
  a = {};
  b = {};
  expect_clean_heap();  // the crash's snapshots were reclaimed, not leaked
}

// A log owner that records what a scan reports.
class CountingOwner : public RecordLog::Owner {
 public:
  bool relocate(RecordLog::Loc, RecordLog::Loc, uint64_t) override { return true; }
  void dropped(const RecordHeader&, const char*, bool) override {}
  void housekeeping() override {}
};

// The log checks an image's shape and the chunks at the newest end of each
// lane, where appends go (the older ones are left alone: reading them would
// cost what the image saves; the store's open count vouches for them).
TEST_F(IndexSnapshotTest, ALogOpensFromAnImageOnlyIfTheImageStillDescribesIt) {
  uint64_t lanes = RecordLog::create(*store_);
  store_->set_root_offset("log", lanes);
  CountingOwner owner;
  int scanned = 0;
  auto count = [&](RecordLog::Loc, const RecordHeader&, const char*) { ++scanned; };
  RecordLog::Image image;
  {
    RecordLog log(*store_, lanes, &owner, count, 1);
    for (int i = 0; i < 500; ++i) log.append(1, i, 0, {std::string(200, 'x')});
    image = log.image();
  }
  ASSERT_GT(image.chunks.size(), 3u);
  auto opens_from = [&](const std::vector<RecordLog::ChunkImage>& img) {
    scanned = 0;
    RecordLog log(*store_, lanes, &owner, count, 1, &img);
    return log.from_image() && scanned == 0;
  };
  EXPECT_TRUE(opens_from(image.chunks));
  EXPECT_EQ(scanned, 0);
  std::vector<RecordLog::ChunkImage> shorter = image.chunks;
  shorter[0].used -= record_span(200);  // a record appended after the image
  EXPECT_FALSE(opens_from(shorter));
  EXPECT_EQ(scanned, 500);
  std::vector<RecordLog::ChunkImage> renonced = image.chunks;
  renonced[1].nonce ^= 1;  // a chunk freed and made again at the same place
  EXPECT_FALSE(opens_from(renonced));
  std::vector<RecordLog::ChunkImage> other_lane = image.chunks;
  other_lane[0].lane = 1;
  EXPECT_FALSE(opens_from(other_lane));
  std::vector<RecordLog::ChunkImage> too_large = image.chunks;
  too_large[3].capacity = store_->pool().size();
  EXPECT_FALSE(opens_from(too_large));
  std::vector<RecordLog::ChunkImage> fewer(image.chunks.begin() + 1, image.chunks.end());
  EXPECT_FALSE(opens_from(fewer));  // the chain changed
  std::vector<RecordLog::ChunkImage> reordered = image.chunks;
  std::swap(reordered[0], reordered[1]);
  EXPECT_FALSE(opens_from(reordered));
  EXPECT_TRUE(opens_from(image.chunks));
}

}  // namespace
}  // namespace nvobj
