// The object model, failure-atomic blocks, roots and clean/crash restarts,
// through the public API (open_store / create_store).
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "allocator/size_classes.h"
#include "examples/bank/bank.h"
#include "recovery/store_open.h"
#include "runtime/persist_stats.h"
#include "runtime/proxy.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

struct CellData {
  uint64_t value;
  pptr<CellData> next;
  uint64_t pad[6];
};

// A cell with public accessors, for tests.
class Cell : public PObject<Cell, CellData> {
 public:
  static constexpr std::string_view kClassName = "test.Cell";
  static constexpr RefMap kRefs = ref_map<CellData>({offsetof(CellData, next)});
  using PObject::PObject;
  uint64_t value() const { return get(&Data::value); }
  void set_value(uint64_t v) { set(&Data::value, v); }
  uint64_t next() const { return get(&Data::next).offset(); }
  void set_next(uint64_t off) { set(&Data::next, pptr<CellData>(off)); }
  using PObject::raw;
  using PObject::update;
};

// Same layout, another class: references of the wrong type must be refused.
class OtherCell : public PObject<OtherCell, CellData> {
 public:
  static constexpr std::string_view kClassName = "test.OtherCell";
  static constexpr RefMap kRefs = ref_map<CellData>({offsetof(CellData, next)});
  using PObject::PObject;
};

// The name of Cell with a different layout: a program whose class changed.
class ChangedCell : public PObject<ChangedCell, CellData> {
 public:
  static constexpr std::string_view kClassName = "test.Cell";
  static constexpr RefMap kRefs = ref_map<CellData>();
  using PObject::PObject;
};

class StoreTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.file("store.pool"); }
  std::unique_ptr<Store> create() {
    StoreOptions o;
    o.create.size = 32 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(path(), o);
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? std::move(*s) : nullptr;
  }
  std::unique_ptr<Store> open() {
    auto s = open_store(path(), {});
    EXPECT_TRUE(s) << s.status().to_string();
    return s ? std::move(*s) : nullptr;
  }
  // Runs fn(store) in a child process that dies without closing the store.
  template <typename Fn>
  void crash_after(Fn fn) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = open_store(path(), {});
      if (!s) ::_exit(3);
      fn(**s);
      ::_exit(0);  // no close: the pool is left as a crash leaves it
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  testing::TempDir dir_;
};

TEST_F(StoreTest, ObjectsAndRootsSurviveACleanRestart) {
  {
    auto s = create();
    auto c = s->make<Cell>(uint64_t{42});
    s->set_root("answer", c);
  }
  auto s = open();
  EXPECT_TRUE(s->open_report().clean);
  EXPECT_TRUE(s->open_report().snapshot_used);
  auto c = s->root<Cell>("answer");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->value(), 42u);
  EXPECT_FALSE(s->root<Cell>("question"));
}

TEST_F(StoreTest, CrashRestartRecoversPublishedAndReclaimsUnpublished) {
  uint64_t live_before;
  {
    auto s = create();
    s->set_root("kept", s->make<Cell>(uint64_t{7}));
  }
  live_before = open()->usage().live_bytes;  // without the closed session's log
  crash_after([](Store& s) {
    for (int i = 0; i < 1000; ++i) (void)s.make<Cell>(uint64_t(i));  // never published
    auto c = s.make<Cell>(uint64_t{8});
    s.set_root("also", c);
  });
  auto s = open();
  const OpenReport& r = s->open_report();
  EXPECT_FALSE(r.clean);
  EXPECT_EQ(s->root<Cell>("kept")->value(), 7u);
  EXPECT_EQ(s->root<Cell>("also")->value(), 8u);
  // The 1000 unpublished cells are gone; the heap holds what is reachable:
  // class table, root directory and the two cells.
  EXPECT_EQ(r.objects, 4u);
  uint64_t cell_block = alloc::kBlockSizes[alloc::size_class_for(sizeof(CellData) + 8)];
  EXPECT_EQ(s->usage().live_bytes, live_before + cell_block);
  EXPECT_EQ(r.live_bytes, s->usage().live_bytes);
  // Reclaimed: the 1000 cells and the child's block log (one segment).
  EXPECT_EQ(r.reclaimed_objects, 1001u);
  EXPECT_GE(r.reclaimed_bytes, 1000 * cell_block + 64 * 1024);
}

TEST_F(StoreTest, MakeCostsNoFenceAndSetOutsideABlockOne) {
  auto s = create();
  auto c = s->make<Cell>(uint64_t{1});  // registers the class (fences, once)
  PersistCounters before = thread_persist_counters();
  for (int i = 0; i < 100; ++i) (void)s->make<Cell>(uint64_t(i));
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
  // The first durable write after them fences once more, so that nothing it
  // publishes can be durable before the objects are; later ones cost one.
  before = thread_persist_counters();
  c->set_value(5);
  EXPECT_EQ((thread_persist_counters() - before).fences, 2u);
  before = thread_persist_counters();
  c->set_value(6);
  EXPECT_EQ((thread_persist_counters() - before).fences, 1u);
}

