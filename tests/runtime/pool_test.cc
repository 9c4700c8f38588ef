// Pool lifecycle, refusals and growth. Every refusal test also checks that the
// refused file is left exactly as it was (DESIGN.md guarantee 4).
#include "runtime/pool.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

constexpr uint64_t kMiB = 1 << 20;

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

PoolHeader header_copy(const std::vector<char>& file, int copy) {
  PoolHeader h;
  std::memcpy(&h, file.data() + kHeaderCopyOffset[copy], sizeof h);
  return h;
}

void put_header_copy(std::vector<char>& file, int copy, const PoolHeader& h) {
  std::memcpy(file.data() + kHeaderCopyOffset[copy], &h, sizeof h);
}

class PoolTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Pool>> create(uint64_t size = 2 * kMiB, Mode mode = Mode::kEmulated) {
    CreateOptions o;
    o.size = size;
    o.mode = mode;
    return Pool::create(path_, o);
  }
  Result<std::unique_ptr<Pool>> open(Mode mode = Mode::kAuto) {
    OpenOptions o;
    o.mode = mode;
    return Pool::open(path_, o);
  }
  // Creates a pool holding a marker string and closes it; returns the file.
  std::vector<char> make_closed_pool() {
    auto pool = create();
    EXPECT_TRUE(pool) << pool.status().to_string();
    (*pool)->persister().memcpy_persist((*pool)->at((*pool)->data_offset()), "marker", 7);
    pool->reset();
    return read_file(path_);
  }
  void expect_refused(StatusCode code, const std::string& needle) {
    std::vector<char> before = read_file(path_);
    auto pool = open();
    ASSERT_FALSE(pool) << "open should have failed";
    EXPECT_EQ(pool.status().code(), code) << pool.status().to_string();
    EXPECT_NE(pool.status().message().find(needle), std::string::npos)
        << "message: " << pool.status().message();
    EXPECT_NE(pool.status().message().find(path_), std::string::npos)
        << "message should name the file: " << pool.status().message();
    EXPECT_EQ(read_file(path_), before) << "a refused open must not modify the file";
  }

  testing::TempDir dir_;
  std::string path_ = dir_.file("pool");
};

TEST_F(PoolTest, CreateOpenCloseReopen) {
  std::string uuid;
  {
    auto pool = create(3 * kMiB);
    ASSERT_TRUE(pool) << pool.status().to_string();
    EXPECT_EQ((*pool)->size(), 3 * kMiB);
    EXPECT_EQ((*pool)->mode(), Mode::kEmulated);
    EXPECT_TRUE((*pool)->was_clean_shutdown());
    uuid = (*pool)->uuid();
    std::memcpy((*pool)->at<char>((*pool)->data_offset()), "hello pool", sizeof("hello pool"));
    (*pool)->persister().persist((*pool)->at((*pool)->data_offset()), 11);
    ASSERT_TRUE((*pool)->close());
  }
  for (int round = 0; round < 3; ++round) {
    auto pool = open();
    ASSERT_TRUE(pool) << pool.status().to_string();
    EXPECT_TRUE((*pool)->was_clean_shutdown());
    EXPECT_FALSE((*pool)->header_was_repaired());
    EXPECT_EQ((*pool)->uuid(), uuid);
    EXPECT_EQ((*pool)->size(), 3 * kMiB);
    EXPECT_EQ((*pool)->header().open_count, static_cast<uint64_t>(round) + 2);
    EXPECT_STREQ((*pool)->at<char>((*pool)->data_offset()), "hello pool");
  }
}

// prefault maps a range's whole pages at once and changes no byte of it.
TEST_F(PoolTest, PrefaultMapsWholePagesAndChangesNothing) {
  {
    void* scratch =
        ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(scratch, MAP_FAILED);
    int rc = ::madvise(scratch, 4096, MADV_POPULATE_WRITE);
    ::munmap(scratch, 4096);
    if (rc != 0) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE";
  }
  auto pool = create(4 * kMiB);
  ASSERT_TRUE(pool) << pool.status().to_string();
  Pool& p = **pool;
  const uint64_t at = p.data_offset() + 5000;  // not page-aligned
  std::memcpy(p.at<char>(at), "before", 7);
  auto resident = [&](uint64_t off) {
    unsigned char v = 0;
    auto page = reinterpret_cast<uintptr_t>(p.at<char>(off)) & ~uintptr_t{4095};
    EXPECT_EQ(::mincore(reinterpret_cast<void*>(page), 4096, &v), 0);
    return (v & 1) != 0;
  };
  const uint64_t far = p.data_offset() + 2 * kMiB;
  ASSERT_FALSE(resident(far + 8192)) << "a fresh pool's pages are mapped on first touch";
  p.prefault(p.data_offset() + 100, 3 * kMiB);
  EXPECT_TRUE(resident(far + 8192));
  EXPECT_STREQ(p.at<char>(at), "before");
  EXPECT_EQ(*p.at<char>(far), 0);
  p.prefault(p.size() - 100, kMiB);  // past the end: ignored
}

