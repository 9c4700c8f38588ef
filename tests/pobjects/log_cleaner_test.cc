// The background cleaner (pobjects/log_cleaner.h): in manual mode the tests
// decide when its steps run, so what the appenders do and what the cleaner
// does is exact; in thread mode, writers and readers race it (run under
// ThreadSanitizer too). Its crash consistency is the crash simulator's
// *-bg workloads (tests/crash/store_workloads.cc).
#include "pobjects/log_cleaner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "recovery/store_open.h"
#include "runtime/group_commit.h"
#include "runtime/persist_stats.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

class LogCleanerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecordLog::set_min_clean_bytes(4 << 10);
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("c.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = PHashMap::create(*store_);
    store_->set_root("m", map_);
  }
  void TearDown() override {
    map_ = {};
    store_.reset();
    LogCleaner::instance().run_queued();  // nothing left: the closed logs were forgotten
    LogCleaner::set_mode(BackgroundCleaning::kOff);
    RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  }
  // As after a crash: the index is rebuilt from the log, whatever a clean
  // close saved.
  void reopen_recovering() {
    map_ = {};
    store_.reset();
    StoreOptions o;
    o.force_recovery = true;
    auto s = open_store(dir_.file("c.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = store_->root<PHashMap>("m");
  }
  void expect_map(const std::map<std::string, std::string>& want) {
    ASSERT_EQ(map_->size(), want.size());
    for (const auto& [k, v] : want) ASSERT_EQ(map_->get(k), v) << k;
  }
  static std::string value(uint64_t i) {
    return fmt::format("{}:{}", i, std::string(150 + i % 100, static_cast<char>('a' + i % 26)));
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PHashMap> map_;
};

// With the cleaner's steps run between updates, every update costs exactly
// its own fence and its own record's write-backs: no update copies a
// victim's records or relocates them. The cleaner keeps the log as small
// as inline cleaning does, and the map survives a crash.
TEST_F(LogCleanerTest, ManualStepsTakeTheCleaningOffTheUpdates) {
  LogCleaner::set_mode(BackgroundCleaning::kManual);
  std::map<std::string, std::string> want;
  std::mt19937_64 rng(1);
  uint64_t record_lines = 0, update_writebacks = 0, steps = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    std::string k = fmt::format("k{}", rng() % 300);
    want[k] = value(i);
    PersistCounters before = thread_persist_counters();
    map_->put(k, want[k]);
    PersistCounters d = thread_persist_counters() - before;
    ASSERT_EQ(d.fences, 1u) << i;
    update_writebacks += d.writebacks;
    record_lines += (32 + 4 + k.size() + want[k].size() + 63) / 64;
    steps += LogCleaner::instance().run_queued();
  }
  MapStats st = map_->stats();
  EXPECT_GT(st.cleanings, 100u);
  EXPECT_EQ(st.background_cleanings, st.cleanings);  // none inline
  EXPECT_GE(steps, st.cleanings);                    // (and steps that only unlinked)
  EXPECT_GT(st.copied_bytes, 0u);
  // Its record (one or two lines more when unaligned) and, now and then, a
  // new chunk's header: far from the copies' write-backs.
  EXPECT_LT(update_writebacks, record_lines * 3 / 2);
  // Below where the appenders would have cleaned inline (twice 15%).
  EXPECT_LT(static_cast<double>(st.dead_bytes), 0.3 * static_cast<double>(st.record_bytes));
  expect_map(want);
  reopen_recovering();
  expect_map(want);
}

// The same updates with inline cleaning copy as much (the victims are the
// same kind): the copies moved, they did not vanish.
TEST_F(LogCleanerTest, InlineCleaningCopiesOnTheUpdates) {
  std::mt19937_64 rng(1);
  uint64_t record_lines = 0, update_writebacks = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    std::string k = fmt::format("k{}", rng() % 300);
    std::string v = value(i);
    PersistCounters before = thread_persist_counters();
    map_->put(k, v);
    update_writebacks += (thread_persist_counters() - before).writebacks;
    record_lines += (32 + 4 + k.size() + v.size() + 63) / 64;
  }
  MapStats st = map_->stats();
  EXPECT_GT(st.cleanings, 100u);
  EXPECT_EQ(st.background_cleanings, 0u);
  EXPECT_GT(update_writebacks, record_lines * 2);
}

