#include "runtime/device.h"

#include <libpmem2.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "runtime/device_sysfs.h"
#include "runtime/log.h"

namespace nvobj {
namespace fs = std::filesystem;

namespace {

std::string read_attr(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  if (!in || !std::getline(in, s)) return "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "region12"
bool is_region(std::string_view name) {
  return name.starts_with("region") && all_digits(name.substr(6));
}

// "namespace3.1"
bool is_namespace(std::string_view name) {
  if (!name.starts_with("namespace")) return false;
  std::string_view rest = name.substr(9);
  size_t dot = rest.find('.');
  return dot != std::string_view::npos && all_digits(rest.substr(0, dot)) &&
         all_digits(rest.substr(dot + 1));
}

void append_note(DeviceInfo& d, const std::string& what) {
  if (!d.note.empty()) d.note += "; ";
  d.note += what;
}

void read_pmem2_state(int fd, DeviceInfo& d) {
  pmem2_source* src = nullptr;
  if (pmem2_source_from_fd(&src, fd) != 0) {
    append_note(d, fmt::format("libpmem2: {}", pmem2_errormsg()));
    return;
  }
  size_t len = 0;
  if (pmem2_source_device_id(src, nullptr, &len) == 0 && len > 0) {
    std::string id(len, '\0');
    if (pmem2_source_device_id(src, id.data(), &len) == 0) {
      id.resize(std::strlen(id.c_str()));
      d.device_id = id;
    }
  } else {
    append_note(d, fmt::format("device id unavailable: {}", pmem2_errormsg()));
  }
  uint64_t usc = 0;
  if (pmem2_source_device_usc(src, &usc) == 0)
    d.unsafe_shutdown_count = usc;
  else
    append_note(d, fmt::format("unsafe shutdown count unavailable: {}", pmem2_errormsg()));
  pmem2_source_delete(&src);
}

}  // namespace

NdPath parse_nd_path(const std::string& resolved) {
  NdPath out;
  fs::path prefix;
  for (const fs::path& part : fs::path(resolved)) {
    prefix /= part;
    std::string name = part.string();
    if (is_region(name)) {
      out.region = name;
      out.region_dir = prefix.string();
    } else if (is_namespace(name)) {
      out.namespace_name = name;
      out.namespace_dir = prefix.string();
    }
  }
  out.device = fs::path(resolved).filename().string();
  return out;
}

DeviceInfo probe_sysfs_device(bool is_char_device, unsigned major_num, unsigned minor_num,
                              const std::string& sysfs_root) {
  DeviceInfo d;
  fs::path link = fs::path(sysfs_root) / "dev" / (is_char_device ? "char" : "block") /
                  fmt::format("{}:{}", major_num, minor_num);
  std::error_code ec;
  fs::path resolved = fs::canonical(link, ec);
  if (ec) {
    d.kind = is_char_device ? "devdax" : "file";
    d.note = fmt::format("not applicable: no sysfs entry for device {}:{}", major_num, minor_num);
    return d;
  }
  NdPath nd = parse_nd_path(resolved.string());
  if (nd.region.empty()) {
    d.kind = is_char_device ? "devdax" : "file";
    d.note = "not applicable: not on a persistent memory device";
    return d;
  }
  d.applicable = true;
  d.kind = is_char_device ? "devdax" : "fsdax";
  d.device = nd.device;
  d.region = nd.region;
  d.namespace_name = nd.namespace_name;
  if (nd.namespace_name.empty()) {
    // devdax: the nd "dax" device (regionN/daxN.M, parent of the character
    // device's node) names its namespace in a text attribute.
    std::string ns = read_attr(resolved.parent_path() / "namespace");
    if (!ns.empty()) {
      d.namespace_name = ns;
      nd.namespace_dir = (fs::path(nd.region_dir) / ns).string();
    }
  }
  if (!nd.namespace_dir.empty()) d.namespace_mode = read_attr(fs::path(nd.namespace_dir) / "mode");
  d.persistence_domain = read_attr(fs::path(nd.region_dir) / "persistence_domain");
  if (d.persistence_domain.empty()) d.persistence_domain = "unknown";
  return d;
}

DeviceInfo probe_device(int fd, bool dax, const std::string& sysfs_root) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    DeviceInfo d;
    d.note = fmt::format("not applicable: fstat failed: {}", std::strerror(errno));
    return d;
  }
  DeviceInfo d;
  if (S_ISCHR(st.st_mode)) {
    d = probe_sysfs_device(true, major(st.st_rdev), minor(st.st_rdev), sysfs_root);
  } else {
    struct statfs sfs;
    if (::fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC) {
      d.kind = "tmpfs";
      d.note = "not applicable: emulated pool on tmpfs (no persistent memory device)";
    } else {
      d = probe_sysfs_device(false, major(st.st_dev), minor(st.st_dev), sysfs_root);
    }
  }
  if (dax) read_pmem2_state(fd, d);
  return d;
}

Status check_unsafe_shutdown(const PoolHeader& header, const DeviceInfo& now, bool allow) {
  bool recorded = (header.flags & kFlagDeviceUscValid) != 0;
  std::string recorded_id(header.device_id, strnlen(header.device_id, sizeof header.device_id));
  if (!recorded || !now.unsafe_shutdown_count || recorded_id != now.device_id ||
      *now.unsafe_shutdown_count == header.device_usc || header.clean_shutdown != 0)
    return Status::ok();
  std::string what = fmt::format(
      "the device's unsafe shutdown count changed from {} to {} while the pool was open: data "
      "written before the power loss may be damaged",
      header.device_usc, *now.unsafe_shutdown_count);
  if (allow) {
    log().warn("{} (opening anyway: allow_unsafe_shutdown is set)", what);
    return Status::ok();
  }
  return Status(StatusCode::kUnsafeShutdown,
                fmt::format("{}; restore from a copy, or check the data and open with "
                            "allow_unsafe_shutdown (--allow-unsafe-shutdown)",
                            what));
}

}  // namespace nvobj