TEST_F(PoolTest, CreatedHeaderHasAllFields) {
  auto pool = create();
  ASSERT_TRUE(pool);
  const PoolHeader& h = (*pool)->header();
  EXPECT_EQ(std::memcmp(h.magic, kPoolMagic, 8), 0);
  EXPECT_EQ(h.layout_major, kLayoutMajor);
  EXPECT_EQ(h.requested_mode, static_cast<uint32_t>(Mode::kEmulated));
  EXPECT_GT(h.create_time_ns, 1'600'000'000'000'000'000ull);
  EXPECT_EQ(h.clean_shutdown, 0u);  // open now
  EXPECT_NE((*pool)->uuid(), "00000000-0000-0000-0000-000000000000");
  pool->reset();
  std::vector<char> file = read_file(path_);
  EXPECT_EQ(check_header(header_copy(file, 0)), HeaderCheck::kValid);
  EXPECT_EQ(std::memcmp(file.data(), file.data() + kHeaderCopySize, sizeof(PoolHeader)), 0);
  EXPECT_EQ(header_copy(file, 0).clean_shutdown, 1u);
}

TEST_F(PoolTest, ProcessDeathLeavesUncleanFlagAndReleasesLock) {
  ASSERT_TRUE(create());  // created and closed
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pool = open();
    if (!pool) _exit(1);
    std::memcpy((*pool)->at<char>((*pool)->data_offset()), "from child", sizeof("from child"));
    (*pool)->persister().persist((*pool)->at((*pool)->data_offset()), 11);
    _exit(0);  // no destructors: like a crash
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto pool = open();
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_FALSE((*pool)->was_clean_shutdown());
  EXPECT_STREQ((*pool)->at<char>((*pool)->data_offset()), "from child");
  pool->reset();
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->was_clean_shutdown());
}

TEST_F(PoolTest, CreateNeverOverwritesUnlessAsked) {
  write_file(path_, {'m', 'y', ' ', 'd', 'a', 't', 'a'});
  auto pool = create();
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(pool.status().message().find(path_), std::string::npos);
  EXPECT_EQ(read_file(path_), (std::vector<char>{'m', 'y', ' ', 'd', 'a', 't', 'a'}));

  CreateOptions o;
  o.size = kMiB;
  o.mode = Mode::kEmulated;
  o.overwrite = true;
  auto replaced = Pool::create(path_, o);
  ASSERT_TRUE(replaced) << replaced.status().to_string();
  EXPECT_EQ((*replaced)->size(), kMiB);
}

TEST_F(PoolTest, CreateRefusesToOverwriteAnOpenPool) {
  auto pool = create();
  ASSERT_TRUE(pool);
  CreateOptions o;
  o.size = kMiB;
  o.overwrite = true;
  auto again = Pool::create(path_, o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().code(), StatusCode::kBusy);
  EXPECT_EQ((*pool)->size(), 2 * kMiB);
}

