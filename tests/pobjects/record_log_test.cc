// RecordLog with a toy owner (pobjects/record_log.h): the cleaner leaves a
// chunk alone while a record in it is appended and not yet installed, and
// the log's byte counts, batched per thread slot, add up in stats().
#include "pobjects/record_log.h"

#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "recovery/store_open.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

// Keys are record metas; the owner points each at its latest record and
// follows the cleaner's relocations.
class ToyOwner : public RecordLog::Owner {
 public:
  bool relocate(RecordLog::Loc from, RecordLog::Loc to, uint64_t) override {
    relocated_from.push_back(from.rec);
    auto it = index.find(from.rec->meta);
    if (it == index.end() || !(it->second == from)) return false;
    it->second = to;
    return true;
  }
  void dropped(const RecordHeader&, const char*, bool) override {}
  void housekeeping() override {}

  std::map<uint64_t, RecordLog::Loc> index;
  std::vector<const RecordHeader*> relocated_from;
};

class RecordLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RecordLog::set_min_clean_bytes(0);
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(dir_.file("l.pool"), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    lanes_ = RecordLog::create(*store_);
    store_->set_root_offset("log", lanes_);
    log_ = std::make_unique<RecordLog>(
        *store_, lanes_, &owner_, [](RecordLog::Loc, const RecordHeader&, const char*) {}, 1);
  }
  void TearDown() override {
    log_.reset();
    store_.reset();
    RecordLog::set_min_clean_bytes(RecordLog::kDefaultMinCleanBytes);
  }
  // An update of `key` as an owner does it: append, point the key at the
  // record (its previous one dead), report it installed, clean.
  RecordLog::Loc put(uint64_t key, const std::string& value, bool install = true) {
    RecordLog::Loc loc = log_->append(1, key, 0, {value});
    if (install) {
      auto it = owner_.index.find(key);
      if (it != owner_.index.end()) log_->dead(it->second);
      owner_.index[key] = loc;
      log_->installed(loc);
    }
    log_->maybe_clean(false);
    return loc;
  }
  bool relocated(const RecordHeader* rec) const {
    for (const RecordHeader* r : owner_.relocated_from)
      if (r == rec) return true;
    return false;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  uint64_t lanes_ = 0;
  ToyOwner owner_;
  std::unique_ptr<RecordLog> log_;
};

TEST_F(RecordLogTest, AChunkIsNotCleanedWhileOneOfItsRecordsAwaitsItsInstall) {
  const std::string value(200, 'v');
  // The pending record among a hot key's records, which die: its chunk
  // becomes a cleaning candidate, and the cleaner steps again and again.
  for (int i = 0; i < 50; ++i) put(1, value);
  RecordLog::Loc pending = put(7, value, /*install=*/false);
  for (int i = 0; i < 3000; ++i) put(1, value);
  ASSERT_GT(log_->stats().cleanings, 10u);
  EXPECT_FALSE(relocated(pending.rec)) << "the cleaner copied a record not yet installed";

  // Installed now (the owner points the key at it): its chunk is cleaned
  // like the others, and the key follows its record to the copy.
  owner_.index[7] = pending;
  log_->installed(pending);
  for (int i = 0; i < 3000; ++i) put(1, value);
  EXPECT_TRUE(relocated(pending.rec));
  ASSERT_FALSE(owner_.index[7] == pending);
  EXPECT_EQ(owner_.index[7].rec->meta, 7u);
  EXPECT_EQ(std::string(owner_.index[7].body(), owner_.index[7].rec->body_len), value);
}

TEST_F(RecordLogTest, ByteCountsFromManyThreadsAddUpExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  RecordLog::set_min_clean_bytes(uint64_t{1} << 40);  // no cleaning: every byte stays
  std::vector<std::thread> threads;
  std::vector<std::vector<RecordLog::Loc>> locs(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        locs[t].push_back(
            log_->append(1, static_cast<uint64_t>(t), 0, {std::string(40 + i % 50, 'x')}));
        log_->installed(locs[t].back());
      }
    });
  for (auto& th : threads) th.join();
  uint64_t want = 0;
  for (auto& v : locs)
    for (RecordLog::Loc l : v) want += record_span(l.rec->body_len);
  EXPECT_EQ(log_->stats().record_bytes, want);
  EXPECT_EQ(log_->stats().dead_bytes, 0u);

  // Half of them reported dead, from other threads than wrote them.
  threads.clear();
  uint64_t dead = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; i += 2) dead += record_span(locs[t][i].rec->body_len);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const auto& mine = locs[(t + 1) % kThreads];
      for (int i = 0; i < kPerThread; i += 2) log_->dead(mine[i]);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(log_->stats().dead_bytes, dead);
  EXPECT_EQ(log_->stats().record_bytes, want);
}

}  // namespace
}  // namespace nvobj
