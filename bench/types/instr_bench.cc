// nvobj-bench-instr: a fixed number of one durable type's operations, for
// instruction counts under callgrind (the stable metric on a shared
// machine with no hardware counters). Only the measured loop is
// instrumented; divide callgrind's "Collected" by --ops:
//
//   valgrind --tool=callgrind --instr-atstart=no build/bin/nvobj-bench-instr --type list
//
// list: append + pop_front pairs on a 10 K-element queue of 100 B values;
// map: puts of 100 B values to uniform random keys of a 100 K-key map
// (the cleaner at its steady state: every key written 4 times first).
// --persist noop (the default) leaves out write-backs and fences, which
// callgrind cannot time anyway.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <valgrind/callgrind.h>

#include "bench/common/bench_store.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"nvobj-bench-instr: a fixed number of operations, for callgrind"};
  std::string type = "list", persist = "noop", dir = "/dev/shm";
  uint64_t ops = 20000;
  app.add_option("--type", type, "list (append + pop_front pairs) or map (puts)")
      ->capture_default_str()
      ->check(CLI::IsMember({"list", "map"}));
  app.add_option("--ops", ops, "operations measured (pairs for the list)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
  app.add_option("--persist", persist, "noop or pmem2")
      ->capture_default_str()
      ->check(CLI::IsMember({"noop", "pmem2"}));
  app.add_option("--dir", dir, "directory of the pool (tmpfs: emulated mode)");
  CLI11_PARSE(app, argc, argv);

  std::string path = dir + "/nvobj-bench-instr-" + std::to_string(::getpid()) + ".pool";
  auto store = nvobj::bench::create_bench_store(path, persist == "noop");
  if (!store) {
    std::fprintf(stderr, "nvobj-bench-instr: %s\n", store.status().to_string().c_str());
    return 1;
  }
  nvobj::Store& s = **store;
  const std::string value(100, 'v');
  std::string out;
  if (type == "list") {
    auto l = nvobj::PList::create(s);
    s.set_root("list", l);
    for (int i = 0; i < 10000; ++i) l->append(value);
    auto pair = [&] {
      l->append(value);
      out = l->pop_front().value_or("");
    };
    for (int i = 0; i < 20000; ++i) pair();  // past the first chunks and cleanings
    CALLGRIND_START_INSTRUMENTATION;
    for (uint64_t i = 0; i < ops; ++i) pair();
    CALLGRIND_STOP_INSTRUMENTATION;
  } else {
    auto m = nvobj::PHashMap::create(s);
    s.set_root("map", m);
    std::vector<std::string> keys(100000);
    for (size_t i = 0; i < keys.size(); ++i)
      keys[i] = fmt::format("user{:012}", i * 2654435761u % 1000003);
    uint64_t x = 0x9E3779B97F4A7C15u;
    auto next_key = [&]() -> const std::string& {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return keys[x % keys.size()];
    };
    for (const std::string& k : keys) m->put(k, value);
    for (size_t i = 0; i < 3 * keys.size(); ++i) m->put(next_key(), value);
    CALLGRIND_START_INSTRUMENTATION;
    for (uint64_t i = 0; i < ops; ++i) m->put(next_key(), value);
    CALLGRIND_STOP_INSTRUMENTATION;
  }
  store->reset();  // closed before its file goes
  ::unlink(path.c_str());
  std::printf("%s: %llu %s (persist %s); divide callgrind's Collected by %llu\n", type.c_str(),
              static_cast<unsigned long long>(ops),
              type == "list" ? "append+pop_front pairs" : "puts", persist.c_str(),
              static_cast<unsigned long long>(ops));
  return 0;
}
