// Device probing against fake sysfs trees shaped like the kernel's nd bus,
// and the unsafe-shutdown policy's whole decision table.
#include "runtime/device.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/device_sysfs.h"
#include "tests/testing/temp_dir.h"

namespace nvobj {
namespace {
namespace fs = std::filesystem;

class FakeSysfs {
 public:
  FakeSysfs() : root_(dir_.path()) {}
  const std::string& root() const { return root_; }
  // Creates a directory (and parents) under the fake root, returns its path.
  fs::path dir(const std::string& rel) {
    fs::path p = fs::path(root_) / rel;
    fs::create_directories(p);
    return p;
  }
  void attr(const std::string& rel, const std::string& value) {
    std::ofstream(fs::path(root_) / rel) << value << "\n";
  }
  void dev_link(const std::string& kind, const std::string& majmin, const std::string& target) {
    fs::create_directories(fs::path(root_) / "dev" / kind);
    fs::create_symlink(fs::path(root_) / target, fs::path(root_) / "dev" / kind / majmin);
  }

 private:
  testing::TempDir dir_;
  std::string root_;
};

constexpr const char* kRegion = "devices/platform/e820_pmem/ndbus0/region0";

TEST(DeviceSysfsTest, ParsesNdPath) {
  NdPath p = parse_nd_path("/sys/devices/LNXSYSTM:00/ndbus1/region3/namespace3.1/block/pmem3");
  EXPECT_EQ(p.region, "region3");
  EXPECT_EQ(p.namespace_name, "namespace3.1");
  EXPECT_EQ(p.device, "pmem3");
  EXPECT_EQ(p.region_dir, "/sys/devices/LNXSYSTM:00/ndbus1/region3");
  NdPath none = parse_nd_path("/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda");
  EXPECT_TRUE(none.region.empty());
}

TEST(DeviceSysfsTest, FsdaxBlockDeviceWithEadr) {
  FakeSysfs s;
  s.dir(std::string(kRegion) + "/namespace0.0/block/pmem0");
  s.attr(std::string(kRegion) + "/persistence_domain", "cpu_cache");
  s.attr(std::string(kRegion) + "/namespace0.0/mode", "fsdax");
  s.dev_link("block", "259:0", std::string(kRegion) + "/namespace0.0/block/pmem0");
  DeviceInfo d = probe_sysfs_device(false, 259, 0, s.root());
  EXPECT_TRUE(d.applicable);
  EXPECT_EQ(d.kind, "fsdax");
  EXPECT_EQ(d.device, "pmem0");
  EXPECT_EQ(d.region, "region0");
  EXPECT_EQ(d.namespace_name, "namespace0.0");
  EXPECT_EQ(d.namespace_mode, "fsdax");
  EXPECT_EQ(d.persistence_domain, "cpu_cache");
}

TEST(DeviceSysfsTest, PartitionOfAPmemDevice) {
  FakeSysfs s;
  s.dir(std::string(kRegion) + "/namespace0.0/block/pmem0/pmem0p1");
  s.attr(std::string(kRegion) + "/persistence_domain", "memory_controller");
  s.attr(std::string(kRegion) + "/namespace0.0/mode", "fsdax");
  s.dev_link("block", "259:1", std::string(kRegion) + "/namespace0.0/block/pmem0/pmem0p1");
  DeviceInfo d = probe_sysfs_device(false, 259, 1, s.root());
  EXPECT_TRUE(d.applicable);
  EXPECT_EQ(d.device, "pmem0p1");
  EXPECT_EQ(d.namespace_name, "namespace0.0");
  EXPECT_EQ(d.persistence_domain, "memory_controller");
}

TEST(DeviceSysfsTest, DevdaxCharacterDevice) {
  FakeSysfs s;
  // As the kernel lays it out: regionN/daxN.M is libnvdimm's dax device with
  // a "namespace" attribute; regionN/daxN.M/daxN.M is the character device.
  s.dir(std::string(kRegion) + "/namespace0.1");
  s.attr(std::string(kRegion) + "/namespace0.1/mode", "devdax");
  s.dir(std::string(kRegion) + "/dax0.1/dax0.1");
  s.attr(std::string(kRegion) + "/dax0.1/namespace", "namespace0.1");
  s.attr(std::string(kRegion) + "/persistence_domain", "memory_controller");
  s.dev_link("char", "252:1", std::string(kRegion) + "/dax0.1/dax0.1");
  DeviceInfo d = probe_sysfs_device(true, 252, 1, s.root());
  EXPECT_TRUE(d.applicable);
  EXPECT_EQ(d.kind, "devdax");
  EXPECT_EQ(d.device, "dax0.1");
  EXPECT_EQ(d.region, "region0");
  EXPECT_EQ(d.namespace_name, "namespace0.1");
  EXPECT_EQ(d.namespace_mode, "devdax");
}

TEST(DeviceSysfsTest, MissingPersistenceDomainIsUnknown) {
  FakeSysfs s;
  s.dir(std::string(kRegion) + "/namespace0.0/block/pmem0");
  s.dev_link("block", "259:0", std::string(kRegion) + "/namespace0.0/block/pmem0");
  DeviceInfo d = probe_sysfs_device(false, 259, 0, s.root());
  EXPECT_TRUE(d.applicable);
  EXPECT_EQ(d.persistence_domain, "unknown");
}

TEST(DeviceSysfsTest, OrdinaryBlockDeviceIsNotApplicable) {
  FakeSysfs s;
  s.dir("devices/pci0000:00/0000:00:04.0/virtio1/block/vda");
  s.dev_link("block", "254:0", "devices/pci0000:00/0000:00:04.0/virtio1/block/vda");
  DeviceInfo d = probe_sysfs_device(false, 254, 0, s.root());
  EXPECT_FALSE(d.applicable);
  EXPECT_EQ(d.kind, "file");
  EXPECT_NE(d.note.find("not applicable"), std::string::npos);
  DeviceInfo missing = probe_sysfs_device(false, 1, 99, s.root());
  EXPECT_FALSE(missing.applicable);
  EXPECT_FALSE(missing.note.empty());
}

TEST(DeviceTest, TmpfsFileIsNotApplicable) {
  testing::TempDir dir;
  std::string path = dir.file("f");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  DeviceInfo d = probe_device(fd, /*dax=*/false);
  ::close(fd);
  EXPECT_FALSE(d.applicable);
  EXPECT_EQ(d.kind, "tmpfs");
  EXPECT_NE(d.note.find("not applicable"), std::string::npos);
}

// The unsafe shutdown policy: refuse only when the same device's count
// changed while the pool was open.
class UnsafeShutdownTest : public ::testing::Test {
 protected:
  UnsafeShutdownTest() {
    header_.flags = kFlagDeviceUscValid;
    header_.device_usc = 7;
    std::strcpy(header_.device_id, "nvdimm-8089-a1b2");
    header_.clean_shutdown = 0;
    now_.device_id = "nvdimm-8089-a1b2";
    now_.unsafe_shutdown_count = 8;
  }
  PoolHeader header_{};
  DeviceInfo now_;
};

TEST_F(UnsafeShutdownTest, RefusesWhenCountChangedWhileOpen) {
  Status s = check_unsafe_shutdown(header_, now_, /*allow=*/false);
  EXPECT_EQ(s.code(), StatusCode::kUnsafeShutdown);
  EXPECT_NE(s.message().find("from 7 to 8"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("allow_unsafe_shutdown"), std::string::npos);
}

TEST_F(UnsafeShutdownTest, AllowOverrides) {
  EXPECT_TRUE(check_unsafe_shutdown(header_, now_, /*allow=*/true));
}

TEST_F(UnsafeShutdownTest, CleanShutdownIsSafe) {
  header_.clean_shutdown = 1;
  EXPECT_TRUE(check_unsafe_shutdown(header_, now_, false));
}

TEST_F(UnsafeShutdownTest, UnchangedCountIsSafe) {
  now_.unsafe_shutdown_count = 7;
  EXPECT_TRUE(check_unsafe_shutdown(header_, now_, false));
}

TEST_F(UnsafeShutdownTest, OtherDeviceIsSafe) {
  now_.device_id = "nvdimm-8089-ffff";  // pool copied elsewhere
  EXPECT_TRUE(check_unsafe_shutdown(header_, now_, false));
}

TEST_F(UnsafeShutdownTest, NothingRecordedOrReadableIsSafe) {
  PoolHeader fresh = header_;
  fresh.flags = 0;
  EXPECT_TRUE(check_unsafe_shutdown(fresh, now_, false));
  DeviceInfo unreadable = now_;
  unreadable.unsafe_shutdown_count.reset();
  EXPECT_TRUE(check_unsafe_shutdown(header_, unreadable, false));
}

}  // namespace
}  // namespace nvobj
