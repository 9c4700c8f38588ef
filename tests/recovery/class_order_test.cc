// Class ids come from the pool, not from the program: two programs that
// register the same classes in different orders (here, two runs of a helper
// program, then this test binary with yet another order) agree on every id.
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "recovery/store_open.h"
#include "tests/recovery/class_order_classes.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

using class_order::Alpha;
using class_order::Beta;
using class_order::Gamma;

std::string run_helper(const std::string& pool, const char* mode) {
  std::string cmd = std::string(NVOBJ_CLASS_ORDER_HELPER) + " " + pool + " " + mode;  // stderr: log
  FILE* f = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (f != nullptr && std::fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  int rc = f != nullptr ? ::pclose(f) : -1;
  EXPECT_EQ(rc, 0) << cmd << ": " << out;
  return out;
}

TEST(ClassOrderTest, IdsAreStableAcrossProgramsAndRegistrationOrders) {
  testing::TempDir dir;
  std::string pool = dir.file("order.pool");
  EXPECT_EQ(run_helper(pool, "create"), "Alpha=64 Beta=65 Gamma=0\n");
  EXPECT_EQ(run_helper(pool, "reopen"), "Alpha=64 Beta=65 Gamma=66\n");

  // This program: Gamma first, then Beta, then Alpha.
  auto s = open_store(pool, {});
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_EQ((*s)->class_id<Gamma>(), 66u);
  EXPECT_EQ((*s)->class_id<Beta>(), 65u);
  EXPECT_EQ((*s)->class_id<Alpha>(), 64u);
  EXPECT_EQ((*s)->root<Gamma>("gamma")->read().g, 4u);
  EXPECT_EQ((*s)->root<Beta>("beta2")->read().b1, 5u);
  EXPECT_EQ((*s)->root<Alpha>("alpha2")->read().a, 7u);
  EXPECT_THROW((void)(*s)->root<Alpha>("beta"), Error);  // a Beta is not an Alpha
}

TEST(ClassOrderTest, ManyClassesGrowTheTableBeyondItsFirstCapacity) {
  testing::TempDir dir;
  StoreOptions o;
  o.create.size = 8 << 20;
  o.create.mode = Mode::kEmulated;
  auto s = create_store(dir.file("many.pool"), o);
  ASSERT_TRUE(s);
  // 300 classes (no 255 limit), interned through the store's class table.
  auto& classes = const_cast<ClassTable&>((*s)->classes());  // intern is the store's job
  for (int i = 0; i < 300; ++i) {
    auto id = classes.intern((*s)->pool(), (*s)->heap(), "many.C" + std::to_string(i),
                             ref_map<class_order::AlphaData>());
    ASSERT_TRUE(id) << id.status().to_string();
    EXPECT_EQ(*id, kFirstUserClassId + static_cast<uint32_t>(i));
  }
  std::string path = (*s)->pool().path();
  s->reset();
  auto t = ClassTable::load(*Pool::open(path, {}).value());
  ASSERT_TRUE(t) << t.status().to_string();
  ASSERT_NE(t->find("many.C299"), nullptr);
  EXPECT_EQ(t->find("many.C299")->id, kFirstUserClassId + 299);
}

}  // namespace
}  // namespace nvobj