TEST_F(PoolTest, CreateRejectsTinySizes) {
  auto pool = create(4096);
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(PoolTest, CreateRoundsSizeUp) {
  auto pool = create(kMiB + 1);
  ASSERT_TRUE(pool);
  EXPECT_EQ((*pool)->size() % (*pool)->alignment(), 0u);
  EXPECT_GE((*pool)->size(), kMiB + 1);
}

TEST_F(PoolTest, RefusesMissingFile) {
  auto pool = open();
  ASSERT_FALSE(pool);
  EXPECT_EQ(pool.status().code(), StatusCode::kNotFound);
  EXPECT_NE(pool.status().message().find(path_), std::string::npos);
}

TEST_F(PoolTest, RefusesForeignFile) {
  std::vector<char> junk(3 * kMiB);
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>('a' + i % 26);
  write_file(path_, junk);
  expect_refused(StatusCode::kNotAPool, "not an nvobj pool");
}

TEST_F(PoolTest, RefusesTinyFile) {
  write_file(path_, {'h', 'i'});
  expect_refused(StatusCode::kNotAPool, "only 2 bytes");
}

TEST_F(PoolTest, RefusesBlankFileAsInterruptedCreation) {
  write_file(path_, std::vector<char>(2 * kMiB, 0));
  expect_refused(StatusCode::kNotAPool, "interrupted");
}

TEST_F(PoolTest, RefusesCorruptHeader) {
  std::vector<char> file = make_closed_pool();
  for (int copy = 0; copy < 2; ++copy) file[kHeaderCopyOffset[copy] + 40] ^= 0x5A;
  write_file(path_, file);
  expect_refused(StatusCode::kCorrupt, "corrupt");
}

TEST_F(PoolTest, RefusesNewerLayoutVersion) {
  std::vector<char> file = make_closed_pool();
  for (int copy = 0; copy < 2; ++copy) {
    PoolHeader h = header_copy(file, copy);
    h.layout_major = kLayoutMajor + 1;
    seal_header(h);
    put_header_copy(file, copy, h);
  }
  write_file(path_, file);
  expect_refused(StatusCode::kVersionMismatch, "newer");
}

// A 1.x pool (written before lists kept trims) opens, and is marked with
// this build's layout so that a 1.x build refuses it from then on; a layout
// older than any this build reads is refused.
TEST_F(PoolTest, OpensAnOlderReadableLayoutAndMarksItCurrent) {
  std::vector<char> file = make_closed_pool();
  for (int copy = 0; copy < 2; ++copy) {
    PoolHeader h = header_copy(file, copy);
    h.layout_major = kOldestLayoutMajor;
    h.layout_minor = 3;
    seal_header(h);
    put_header_copy(file, copy, h);
  }
  write_file(path_, file);
  {
    auto pool = open();
    ASSERT_TRUE(pool) << pool.status().to_string();
  }
  std::vector<char> after = read_file(path_);
  for (int copy = 0; copy < 2; ++copy) {
    EXPECT_EQ(header_copy(after, copy).layout_major, kLayoutMajor) << copy;
    EXPECT_EQ(header_copy(after, copy).layout_minor, kLayoutMinor) << copy;
  }
  if (kOldestLayoutMajor > 0) {
    for (int copy = 0; copy < 2; ++copy) {
      PoolHeader h = header_copy(after, copy);
      h.layout_major = kOldestLayoutMajor - 1;
      seal_header(h);
      put_header_copy(after, copy, h);
    }
    write_file(path_, after);
    expect_refused(StatusCode::kVersionMismatch, "older");
  }
}

TEST_F(PoolTest, RefusesTruncatedFile) {
  std::vector<char> file = make_closed_pool();
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(file.size()) - 4096), 0);
  expect_refused(StatusCode::kTruncated, "truncated");
}

TEST_F(PoolTest, RefusesInconsistentHeader) {
  std::vector<char> file = make_closed_pool();
  for (int copy = 0; copy < 2; ++copy) {
    PoolHeader h = header_copy(file, copy);
    h.data_offset = h.size + 4096;  // validly sealed nonsense
    seal_header(h);
    put_header_copy(file, copy, h);
  }
  write_file(path_, file);
  expect_refused(StatusCode::kCorrupt, "inconsistent");
}

TEST_F(PoolTest, RefusesPoolOpenInThisProcess) {
  auto pool = create();
  ASSERT_TRUE(pool);
  auto second = open();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  EXPECT_NE(second.status().message().find("already open"), std::string::npos);
  // The first handle is unaffected.
  EXPECT_TRUE((*pool)->contains((*pool)->at((*pool)->data_offset())));
}

