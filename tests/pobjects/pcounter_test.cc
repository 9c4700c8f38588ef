// PCounter and PStripedCounter: operations, costs (fences per operation),
// restarts, and concurrent increments checked for lost or duplicated updates.
#include "pobjects/pcounter.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "recovery/store_open.h"
#include "runtime/error.h"
#include "runtime/persist_stats.h"
#include "tests/testing/kill.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class PCounterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 16 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("c.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  void reopen() {
    store_.reset();
    auto s = open_store(dir_.file("c.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(PCounterTest, Operations) {
  auto c = PCounter::create(*store_, 5);
  store_->set_root("c", c);
  EXPECT_EQ(c->get(), 5);
  EXPECT_EQ(c->increment(), 6);
  EXPECT_EQ(c->decrement(), 5);
  EXPECT_EQ(c->add_and_get(10), 15);
  EXPECT_EQ(c->get_and_add(-20), 15);
  EXPECT_EQ(c->get(), -5);
  c->set(100);
  int64_t expected = 99;
  EXPECT_FALSE(c->compare_and_set(expected, 7));
  EXPECT_EQ(expected, 100);
  EXPECT_TRUE(c->compare_and_set(expected, 7));
  EXPECT_EQ(c->get(), 7);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 7);
}

TEST_F(PCounterTest, OneFencePerUpdateNonePerRead) {
  auto c = PCounter::create(*store_);
  store_->set_root("c", c);
  c->increment();  // the first fence also writes back the root block's retire mark
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 100; ++i) c->increment();
  PersistCounters d = thread_persist_counters() - before;
  EXPECT_EQ(d.fences, 100u);
  EXPECT_EQ(d.writebacks, 100u);
  before = thread_persist_counters();
  for (int i = 0; i < 100; ++i) (void)c->get();
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
}

TEST_F(PCounterTest, ConcurrentIncrementsAreNeitherLostNorDuplicated) {
  auto c = PCounter::create(*store_);
  store_->set_root("c", c);
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      seen[t].reserve(kEach);
      for (int i = 0; i < kEach; ++i) seen[t].push_back(c->increment());
    });
  for (auto& th : threads) th.join();
  // Every value 1..N returned exactly once: no increment lost or duplicated.
  std::set<int64_t> all;
  for (auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach);
  // Each thread saw its own results increase (per-thread program order).
  for (auto& v : seen)
    for (size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), kThreads * kEach);
}

TEST_F(PCounterTest, ReadsDuringWritesNeverGoBackwards) {
  auto c = PCounter::create(*store_);
  store_->set_root("c", c);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) c->increment();
    done = true;
  });
  int64_t last = 0;
  while (!done.load()) {
    int64_t v = c->get();
    ASSERT_GE(v, last);
    last = v;
  }
  writer.join();
  EXPECT_EQ(c->get(), 20000);
}

