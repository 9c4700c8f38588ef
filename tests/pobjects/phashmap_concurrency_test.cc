// PHashMap under concurrency and kills: mixed-operation stress checked
// against per-thread models, a linearizability check of per-key register
// histories, lost or duplicated compute updates (also across restarts and
// kills), weakly consistent iteration during writes, and fork + SIGKILL
// restarts checked against the acknowledged operations and the heap checker.
//
// Values are unique ("t<writer>-<seq>|" then filler derived from both) and
// checked byte for byte, so a torn read, or a read from a freed or reused
// chunk, shows as a malformed value. No sleeps: threads and children report
// progress through atomics and pipes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "pobjects/log_cleaner.h"
#include "pobjects/phashmap.h"
#include "recovery/check.h"
#include "recovery/store_open.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

// Sanitizer builds run about 10x slower: they do a tenth of the work.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define NVOBJ_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define NVOBJ_TEST_SANITIZED 1
#endif
#endif
#ifdef NVOBJ_TEST_SANITIZED
constexpr int kScale = 10;
#else
constexpr int kScale = 1;
#endif

uint64_t mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A value's identity: its writer and the writer's sequence number.
constexpr int kSeqBits = 40;
uint64_t value_id(uint64_t writer, uint64_t seq) { return writer << kSeqBits | seq; }
std::string id_name(uint64_t id) {
  return "t" + std::to_string(id >> kSeqBits) + "-" +
         std::to_string(id & ((uint64_t{1} << kSeqBits) - 1));
}

std::string make_value(uint64_t writer, uint64_t seq, size_t len) {
  std::string s = "t" + std::to_string(writer) + "-" + std::to_string(seq) + "|";
  uint64_t x = value_id(writer, seq);
  while (s.size() < len) {
    x = mix(x);
    s.push_back(static_cast<char>('a' + x % 26));
  }
  return s;
}

// The seq-th value of `writer`: unique, 100..299 bytes.
std::string value_for(uint64_t writer, uint64_t seq) {
  return make_value(writer, seq, 100 + mix(value_id(writer, seq) ^ 0x5bd1e995) % 200);
}

// The id of a value made by value_for, if every byte of it is right.
std::optional<uint64_t> parse_value(std::string_view v) {
  size_t i = 0;
  auto number = [&](uint64_t* out) {
    size_t start = i;
    while (i < v.size() && i - start < 15 && v[i] >= '0' && v[i] <= '9')
      *out = *out * 10 + static_cast<uint64_t>(v[i++] - '0');
    return i > start;
  };
  uint64_t writer = 0, seq = 0;
  if (v.empty() || v[i++] != 't' || !number(&writer) || i >= v.size() || v[i++] != '-' ||
      !number(&seq) || writer >= (uint64_t{1} << 20) || seq >= (uint64_t{1} << kSeqBits))
    return std::nullopt;
  if (v != value_for(writer, seq)) return std::nullopt;
  return value_id(writer, seq);
}

std::string prefix(std::string_view v) {
  return std::string(v.substr(0, 24)) + (v.size() > 24 ? "..." : "") + " (" +
         std::to_string(v.size()) + " bytes)";
}

class PHashMapConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(path(), o);
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = PHashMap::create(*store_);
    store_->set_root("m", map_);
  }
  void reopen() {
    map_ = {};
    store_.reset();
    auto s = open_store(path());
    ASSERT_TRUE(s) << s.status().to_string();
    store_ = std::move(*s);
    map_ = store_->root<PHashMap>("m");
  }
  void close() {
    map_ = {};
    store_.reset();
  }
  std::string path() const { return dir_.file("m.pool"); }
  // Forked writers killed at random points, each kill checked against a
  // model of the acknowledged operations.
  void kill_rounds(bool background_cleaner);

  // Every key present, by for_each, which must visit each once.
  std::map<std::string, std::string> contents() {
    std::map<std::string, std::string> all;
    map_->for_each([&](std::string_view k, const MapValue& v) {
      EXPECT_TRUE(all.emplace(std::string(k), std::string(v.bytes)).second)
          << "for_each visited " << k << " twice";
    });
    return all;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  Ref<PHashMap> map_;
};

