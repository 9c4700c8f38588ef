// Fork + SIGKILL: a child runs failure-atomic bank transfers (each allocates
// a record and frees the oldest one) plus unpublished allocations and frees,
// and the parent kills it at a random moment. After every kill the parent
// reopens the pool (crash recovery) and checks that
//   - the total of the balances is unchanged (transfers are all-or-nothing),
//   - every account's history chain is intact and as long as it says,
//   - live bytes equal reachable bytes, and `nvobj-pool check` is clean.
//
// No sleeps: the child reports each finished transfer on a pipe; the parent
// reads a random number of reports and kills the child wherever it then is.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "examples/bank/bank.h"
#include "recovery/check.h"
#include "recovery/store_open.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {

constexpr uint64_t kAccounts = 16;
constexpr int64_t kInitial = 1000;

int kills_from_env() {
  const char* k = std::getenv("NVOBJ_KILL_ITERATIONS");
  return k != nullptr ? std::atoi(k) : 200;
}

[[noreturn]] void child(const std::string& path, int report_fd, uint64_t seed) {
  auto store = open_store(path, {});
  if (!store) ::_exit(3);
  Store& s = **store;
  auto bank = s.root<bank::Bank>("bank");
  std::mt19937_64 rng(seed);
  for (;;) {
    uint64_t i = rng() % kAccounts, j = (i + 1 + rng() % (kAccounts - 1)) % kAccounts;
    bank->transfer(i, j, static_cast<int64_t>(rng() % 100));
    // Allocations that are never published, and frees of some of them,
    // outside any block: a kill here must leak nothing after recovery.
    auto scratch = s.make<bank::Record>(int64_t{1}, uint64_t{2}, pptr<bank::RecordData>());
    if (rng() % 2) s.free(scratch);
    char c = 1;
    if (::write(report_fd, &c, 1) != 1) ::_exit(4);
  }
}

// Checks the invariants of a recovered store.
void verify(Store& s, int iteration) {
  auto bank = s.root<bank::Bank>("bank");
  ASSERT_TRUE(bank) << "iteration " << iteration;
  ASSERT_EQ(bank->size(), kAccounts);
  EXPECT_EQ(bank->total(), static_cast<int64_t>(kAccounts) * kInitial)
      << "money created or lost after kill " << iteration;
  for (uint64_t a = 0; a < kAccounts; ++a) {
    bank::Account& acct = bank->account(a);
    uint64_t n = 0;
    for (uint64_t r = acct.last(); r != 0; r = s.proxy<bank::Record>(r).prev()) ++n;
    EXPECT_EQ(n, acct.history()) << "account " << a << " after kill " << iteration;
    EXPECT_LE(n, bank::Account::kKeepRecords);
  }
}

TEST(KillTest, TransfersSurviveRandomKills) {
  testing::TempDir dir;
  std::string path = dir.file("bank.pool");
  {
    StoreOptions o;
    o.create.size = 16 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = create_store(path, o);
    ASSERT_TRUE(s) << s.status().to_string();
    bank::Bank::create(**s, "bank", kAccounts, kInitial);
  }
  const int kills = kills_from_env();
  std::mt19937_64 rng(std::random_device{}());
  uint64_t total_transfers = 0, replayed = 0;
  for (int k = 0; k < kills; ++k) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    uint64_t seed = rng();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      child(path, fds[1], seed);
    }
    ::close(fds[1]);
    // Let it finish a random number of transfers (0 included: a kill
    // during recovery or open), then kill it wherever it is.
    uint64_t wait_for = rng() % 400, seen = 0;
    char buf[256];
    while (seen < wait_for) {
      ssize_t n = ::read(fds[0], buf, std::min<uint64_t>(sizeof(buf), wait_for - seen));
      if (n <= 0) break;
      seen += static_cast<uint64_t>(n);
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << status;
    total_transfers += seen;

    // The crashed pool, before recovery: check simulates it (copy-on-write).
    auto pre = recovery::check_heap(path);
    ASSERT_TRUE(pre) << pre.status().to_string();
    EXPECT_TRUE(pre->consistent()) << "kill " << k << ": " << pre->problems.front();

    {
      auto s = open_store(path, {});
      ASSERT_TRUE(s) << "kill " << k << ": " << s.status().to_string();
      replayed += (*s)->open_report().logs_replayed;
      verify(**s, k);
      if (HasFailure()) return;
      // Live bytes are exactly what is reachable: nothing leaked.
      EXPECT_EQ((*s)->open_report().live_bytes, (*s)->usage().live_bytes);
    }
    auto check = recovery::check_heap(path);
    ASSERT_TRUE(check) << check.status().to_string();
    EXPECT_TRUE(check->consistent()) << "kill " << k << ": " << check->problems.front();
    EXPECT_EQ(check->leaked_bytes, 0u);
    EXPECT_EQ(check->allocated_bytes, check->reachable_bytes);
    if (k % 50 == 0) {  // the command-line tool too, as users run it
      std::string cmd = std::string(NVOBJ_POOL_BIN) + " check " + path + " > /dev/null";
      EXPECT_EQ(std::system(cmd.c_str()), 0) << "nvobj-pool check failed after kill " << k;
    }
    if (HasFailure()) return;
  }
  std::printf("kills: %d, transfers acknowledged before kills: %llu, blocks replayed: %llu\n",
              kills, static_cast<unsigned long long>(total_transfers),
              static_cast<unsigned long long>(replayed));
}

}  // namespace
}  // namespace nvobj
