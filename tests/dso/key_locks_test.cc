#include "dso-backend/key_locks.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace nvobj::dso {
namespace {

// n keys whose stripes are pairwise distinct.
std::vector<std::string> keys_on_distinct_stripes(const KeyLocks& locks, size_t n) {
  std::vector<std::string> out;
  std::set<size_t> seen;
  for (int i = 0; out.size() < n; ++i) {
    std::string k = "key" + std::to_string(i);
    if (seen.insert(locks.stripe(k)).second) out.push_back(k);
  }
  return out;
}

TEST(KeyLocksTest, AStripeIsTakenOnceHoweverManyOfItsKeysACommandNames) {
  KeyLocks locks;
  std::string a = "a", b;
  for (int i = 0; b.empty(); ++i)  // another key on a's stripe
    if (std::string k = "b" + std::to_string(i); locks.stripe(k) == locks.stripe(a)) b = k;
  {
    // Exclusive twice on one std::shared_mutex would deadlock.
    KeyLocks::Guard g(locks, {a, b, a}, true);
    EXPECT_FALSE(g.holds_all());
    EXPECT_EQ(g.stripes_held(), 1u);
    EXPECT_FALSE(locks.at(locks.stripe(a)).try_lock());
  }
  EXPECT_TRUE(locks.at(locks.stripe(a)).try_lock());
  locks.at(locks.stripe(a)).unlock();
}

TEST(KeyLocksTest, ReadersShareAStripeAndAWriterExcludesThem) {
  KeyLocks locks;
  KeyLocks::Guard r1(locks, {"k"}, false);
  KeyLocks::Guard r2(locks, {"k"}, false);
  EXPECT_FALSE(locks.at(locks.stripe("k")).try_lock());
  EXPECT_TRUE(locks.at(locks.stripe("k")).try_lock_shared());
  locks.at(locks.stripe("k")).unlock_shared();
}

TEST(KeyLocksTest, PastTheStripeLimitACommandHoldsEveryKey) {
  KeyLocks locks;
  auto keys = keys_on_distinct_stripes(locks, KeyLocks::kMaxStripesHeld + 1);
  std::vector<std::string_view> views(keys.begin(), keys.end());
  {
    KeyLocks::Guard g(locks, views, true);
    EXPECT_TRUE(g.holds_all());
    EXPECT_EQ(g.stripes_held(), 0u);
    // No stripe is taken: the global lock alone excludes every keyed command.
    EXPECT_TRUE(locks.at(locks.stripe(keys[0])).try_lock());
    locks.at(locks.stripe(keys[0])).unlock();
  }
  views.pop_back();
  KeyLocks::Guard g(locks, views, true);
  EXPECT_FALSE(g.holds_all());
  EXPECT_EQ(g.stripes_held(), KeyLocks::kMaxStripesHeld);
}

// Two threads move units between counters under guards on random key sets
// named in random order: no deadlock, no lost update (the counters are plain
// integers: only the guards keep them consistent; TSan checks this too).
TEST(KeyLocksTest, MultiKeyGuardsInAnyOrderNeitherDeadlockNorLoseUpdates) {
  KeyLocks locks;
  constexpr int kKeys = 64;
  std::vector<std::string> names;
  for (int i = 0; i < kKeys; ++i) names.push_back("k" + std::to_string(i));
  std::vector<long> value(kKeys, 1000);
  auto worker = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int step = 0; step < 100000; ++step) {
      std::vector<std::string_view> ks;
      int n = 2 + static_cast<int>(rng() % 3);
      std::vector<int> idx;
      for (int i = 0; i < n; ++i) idx.push_back(static_cast<int>(rng() % kKeys));
      for (int i : idx) ks.push_back(names[i]);
      if (rng() % 50 == 0) {
        KeyLocks::Guard all(locks);  // FLUSHALL-like
        long sum = 0;
        for (long v : value) sum += v;
        ASSERT_EQ(sum, 1000L * kKeys);
        continue;
      }
      KeyLocks::Guard g(locks, ks, true);
      value[idx[0]] -= 1;
      value[idx[1]] += 1;
    }
  };
  std::thread t1(worker, 1), t2(worker, 2);
  t1.join();
  t2.join();
  long sum = 0;
  for (long v : value) sum += v;
  EXPECT_EQ(sum, 1000L * kKeys);
}

}  // namespace
}  // namespace nvobj::dso