TEST_F(StoreTest, BlockCostsTwoFencesWhateverItsSize) {
  auto s = create();
  std::vector<Ref<Cell>> cells;
  for (int i = 0; i < 100; ++i) cells.push_back(s->make<Cell>(uint64_t(i)));
  s->set_root("first", cells[0]);
  for (int writes : {1, 10, 100, 10000}) {
    PersistCounters before = thread_persist_counters();
    failure_atomic([&] {
      for (int w = 0; w < writes; ++w) cells[w % 100]->set_value(uint64_t(w));
    });
    EXPECT_EQ((thread_persist_counters() - before).fences, 2u) << writes << " writes";
  }
  // A block that writes nothing persistent costs nothing.
  PersistCounters before = thread_persist_counters();
  failure_atomic([&] { (void)cells[0]->value(); });
  EXPECT_EQ((thread_persist_counters() - before).fences, 0u);
}

TEST_F(StoreTest, TenThousandWriteBlockAppliesAndSurvivesRestart) {
  {
    auto s = create();
    auto head = failure_atomic([&] {
      uint64_t prev = 0;
      for (int i = 0; i < 10000; ++i) {
        auto c = s->make<Cell>(uint64_t(i), pptr<CellData>(prev));
        prev = c.offset();
      }
      s->set_root("list", s->ref<Cell>(prev));
      return prev;
    });
    failure_atomic([&] {  // 10,000 writes to existing objects
      for (uint64_t off = head; off != 0; off = s->proxy<Cell>(off).next())
        s->proxy<Cell>(off).set_value(s->proxy<Cell>(off).value() * 2);
    });
  }
  auto s = open();
  uint64_t n = 0, sum = 0;
  for (uint64_t off = s->root_offset("list"); off != 0; off = s->proxy<Cell>(off).next(), ++n)
    sum += s->proxy<Cell>(off).value();
  EXPECT_EQ(n, 10000u);
  EXPECT_EQ(sum, 2u * (9999u * 10000u / 2));
}

TEST_F(StoreTest, BlockReadsItsOwnWritesAndOthersSeeThemOnlyAfterCommit) {
  auto s = create();
  auto c = s->make<Cell>(uint64_t{1});
  s->set_root("c", c);
  failure_atomic([&] {
    c->set_value(2);
    EXPECT_EQ(c->value(), 2u);      // the block sees its write
    EXPECT_EQ(c->raw().value, 1u);  // the pool does not yet
    uint64_t seen = 0;
    std::thread([&] { seen = c->value(); }).join();
    EXPECT_EQ(seen, 1u);  // nor does another thread
    c->update([](CellData& d) { d.value += 10; });
    EXPECT_EQ(c->value(), 12u);
  });
  EXPECT_EQ(c->raw().value, 12u);
}

TEST_F(StoreTest, ExceptionDiscardsTheBlockAndFreesItsObjects) {
  auto s = create();
  auto c = s->make<Cell>(uint64_t{1});
  s->set_root("c", c);
  uint64_t live = s->usage().live_bytes;
  EXPECT_THROW(failure_atomic([&] {
                 c->set_value(99);
                 for (int i = 0; i < 100; ++i) (void)s->make<Cell>(uint64_t(i));
                 s->set_root("d", s->make<Cell>(uint64_t{5}));
                 throw std::runtime_error("user error");
               }),
               std::runtime_error);
  EXPECT_EQ(c->value(), 1u);
  EXPECT_EQ(c->raw().value, 1u);
  EXPECT_FALSE(s->root<Cell>("d"));
  EXPECT_EQ(s->usage().live_bytes, live);
}

TEST_F(StoreTest, NestedBlocksFlattenIntoTheOutermost) {
  auto s = create();
  auto a = s->make<Cell>(uint64_t{1});
  auto b = s->make<Cell>(uint64_t{2});
  s->set_root("a", a);
  s->set_root("b", b);
  PersistCounters before = thread_persist_counters();
  failure_atomic([&] {
    a->set_value(10);
    failure_atomic([&] {
      b->set_value(20);
      failure_atomic([&] { a->set_value(a->value() + 1); });
    });
    EXPECT_EQ(a->raw().value, 1u) << "inner blocks must not commit on their own";
    EXPECT_EQ(b->raw().value, 2u);
  });
  EXPECT_EQ((thread_persist_counters() - before).fences, 2u);
  EXPECT_EQ(a->value(), 11u);
  EXPECT_EQ(b->value(), 20u);

  // An exception caught inside the outer block still dooms all of it.
  EXPECT_THROW(failure_atomic([&] {
                 a->set_value(100);
                 try {
                   failure_atomic([&] { throw std::runtime_error("inner"); });
                 } catch (const std::runtime_error&) {
                 }
               }),
               Error);
  EXPECT_EQ(a->value(), 11u);
}