// ---------------------------------------------------------------------------
// 1. Mixed-operation stress.
//
// 4 threads on 64 keys: keys 0..31 each belong to one thread, which checks
// every result on them against its own model (concurrent traffic on the
// other keys, lanes and the cleaner must not disturb them); keys 32..63 are
// shared by all, and every value read from them must be intact. Values of
// 100..299 bytes on a small key set: the log passes 256 KiB many times over
// and is mostly dead, so the cleaner runs throughout.
TEST_F(PHashMapConcurrencyTest, MixedOperationStress) {
  constexpr int kThreads = 4, kKeys = 64, kOwned = 32;  // key i < kOwned: thread i % kThreads
  const int ops_per_thread = 400000 / kScale;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i)
    keys.push_back("key-" + std::to_string(i) + std::string(i % 5, '+'));
  std::vector<std::vector<std::optional<std::string>>> models(
      kThreads, std::vector<std::optional<std::string>>(kKeys));
  std::vector<std::string> errors(kThreads);
  const uint64_t seed = std::random_device{}();
  PHashMap& m = *map_;

  auto worker = [&](int t) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
    std::vector<std::optional<std::string>>& model = models[t];
    std::vector<std::string> last_seen(kKeys, "none");
    std::string& err = errors[t];
    auto fail = [&](const std::string& what, const std::string& key) {
      err = what + " on " + key + " (thread " + std::to_string(t) + ")";
    };
    auto intact = [](const std::optional<std::string>& v) {
      return !v || parse_value(*v).has_value();
    };
    uint64_t seq = 0;
    for (int i = 0; i < ops_per_thread && err.empty(); ++i) {
      uint64_t r = rng();
      bool own = (r & 1) != 0;
      int k = own ? t + kThreads * static_cast<int>((r >> 1) % (kOwned / kThreads))
                  : kOwned + static_cast<int>((r >> 1) % (kKeys - kOwned));
      const std::string& key = keys[k];
      int dice = static_cast<int>((r >> 20) % 100);
      std::string v = value_for(static_cast<uint64_t>(t) + 1, seq++);
      std::optional<std::string>& cur = model[k];  // owned keys only
      if (dice < 20) {
        bool fresh = m.put(key, v);
        if (own && fresh != !cur) fail("put returned " + std::to_string(fresh), key);
        cur = v;
      } else if (dice < 40) {
        std::optional<std::string> got = m.get(key);
        if (own && got != cur) fail("get returned a value other than the last put", key);
        if (!intact(got)) fail("get returned a malformed value " + prefix(*got), key);
        if (got) last_seen[k] = *got;
      } else if (dice < 48) {
        bool had = m.remove(key);
        if (own && had != cur.has_value()) fail("remove returned " + std::to_string(had), key);
        cur.reset();
      } else if (dice < 58) {
        bool del = seq % 5 == 0;
        std::optional<std::string> old;
        int calls = 0;
        std::optional<std::string> res =
            m.compute(key, [&](std::optional<std::string_view> o) -> std::optional<std::string> {
              ++calls;
              if (o) old.emplace(*o);
              if (del) return std::nullopt;
              return v;
            });
        if (calls != 1)
          fail("compute called its function " + std::to_string(calls) + " times", key);
        if (own && old != cur) fail("compute saw a value other than the last put", key);
        if (!intact(old)) fail("compute saw a malformed value " + prefix(*old), key);
        if (del ? res.has_value() : res != v) fail("compute returned the wrong value", key);
        cur = res;
      } else if (dice < 68) {
        bool ins = m.put_if_absent(key, v);
        if (own && ins != !cur) fail("put_if_absent returned " + std::to_string(ins), key);
        if (own && ins) cur = v;
      } else if (dice < 78) {
        // Owned keys: expected is right half of the time. Shared keys: the
        // value this thread saw last, which may or may not still be there.
        bool right = own && cur && (r >> 40) % 2 == 0;
        std::string expected = own ? (right ? *cur : "wrong") : last_seen[k];
        bool set = m.compare_and_set(key, expected, v);
        if (own && set != right) fail("compare_and_set returned " + std::to_string(set), key);
        if (own && set) cur = v;
      } else if (dice < 88) {
        std::optional<std::string> old = m.exchange(key, v);
        if (own && old != cur) fail("exchange returned a value other than the last put", key);
        if (!intact(old)) fail("exchange returned a malformed value " + prefix(*old), key);
        cur = v;
      } else if (dice < 94) {
        bool rep = m.replace(key, v);
        if (own && rep != cur.has_value()) fail("replace returned " + std::to_string(rep), key);
        if (own && rep) cur = v;
      } else {
        bool right = own && cur && (r >> 40) % 2 == 0;
        std::string expected = own ? (right ? *cur : "wrong") : last_seen[k];
        bool removed = m.remove_if(key, expected);
        if (own && removed != right) fail("remove_if returned " + std::to_string(removed), key);
        if (own && removed) cur.reset();
      }
      if (!own) cur.reset();  // shared keys have no model
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "seed " << seed;
  if (HasFailure()) return;

  // The final state: owned keys as their models say, shared keys intact.
  std::map<std::string, std::string> want;
  for (int k = 0; k < kKeys; ++k) {
    std::optional<std::string> got = m.get(keys[k]);
    if (k < kOwned) {
      EXPECT_EQ(got, models[k % kThreads][k]) << keys[k];
    }
    if (got) {
      EXPECT_TRUE(parse_value(*got)) << keys[k] << ": " << prefix(*got);
      want[keys[k]] = *got;
    }
  }
  EXPECT_EQ(m.size(), want.size());
  EXPECT_EQ(contents(), want);
  MapStats st = m.stats();
  EXPECT_GT(st.cleanings, 0u) << "the cleaner never ran";
  EXPECT_EQ(st.size, want.size());
  std::printf("ops: %d, cleanings: %llu, chunks: %llu, log bytes: %llu (dead %llu)\n",
              kThreads * ops_per_thread, static_cast<unsigned long long>(st.cleanings),
              static_cast<unsigned long long>(st.chunks),
              static_cast<unsigned long long>(st.record_bytes),
              static_cast<unsigned long long>(st.dead_bytes));

  reopen();
  EXPECT_EQ(map_->size(), want.size());
  EXPECT_EQ(contents(), want);
  for (int k = 0; k < kKeys; ++k) {
    auto it = want.find(keys[k]);
    EXPECT_EQ(map_->get(keys[k]),
              it == want.end() ? std::nullopt : std::optional<std::string>(it->second))
        << keys[k] << " after reopen";
  }
}

// ---------------------------------------------------------------------------
// 2. Linearizability of each key, as a register.
//
// Every operation is recorded with its invocation and response times on a
// shared logical clock, what it observed of the key (a value, absent, or
// "present" when only that is known) and what it wrote (a value or a
// removal). Each value is written once. check_register_history() checks
// the history of one key:
//  - a value read was written, by a write invoked before the read responded;
//  - it is not stale: no write (or removal) was invoked after the value's
//    write responded and responded before the read was invoked;
//  - an absent read is not stale: if an operation that wrote or observed a
//    value responded before it was invoked, some removal may be ordered
//    between the two;
//  - the zones of the values (Gibbons and Korach): for a value, its write
//    and the operations that read it form a cluster; with f = the earliest
//    response and s = the latest invocation of the cluster, it is a forward
//    zone [f, s] if f < s, else a backward zone [s, f]. No two forward zones
//    may overlap and no backward zone may lie inside a forward one. For
//    reads and blind writes of unique values this is exactly
//    linearizability; removals and read-modify-writes only add constraints;
//  - a value is replaced by at most one read-modify-write (compute,
//    compare_and_set, exchange, remove that saw it): once one has replaced
//    it, no other can see it (a lost update shows here).
enum class Seen : uint8_t { kNothing, kAbsent, kValue, kPresent };

