// What backs a pool: on real persistent memory, the namespace, its mode, the
// region's persistence domain (ADR vs eADR) and the unsafe shutdown count; on
// tmpfs or an ordinary file, "not applicable". Read from sysfs (the same files
// ndctl reads) so that tests can point it at a fake tree.
#ifndef NVOBJ_RUNTIME_DEVICE_H_
#define NVOBJ_RUNTIME_DEVICE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "runtime/pool_header.h"
#include "runtime/status.h"

namespace nvobj {

struct DeviceInfo {
  bool applicable = false;         // false: emulated/ordinary file, nothing to report
  std::string kind;                // "devdax", "fsdax", "tmpfs", "file"
  std::string device;              // e.g. "pmem0" or "dax0.0"
  std::string namespace_name;      // e.g. "namespace0.0"
  std::string namespace_mode;      // "fsdax" | "devdax" | ...
  std::string region;              // e.g. "region0"
  std::string persistence_domain;  // "cpu_cache" (eADR), "memory_controller" (ADR), "unknown"
  std::string device_id;           // stable id of the backing device(s)
  std::optional<uint64_t> unsafe_shutdown_count;
  std::string note;  // why not applicable, or what could not be read
};

// Probes the device behind an open pool file descriptor. `dax` says whether
// the mapping turned out to be DAX. Never fails: what cannot be read is left
// empty and explained in `note`.
DeviceInfo probe_device(int fd, bool dax, const std::string& sysfs_root = "/sys");

// Decides whether a pool may be opened given the device state recorded in its
// header at the previous open and the state now. Refuses (kUnsafeShutdown)
// when the pool was not closed cleanly and the device's unsafe shutdown count
// changed since, unless `allow` is set.
Status check_unsafe_shutdown(const PoolHeader& header, const DeviceInfo& now, bool allow);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_DEVICE_H_
