// nvobj-dso: the DSO server. Serves a key space of durable objects over the
// Redis protocol; every write is durable before its reply.
//
//   nvobj-dso --pool /dev/shm/nvobj/dso.pool --port 7379
//
// SIGTERM, SIGINT or SHUTDOWN close the pool cleanly (the next start opens it
// without recovery); after a crash or SIGKILL the next start recovers.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dso-backend/backend.h"
#include "dso-backend/baselines/baselines.h"
#include "dso-backend/modules/module_registry.h"
#include "dso-backend/server/server.h"
#include "pobjects/log_cleaner.h"
#include "pobjects/phashmap.h"
#include "pobjects/record_log.h"
#include "recovery/store_open.h"
#include "runtime/log.h"
#include "runtime/mode.h"
#include "runtime/units.h"

int main(int argc, char** argv) {
  CLI::App app{"nvobj-dso: durable shared objects over the Redis protocol"};
  std::string pool = "/dev/shm/nvobj/dso.pool", size_text = "1G", mode_text = "auto";
  std::string backend_name = "nvobj", protected_text = "yes", max_size_text = "64G";
  std::string group_commit_text = "yes";
  std::string max_bulk_text = "512M", query_buffer_text = "1G", log_level;
  uint64_t timeout_seconds = 0;
  // Redis's own log may grow to twice its data before it is rewritten
  // (auto-aof-rewrite-percentage 100); 30% dead lets a log reach 1.43x its
  // live bytes and copies about half as much as the library's 15%.
  uint64_t clean_at = 30;
  std::vector<std::string> modules;
  nvobj::dso::ServerOptions so;
  app.set_config("--config", "", "read options from a file (TOML/INI: key = value)");
  app.add_option("--pool", pool, "pool file or devdax device")->capture_default_str();
  app.add_option("--size", size_text, "size of a new pool")->capture_default_str();
  app.add_option("--mode", mode_text, "auto|dax|emulated|msync")->capture_default_str();
  app.add_option("--bind", so.bind, "address to listen on")->capture_default_str();
  app.add_option("--port", so.port, "TCP port (0: any free port)")->capture_default_str();
  app.add_option("--io-threads", so.io_threads, "I/O threads")->capture_default_str();
  app.add_option("--group-commit", group_commit_text,
                 "yes: with one I/O thread, a client's pipelined updates share one fence "
                 "before their replies")
      ->capture_default_str()
      ->check(CLI::IsMember({"yes", "no"}));
  app.add_option("--clean-at", clean_at,
                 "percent of a log's bytes dead at which updates start cleaning it: lower keeps "
                 "the pool smaller, higher copies less (nvobj backend)")
      ->capture_default_str()
      ->check(CLI::Range(5, 80));
  std::string cleaner = "auto";
  app.add_option("--cleaner", cleaner,
                 "inline: updates clean the logs; thread: a background thread does; auto: the "
                 "thread while fewer threads write than there are cores (nvobj backend)")
      ->capture_default_str()
      ->check(CLI::IsMember({"inline", "thread", "auto"}));
  app.add_option("--backend", backend_name,
                 "nvobj|volatile|pmemobj-tx|fs (fs: --pool names a directory)")
      ->capture_default_str();
  app.add_option("--requirepass", so.password, "password clients must AUTH with");
  app.add_option("--protected-mode", protected_text,
                 "yes: refuse non-loopback clients while no password is set")
      ->capture_default_str();
  app.add_option("--maxclients", so.max_clients, "maximum clients")->capture_default_str();
  app.add_option("--max-size", max_size_text,
                 "the pool grows on demand up to this size; then writes fail with -OOM")
      ->capture_default_str();
  app.add_option("--timeout", timeout_seconds,
                 "disconnect a client idle for this many seconds (0: never)")
      ->capture_default_str();
  app.add_option("--proto-max-bulk-len", max_bulk_text, "longest bulk string in a request")
      ->capture_default_str();
  app.add_option("--proto-max-multibulk-len", so.parser.max_args, "most arguments in a request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--client-query-buffer-limit", query_buffer_text,
                 "most bytes of unparsed input a client may have pending")
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace|debug|info|warn|error|off (default: info, or $NVOBJ_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--load-module", modules,
                 "load a module of user-defined object types (a shared library; repeatable)");
  CLI11_PARSE(app, argc, argv);
  so.protected_mode = protected_text != "no";
  so.group_commit = group_commit_text == "yes";
  so.idle_timeout = std::chrono::seconds(timeout_seconds);
  auto max_bulk = nvobj::parse_size(max_bulk_text);
  auto query_buffer = nvobj::parse_size(query_buffer_text);
  if (!max_bulk || !query_buffer || *max_bulk == 0) {
    std::fprintf(stderr, "nvobj-dso: bad --proto-max-bulk-len or --client-query-buffer-limit\n");
    return 2;
  }
  so.parser.max_bulk_len = *max_bulk;
  so.max_query_buffer = *query_buffer;
  if (!log_level.empty()) nvobj::set_log_level(log_level);

  auto& log = nvobj::log();
  // Modules first: a bad one stops the start before any pool is opened.
  // Only here, never from the network (a module runs with the server's
  // rights).
  for (const std::string& path : modules) {
    if (nvobj::Status st = nvobj::dso::module_registry().load(path); !st) {
      std::fprintf(stderr, "nvobj-dso: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  std::unique_ptr<nvobj::Store> store;
  std::unique_ptr<nvobj::dso::Backend> backend;
  bool created = false;
  double open_seconds = 0;  // the store and the key space's index
  if (backend_name == "volatile") {
    backend = nvobj::dso::make_volatile_backend();
  } else if (backend_name == "nvobj") {
    auto mode = nvobj::parse_mode(mode_text);
    auto size = nvobj::parse_size(size_text);
    auto max_size = nvobj::parse_size(max_size_text);
    if (!mode || !size || !max_size) {
      std::fprintf(stderr, "nvobj-dso: bad --mode, --size or --max-size\n");
      return 2;
    }
    // Chunks at least twice as dead (or halfway to all dead) are cleaned.
    nvobj::RecordLog::set_cleaning_thresholds(
        clean_at * 10, std::min(clean_at * 20, clean_at * 10 + (1000 - clean_at * 10) / 2));
    nvobj::LogCleaner::set_mode(*nvobj::parse_background_cleaning(cleaner));
    nvobj::StoreOptions o;
    o.open.mode = *mode;
    o.open.max_size = *max_size;
    o.create.mode = *mode;
    o.create.size = *size;
    o.create.max_size = *max_size;
    std::error_code ec;
    bool exists = std::filesystem::exists(pool, ec);
    if (!exists) std::filesystem::create_directories(std::filesystem::path(pool).parent_path(), ec);
    created = !exists;
    auto t0 = std::chrono::steady_clock::now();
    auto s = exists ? nvobj::open_store(pool, o) : nvobj::create_store(pool, o);
    if (!s) {
      std::fprintf(stderr, "nvobj-dso: %s\n", s.status().to_string().c_str());
      return 1;
    }
    store = std::move(*s);
    backend = nvobj::dso::make_nvobj_backend(*store);
    open_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } else if (backend_name == "pmemobj-tx" || backend_name == "fs") {
    // The baselines (docs/baselines.md): --pool is a libpmemobj pool file or
    // the fs store's directory.
    auto size = nvobj::parse_size(size_text);
    if (!size) {
      std::fprintf(stderr, "nvobj-dso: bad --size\n");
      return 2;
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(pool).parent_path(), ec);
    auto b = backend_name == "fs" ? nvobj::dso::make_fs_backend(pool)
                                  : nvobj::dso::make_pmemobj_backend(pool, *size);
    if (!b) {
      std::fprintf(stderr, "nvobj-dso: %s\n", b.status().to_string().c_str());
      return 1;
    }
    backend = std::move(*b);
  } else {
    std::fprintf(stderr, "nvobj-dso: unknown backend '%s' (nvobj, volatile, pmemobj-tx or fs)\n",
                 backend_name.c_str());
    return 2;
  }

  nvobj::dso::Server server(*backend, so);
  if (nvobj::Status st = server.start(); !st) {
    std::fprintf(stderr, "nvobj-dso: %s\n", st.to_string().c_str());
    return 1;
  }
  if (store) {
    const nvobj::OpenReport& r = store->open_report();
    const std::string opened =
        created
            ? std::string("a new pool")
            : fmt::format("{} in {:.1f} ms (store {:.1f} ms, key space {})",
                          r.clean ? "opened cleanly" : "recovered after a crash",
                          open_seconds * 1e3, r.seconds * 1e3,
                          store->root<nvobj::PHashMap>("dso.keyspace")->stats().index_from_snapshot
                              ? "index loaded from its clean-close snapshot"
                              : "index rebuilt from its log");
    log.info(
        "nvobj-dso: backend nvobj, pool {} ({}, grows to {}, mode {}), {} keys, {}, "
        "cleaning at {}% dead",
        pool, nvobj::format_size(store->pool().size()),
        nvobj::format_size(store->pool().max_size()), nvobj::mode_name(store->pool().mode()),
        backend->size(), opened, clean_at);
  } else if (backend_name == "volatile") {
    log.info("nvobj-dso: backend volatile (nothing survives a restart)");
  } else {
    log.info("nvobj-dso: backend {}, {} {}, {} keys", backend_name,
             backend_name == "fs" ? "directory" : "pool", pool, backend->size());
  }
  for (const auto& m : nvobj::dso::module_registry().modules())
    log.info("nvobj-dso: module {} ({}): types {}", m.name, m.path, fmt::join(m.types, ", "));
  log.info(
      "nvobj-dso: {}:{}, {} I/O threads, group commit {}, maxclients {}, timeout {} s, "
      "proto-max-bulk-len {}",
      so.bind, server.port(), so.io_threads, so.group_commit && so.io_threads <= 1 ? "on" : "off",
      so.max_clients, timeout_seconds, nvobj::format_size(so.parser.max_bulk_len));
  // The line tests and scripts wait for.
  std::printf("nvobj-dso ready on %s:%u\n", so.bind.c_str(), server.port());
  std::fflush(stdout);

  // Signals stop the server from a thread of their own.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != 0) server.stop();
  });
  server.run();
  // Wake the waiter if SHUTDOWN ended the run.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  log.info("nvobj-dso: shutting down");
  backend.reset();
  if (store) {
    nvobj::Status st = store->close();
    if (!st) {
      std::fprintf(stderr, "nvobj-dso: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  return 0;
}