struct HistOp {
  uint64_t inv = 0, resp = 0;  // logical clock, before invoking and after the response
  uint64_t read = 0;           // value id, if seen == kValue
  uint64_t wrote = 0;          // value id, if wrote_value
  Seen seen = Seen::kNothing;  // what it observed of the key
  bool wrote_value = false;
  bool removed = false;  // it wrote "absent"
  const char* name = "?";
};

std::string describe(const HistOp& o) {
  std::string s =
      std::string(o.name) + "@[" + std::to_string(o.inv) + "," + std::to_string(o.resp) + "]";
  if (o.seen == Seen::kValue) s += " saw " + id_name(o.read);
  if (o.seen == Seen::kAbsent) s += " saw absent";
  if (o.seen == Seen::kPresent) s += " saw present";
  if (o.wrote_value) s += " wrote " + id_name(o.wrote);
  if (o.removed) s += " removed";
  return s;
}

std::vector<std::string> check_register_history(const std::vector<HistOp>& ops) {
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  std::vector<std::string> problems;
  auto problem = [&](const std::string& p) {
    if (problems.size() < 10) problems.push_back(p);
  };
  std::unordered_map<uint64_t, size_t> writer;    // value id -> op
  std::vector<size_t> writes, presence, removes;  // presence: wrote or saw a value
  uint64_t first_value_write_inv = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < ops.size(); ++i) {
    const HistOp& o = ops[i];
    if (o.inv >= o.resp) problem("bad interval: " + describe(o));
    if (o.wrote_value) {
      if (!writer.emplace(o.wrote, i).second) problem("value written twice: " + describe(o));
      writes.push_back(i);
      first_value_write_inv = std::min(first_value_write_inv, o.inv);
    }
    if (o.removed) {
      writes.push_back(i);
      removes.push_back(i);
    }
    if (o.wrote_value || o.seen == Seen::kValue || o.seen == Seen::kPresent) presence.push_back(i);
  }
  // Ops sorted by response, with the running latest invocation: the write
  // invoked last among those that responded before t.
  struct ByResponse {
    std::vector<uint64_t> resp;
    std::vector<size_t> latest_inv;
  };
  auto by_response = [&](std::vector<size_t> idx) {
    std::sort(idx.begin(), idx.end(),
              [&](size_t a, size_t b) { return ops[a].resp < ops[b].resp; });
    ByResponse b;
    size_t best = kNone;
    for (size_t i : idx) {
      if (best == kNone || ops[i].inv > ops[best].inv) best = i;
      b.resp.push_back(ops[i].resp);
      b.latest_inv.push_back(best);
    }
    return b;
  };
  auto latest_before = [&](const ByResponse& b, uint64_t t) {
    size_t n =
        static_cast<size_t>(std::lower_bound(b.resp.begin(), b.resp.end(), t) - b.resp.begin());
    return n == 0 ? kNone : b.latest_inv[n - 1];
  };
  ByResponse all_writes = by_response(writes), present = by_response(presence);
  // Removals sorted by invocation, with the running latest response.
  std::sort(removes.begin(), removes.end(),
            [&](size_t a, size_t b) { return ops[a].inv < ops[b].inv; });
  std::vector<uint64_t> remove_inv;
  std::vector<size_t> remove_latest_resp;
  for (size_t i : removes) {
    size_t best = remove_latest_resp.empty() ? i : remove_latest_resp.back();
    if (ops[i].resp > ops[best].resp) best = i;
    remove_inv.push_back(ops[i].inv);
    remove_latest_resp.push_back(best);
  }

  for (const HistOp& r : ops) {
    if (r.seen == Seen::kValue) {
      auto it = writer.find(r.read);
      if (it == writer.end()) {
        problem("read a value nobody wrote: " + describe(r));
        continue;
      }
      const HistOp& w = ops[it->second];
      if (w.inv > r.resp) problem("read from the future: " + describe(r) + ", " + describe(w));
      size_t o = latest_before(all_writes, r.inv);
      if (o != kNone && ops[o].inv > w.resp)
        problem("stale read: " + describe(r) + " of " + describe(w) + ", overwritten by " +
                describe(ops[o]));
    } else if (r.seen == Seen::kAbsent) {
      size_t o = latest_before(present, r.inv);
      if (o == kNone) continue;  // the initial absence
      // A removal invoked before r responded and responding after o was
      // invoked could come between them.
      size_t n = static_cast<size_t>(
          std::lower_bound(remove_inv.begin(), remove_inv.end(), r.resp) - remove_inv.begin());
      if (n == 0 || ops[remove_latest_resp[n - 1]].resp < ops[o].inv)
        problem("stale absent read: " + describe(r) + " after " + describe(ops[o]) +
                " with no removal in between");
    } else if (r.seen == Seen::kPresent) {
      if (first_value_write_inv > r.resp) problem("present before any write: " + describe(r));
    }
  }

  // Each value consumed by at most one read-modify-write.
  std::unordered_map<uint64_t, size_t> consumer;
  for (size_t i = 0; i < ops.size(); ++i) {
    const HistOp& o = ops[i];
    if (o.seen != Seen::kValue || !(o.wrote_value || o.removed)) continue;
    auto [it, fresh] = consumer.emplace(o.read, i);
    if (!fresh)
      problem("lost update: " + describe(ops[it->second]) + " and " + describe(o) +
              " both replaced the same value");
  }

  // Zones.
  struct Cluster {
    uint64_t min_resp, max_inv;
  };
  std::unordered_map<uint64_t, Cluster> clusters;
  for (const HistOp& o : ops)
    if (o.wrote_value) clusters[o.wrote] = {o.resp, o.inv};
  for (const HistOp& o : ops) {
    if (o.seen != Seen::kValue) continue;
    auto it = clusters.find(o.read);
    if (it == clusters.end()) continue;  // reported above
    it->second.min_resp = std::min(it->second.min_resp, o.resp);
    it->second.max_inv = std::max(it->second.max_inv, o.inv);
  }
  struct Zone {
    uint64_t lo, hi, id;
  };
  std::vector<Zone> forward, backward;
  for (const auto& [id, c] : clusters)
    (c.min_resp < c.max_inv ? forward : backward)
        .push_back({std::min(c.min_resp, c.max_inv), std::max(c.min_resp, c.max_inv), id});
  std::sort(forward.begin(), forward.end(),
            [](const Zone& a, const Zone& b) { return a.lo < b.lo; });
  std::vector<size_t> widest;  // forward zone reaching furthest among forward[0..i]
  for (size_t i = 0; i < forward.size(); ++i) {
    if (i > 0 && forward[widest.back()].hi > forward[i].lo)
      problem("overlapping forward zones of " + id_name(forward[widest.back()].id) + " and " +
              id_name(forward[i].id));
    widest.push_back(i == 0 || forward[i].hi > forward[widest.back()].hi ? i : widest.back());
  }
  for (const Zone& b : backward) {
    size_t n =
        static_cast<size_t>(std::lower_bound(forward.begin(), forward.end(), b.lo,
                                             [](const Zone& z, uint64_t lo) { return z.lo < lo; }) -
                            forward.begin());
    if (n > 0 && forward[widest[n - 1]].hi > b.hi)
      problem("backward zone of " + id_name(b.id) + " inside the forward zone of " +
              id_name(forward[widest[n - 1]].id));
  }
  return problems;
}