// A read that meets an update between its compare-and-swap and its fence
// returns the new value only once it is durable: it writes the value to a
// line of its own and fences. The writer is held inside its write-back by
// a persistence hook (its entry is not in the pool yet) while the main
// thread reads.
TEST_F(PCounterTest, AReadDuringAnUpdateMakesWhatItReturnsDurable) {
  auto c = PCounter::create(*store_, 0, /*lines=*/2);
  store_->set_root("c", c);
  c->set(10);
  struct HoldWriter : PersistHook {
    std::mutex mu;
    std::condition_variable cv;
    std::thread::id writer;
    bool held = false, release = false;
    // What the reader's thread wrote back (entries seen at write-back) and
    // whether a fence followed.
    std::thread::id reader;
    std::vector<PCounterEntry> reader_entries;
    bool reader_fenced_after = false;
    void on_writeback(const void* addr, size_t len) override {
      std::unique_lock lock(mu);
      if (std::this_thread::get_id() == writer && !release) {
        held = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      } else if (std::this_thread::get_id() == reader && len == sizeof(PCounterEntry)) {
        PCounterEntry e;
        std::memcpy(&e, addr, sizeof e);
        reader_entries.push_back(e);
        reader_fenced_after = false;
      }
    }
    void on_fence() override {
      std::lock_guard lock(mu);
      if (std::this_thread::get_id() == reader) reader_fenced_after = true;
    }
  } hook;
  hook.reader = std::this_thread::get_id();
  ASSERT_TRUE(store_->pool().set_persist_backend({PersistBackend::kHook, &hook}));
  std::thread writer;
  {
    std::unique_lock lock(hook.mu);
    // The hook takes mu: the writer cannot reach it before its id is set.
    writer = std::thread([&] { c->increment(); });
    hook.writer = writer.get_id();
  }
  bool was_held;
  {
    std::unique_lock lock(hook.mu);
    was_held = hook.cv.wait_for(lock, std::chrono::seconds(10), [&] { return hook.held; });
  }
  PersistCounters before = thread_persist_counters();
  int64_t v = c->get();
  PersistCounters d = thread_persist_counters() - before;
  {
    std::lock_guard lock(hook.mu);
    hook.release = true;
  }
  hook.cv.notify_all();
  writer.join();
  ASSERT_TRUE(store_->pool().set_persist_backend({PersistBackend::kPmem2, nullptr}));
  ASSERT_TRUE(was_held) << "the writer never reached its write-back";
  EXPECT_EQ(v, 11) << "the read is after the update's compare-and-swap";
  EXPECT_EQ(d.fences, 1u) << "a read racing with an update fences once";
  ASSERT_EQ(hook.reader_entries.size(), 1u);
  EXPECT_EQ(hook.reader_entries[0].seq, 2u);
  EXPECT_EQ(hook.reader_entries[0].value, 11);
  EXPECT_TRUE(hook.reader_fenced_after);
  // Nothing in flight now: reads are plain loads again.
  before = thread_persist_counters();
  EXPECT_EQ(c->get(), 11);
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 11);
}

TEST_F(PCounterTest, MoreThreadsThanLinesShareThem) {
  auto c = PCounter::create(*store_, 0, /*lines=*/1);
  store_->set_root("c", c);
  constexpr int kThreads = 4, kEach = 10000;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (i % 2 == 0) {
          seen[t].push_back(c->increment());
        } else {  // the same through compare_and_set
          int64_t v = c->get();
          while (!c->compare_and_set(v, v + 1)) {
          }
          seen[t].push_back(v + 1);
        }
      }
    });
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kEach});
  EXPECT_EQ(*all.rbegin(), kThreads * kEach);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), kThreads * kEach);
}

// The pool holds, per line, two (sequence, value, check) entries; an open
// takes the newest valid one of all. A torn entry (what a crash can leave
// of the one in flight) fails its check and the line's other entry stands;
// entries left by a freed counter whose memory a new one reuses carry
// another nonce and are none.
TEST_F(PCounterTest, AnOpenTakesTheNewestValidEntry) {
  auto c = PCounter::create(*store_, 7, /*lines=*/2);
  store_->set_root("c", c);
  for (int i = 1; i <= 5; ++i) c->set(100 + i);  // one thread: one line, entries alternate
  char* tail = store_->pool().at<char>(c.offset()) + sizeof(PCounterData);
  auto* lines = reinterpret_cast<PCounterLine*>(
      (reinterpret_cast<uintptr_t>(tail) + kCacheLine - 1) & ~uintptr_t{kCacheLine - 1});
  // Find the newest entry (sequence 5, value 105) and the one before it.
  PCounterEntry* newest = nullptr;
  PCounterEntry* other = nullptr;
  for (int l = 0; l < 2; ++l)
    for (int e = 0; e < 2; ++e)
      if (lines[l].entry[e].seq == 5) {
        newest = &lines[l].entry[e];
        other = &lines[l].entry[1 - e];
      }
  ASSERT_NE(newest, nullptr);
  EXPECT_EQ(newest->value, 105);
  EXPECT_EQ(other->seq, 4u);
  EXPECT_EQ(other->value, 104);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 105);

  // Torn: the check no longer matches. The older entry of the line wins.
  newest->value = 999;
  store_->pool().persister().persist(newest, sizeof(*newest));
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 104);

  // A valid entry of another counter (another nonce), with a higher
  // sequence, in the line this one has not used: ignored.
  auto b = PCounter::create(*store_, 0, /*lines=*/1);
  store_->set_root("b", b);
  for (int i = 0; i < 1000; ++i) b->set(-i);
  char* btail = store_->pool().at<char>(b.offset()) + sizeof(PCounterData);
  auto* bline = reinterpret_cast<PCounterLine*>(
      (reinterpret_cast<uintptr_t>(btail) + kCacheLine - 1) & ~uintptr_t{kCacheLine - 1});
  PCounterLine* unused =
      lines[0].entry[0].seq == 0 && lines[0].entry[1].seq == 0 ? &lines[0] : &lines[1];
  ASSERT_EQ(unused->entry[0].seq + unused->entry[1].seq, 0u);
  *unused = *bline;
  ASSERT_EQ(std::max(unused->entry[0].seq, unused->entry[1].seq), 1000u);
  store_->pool().persister().persist(unused, sizeof(*unused));
  reopen();
  EXPECT_EQ(store_->root<PCounter>("b")->get(), -999);
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 104) << "an entry of another counter counted";

  // Updates go on from the newest valid sequence.
  auto again = store_->root<PCounter>("c");
  EXPECT_EQ(again->increment(), 105);
  reopen();
  EXPECT_EQ(store_->root<PCounter>("c")->get(), 105);
}

