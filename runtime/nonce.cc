#include "runtime/nonce.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

namespace nvobj {

namespace {
// Bumped in a forked child: see fresh_nonce.
std::atomic<uint64_t> fork_generation{0};
}  // namespace

// A nonce must differ from that of any structure its memory held before,
// or that structure's records, still in the memory, would check out as the
// new one's and come back at the next open. A forked child inherits its
// parent's generator state, and the allocator hands out the same offsets
// again: without a reseed, each child repeated the nonces its siblings had
// used (the DSO kill test's writers, forked from one parent, brought old
// records back).
uint64_t fresh_nonce() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    ::pthread_atfork(nullptr, nullptr,
                     [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  });
  thread_local std::mt19937_64 rng;
  thread_local uint64_t seeded_for = ~uint64_t{0};
  uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (seeded_for != generation) {
    std::random_device rd;
    rng.seed((uint64_t{rd()} << 32 | rd()) ^
             static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
             std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
             static_cast<uint64_t>(::getpid()));
    seeded_for = generation;
  }
  for (;;)
    if (uint64_t n = rng(); n != 0) return n;
}

}  // namespace nvobj