HistOp write_op(uint64_t inv, uint64_t resp, uint64_t id) {
  HistOp o;
  o.inv = inv;
  o.resp = resp;
  o.wrote_value = true;
  o.wrote = id;
  o.name = "put";
  return o;
}
HistOp read_op(uint64_t inv, uint64_t resp, std::optional<uint64_t> id) {
  HistOp o;
  o.inv = inv;
  o.resp = resp;
  o.seen = id ? Seen::kValue : Seen::kAbsent;
  o.read = id.value_or(0);
  o.name = "get";
  return o;
}
HistOp remove_op(uint64_t inv, uint64_t resp) {
  HistOp o;
  o.inv = inv;
  o.resp = resp;
  o.seen = Seen::kPresent;
  o.removed = true;
  o.name = "remove";
  return o;
}

// The checker itself: it accepts linearizable histories and rejects each
// kind of violation.
TEST(PHashMapRegisterCheckerTest, AcceptsLinearizableAndRejectsViolations) {
  const uint64_t a = value_id(1, 0), b = value_id(2, 0);
  // Reads concurrent with the write: absent, then the value.
  EXPECT_EQ(check_register_history({write_op(1, 6, a), read_op(2, 3, std::nullopt),
                                    read_op(4, 5, a), read_op(7, 8, a)}),
            std::vector<std::string>{});
  // ... but not the value, then absent.
  EXPECT_FALSE(
      check_register_history({write_op(1, 6, a), read_op(2, 3, a), read_op(4, 5, std::nullopt)})
          .empty());
  EXPECT_EQ(check_register_history(
                {write_op(1, 2, a), write_op(3, 8, b), read_op(4, 5, b), read_op(6, 7, a)})
                .size(),
            1u);  // new-old inversion: zones
  EXPECT_EQ(check_register_history({write_op(1, 2, a), remove_op(3, 6), read_op(4, 5, std::nullopt),
                                    read_op(7, 8, std::nullopt)}),
            std::vector<std::string>{});
  // Stale value.
  EXPECT_FALSE(
      check_register_history({write_op(1, 2, a), write_op(3, 4, b), read_op(5, 6, a)}).empty());
  // Stale after a removal.
  EXPECT_FALSE(
      check_register_history({write_op(1, 2, a), remove_op(3, 4), read_op(5, 6, a)}).empty());
  // Absent after a completed write with no removal.
  EXPECT_FALSE(check_register_history({write_op(1, 2, a), read_op(3, 4, std::nullopt)}).empty());
  // Absent after a removal that completed before the last write.
  EXPECT_FALSE(check_register_history({write_op(1, 2, a), remove_op(3, 4), write_op(5, 6, b),
                                       read_op(7, 8, std::nullopt)})
                   .empty());
  // Two read-modify-writes replacing the same value (one update is lost).
  HistOp rmw1 = write_op(3, 6, value_id(3, 0)), rmw2 = write_op(4, 7, value_id(4, 0));
  rmw1.seen = rmw2.seen = Seen::kValue;
  rmw1.read = rmw2.read = a;
  EXPECT_EQ(check_register_history({write_op(1, 2, a), rmw1}), std::vector<std::string>{});
  EXPECT_FALSE(check_register_history({write_op(1, 2, a), rmw1, rmw2}).empty());
  // A value from the future, and one nobody wrote.
  EXPECT_FALSE(check_register_history({read_op(1, 2, a), write_op(3, 4, a)}).empty());
  EXPECT_FALSE(check_register_history({read_op(1, 2, b)}).empty());
}

