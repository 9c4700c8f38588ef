// nvobj-pool: create, inspect, check and grow pool files.
//
//   nvobj-pool create PATH --size 256M [--mode auto|dax|emulated|msync] [--force]
//   nvobj-pool info PATH [--json]
//   nvobj-pool check PATH [--json]   (exit 0 when consistent)
//   nvobj-pool check PATH --repair   (runs recovery, then checks again)
//   nvobj-pool grow PATH --size 1G
//
// Exit status 0 on success; otherwise 1 with a one-line reason on stderr
// (2 for usage errors, as CLI11 reports them).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "recovery/check.h"
#include "recovery/store_open.h"
#include "runtime/checksum.h"
#include "runtime/log.h"
#include "runtime/pool.h"
#include "runtime/pool_check.h"
#include "runtime/units.h"

namespace nvobj {
namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "nvobj-pool: %s\n", s.to_string().c_str());
  return 1;
}

std::string header_state_name(HeaderCheck c) {
  switch (c) {
    case HeaderCheck::kValid: return "valid";
    case HeaderCheck::kBlank: return "blank";
    case HeaderCheck::kBadMagic: return "foreign";
    case HeaderCheck::kBadChecksum: return "torn";
  }
  return "?";
}

std::string iso_time(uint64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

DeviceInfo probe(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  DeviceInfo d = probe_device(fd, /*dax=*/false);
  ::close(fd);
  return d;
}

nlohmann::json device_json(const DeviceInfo& d) {
  nlohmann::json j;
  j["applicable"] = d.applicable;
  j["kind"] = d.kind;
  if (d.applicable) {
    j["device"] = d.device;
    j["namespace"] = d.namespace_name;
    j["namespace_mode"] = d.namespace_mode;
    j["region"] = d.region;
    j["persistence_domain"] = d.persistence_domain;
    j["device_id"] = d.device_id;
    if (d.unsafe_shutdown_count) j["unsafe_shutdown_count"] = *d.unsafe_shutdown_count;
  }
  if (!d.note.empty()) j["note"] = d.note;
  return j;
}

int cmd_create(const std::string& path, const std::string& size_text, const std::string& mode_text,
               bool force) {
  auto size = parse_size(size_text);
  if (!size) return fail(size.status());
  auto mode = parse_mode(mode_text);
  if (!mode)
    return fail(Status(StatusCode::kInvalidArgument,
                       fmt::format("unknown mode '{}' (auto, dax, emulated, msync)", mode_text)));
  CreateOptions o;
  o.size = *size;
  o.mode = *mode;
  o.overwrite = force;
  auto pool = Pool::create(path, o);
  if (!pool) return fail(pool.status());
  std::printf("created %s: %s, mode %s, uuid %s\n", path.c_str(),
              format_size((*pool)->size()).c_str(), std::string(mode_name((*pool)->mode())).c_str(),
              (*pool)->uuid().c_str());
  Status s = (*pool)->close();
  return s ? 0 : fail(s);
}

int cmd_info(const std::string& path, bool json) {
  auto info = inspect_pool(path);
  if (!info) return fail(info.status());
  const PoolHeader& h = info->header;
  DeviceInfo dev = probe(path);
  Mode requested = static_cast<Mode>(h.requested_mode);
  if (json) {
    nlohmann::json j;
    j["path"] = path;
    j["uuid"] = uuid_to_string(h.uuid);
    j["layout_version"] = fmt::format("{}.{}", h.layout_major, h.layout_minor);
    j["size"] = h.size;
    j["file_size"] = info->file_size;
    j["data_offset"] = h.data_offset;
    j["data_bytes"] = h.size - h.data_offset;
    j["created"] = iso_time(h.create_time_ns);
    j["requested_mode"] = mode_name(requested);
    j["clean_shutdown"] = h.clean_shutdown != 0;
    j["in_use"] = info->locked;
    j["open_count"] = h.open_count;
    j["generation"] = h.generation;
    j["header_copies"] = {header_state_name(info->choice.copy_state[0]),
                          header_state_name(info->choice.copy_state[1])};
    j["device"] = device_json(dev);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("pool            %s\n", path.c_str());
  std::printf("uuid            %s\n", uuid_to_string(h.uuid).c_str());
  std::printf("layout version  %u.%u\n", h.layout_major, h.layout_minor);
  std::printf("size            %s (%llu bytes; file %llu bytes)\n", format_size(h.size).c_str(),
              static_cast<unsigned long long>(h.size),
              static_cast<unsigned long long>(info->file_size));
  std::printf("data area       %s from offset %llu\n", format_size(h.size - h.data_offset).c_str(),
              static_cast<unsigned long long>(h.data_offset));
  std::printf("created         %s\n", iso_time(h.create_time_ns).c_str());
  std::printf("requested mode  %s\n", std::string(mode_name(requested)).c_str());
  std::printf(
      "state           %s%s\n", info->locked ? "open in another process" : "closed",
      info->locked ? "" : (h.clean_shutdown ? ", clean shutdown" : ", NOT shut down cleanly"));
  std::printf("opens           %llu (header generation %llu)\n",
              static_cast<unsigned long long>(h.open_count),
              static_cast<unsigned long long>(h.generation));
  std::printf("header copies   %s, %s\n", header_state_name(info->choice.copy_state[0]).c_str(),
              header_state_name(info->choice.copy_state[1]).c_str());
  if (dev.applicable) {
    std::printf("device          %s (%s), namespace %s (%s), region %s\n", dev.device.c_str(),
                dev.kind.c_str(), dev.namespace_name.c_str(), dev.namespace_mode.c_str(),
                dev.region.c_str());
    std::printf("persistence     %s\n", dev.persistence_domain.c_str());
  } else {
    std::printf("device          %s\n", dev.note.empty() ? "not applicable" : dev.note.c_str());
  }
  return 0;
}

// Read-only: the header and layout checks on a read-only mapping
// (runtime/pool_check.h), then the heap checks on a copy-on-write mapping
// (recovery/check.h): nothing is written to the pool.
int cmd_check(const std::string& path, bool json, bool repair) {
  auto info = inspect_pool(path);
  if (!info && info.status().code() != StatusCode::kCorrupt) return fail(info.status());
  if (info && info->locked)
    return fail(Status(StatusCode::kBusy,
                       fmt::format("{} is open in another process; check a closed pool", path)));
  if (repair) {
    StoreOptions o;
    o.force_recovery = true;
    auto store = open_store(path, o);
    if (!store) return fail(store.status());
    const OpenReport& r = (*store)->open_report();
    if (!json)
      std::printf("%s: recovered: %llu blocks replayed, %llu dropped, %llu live objects\n",
                  path.c_str(), static_cast<unsigned long long>(r.logs_replayed),
                  static_cast<unsigned long long>(r.logs_dropped),
                  static_cast<unsigned long long>(r.objects));
    if (Status s = (*store)->close(); !s) return fail(s);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(status_from_errno(errno, fmt::format("opening {}", path)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return fail(Status(StatusCode::kIOError, fmt::format("cannot size {}", path)));
  }
  auto len = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return fail(status_from_errno(errno, fmt::format("mapping {}", path)));
  PoolCheckReport report = check_pool_bytes(static_cast<const char*>(base), len);
  ::munmap(base, len);
  std::vector<std::string> problems = report.problems;
  recovery::HeapCheckReport heap;
  if (report.clean()) {
    auto h = recovery::check_heap(path);
    if (!h) return fail(h.status());
    heap = std::move(*h);
    problems.insert(problems.end(), heap.problems.begin(), heap.problems.end());
  }
  if (json) {
    nlohmann::json j;
    j["path"] = path;
    j["consistent"] = problems.empty();
    j["problems"] = problems;
    j["clean_shutdown"] = heap.clean_shutdown;
    j["snapshot_found"] = heap.snapshot_found;
    j["logs_to_replay"] = heap.logs_to_replay;
    j["logs_to_drop"] = heap.logs_to_drop;
    j["reachable_objects"] = heap.reachable_objects;
    j["reachable_bytes"] = heap.reachable_bytes;
    j["allocated_objects"] = heap.allocated_objects;
    j["allocated_bytes"] = heap.allocated_bytes;
    j["leaked_objects"] = heap.leaked_objects;
    j["leaked_bytes"] = heap.leaked_bytes;
    j["reclaimable_objects"] = heap.reclaimable_objects;
    j["reclaimable_bytes"] = heap.reclaimable_bytes;
    j["objects_by_class"] = heap.objects_by_class;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const std::string& p : problems)
      std::fprintf(stderr, "nvobj-pool: %s: %s\n", path.c_str(), p.c_str());
  }
  if (!problems.empty()) return 1;
  if (!json) {
    std::printf("%s: clean: %llu reachable objects (%llu bytes), %llu allocated, no leak\n",
                path.c_str(), static_cast<unsigned long long>(heap.reachable_objects),
                static_cast<unsigned long long>(heap.reachable_bytes),
                static_cast<unsigned long long>(heap.allocated_objects));
    if (!heap.clean_shutdown)
      std::printf(
          "%s: not closed cleanly: the next open recovers (replays %llu blocks, drops "
          "%llu, reclaims %llu objects of %llu bytes)\n",
          path.c_str(), static_cast<unsigned long long>(heap.logs_to_replay),
          static_cast<unsigned long long>(heap.logs_to_drop),
          static_cast<unsigned long long>(heap.reclaimable_objects),
          static_cast<unsigned long long>(heap.reclaimable_bytes));
  }
  return 0;
}

int cmd_grow(const std::string& path, const std::string& size_text, bool allow_unsafe) {
  auto size = parse_size(size_text);
  if (!size) return fail(size.status());
  OpenOptions o;
  o.allow_unsafe_shutdown = allow_unsafe;
  auto pool = Pool::open(path, o);
  if (!pool) return fail(pool.status());
  if (Status s = (*pool)->grow(*size); !s) return fail(s);
  std::printf("%s: %s\n", path.c_str(), format_size((*pool)->size()).c_str());
  Status s = (*pool)->close();
  return s ? 0 : fail(s);
}

}  // namespace
}  // namespace nvobj

int run(int argc, char** argv) {
  CLI::App app{"nvobj-pool: create, inspect, check and grow nvobj pools"};
  app.require_subcommand(1);
  std::string log_level = "error";  // stderr carries only the one-line reason
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off");

  std::string path, size = "64M", mode = "auto";
  bool force = false, json = false;
  auto* create = app.add_subcommand("create", "create a new pool");
  create->add_option("path", path, "pool file or devdax device")->required();
  create->add_option("--size", size, "pool size, e.g. 256M, 4G")->capture_default_str();
  create->add_option("--mode", mode, "auto|dax|emulated|msync")->capture_default_str();
  create->add_flag("--force", force, "replace an existing file or pool");

  auto* info = app.add_subcommand("info", "print the pool header and device information");
  info->add_option("path", path)->required();
  info->add_flag("--json", json, "machine-readable output");

  auto* check = app.add_subcommand("check", "verify a closed pool without changing it");
  check->add_option("path", path)->required();
  check->add_flag("--json", json, "machine-readable report");
  bool repair = false;
  check->add_flag("--repair", repair, "run crash recovery on the pool first (changes it)");

  std::string grow_size;
  auto* grow = app.add_subcommand("grow", "grow a pool in place");
  grow->add_option("path", path)->required();
  grow->add_option("--size", grow_size, "new total size, e.g. 1G")->required();
  bool allow_unsafe = false;
  grow->add_flag("--allow-unsafe-shutdown", allow_unsafe,
                 "open even though the device reports an unsafe shutdown while the pool was open");

  CLI11_PARSE(app, argc, argv);
  if (!nvobj::set_log_level(log_level)) {
    std::fprintf(stderr, "nvobj-pool: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  if (*create) return nvobj::cmd_create(path, size, mode, force);
  if (*info) return nvobj::cmd_info(path, json);
  if (*check) return nvobj::cmd_check(path, json, repair);
  if (*grow) return nvobj::cmd_grow(path, grow_size, allow_unsafe);
  return 2;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nvobj-pool: %s\n", e.what());
    return 1;
  }
}
