#include "pobjects/tree_index.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nvobj::detail {
namespace {

// The index finds entries through a hash of the keys and orders them in a
// tree. Against a std::map model under random inserts and erases, with
// hashes from a tiny range (most keys share a hash with others, 0 among
// them, and one shard: long probe runs that erases must close without
// losing a key) and with whole hashes (every shard, each growing):
// lookups must tell keys apart by key, and the tree must hold exactly the
// keys the hash does.
void check_against_a_model(uint64_t hash_range, int keys, int steps) {
  TreeIndex ix;
  std::map<std::string, uint64_t> ref;  // key -> the version its entry carries
  std::mt19937_64 rng(11);
  auto key_of = [hash_range](const std::string& s) {
    uint64_t h = std::hash<std::string>{}(s);
    return TreeIndex::Key{s, hash_range == 0 ? h : h % hash_range};
  };
  for (int step = 0; step < steps; ++step) {
    std::string s = "k" + std::to_string(rng() % static_cast<uint64_t>(keys));
    TreeIndex::Key k = key_of(s);
    TreeIndex::ExclusiveLock lock(ix, k);
    if (rng() % 3 == 0) {
      ix.erase(k);
      ref.erase(s);
      ASSERT_EQ(ix.find(k), nullptr) << s;
    } else {
      MapEntry& e = ix.emplace(k, RecordLog::Loc{});
      e.version = static_cast<uint64_t>(step);
      ref[s] = static_cast<uint64_t>(step);
    }
  }
  for (int i = 0; i < keys; ++i) {
    std::string s = "k" + std::to_string(i);
    TreeIndex::SharedLock lock(ix, key_of(s));
    MapEntry* e = ix.find(key_of(s));
    auto it = ref.find(s);
    if (it == ref.end()) {
      EXPECT_EQ(e, nullptr) << s;
    } else {
      ASSERT_NE(e, nullptr) << s;
      EXPECT_EQ(e->version, it->second) << s;
    }
  }
  std::vector<std::pair<std::string, uint64_t>> scanned;
  {
    TreeIndex::SharedLock lock(ix);
    ix.scan_up("", true, [&](std::string_view k, const MapEntry& e) {
      scanned.emplace_back(std::string(k), e.version);
      return true;
    });
  }
  std::vector<std::pair<std::string, uint64_t>> expected(ref.begin(), ref.end());
  EXPECT_EQ(scanned, expected);
}

TEST(TreeIndexTest, KeysSharingHashesAreToldApartAndStayOrdered) {
  check_against_a_model(7, 500, 20000);
}

TEST(TreeIndexTest, ManyKeysOverEveryShardMatchAModel) { check_against_a_model(0, 50000, 300000); }

}  // namespace
}  // namespace nvobj::detail