TEST_F(PHashMapConcurrencyTest, PerKeyHistoriesAreLinearizable) {
  constexpr int kThreads = 4, kKeys = 8;
  const int ops_per_thread = 150000 / kScale;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("reg" + std::to_string(i));
  std::atomic<uint64_t> clock{1};
  std::vector<std::vector<std::vector<HistOp>>> hist(  // [thread][key]
      kThreads, std::vector<std::vector<HistOp>>(kKeys));
  std::vector<std::string> errors(kThreads);
  const uint64_t seed = std::random_device{}();
  PHashMap& m = *map_;

  auto worker = [&](int t) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
    std::vector<std::optional<std::string>> last_seen(kKeys);
    const uint64_t writer = static_cast<uint64_t>(t) + 1;
    uint64_t seq = 0;
    for (int i = 0; i < ops_per_thread && errors[t].empty(); ++i) {
      uint64_t r = rng();
      int k = static_cast<int>(r % kKeys);
      const std::string& key = keys[k];
      int dice = static_cast<int>((r >> 16) % 100);
      const uint64_t id = value_id(writer, seq);
      std::string v = value_for(writer, seq++);
      HistOp o;
      std::optional<std::string> seen;  // a value observed
      o.inv = clock.fetch_add(1);
      if (dice < 35) {
        o.name = "get";
        seen = m.get(key);
        if (!seen) o.seen = Seen::kAbsent;
      } else if (dice < 50) {
        o.name = "put";
        o.seen = m.put(key, v) ? Seen::kAbsent : Seen::kPresent;
        o.wrote_value = true;
      } else if (dice < 60) {
        o.name = "remove";
        o.removed = m.remove(key);
        o.seen = o.removed ? Seen::kPresent : Seen::kAbsent;
      } else if (dice < 70) {
        o.name = "compute";
        bool del = seq % 4 == 0;
        bool had = false;
        std::optional<std::string> res =
            m.compute(key, [&](std::optional<std::string_view> old) -> std::optional<std::string> {
              had = old.has_value();
              if (old) seen.emplace(*old);
              if (old && del) return std::nullopt;
              return v;
            });
        if (!had) o.seen = Seen::kAbsent;
        o.wrote_value = res.has_value();
        o.removed = !res && had;
      } else if (dice < 80) {
        o.name = "put_if_absent";
        o.wrote_value = m.put_if_absent(key, v);
        o.seen = o.wrote_value ? Seen::kAbsent : Seen::kPresent;
      } else if (dice < 90) {
        o.name = "compare_and_set";
        std::string expected = last_seen[k] ? *last_seen[k] : std::string("none");
        o.wrote_value = m.compare_and_set(key, expected, v);
        if (o.wrote_value) seen = expected;
      } else {
        o.name = "exchange";
        seen = m.exchange(key, v);
        if (!seen) o.seen = Seen::kAbsent;
        o.wrote_value = true;
      }
      o.resp = clock.fetch_add(1);
      if (o.wrote_value) o.wrote = id;
      if (seen) {
        std::optional<uint64_t> got = parse_value(*seen);
        if (!got) {
          errors[t] =
              std::string(o.name) + " on " + key + " saw a malformed value " + prefix(*seen);
          break;
        }
        o.seen = Seen::kValue;
        o.read = *got;
        last_seen[k] = std::move(seen);
      }
      hist[t][k].push_back(o);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "seed " << seed;

  uint64_t total = 0, value_reads = 0, absent_reads = 0;
  for (int k = 0; k < kKeys; ++k) {
    std::vector<HistOp> ops;
    for (int t = 0; t < kThreads; ++t) ops.insert(ops.end(), hist[t][k].begin(), hist[t][k].end());
    total += ops.size();
    for (const HistOp& o : ops) {
      value_reads += o.seen == Seen::kValue;
      absent_reads += o.seen == Seen::kAbsent;
    }
    // The final state is one more read, after everything.
    HistOp last;
    last.name = "final get";
    last.inv = clock.fetch_add(1);
    std::optional<std::string> fin = map_->get(keys[k]);
    last.resp = clock.fetch_add(1);
    if (fin) {
      std::optional<uint64_t> got = parse_value(*fin);
      ASSERT_TRUE(got) << prefix(*fin);
      last.seen = Seen::kValue;
      last.read = *got;
    } else {
      last.seen = Seen::kAbsent;
    }
    ops.push_back(last);
    std::vector<std::string> problems = check_register_history(ops);
    EXPECT_EQ(problems, std::vector<std::string>{}) << keys[k] << ", seed " << seed;
  }
  EXPECT_EQ(total, uint64_t{kThreads} * static_cast<uint64_t>(ops_per_thread));
  EXPECT_GT(map_->stats().cleanings, 0u) << "the cleaner never ran";
  std::printf("ops: %llu (reads of values %llu, of absence %llu), cleanings: %llu\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(value_reads),
              static_cast<unsigned long long>(absent_reads),
              static_cast<unsigned long long>(map_->stats().cleanings));
}

// ---------------------------------------------------------------------------
// 3. Counters by compute: no increment lost or applied twice, concurrently,
// across a clean restart and across kills.
std::optional<std::string> increment(std::optional<std::string_view> old) {
  return std::to_string(old ? std::stoll(std::string(*old)) + 1 : 1);
}

int64_t counter_value(PHashMap& m, const std::string& key) {
  std::optional<std::string> v = m.get(key);
  return v ? std::stoll(*v) : 0;
}

TEST_F(PHashMapConcurrencyTest, ComputeCountersLoseNoUpdate) {
  constexpr int kThreads = 4, kCounters = 3;
  const int each = 60000 / kScale;
  std::vector<std::string> keys;
  for (int c = 0; c < kCounters; ++c) keys.push_back("counter" + std::to_string(c));
  // returned[t][c]: the values thread t's increments of counter c returned.
  std::vector<std::vector<std::vector<int64_t>>> returned(
      kThreads, std::vector<std::vector<int64_t>>(kCounters));
  PHashMap& m = *map_;
  const uint64_t seed = std::random_device{}();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(t));
      for (int i = 0; i < each; ++i) {
        int c = static_cast<int>(rng() % kCounters);
        returned[t][c].push_back(std::stoll(*m.compute(keys[c], increment)));
      }
    });
  for (auto& th : threads) th.join();
  std::vector<int64_t> counts(kCounters);
  for (int c = 0; c < kCounters; ++c) {
    // Every value 1..n returned exactly once, in increasing order per thread.
    std::vector<int64_t> all;
    for (int t = 0; t < kThreads; ++t) {
      const std::vector<int64_t>& v = returned[t][c];
      for (size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]) << keys[c];
      all.insert(all.end(), v.begin(), v.end());
    }
    std::sort(all.begin(), all.end());
    counts[c] = static_cast<int64_t>(all.size());
    for (size_t i = 0; i < all.size(); ++i)
      ASSERT_EQ(all[i], static_cast<int64_t>(i) + 1) << keys[c] << ": lost or duplicated";
    EXPECT_EQ(counter_value(m, keys[c]), counts[c]) << keys[c];
  }
  EXPECT_EQ(m.size(), uint64_t{kCounters});
  reopen();
  for (int c = 0; c < kCounters; ++c)
    EXPECT_EQ(counter_value(*map_, keys[c]), counts[c]) << keys[c] << " after reopen";

  // Kills: a child increments from 4 threads, reporting (counter, value)
  // for each increment that returned; the parent kills it after a random
  // number of reports. Every reported increment is there, and at most one
  // more per thread.
  close();
  struct Ack {
    int32_t counter;
    int32_t pad;
    int64_t value;
  };
  std::mt19937_64 rng(seed);
  const int kills = 8;
  uint64_t acked_total = 0;
  for (int k = 0; k < kills; ++k) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      try {
        auto s = open_store(path());
        if (!s) ::_exit(3);
        PHashMap& cm = *(*s)->root<PHashMap>("m");
        std::vector<std::thread> incrementers;
        for (int t = 0; t < kThreads; ++t)
          incrementers.emplace_back([&, t] {
            try {
              for (int i = t;; ++i) {
                Ack a{i % kCounters, 0, std::stoll(*cm.compute(keys[i % kCounters], increment))};
                if (::write(fds[1], &a, sizeof a) != sizeof a) ::_exit(4);
              }
            } catch (...) {
              ::_exit(5);
            }
          });
        for (auto& th : incrementers) th.join();
      } catch (...) {
        ::_exit(5);
      }
      ::_exit(6);
    }
    ::close(fds[1]);
    std::vector<std::vector<int64_t>> acked(kCounters);
    Ack a;
    uint64_t wait_for = rng() % (4000 / kScale);
    bool bad_ack = false;
    auto take = [&] {
      if (a.counter < 0 || a.counter >= kCounters)
        bad_ack = true;
      else
        acked[a.counter].push_back(a.value);
    };
    for (uint64_t i = 0; i < wait_for && ::read(fds[0], &a, sizeof a) == sizeof a; ++i) take();
    ::kill(pid, SIGKILL);
    while (::read(fds[0], &a, sizeof a) == sizeof a) take();
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << status;
    ASSERT_FALSE(bad_ack);

    auto s = open_store(path());
    ASSERT_TRUE(s) << "kill " << k << ": " << s.status().to_string();
    PHashMap& rm = *(*s)->root<PHashMap>("m");
    int64_t in_flight = kThreads;
    for (int c = 0; c < kCounters; ++c) {
      int64_t now = counter_value(rm, keys[c]);
      std::vector<int64_t>& v = acked[c];
      std::sort(v.begin(), v.end());
      acked_total += v.size();
      EXPECT_EQ(std::adjacent_find(v.begin(), v.end()), v.end())
          << keys[c] << ": a value returned twice (kill " << k << ")";
      if (!v.empty()) {
        EXPECT_GT(v.front(), counts[c]) << keys[c] << " (kill " << k << ")";
        EXPECT_GE(now, v.back()) << keys[c] << ": an acknowledged increment was lost (kill " << k
                                 << ")";
      }
      int64_t extra = now - counts[c] - static_cast<int64_t>(v.size());
      EXPECT_GE(extra, 0) << keys[c] << ": acknowledged increments lost (kill " << k << ")";
      in_flight -= extra;
      counts[c] = now;
    }
    EXPECT_GE(in_flight, 0) << "more increments appeared than were in flight (kill " << k << ")";
    EXPECT_EQ(rm.size(), uint64_t{kCounters});
    if (HasFailure()) return;
  }
  std::printf("increments: %d in threads, %llu acknowledged before %d kills\n", kThreads * each,
              static_cast<unsigned long long>(acked_total), kills);
  // And once more after a clean close.
  auto s = open_store(path());
  ASSERT_TRUE(s) << s.status().to_string();
  for (int c = 0; c < kCounters; ++c)
    EXPECT_EQ(counter_value(*(*s)->root<PHashMap>("m"), keys[c]), counts[c]) << keys[c];
}

