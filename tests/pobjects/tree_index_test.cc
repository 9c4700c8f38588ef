#include "pobjects/tree_index.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace nvobj::detail {
namespace {

// The index finds entries through a hash of the keys and orders them in a
// tree. Keys here get hashes from a tiny range, so most share a hash with
// others (and a hash shard): lookups must still tell them apart by key,
// and the tree must hold exactly the keys the hash does.
TEST(TreeIndexTest, KeysSharingHashesAreToldApartAndStayOrdered) {
  TreeIndex ix;
  std::map<std::string, uint64_t> ref;  // key -> the version its entry carries
  std::mt19937_64 rng(11);
  auto key_of = [](const std::string& s) {
    return TreeIndex::Key{s, std::hash<std::string>{}(s) % 7};
  };
  for (int step = 0; step < 20000; ++step) {
    std::string s = "k" + std::to_string(rng() % 500);
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
  for (int i = 0; i < 500; ++i) {
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

}  // namespace
}  // namespace nvobj::detail