TEST_F(StoreTest, FreeInABlockHappensAtCommit) {
  auto s = create();
  auto a = s->make<Cell>(uint64_t{1});
  auto b = s->make<Cell>(uint64_t{2});
  a->set_next(b.offset());
  s->set_root("a", a);
  uint64_t live = s->usage().live_objects;
  failure_atomic([&] {
    a->set_next(0);
    s->free(b);
    EXPECT_EQ(s->usage().live_objects, live) << "freed before commit";
  });
  EXPECT_EQ(s->usage().live_objects, live - 1);
}

TEST_F(StoreTest, ManyRootsGrowTheDirectoryAndSurviveBothRestarts) {
  {
    auto s = create();
    for (int i = 0; i < 100; ++i) s->set_root("r" + std::to_string(i), s->make<Cell>(uint64_t(i)));
    EXPECT_TRUE(s->remove_root("r50"));
    EXPECT_FALSE(s->remove_root("r50"));
  }
  crash_after([](Store& s) { s.set_root("r50", s.make<Cell>(uint64_t{5000})); });
  auto s = open();
  EXPECT_EQ(s->roots().size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(s->root<Cell>("r" + std::to_string(i))->value(), i == 50 ? 5000u : uint64_t(i));
  EXPECT_THROW(s->set_root(std::string(64, 'x'), s->make<Cell>()), Error);
}

TEST_F(StoreTest, WrongTypeAndChangedLayoutAreRefusedByName) {
  auto s = create();
  s->set_root("c", s->make<Cell>(uint64_t{1}));
  try {
    (void)s->root<OtherCell>("c");
    FAIL() << "a Cell was taken for an OtherCell";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'test.Cell', not 'test.OtherCell'"), std::string::npos)
        << e.what();
  }
  try {
    (void)s->make<ChangedCell>();
    FAIL() << "a changed layout was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test.Cell' changed its persistent layout"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(StoreTest, ConcurrentTransfersKeepTheTotal) {
  auto s = create();
  auto b = bank::Bank::create(*s, "bank", 16, 1000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        uint64_t x = (t * 7 + i * 13) % 16, y = (x + 1 + (i % 15)) % 16;
        b->transfer(x, y, i % 50);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(b->total(), 16 * 1000);
  s.reset();
  auto r = open();
  EXPECT_EQ(r->root<bank::Bank>("bank")->total(), 16 * 1000);
}

TEST_F(StoreTest, FullPoolThrowsAndKeepsEverythingStored) {
  StoreOptions o;
  o.create.size = 4 << 20;
  o.create.max_size = 4 << 20;  // no room to grow
  o.create.mode = Mode::kEmulated;
  auto st = create_store(path(), o);
  ASSERT_TRUE(st) << st.status().to_string();
  Store& s = **st;
  auto b = bank::Bank::create(s, "bank", 4, 1000);
  int made = 0;
  try {
    for (;; ++made) {
      failure_atomic([&] {
        auto c = s.make<Cell>(uint64_t(made));
        b->account(0).post(-1, 1);  // writes in the same block as the failing make
        s.set_root("last", c);
      });
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::kNoSpace) << e.what();
  }
  EXPECT_GT(made, 1000);
  // The failed block left nothing behind; earlier ones are intact.
  EXPECT_EQ(b->account(0).balance(), 1000 - made);
  EXPECT_EQ(s.root<Cell>("last")->value(), uint64_t(made - 1));
  st->reset();
  auto r = open();
  EXPECT_EQ(r->root<bank::Bank>("bank")->account(0).balance(), 1000 - made);
  EXPECT_EQ(r->root<Cell>("last")->value(), uint64_t(made - 1));
}

TEST_F(StoreTest, ConcurrentRootsBlocksAndCrossThreadFrees) {
  auto s = create();
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::vector<uint64_t>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string name = "t" + std::to_string(t) + "." + std::to_string(i);
        failure_atomic([&] {
          auto c = s->make<Cell>(uint64_t(t * 1000 + i));
          s->set_root(name, c);
        });
        auto scratch = s->make<Cell>(uint64_t{0});  // freed by another thread below
        made[t].push_back(scratch.offset());
      }
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  for (int t = 0; t < kThreads; ++t)  // each thread frees another's scratch cells
    threads.emplace_back([&, t] {
      for (uint64_t off : made[(t + 1) % kThreads]) s->free_object(off);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(s->roots().size(), size_t{kThreads * kEach});
  s.reset();
  auto r = open();
  EXPECT_EQ(r->roots().size(), size_t{kThreads * kEach});
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i)
      EXPECT_EQ(r->root<Cell>("t" + std::to_string(t) + "." + std::to_string(i))->value(),
                uint64_t(t * 1000 + i));
  // Class table, root directory and the 200 published cells: nothing else.
  EXPECT_EQ(r->usage().live_objects, 2u + kThreads * kEach);
}

}  // namespace
}  // namespace nvobj
