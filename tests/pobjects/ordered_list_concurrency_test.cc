// PTreeMap and PList under concurrency (run under ThreadSanitizer by
// `scripts/test --sanitize tsan`) and under SIGKILL.
//   - PTreeMap: writers put and remove while readers scan; every scan is
//     sorted, and each key it shows has a value some writer put for it.
//   - PList: producers append unique values while consumers pop from both
//     ends; every value is consumed once or left in the list, none twice;
//     every kind of update from two threads recovers to the list it left.
//   - Kill tests: a child applies operations and acknowledges each on a
//     pipe; after SIGKILL at a varied moment, the reopened structure holds
//     every acknowledged operation and at most the one in flight.
#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pobjects/plist.h"
#include "pobjects/ptreemap.h"
#include "recovery/store_open.h"
#include "tests/testing/kill.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 1;
#else
constexpr int kScale = 10;
#endif

class OrderedListConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 256 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("c.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  std::string path() const { return dir_.file("c.pool"); }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Values encode their key, so a reader can tell a value written for another
// key (or torn) from a right one.
std::string tree_value(int writer, int key, int seq) {
  return fmt::format("{}|w{}|s{}|{}", key, writer, seq, std::string(seq % 64, 'v'));
}

TEST_F(OrderedListConcurrencyTest, TreeScansStaySortedWhileWritersRun) {
  auto t = PTreeMap::create(*store_);
  store_->set_root("t", t);
  constexpr int kKeys = 200;
  const int ops = 2000 * kScale;
  std::atomic<int> writers_left{2};
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < ops; ++i) {
        int key = (i * 7 + w * 13) % kKeys;
        if (i % 5 == 4)
          t->remove(fmt::format("k{:03}", key));
        else
          t->put(fmt::format("k{:03}", key), tree_value(w, key, i));
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (writers_left.load() > 0) {
        std::vector<MapItem> items = t->range("k", std::nullopt, 50);
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0 && !(items[i - 1].key < items[i].key)) bad = true;
          int key = std::stoi(items[i].key.substr(1));
          if (!items[i].value.starts_with(std::to_string(key) + "|")) bad = true;
        }
        if (auto f = t->floor("k100"); f && f->key > "k100") bad = true;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(bad.load());
  // Every key's final state is the last operation of some writer on it.
  std::vector<MapItem> all = t->range("");
  EXPECT_EQ(all.size(), t->size());
}

TEST_F(OrderedListConcurrencyTest, ListValuesAreConsumedOnceUnderContention) {
  auto l = PList::create(*store_);
  store_->set_root("l", l);
  const int per_producer = 1000 * kScale;
  std::atomic<int> producers_left{2};
  std::vector<std::vector<std::string>> got(2);
  std::vector<std::thread> threads;
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        std::string v = fmt::format("p{}-{}", p, i);
        if (i % 2 == 0)
          l->append(v);
        else
          l->prepend(v);
      }
      producers_left.fetch_sub(1);
    });
  }
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      for (;;) {
        bool done = producers_left.load() == 0;
        std::optional<std::string> v = c == 0 ? l->pop_front() : l->pop_back();
        if (v)
          got[c].push_back(*v);
        else if (done)
          return;
      }
    });
  }
  for (auto& th : threads) th.join();
  std::multiset<std::string> seen(got[0].begin(), got[0].end());
  seen.insert(got[1].begin(), got[1].end());
  for (const std::string& v : l->range(0, INT64_MAX)) seen.insert(v);
  EXPECT_EQ(seen.size(), size_t{2} * per_producer);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "a value was consumed twice";
}