// A cleaner that never gets its turn (no CPU to spare): the appenders
// clean inline once dead bytes pass twice the threshold, so the log stays
// bounded; the cleaner's later turn finds the log as it left it.
TEST_F(LogCleanerTest, AppendersCleanInlineWhenTheCleanerFallsBehind) {
  LogCleaner::set_mode(BackgroundCleaning::kManual);
  std::map<std::string, std::string> want;
  std::mt19937_64 rng(2);
  double worst_dead = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    std::string k = fmt::format("k{}", rng() % 300);
    want[k] = value(i);
    map_->put(k, want[k]);
    MapStats st = map_->stats();
    if (i > 2000)
      worst_dead = std::max(
          worst_dead, static_cast<double>(st.dead_bytes) / static_cast<double>(st.record_bytes));
  }
  MapStats st = map_->stats();
  EXPECT_GT(st.cleanings, 100u);
  EXPECT_EQ(st.background_cleanings, 0u);
  EXPECT_LT(worst_dead, 0.45);  // twice the 15% threshold, and a chunk's worth
  LogCleaner::instance().run_queued();
  expect_map(want);
  reopen_recovering();
  expect_map(want);
}

// A log the cleaner has queued goes away (the map is destroyed under its
// open proxy when the record naming it is cleaned away, or its store
// closes): the cleaner forgets it and never touches it again
// (AddressSanitizer would see the freed log).
TEST_F(LogCleanerTest, QueuedLogsThatGoAwayAreForgotten) {
  LogCleaner::set_mode(BackgroundCleaning::kManual);
  auto doomed = PHashMap::create(*store_);
  map_->put_ref("doomed", doomed);
  const std::string big(4000, 'd');
  for (uint64_t i = 0; i < 2000; ++i) doomed->put(fmt::format("d{}", i % 50), big);
  uint64_t doomed_bytes = doomed->stats().pool_bytes;
  ASSERT_GT(doomed_bytes, uint64_t{200} << 10);
  doomed = {};
  // Queued and never served: the cleaner is behind. The outer map's
  // appenders clean inline (past twice the threshold), and the step that
  // drops its put_ref record destroys the doomed map and its log.
  ASSERT_TRUE(map_->remove("doomed"));
  uint64_t live = store_->usage().live_bytes;
  bool destroyed = false;
  for (uint64_t i = 0; i < 200000 && !destroyed; ++i) {
    map_->put(fmt::format("k{}", i % 50), value(i));
    destroyed = store_->usage().live_bytes + doomed_bytes / 2 < live;
  }
  ASSERT_TRUE(destroyed);
  EXPECT_EQ(map_->stats().background_cleanings, 0u);
  EXPECT_GT(LogCleaner::instance().run_queued(), 0u);  // the outer map's steps only
  for (uint64_t i = 0; i < 3000; ++i) map_->put(fmt::format("k{}", i % 50), value(i));
  map_ = {};
  store_.reset();  // closes: its map's log leaves the queue
  EXPECT_EQ(LogCleaner::instance().run_queued(), 0u);
  auto s = open_store(dir_.file("c.pool"));
  ASSERT_TRUE(s) << s.status().to_string();
  auto m = (*s)->root<PHashMap>("m");
  EXPECT_EQ(m->size(), 50u);
  EXPECT_FALSE(m->contains("doomed"));
}

// Run inside a group commit, a step's fence would be deferred and its
// finish would run before the copies are durable: refused.
TEST_F(LogCleanerTest, ManualStepsAreRefusedInsideAGroupCommit) {
  LogCleaner::set_mode(BackgroundCleaning::kManual);
  GroupCommit batch;
  map_->put("a", "1");
  EXPECT_THROW(LogCleaner::instance().run_queued(), std::logic_error);
}

