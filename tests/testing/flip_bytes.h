// Damages a closed pool file in place, as a stray write or a torn line
// would: finds the first occurrence of `needle` and xors one byte at
// `needle's position + delta` with `mask`. Returns false if the needle is
// not in the file (or the file cannot be mapped).
#ifndef NVOBJ_TESTS_TESTING_FLIP_BYTES_H_
#define NVOBJ_TESTS_TESTING_FLIP_BYTES_H_

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace nvobj::testing {

inline bool flip_byte_after(const std::string& path, std::string_view needle, size_t delta,
                            unsigned char mask) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  auto size = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return false;
  auto* at = static_cast<unsigned char*>(::memmem(base, size, needle.data(), needle.size()));
  bool found =
      at != nullptr && static_cast<size_t>(at - static_cast<unsigned char*>(base)) + delta < size;
  if (found) at[delta] ^= mask;
  ::munmap(base, size);
  return found;
}

}  // namespace nvobj::testing

#endif  // NVOBJ_TESTS_TESTING_FLIP_BYTES_H_