TEST_F(PoolTest, RefusesPoolOpenInAnotherProcess) {
  auto pool = create();
  ASSERT_TRUE(pool);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = open();
    _exit(!other && other.status().code() == StatusCode::kBusy ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(PoolTest, RefusesWithoutPermission) {
  make_closed_pool();
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  // Root ignores file modes, so check from a child that drops to "nobody".
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::geteuid() == 0) {
      ::chmod(dir_.path().c_str(), 0755);
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(2);
    } else {
      ::chmod(path_.c_str(), 0);
    }
    auto pool = open();
    if (pool) _exit(3);
    bool ok = pool.status().code() == StatusCode::kPermissionDenied &&
              pool.status().message().find("permission denied") != std::string::npos &&
              pool.status().message().find(path_) != std::string::npos;
    _exit(ok ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(PoolTest, RefusesDirectory) {
  auto pool = Pool::open(dir_.path(), OpenOptions{});
  ASSERT_FALSE(pool);
  EXPECT_NE(pool.status().code(), StatusCode::kOk);
}

// A crash in the middle of a header update tears one copy; open must pick the
// other and repair the torn one.
TEST_F(PoolTest, RepairsTornHeaderCopy) {
  for (int torn = 0; torn < 2; ++torn) {
    std::vector<char> file = make_closed_pool();
    PoolHeader good = header_copy(file, 0);
    // Tear: the first 64-byte line of the copy is new, the rest is garbage.
    for (size_t i = 64; i < sizeof(PoolHeader); ++i) file[kHeaderCopyOffset[torn] + i] ^= 0x3C;
    write_file(path_, file);
    {
      auto pool = open();
      ASSERT_TRUE(pool) << pool.status().to_string();
      EXPECT_TRUE((*pool)->header_was_repaired());
      EXPECT_EQ((*pool)->uuid(), uuid_to_string(good.uuid));
      EXPECT_STREQ((*pool)->at<char>((*pool)->data_offset()), "marker");
    }
    std::vector<char> after = read_file(path_);
    EXPECT_EQ(check_header(header_copy(after, 0)), HeaderCheck::kValid);
    EXPECT_EQ(check_header(header_copy(after, 1)), HeaderCheck::kValid);
    std::filesystem::remove(path_);
  }
}

TEST_F(PoolTest, PrefersNewerCopyWhenUpdateStoppedHalfway) {
  std::vector<char> file = make_closed_pool();
  // Copy 1 was rewritten (grown size), copy 0 not yet: the pool is the newer.
  PoolHeader newer = header_copy(file, 1);
  newer.generation += 1;
  newer.size = 2 * kMiB + 4096;
  seal_header(newer);
  put_header_copy(file, 1, newer);
  file.resize(newer.size, 0);
  write_file(path_, file);
  auto pool = open();
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_EQ((*pool)->size(), 2 * kMiB + 4096);
  EXPECT_TRUE((*pool)->header_was_repaired());
}

TEST_F(PoolTest, GrowsWhileOpenAndKeepsAddresses) {
  auto pool = create(kMiB);
  ASSERT_TRUE(pool);
  Pool& p = **pool;
  char* base = p.base();
  char* old_last = p.at<char>(p.size() - 8);
  std::memcpy(old_last, "old", sizeof("old"));
  p.persister().persist(old_last, 4);
  ASSERT_TRUE(p.grow(5 * kMiB));
  EXPECT_EQ(p.size(), 5 * kMiB);
  EXPECT_EQ(p.base(), base);
  EXPECT_STREQ(old_last, "old");
  char* new_last = p.at<char>(p.size() - 8);
  std::memcpy(new_last, "new", sizeof("new"));
  p.persister().persist(new_last, 4);
  EXPECT_TRUE(p.contains(new_last, 8));
  ASSERT_TRUE(p.close());

  auto reopened = open();
  ASSERT_TRUE(reopened) << reopened.status().to_string();
  EXPECT_EQ((*reopened)->size(), 5 * kMiB);
  EXPECT_STREQ((*reopened)->at<char>(kMiB - 8), "old");
  EXPECT_STREQ((*reopened)->at<char>(5 * kMiB - 8), "new");
  ASSERT_TRUE((*reopened)->grow(6 * kMiB));
  EXPECT_EQ((*reopened)->size(), 6 * kMiB);
}

TEST_F(PoolTest, GrowRefusesShrinkAndBeyondReservation) {
  CreateOptions o;
  o.size = 2 * kMiB;
  o.mode = Mode::kEmulated;
  o.max_size = 4 * kMiB;
  auto pool = Pool::create(path_, o);
  ASSERT_TRUE(pool);
  EXPECT_EQ((*pool)->grow(kMiB).code(), StatusCode::kInvalidArgument);
  Status s = (*pool)->grow(8 * kMiB);
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_NE(s.message().find("reserved"), std::string::npos);
  EXPECT_EQ((*pool)->size(), 2 * kMiB);
  EXPECT_TRUE((*pool)->grow(4 * kMiB));
  EXPECT_TRUE((*pool)->grow(4 * kMiB));  // no-op
}

// A crash after the file was extended but before the header recorded it
// leaves a longer file: the pool keeps its old size and can grow again.
TEST_F(PoolTest, CrashDuringGrowthKeepsOldSize) {
  make_closed_pool();
  ASSERT_EQ(::truncate(path_.c_str(), 3 * kMiB), 0);
  auto pool = open();
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_EQ((*pool)->size(), 2 * kMiB);
  EXPECT_STREQ((*pool)->at<char>((*pool)->data_offset()), "marker");
  ASSERT_TRUE((*pool)->grow(4 * kMiB));
  EXPECT_EQ((*pool)->size(), 4 * kMiB);
}

TEST_F(PoolTest, GrowConcurrentWithWriters) {
  auto pool = create(kMiB);
  ASSERT_TRUE(pool);
  Pool& p = **pool;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  auto* counter = p.at<uint64_t>(p.data_offset());
  std::thread writer([&] {
    uint64_t n = 0;
    while (!stop.load(std::memory_order_acquire)) {
      __atomic_store_n(counter, ++n, __ATOMIC_RELAXED);
      p.persister().persist(counter, 8);
      written.store(n, std::memory_order_release);
    }
  });
  while (written.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  for (uint64_t mib = 2; mib <= 16; ++mib) ASSERT_TRUE(p.grow(mib * kMiB));
  stop.store(true, std::memory_order_release);
  writer.join();
  EXPECT_EQ(p.size(), 16 * kMiB);
  // Every write to the old range landed through the remappings.
  EXPECT_EQ(__atomic_load_n(counter, __ATOMIC_RELAXED), written.load());
}

TEST_F(PoolTest, ModesOnTmpfs) {
  {
    auto pool = create(kMiB, Mode::kAuto);
    ASSERT_TRUE(pool) << pool.status().to_string();
    EXPECT_EQ((*pool)->mode(), Mode::kEmulated);
    EXPECT_FALSE((*pool)->device().applicable);
  }
  for (Mode m : {Mode::kEmulated, Mode::kMsync}) {
    auto pool = open(m);
    ASSERT_TRUE(pool) << pool.status().to_string();
    EXPECT_EQ((*pool)->mode(), m);
  }
  auto dax = open(Mode::kDax);
  ASSERT_FALSE(dax);
  EXPECT_EQ(dax.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(dax.status().message().find("DAX"), std::string::npos);
  EXPECT_TRUE(open());  // the refused dax open left the pool usable
}

TEST(PoolDiskTest, AutoPicksMsyncOnAnOrdinaryFileSystem) {
  testing::TempDir dir(/*on_disk=*/true);
  CreateOptions o;
  o.size = kMiB;
  auto pool = Pool::create(dir.file("p"), o);
  ASSERT_TRUE(pool) << pool.status().to_string();
  EXPECT_EQ((*pool)->mode(), Mode::kMsync);
  (*pool)->persister().memcpy_persist((*pool)->at((*pool)->data_offset()), "on disk", 8);
  ASSERT_TRUE((*pool)->grow(2 * kMiB));
  ASSERT_TRUE((*pool)->close());
  auto reopened = Pool::open(dir.file("p"), OpenOptions{});
  ASSERT_TRUE(reopened);
  EXPECT_STREQ((*reopened)->at<char>((*reopened)->data_offset()), "on disk");
  EXPECT_EQ((*reopened)->size(), 2 * kMiB);
}

size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

// Opening and closing must give back every mapping and all the address space
// reserved for growth (libpmem2 1.12's own reservations leaked both).
TEST_F(PoolTest, OpenCloseReleasesAddressSpace) {
  ASSERT_TRUE(create());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(open());  // warm up logging, libpmem2 init
  size_t before = mapping_count();
  for (int i = 0; i < 300; ++i) {
    auto pool = open();
    ASSERT_TRUE(pool) << pool.status().to_string();
    ASSERT_TRUE((*pool)->grow((*pool)->size() + 64 * 1024)) << "grow maps a second range";
    ASSERT_TRUE((*pool)->close());
  }
  // A leak would show as hundreds of mappings (one or two per open); a few
  // more are the C++ heap growing (much more so under ASan's quarantine).
  EXPECT_LE(mapping_count(), before + 16) << "open/close leaked mappings";
}

TEST_F(PoolTest, InspectReadsHeaderWithoutOpening) {
  auto pool = create();
  ASSERT_TRUE(pool);
  auto info = inspect_pool(path_);
  ASSERT_TRUE(info) << info.status().to_string();
  EXPECT_TRUE(info->locked);
  EXPECT_EQ(info->header.size, 2 * kMiB);
  EXPECT_EQ(info->header.clean_shutdown, 0u);
  pool->reset();
  info = inspect_pool(path_);
  ASSERT_TRUE(info);
  EXPECT_FALSE(info->locked);
  EXPECT_EQ(info->header.clean_shutdown, 1u);
}

TEST_F(PoolTest, AnchorsAreZeroedAndPersistent) {
  {
    auto pool = create();
    ASSERT_TRUE(pool);
    for (size_t i = 0; i < kAnchorCount; ++i) ASSERT_EQ(*(*pool)->anchor(i), 0u);
    (*pool)->persister().store_persist((*pool)->anchor(3), uint64_t{42});
  }
  auto pool = open();
  ASSERT_TRUE(pool);
  EXPECT_EQ(*(*pool)->anchor(3), 42u);
}

}  // namespace
}  // namespace nvobj
