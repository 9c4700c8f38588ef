// nvobj-bank: the bank example as a program. Each run opens (or creates) the
// bank, performs transfers and prints the balances; kill it at any moment
// and the next run still finds the money all there.
//
//   nvobj-bank --pool /dev/shm/bank.pool --accounts 8 --transfers 1000
//   nvobj-bank --transfers 10 --crash      exit without closing (recovery next)
#include <unistd.h>

#include <cstdio>
#include <random>

#include <CLI/CLI.hpp>

#include "examples/bank/bank.h"
#include "recovery/store_open.h"

int main(int argc, char** argv) {
  CLI::App app{"nvobj-bank: failure-atomic transfers between persistent accounts"};
  std::string path = "/dev/shm/nvobj-bank.pool";
  uint64_t accounts = 8, transfers = 1000;
  app.add_option("--pool", path, "pool file (created if missing)");
  app.add_option("--accounts", accounts, "accounts in a new bank")->check(CLI::Range(2, 1 << 20));
  app.add_option("--transfers", transfers, "transfers to perform in this run");
  bool crash = false;
  app.add_flag("--crash", crash, "exit without closing the store (as a crash would)");
  CLI11_PARSE(app, argc, argv);

  auto store = nvobj::open_store(path);
  if (!store && store.status().code() == nvobj::StatusCode::kNotFound)
    store = nvobj::create_store(path);
  if (!store) {
    std::fprintf(stderr, "nvobj-bank: %s\n", store.status().to_string().c_str());
    return 1;
  }
  nvobj::Store& s = **store;
  auto b = s.root<bank::Bank>("bank");
  if (!b) {
    b = bank::Bank::create(s, "bank", accounts, 1000);
    std::printf("created a bank of %llu accounts holding 1000 each\n",
                static_cast<unsigned long long>(accounts));
  }
  const nvobj::OpenReport& r = s.open_report();
  std::printf("opened: %s, %llu objects, %.1f ms\n", r.clean ? "clean" : "recovered after a crash",
              static_cast<unsigned long long>(r.objects), r.seconds * 1e3);
  std::mt19937_64 rng(std::random_device{}());
  uint64_t n = b->size();
  for (uint64_t t = 0; t < transfers; ++t) {
    uint64_t i = rng() % n, j = (i + 1 + rng() % (n - 1)) % n;
    b->transfer(i, j, static_cast<int64_t>(rng() % 100));
  }
  for (uint64_t i = 0; i < n && i < 16; ++i)
    std::printf("account %llu: %lld\n", static_cast<unsigned long long>(i),
                static_cast<long long>(b->account(i).balance()));
  std::printf("total: %lld (%llu transfers this run)\n", static_cast<long long>(b->total()),
              static_cast<unsigned long long>(transfers));
  if (crash) {
    std::fflush(stdout);
    ::_exit(0);  // no close: the next open recovers
  }
  return 0;
}
