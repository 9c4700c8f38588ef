// A scratch directory for one test, removed (with its contents) at the end.
// Pools go to /dev/shm by default (emulated mode); `on_disk` puts them on an
// ordinary file system so that msync mode can be exercised.
#ifndef NVOBJ_TESTS_TESTING_TEMP_DIR_H_
#define NVOBJ_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace nvobj::testing {

class TempDir {
 public:
  explicit TempDir(bool on_disk = false) {
    std::string base = on_disk ? disk_base() : "/dev/shm";
    std::string tmpl = base + "/nvobj-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static std::string disk_base() {
    if (const char* d = std::getenv("NVOBJ_TEST_DISK_DIR")) return d;
    return "/var/tmp";
  }
  std::string path_;
};

}  // namespace nvobj::testing

#endif  // NVOBJ_TESTS_TESTING_TEMP_DIR_H_