// A counter of the layout before lines (one 8-byte word, class
// "nvobj.PCounter"): refused by name with a clear error, and left intact.
struct OldCounterData {
  int64_t value;
};
class OldCounter : public PObject<OldCounter, OldCounterData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PCounter";
  static constexpr RefMap kRefs = ref_map<OldCounterData>();
  using PObject::PObject;
  int64_t value() const { return get(&Data::value); }
};

TEST_F(PCounterTest, ACounterOfTheOldLayoutIsRefusedAndKept) {
  store_->set_root("old", store_->make<OldCounter>(int64_t{41}));
  reopen();
  try {
    (void)store_->root<PCounter>("old")->get();
    ADD_FAILURE() << "an object of another class was taken for a PCounter";
  } catch (const Error& e) {
    EXPECT_NE(e.status().to_string().find("nvobj.PCounter"), std::string::npos)
        << e.status().to_string();
  }
  reopen();
  EXPECT_EQ(store_->root<OldCounter>("old")->value(), 41);
}

// A header whose line count is out of range (0, or more than kMaxLines)
// is refused as corrupt when the proxy is made; the pool is left as it is.
TEST_F(PCounterTest, ACorruptLineCountIsRefused) {
  auto c = PCounter::create(*store_, 0, /*lines=*/2);
  store_->set_root("c", c);
  c->set(5);
  const uint64_t off = c.offset();  // (an object keeps its offset across opens)
  auto header = [&] { return reinterpret_cast<PCounterData*>(store_->pool().at<char>(off)); };
  for (uint64_t bad : {uint64_t{0}, PCounter::kMaxLines + 1}) {
    header()->lines = bad;
    store_->pool().persister().persist(header(), sizeof(PCounterData));
    reopen();
    try {
      (void)store_->root<PCounter>("c")->get();
      ADD_FAILURE() << "a line count of " << bad << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.status().code(), StatusCode::kCorrupt) << e.status().to_string();
    }
    EXPECT_EQ(header()->lines, bad) << "left as it was";
    header()->lines = 2;
    store_->pool().persister().persist(header(), sizeof(PCounterData));
    reopen();
    EXPECT_EQ(store_->root<PCounter>("c")->get(), 5);
  }
}

TEST_F(PCounterTest, StripedCounterCountsEveryIncrement) {
  auto c = PStripedCounter::create(*store_, 8);
  store_->set_root("s", c);
  constexpr int kThreads = 4, kEach = 20000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) c->increment();
    });
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      uint64_t v = c->get();
      EXPECT_GE(v, last);
      last = v;
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(c->get(), uint64_t{kThreads * kEach});
  PersistCounters before = thread_persist_counters();
  c->increment();
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u);
  reopen();
  EXPECT_EQ(store_->root<PStripedCounter>("s")->get(), uint64_t{kThreads * kEach + 1});
}