// ---------------------------------------------------------------------------
// 4. Weakly consistent iteration while writers run. Stable keys, put before
// the writers start and never touched again, are visited exactly once each
// with their value, although the cleaner moves their records meanwhile (they
// were written between records that are dead by then); hot keys, written
// and removed by the writers, are visited at most once, with an intact
// value. The reader iterates until the cleaner has run during its
// iterations, as well as a fixed number of times.
TEST_F(PHashMapConcurrencyTest, IterationDuringWritesVisitsStableKeysOnce) {
  constexpr int kStable = 2000, kHot = 64, kWriters = 3;
  const int iterations = 200 / kScale;
  PHashMap& m = *map_;
  auto stable_key = [](int i) { return "stable-" + std::to_string(i); };
  auto hot_key = [](int i) { return "hot-" + std::to_string(i); };
  uint64_t seq = 0;
  for (int i = 0; i < kStable; ++i) {
    ASSERT_TRUE(m.put(stable_key(i), value_for(100, static_cast<uint64_t>(i))));
    for (int j = 0; j < 3; ++j) m.put(hot_key((i * 3 + j) % kHot), value_for(99, seq++));
  }
  std::atomic<bool> done{false};
  std::atomic<uint64_t> progress{0};
  std::vector<std::string> errors(kWriters);
  std::vector<std::thread> writers;
  const uint64_t seed = std::random_device{}();
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(w));
      for (uint64_t n = 0; !done.load(std::memory_order_relaxed); ++n) {
        uint64_t r = rng();
        std::string key = hot_key(static_cast<int>(r % kHot));
        std::string v = value_for(static_cast<uint64_t>(w) + 1, n);
        switch ((r >> 32) % 4) {
          case 0: m.remove(key); break;
          case 1:
            m.compute(key, [&](std::optional<std::string_view> old) -> std::optional<std::string> {
              if (old && !parse_value(*old)) errors[w] = "malformed value in compute";
              return v;
            });
            break;
          default: m.put(key, v); break;
        }
        progress.fetch_add(1, std::memory_order_relaxed);
      }
    });
  // Let the writers get going (progress, not time).
  while (progress.load(std::memory_order_relaxed) < 1000) std::this_thread::yield();

  const uint64_t cleanings_before = m.stats().cleanings;
  int it = 0;
  uint64_t hot_visits = 0;
  std::string err;
  for (; err.empty() && (it < iterations || m.stats().cleanings < cleanings_before + 5) &&
         it < 100 * iterations;
       ++it) {
    std::vector<int> stable_seen(kStable), hot_seen(kHot);
    int visited = 0;
    m.for_each([&](std::string_view k, const MapValue& v) {
      ++visited;
      if (!err.empty()) return;
      if (k.starts_with("stable-")) {
        int i = std::atoi(std::string(k.substr(7)).c_str());
        if (i < 0 || i >= kStable) {
          err = "unknown key " + std::string(k);
          return;
        }
        ++stable_seen[i];
        if (v.bytes != value_for(100, static_cast<uint64_t>(i)))
          err = std::string(k) + " has value " + prefix(v.bytes);
        // f may use the map.
        else if (visited % 97 == 0 && m.get(k) != std::string(v.bytes))
          err = "get of " + std::string(k) + " inside for_each differs";
      } else if (k.starts_with("hot-")) {
        int i = std::atoi(std::string(k.substr(4)).c_str());
        if (i < 0 || i >= kHot) {
          err = "unknown key " + std::string(k);
          return;
        }
        ++hot_seen[i];
        if (!parse_value(v.bytes)) err = std::string(k) + " has malformed value " + prefix(v.bytes);
      } else {
        err = "unknown key " + std::string(k);
      }
    });
    for (int i = 0; i < kStable && err.empty(); ++i)
      if (stable_seen[i] != 1)
        err = stable_key(i) + " visited " + std::to_string(stable_seen[i]) + " times";
    for (int i = 0; i < kHot && err.empty(); ++i) {
      if (hot_seen[i] > 1) err = hot_key(i) + " visited " + std::to_string(hot_seen[i]) + " times";
      hot_visits += static_cast<uint64_t>(hot_seen[i]);
    }
    if (!err.empty()) err += " (iteration " + std::to_string(it) + ")";
  }
  const uint64_t cleanings_during = m.stats().cleanings - cleanings_before;
  done = true;
  for (auto& th : writers) th.join();
  EXPECT_EQ(err, "") << "seed " << seed;
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(errors[w], "");
  EXPECT_GE(cleanings_during, 5u) << "the cleaner did not run during the iterations";
  std::printf(
      "iterations: %d, writes meanwhile: %llu, cleanings meanwhile: %llu, hot visits: %llu\n", it,
      static_cast<unsigned long long>(progress.load()),
      static_cast<unsigned long long>(cleanings_during),
      static_cast<unsigned long long>(hot_visits));
  // Quiescent: an exact iteration.
  std::map<std::string, std::string> all = contents();
  EXPECT_EQ(all.size(), m.size());
  for (int i = 0; i < kStable; ++i)
    EXPECT_EQ(all[stable_key(i)], value_for(100, static_cast<uint64_t>(i)));
}

