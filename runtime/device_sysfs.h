// The sysfs side of device probing, split out so tests can feed it a fake
// /sys tree: resolves /sys/dev/{block,char}/MAJ:MIN to the nd bus path
// (.../ndbusN/regionN/namespaceN.M/...) and reads its attributes.
#ifndef NVOBJ_RUNTIME_DEVICE_SYSFS_H_
#define NVOBJ_RUNTIME_DEVICE_SYSFS_H_

#include <string>

#include "runtime/device.h"

namespace nvobj {

struct NdPath {
  std::string device;  // last path component: pmem0, pmem0p1, dax0.0
  std::string region;  // regionN, empty if not under an nd region
  std::string region_dir;
  std::string namespace_name;  // namespaceN.M, if on the path
  std::string namespace_dir;
};

// Splits a resolved sysfs device path into its nd components.
NdPath parse_nd_path(const std::string& resolved);

// Describes the block device (fsdax: the file system's device) or character
// device (devdax) MAJ:MIN using sysfs under sysfs_root.
DeviceInfo probe_sysfs_device(bool is_char_device, unsigned major_num, unsigned minor_num,
                              const std::string& sysfs_root);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_DEVICE_SYSFS_H_