// A stripe's word holds, above its count, the increments in flight on it.
// A crash leaves whatever the line's last write-back held there (an
// increment writes its line back while its mark is set): an open clears
// it, and a read that sees a mark persists what it read and returns counts
// only.
TEST_F(PCounterTest, StripedCounterInFlightMarksAreNoCountAndAnOpenClearsThem) {
  auto c = PStripedCounter::create(*store_, 4);
  store_->set_root("s", c);
  for (int i = 0; i < 5; ++i) c->increment();
  auto word_at = [&](uint64_t stripe) {
    char* tail = store_->pool().at<char>(c.offset()) + sizeof(PStripedCounterData);
    return reinterpret_cast<uint64_t*>(tail + stripe * PStripedCounter::kStripeBytes);
  };
  auto word = [&](uint64_t stripe) { return std::atomic_ref<uint64_t>(*word_at(stripe)); };
  uint64_t stripe = 4;  // the one the increments went to
  for (uint64_t i = 0; i < 4; ++i)
    if (word(i).load() != 0) stripe = i;
  ASSERT_LT(stripe, 4u);
  ASSERT_EQ(word(stripe).load(), 5u);
  // Two increments in flight (their marks, not yet their counts' fence).
  word(stripe).fetch_add((uint64_t{2} << 56) + 2);
  PersistCounters before = thread_persist_counters();
  EXPECT_EQ(c->get(), 7u);
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u) << "a marked count is persisted";
  store_->pool().persister().persist(word_at(stripe), 8);  // the crash image keeps the marks
  reopen();
  auto again = store_->root<PStripedCounter>("s");
  before = thread_persist_counters();
  EXPECT_EQ(again->get(), 7u);
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u) << "the open cleared the marks";
  again->increment();
  EXPECT_EQ(again->get(), 8u);
}

// Fork + SIGKILL: every increment acknowledged before the kill is there,
// and at most the one in flight beyond it.
TEST_F(PCounterTest, KilledIncrementerLosesNoAcknowledgedIncrement) {
  store_->set_root("c", PCounter::create(*store_));
  store_.reset();
  std::string path = dir_.file("c.pool");
  for (int k = 0; k < 20; ++k) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto s = open_store(path);
      if (!s) ::_exit(3);
      auto c = (*s)->root<PCounter>("c");
      for (;;) {
        int64_t v = c->increment();  // durable when it returns
        if (::write(fds[1], &v, sizeof v) != sizeof v) ::_exit(4);
      }
    }
    ::close(fds[1]);
    int64_t acked = -1, v;
    for (int i = 0; i < 50 + k * 37; ++i) {
      if (::read(fds[0], &v, sizeof v) != sizeof v) break;
      acked = v;
    }
    ::kill(pid, SIGKILL);
    while (::read(fds[0], &v, sizeof v) == sizeof v) acked = v;  // drain what was sent
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    auto s = open_store(path);
    ASSERT_TRUE(s) << s.status().to_string();
    int64_t now = (*s)->root<PCounter>("c")->get();
    EXPECT_GE(now, acked) << "an acknowledged increment was lost (kill " << k << ")";
    EXPECT_LE(now, acked + 1) << "more than the in-flight increment appeared (kill " << k << ")";
  }
}

TEST_F(PCounterTest, KilledStripedIncrementerLosesNoAcknowledgedIncrement) {
  store_->set_root("s", PStripedCounter::create(*store_, 4));
  store_.reset();
  uint64_t total = 0;  // increments present after the previous kill
  for (int k = 0; k < 10; ++k) {
    int64_t acked = testing::run_and_kill(dir_.file("c.pool"), 40 + k * 31, [](Store& s, auto ack) {
      auto c = s.root<PStripedCounter>("s");
      for (int64_t n = 1;; ++n) {
        c->increment();  // durable when it returns
        ack(n);
      }
    });
    ASSERT_GE(acked, 0);
    auto s = open_store(dir_.file("c.pool"));
    ASSERT_TRUE(s) << s.status().to_string();
    uint64_t now = (*s)->root<PStripedCounter>("s")->get();
    auto done = static_cast<uint64_t>(acked);
    EXPECT_GE(now, total + done) << "an acknowledged increment was lost (kill " << k << ")";
    EXPECT_LE(now, total + done + 1) << "more than the in-flight increment (kill " << k << ")";
    total = now;
  }
}

}  // namespace
}  // namespace nvobj