// ---------------------------------------------------------------------------
// 5. Fork + SIGKILL. A child runs 2 threads of puts, removes, put_if_absent
// and compute on disjoint halves of 128 keys, reporting each operation on a
// pipe once it has returned; the parent kills it after a random number of
// reports. Operation n of thread t is a function of (seed, t, n), so the
// parent knows the one each thread may have had in flight. After each kill
// the parent checks the crashed pool and reopens it (recovery): every
// acknowledged operation is there (the in-flight one may or may not be),
// removed keys are absent, size() and for_each agree, and the heap check
// is clean before and after.
constexpr uint32_t kKillThreads = 2, kKillKeys = 128;

std::string kill_key(uint32_t k) { return "k" + std::to_string(k); }

// Values 40..439 bytes, and now and then 70000 (a chunk of its own).
std::string kill_value(uint64_t writer, uint64_t seq) {
  uint64_t x = mix(value_id(writer, seq) ^ 0x1234567);
  return make_value(writer, seq, x % 400 == 0 ? 70000 : 40 + x % 400);
}

struct KillOp {
  uint32_t key;
  char kind;  // 'p' put, 'r' remove, 'i' put_if_absent, 'c' compute (removes 1 in 3)
};
KillOp kill_op(uint64_t seed, uint32_t thread, uint64_t n) {
  uint64_t x = mix(seed ^ mix(uint64_t{thread} << 48 | n));
  KillOp op;
  op.key = thread + kKillThreads * static_cast<uint32_t>(x % (kKillKeys / kKillThreads));
  uint64_t r = (x >> 32) % 100;
  op.kind = r < 55 ? 'p' : r < 80 ? 'r' : r < 90 ? 'i' : 'c';
  return op;
}

struct KillState {
  bool present = false;
  uint64_t writer = 0, seq = 0;
  friend bool operator==(const KillState&, const KillState&) = default;
};
std::string show(const KillState& s) {
  return s.present ? "t" + std::to_string(s.writer) + "-" + std::to_string(s.seq) : "absent";
}

// The state after op (writing value (writer, n)) on `before`, and what the
// operation returns (put: new key; remove: existed; put_if_absent:
// inserted; compute: a value).
std::pair<KillState, bool> apply_kill_op(const KillOp& op, const KillState& before, uint64_t writer,
                                         uint64_t n) {
  KillState written{true, writer, n};
  switch (op.kind) {
    case 'p': return {written, !before.present};
    case 'r': return {KillState{}, before.present};
    case 'i': return {before.present ? before : written, !before.present};
    default:
      if (before.present && n % 3 == 0) return {KillState{}, false};
      return {written, true};
  }
}

struct KillAck {
  uint32_t thread;
  uint32_t key;
  uint64_t n;
  uint32_t kind;
  uint32_t result;
};

[[noreturn]] void kill_child(const std::string& path, int fd, uint64_t seed, uint64_t cycle,
                             bool background_cleaner) {
  try {
    if (background_cleaner) LogCleaner::set_mode(BackgroundCleaning::kThread);
    auto s = open_store(path);
    if (!s) ::_exit(3);
    PHashMap& m = *(*s)->root<PHashMap>("m");
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < kKillThreads; ++t)
      threads.emplace_back([&, t] {
        try {
          const uint64_t writer = cycle * kKillThreads + t + 1;
          for (uint64_t n = 0;; ++n) {
            KillOp op = kill_op(seed, t, n);
            std::string key = kill_key(op.key);
            bool result;
            switch (op.kind) {
              case 'p': result = m.put(key, kill_value(writer, n)); break;
              case 'r': result = m.remove(key); break;
              case 'i': result = m.put_if_absent(key, kill_value(writer, n)); break;
              default:
                result =
                    m.compute(
                         key,
                         [&](std::optional<std::string_view> old) -> std::optional<std::string> {
                           if (old && n % 3 == 0) return std::nullopt;
                           return kill_value(writer, n);
                         })
                        .has_value();
            }
            KillAck a{t, op.key, n, static_cast<uint32_t>(op.kind), result};
            if (::write(fd, &a, sizeof a) != sizeof a) ::_exit(4);
          }
        } catch (...) {
          ::_exit(5);
        }
      });
    for (auto& th : threads) th.join();
  } catch (...) {
    ::_exit(5);
  }
  ::_exit(6);
}