// The cleaner's thread against two writers and a reader: each writer owns
// its keys and writes a sequence into each, the reader checks that no key
// ever goes back; the maps are exact afterwards and after a crash.
TEST_F(LogCleanerTest, TheCleanersThreadRacesWritersAndReaders) {
  LogCleaner::set_mode(BackgroundCleaning::kThread);
  constexpr int kWriters = 2;
  constexpr uint64_t kKeys = 200, kUpdates = 60000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) + 10);
      for (uint64_t i = 1; i <= kUpdates; ++i)
        map_->put(fmt::format("w{}-{}", t, rng() % kKeys),
                  fmt::format("{:012}{}", i, std::string(100 + i % 200, 'x')));
    });
  std::thread reader([&] {
    std::map<std::string, std::string> seen;
    std::mt19937_64 rng(99);
    while (!done.load()) {
      std::string k = fmt::format("w{}-{}", rng() % kWriters, rng() % kKeys);
      std::optional<std::string> v = map_->get(k);
      if (!v) continue;
      std::string seq = v->substr(0, 12);
      ASSERT_GE(seq, seen[k]) << k;  // a key's sequence numbers only grow
      seen[k] = seq;
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  reader.join();
  // Each writer's last value per key, replayed.
  std::map<std::string, std::string> want;
  for (int t = 0; t < kWriters; ++t) {
    std::mt19937_64 rng(static_cast<uint64_t>(t) + 10);
    for (uint64_t i = 1; i <= kUpdates; ++i)
      want[fmt::format("w{}-{}", t, rng() % kKeys)] =
          fmt::format("{:012}{}", i, std::string(100 + i % 200, 'x'));
  }
  EXPECT_GT(map_->stats().cleanings, 0u);
  expect_map(want);
  reopen_recovering();
  expect_map(want);
}

// A fork waits for the step in progress; the child gets a cleaner of its
// own (its first request starts its thread) and cleans its copy of the map.
TEST_F(LogCleanerTest, AForkedChildCleansWithAThreadOfItsOwn) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after a multi-threaded fork";
#endif
  LogCleaner::set_mode(BackgroundCleaning::kThread);
  for (uint64_t i = 0; i < 5000; ++i) map_->put(fmt::format("k{}", i % 100), value(i));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The parent's pool is shared memory: the child leaves it alone (no
    // close) and works on a pool of its own.
    map_ = {};
    (void)store_.release();
    bool ok = true;
    {
      StoreOptions o;
      o.create.size = 64 << 20;
      o.create.mode = Mode::kEmulated;
      auto s = create_store(dir_.file("child.pool"), o);
      ok = s.is_ok();
      if (ok) {
        auto m = PHashMap::create(**s);
        (*s)->set_root("m", m);
        for (uint64_t i = 0; i < 20000; ++i) m->put(fmt::format("k{}", i % 100), value(i));
        ok = m->size() == 100 && m->get("k99") == value(19999) && m->stats().cleanings > 0;
      }
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (uint64_t i = 0; i < 5000; ++i) map_->put(fmt::format("k{}", i % 100), value(i + 1));
  EXPECT_EQ(map_->get("k99"), value(5000));
}

TEST(LogCleanerModeTest, TheBinariesCleanerOptionsParse) {
  EXPECT_EQ(parse_background_cleaning("inline"), BackgroundCleaning::kOff);
  EXPECT_EQ(parse_background_cleaning("off"), BackgroundCleaning::kOff);
  EXPECT_EQ(parse_background_cleaning("thread"), BackgroundCleaning::kThread);
  EXPECT_EQ(parse_background_cleaning("auto"), BackgroundCleaning::kAuto);
  EXPECT_EQ(parse_background_cleaning("Auto"), std::nullopt);
  EXPECT_EQ(parse_background_cleaning(""), std::nullopt);
}

// kAuto's measure: a core is free while fewer threads fence than the
// process may run on. One writer leaves one free (on two or more CPUs);
// as many writers as CPUs leave none. Each writer stays alive until the
// measure is taken (an exited thread's counters are no longer seen).
TEST_F(LogCleanerTest, AutoSeesACoreFreeBesideFewerWritersThanCpus) {
  if (LogCleaner::usable_cpus() < 2) GTEST_SKIP() << "one CPU: never a core free";
  LogCleaner::evaluate_core_free();  // the window starts here
  map_->put("a", "1");               // this thread fences
  EXPECT_TRUE(LogCleaner::evaluate_core_free());
  EXPECT_TRUE(LogCleaner::core_free());
  // No fence since: no writer at all.
  EXPECT_TRUE(LogCleaner::evaluate_core_free());
}

TEST_F(LogCleanerTest, AutoSeesNoCoreFreeWhenEveryCpuHasAWriter) {
  const unsigned n = LogCleaner::usable_cpus();
  LogCleaner::evaluate_core_free();
  std::latch wrote(n), measured(1);
  std::vector<std::thread> writers;
  for (unsigned t = 0; t < n; ++t)
    writers.emplace_back([&, t] {
      map_->put(fmt::format("w{}", t), "v");
      wrote.count_down();
      measured.wait();
    });
  wrote.wait();
  bool free = LogCleaner::evaluate_core_free();
  measured.count_down();
  for (auto& w : writers) w.join();
  EXPECT_FALSE(free);
  // (Not core_free() here: past its window it measures again, and the
  // writers are gone by then.)
  // The writers are gone, this thread did not fence: free again.
  EXPECT_TRUE(LogCleaner::evaluate_core_free());
}

// One writer in kAuto on two or more CPUs: the cleaning goes to the
// cleaner's thread, and the map is exact, after a crash too.
TEST_F(LogCleanerTest, AutoHandsTheCleaningToTheThreadBesideOneWriter) {
  if (LogCleaner::usable_cpus() < 2) GTEST_SKIP() << "one CPU: kAuto cleans inline";
  LogCleaner::set_mode(BackgroundCleaning::kAuto);
  std::map<std::string, std::string> want;
  for (uint64_t i = 0; i < 40000; ++i) {
    std::string k = fmt::format("k{}", i % 300);
    map_->put(k, value(i));
    want[k] = value(i);
  }
  EXPECT_GT(map_->stats().background_cleanings, 0u);
  expect_map(want);
  reopen_recovering();
  expect_map(want);
}

// kAuto across a fork: the child measures its own threads (the parent's
// fence no more there) and hands its cleaning to a thread of its own.
TEST_F(LogCleanerTest, AForkedChildInAutoModeCleansOnAThreadOfItsOwn) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after a multi-threaded fork";
#endif
  if (LogCleaner::usable_cpus() < 2) GTEST_SKIP() << "one CPU: kAuto cleans inline";
  LogCleaner::set_mode(BackgroundCleaning::kAuto);
  for (uint64_t i = 0; i < 20000; ++i) map_->put(fmt::format("k{}", i % 100), value(i));
  ASSERT_GT(map_->stats().background_cleanings, 0u);  // the parent's cleaner has started
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    map_ = {};
    (void)store_.release();
    // The parent's threads are listed here but fence no more: from the
    // second measure on, no writer is seen.
    LogCleaner::evaluate_core_free();
    bool ok = LogCleaner::evaluate_core_free();
    {
      StoreOptions o;
      o.create.size = 64 << 20;
      o.create.mode = Mode::kEmulated;
      auto s = create_store(dir_.file("child.pool"), o);
      ok = ok && s.is_ok();
      if (ok) {
        auto m = PHashMap::create(**s);
        (*s)->set_root("m", m);
        for (uint64_t i = 0; i < 20000; ++i) m->put(fmt::format("k{}", i % 100), value(i));
        ok = m->size() == 100 && m->get("k99") == value(19999) &&
             m->stats().background_cleanings > 0;
      }
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A list's queue with the cleaner's thread: the pops' trims go to the side
// lane, where the cleaner's copies go too, so a trims record just appended
// (not yet installed) is often in the victim: the cleaner must wait for its
// install (MapCore::relocate takes the key's stripe). Without that wait the
// install pointed the list into a freed chunk (ThreadSanitizer, or one CPU:
// taskset -c 0).
TEST(LogCleanerListTest, AQueueStaysExactWithTheCleanersThread) {
  LogCleaner::set_mode(BackgroundCleaning::kThread);
  RecordLog::set_min_clean_bytes(4 << 10);
  testing::TempDir dir;
  StoreOptions o;
  o.create.size = 64 << 20;
  o.create.mode = Mode::kEmulated;
  std::deque<std::string> model;
  {
    auto s = create_store(dir.file("l.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    auto l = PList::create(**s);
    (*s)->set_root("l", l);
    for (int i = 0; i < 100000; ++i) {
      std::string v = fmt::format("{}:{}", i, std::string(i % 150, 'q'));
      l->append(v);
      model.push_back(v);
      if (model.size() > 500) {
        ASSERT_EQ(l->pop_front(), model.front());
        model.pop_front();
      }
    }
    EXPECT_GT(l->stats().cleanings, 0u);
  }
  StoreOptions again;
  again.force_recovery = true;
  auto s = open_store(dir.file("l.pool"), again);
  ASSERT_TRUE(s) << s.status().to_string();
  auto l = (*s)->root<PList>("l");
  ASSERT_EQ(l->size(), model.size());
  for (size_t i = 0; i < model.size(); ++i)
    ASSERT_EQ(l->get(static_cast<int64_t>(i)), model[i]) << i;
  LogCleaner::set_mode(BackgroundCleaning::kOff);
  RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
}

}  // namespace
}  // namespace nvobj