// Every kind of update from two threads at once, then a reopen that
// rebuilds the index from the log alone: each position's latest record
// must win by its version, and the trims must cover exactly the popped
// elements, so the versions must follow the order the list's lock gave
// the updates (a list takes no per-key stripe: its lock alone orders them).
TEST_F(OrderedListConcurrencyTest, ConcurrentUpdatesRecoverToTheListTheyLeft) {
  auto l = PList::create(*store_);
  store_->set_root("l", l);
  for (int i = 0; i < 200; ++i) l->append(fmt::format("seed{}", i));
  const int per_thread = 500 * kScale;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      uint64_t x = 0x9E3779B97F4A7C15u * static_cast<uint64_t>(t + 1);
      for (int i = 0; i < per_thread; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::string v = fmt::format("t{}-{}", t, i);
        auto at = static_cast<int64_t>(x % 64);
        uint64_t op = (x >> 32) % 100;  // in percent: append 16, prepend 8, pops 14 + 12,
        if (op < 16)                    // set 20, inserts 10 + 10, remove_at 10
          l->append(v);
        else if (op < 24)
          l->prepend(v);
        else if (op < 38)
          l->pop_front();
        else if (op < 50)
          l->pop_back();
        else if (op < 70)
          l->set(at, v);
        else if (op < 80)
          l->insert_after(at, v);
        else if (op < 90)
          l->insert_before(at, v);
        else
          l->remove_at(at);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> before = l->range(0, INT64_MAX);
  ASSERT_FALSE(before.empty());
  l = {};
  store_.reset();
  StoreOptions o;
  o.force_recovery = true;  // no saved index: every record of the log is weighed again
  auto s = open_store(path(), o);
  ASSERT_TRUE(s) << s.status().to_string();
  store_ = std::move(*s);
  EXPECT_EQ(store_->root<PList>("l")->range(0, INT64_MAX), before);
}

// --- kill tests ------------------------------------------------------------------------

using testing::run_and_kill;

// Operation i of the tree kill test: put key i%97 (value i) or remove it.
void tree_model_apply(std::map<std::string, std::string>& m, int64_t i) {
  std::string key = fmt::format("k{:02}", i % 97);
  if (i % 6 == 5)
    m.erase(key);
  else
    m[key] = fmt::format("v{}", i);
}

TEST_F(OrderedListConcurrencyTest, KilledTreeWriterLosesNoAcknowledgedOperation) {
  store_->set_root("t", PTreeMap::create(*store_));
  store_.reset();
  int64_t next = 0;  // operations are numbered across kills
  std::map<std::string, std::string> model;
  for (int k = 0; k < 20; ++k) {
    int64_t start = next;
    int64_t acked = run_and_kill(path(), 30 + k * 23, [&](Store& s, auto ack) {
      auto t = s.root<PTreeMap>("t");
      for (int64_t i = start;; ++i) {
        std::string key = fmt::format("k{:02}", i % 97);
        if (i % 6 == 5)
          t->remove(key);
        else
          t->put(key, fmt::format("v{}", i));
        ack(i);
      }
    });
    ASSERT_GE(acked, start - 1);
    auto s = open_store(path());
    ASSERT_TRUE(s) << s.status().to_string();
    auto t = (*s)->root<PTreeMap>("t");
    std::map<std::string, std::string> got;
    for (const MapItem& it : t->range("")) got[it.key] = it.value;
    auto with = model;
    for (int64_t i = start; i <= acked; ++i) tree_model_apply(with, i);
    auto with_next = with;
    tree_model_apply(with_next, acked + 1);
    ASSERT_TRUE(got == with || got == with_next) << "kill " << k << " after op " << acked;
    model = got == with ? with : with_next;
    next = got == with ? acked + 1 : acked + 2;
    EXPECT_EQ(t->size(), got.size());
  }
}

TEST_F(OrderedListConcurrencyTest, KilledListWriterLosesNoAcknowledgedOperation) {
  store_->set_root("l", PList::create(*store_));
  store_.reset();
  int64_t next = 0;
  std::deque<std::string> model;
  // Operation i: append v_i, prepend v_i, or pop_front, by i % 3.
  auto apply = [](std::deque<std::string>& d, int64_t i) {
    switch (i % 3) {
      case 0: d.push_back(fmt::format("v{}", i)); break;
      case 1: d.push_front(fmt::format("v{}", i)); break;
      case 2:
        if (!d.empty()) d.pop_front();
        break;
    }
  };
  for (int k = 0; k < 20; ++k) {
    int64_t start = next;
    int64_t acked = run_and_kill(path(), 30 + k * 23, [&](Store& s, auto ack) {
      auto l = s.root<PList>("l");
      for (int64_t i = start;; ++i) {
        switch (i % 3) {
          case 0: l->append(fmt::format("v{}", i)); break;
          case 1: l->prepend(fmt::format("v{}", i)); break;
          case 2: l->pop_front(); break;
        }
        ack(i);
      }
    });
    ASSERT_GE(acked, start - 1);
    auto s = open_store(path());
    ASSERT_TRUE(s) << s.status().to_string();
    auto l = (*s)->root<PList>("l");
    std::vector<std::string> got = l->range(0, INT64_MAX);
    auto with = model;
    for (int64_t i = start; i <= acked; ++i) apply(with, i);
    auto with_next = with;
    apply(with_next, acked + 1);
    std::vector<std::string> a(with.begin(), with.end()), b(with_next.begin(), with_next.end());
    ASSERT_TRUE(got == a || got == b) << "kill " << k << " after op " << acked;
    model = got == a ? with : with_next;
    next = got == a ? acked + 1 : acked + 2;
  }
}

}  // namespace
}  // namespace nvobj