void PHashMapConcurrencyTest::kill_rounds(bool background_cleaner) {
  close();
  const std::string p = path();
  const int kills = 30;
  std::vector<KillState> model(kKillKeys);
  std::mt19937_64 rng(std::random_device{}());
  uint64_t acked_total = 0, in_flight_applied = 0;
  for (int k = 0; k < kills; ++k) {
    const uint64_t seed = rng(), writer_base = static_cast<uint64_t>(k) * kKillThreads + 1;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      kill_child(p, fds[1], seed, static_cast<uint64_t>(k), background_cleaner);
    }
    ::close(fds[1]);
    std::vector<uint64_t> done(kKillThreads, 0);
    std::string err;
    auto take = [&](const KillAck& a) {
      if (!err.empty()) return;
      if (a.thread >= kKillThreads || a.n != done[a.thread]) {
        err = "acknowledgement out of order";
        return;
      }
      KillOp op = kill_op(seed, a.thread, a.n);
      auto [after, result] = apply_kill_op(op, model[op.key], writer_base + a.thread, a.n);
      if (a.key != op.key || a.kind != static_cast<uint32_t>(op.kind) ||
          (a.result != 0) != result) {
        err = std::string(1, op.kind) + " of " + kill_key(op.key) + " returned " +
              std::to_string(a.result) + " with the key " + show(model[op.key]) + " (op " +
              std::to_string(a.n) + " of thread " + std::to_string(a.thread) + ")";
        return;
      }
      model[op.key] = after;
      ++done[a.thread];
      ++acked_total;
    };
    // A random number of acknowledgements (0: a kill while it opens).
    // Every 5th kill comes early: while the child opens and recovers.
    uint64_t wait_for = rng() % (k % 5 == 0 ? 10 : kScale > 1 ? 600 : 3000);
    KillAck a;
    for (uint64_t i = 0; i < wait_for && ::read(fds[0], &a, sizeof a) == sizeof a; ++i) take(a);
    ::kill(pid, SIGKILL);
    while (::read(fds[0], &a, sizeof a) == sizeof a) take(a);
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << status;
    ASSERT_EQ(err, "") << "kill " << k;

    // The crashed pool, before recovery (the check works on a private copy).
    auto pre = recovery::check_heap(p);
    ASSERT_TRUE(pre) << pre.status().to_string();
    EXPECT_TRUE(pre->consistent()) << "kill " << k << ": " << pre->problems.front();
    {
      auto s = open_store(p);
      ASSERT_TRUE(s) << "kill " << k << ": " << s.status().to_string();
      PHashMap& m = *(*s)->root<PHashMap>("m");
      // The operation each thread may have had in flight.
      std::map<uint32_t, KillState> maybe;
      for (uint32_t t = 0; t < kKillThreads; ++t) {
        KillOp op = kill_op(seed, t, done[t]);
        maybe[op.key] = apply_kill_op(op, model[op.key], writer_base + t, done[t]).first;
      }
      std::map<std::string, std::string> want;
      for (uint32_t key = 0; key < kKillKeys; ++key) {
        std::optional<std::string> got = m.get(kill_key(key));
        auto matches = [&](const KillState& st) {
          return st.present ? got == kill_value(st.writer, st.seq) : !got;
        };
        if (!matches(model[key])) {
          auto in_flight = maybe.find(key);
          if (in_flight != maybe.end() && matches(in_flight->second)) {
            model[key] = in_flight->second;
            ++in_flight_applied;
          } else {
            ADD_FAILURE() << kill_key(key) << " is " << (got ? prefix(*got) : "absent")
                          << ", acknowledged " << show(model[key]) << " (kill " << k << ")";
          }
        }
        if (got) want[kill_key(key)] = *got;
      }
      EXPECT_EQ(m.size(), want.size()) << "kill " << k;
      std::map<std::string, std::string> seen;
      m.for_each([&](std::string_view key, const MapValue& v) {
        EXPECT_TRUE(seen.emplace(std::string(key), std::string(v.bytes)).second)
            << key << " visited twice";
      });
      EXPECT_TRUE(seen == want) << "for_each disagrees with get after kill " << k;
      EXPECT_EQ((*s)->open_report().live_bytes, (*s)->usage().live_bytes) << "kill " << k;
    }
    auto check = recovery::check_heap(p);
    ASSERT_TRUE(check) << check.status().to_string();
    EXPECT_TRUE(check->consistent()) << "kill " << k << ": " << check->problems.front();
    EXPECT_EQ(check->leaked_bytes, 0u) << "kill " << k;
    EXPECT_EQ(check->allocated_bytes, check->reachable_bytes) << "kill " << k;
    if (HasFailure()) return;
  }
  std::printf(
      "kills: %d, operations acknowledged: %llu, in-flight operations found applied: %llu\n", kills,
      static_cast<unsigned long long>(acked_total),
      static_cast<unsigned long long>(in_flight_applied));
}

TEST_F(PHashMapConcurrencyTest, KilledWriterLosesNoAcknowledgedOperation) { kill_rounds(false); }

// The same with the logs cleaned by the background cleaner's thread
// (pobjects/log_cleaner.h), in each killed child: its steps, with their own
// fences, are killed in too.
TEST_F(PHashMapConcurrencyTest, KilledWriterWithTheBackgroundCleanerLosesNothing) {
  kill_rounds(true);
}

}  // namespace
}  // namespace nvobj
