// ZeroedArray<T>: a large array of zero-initialised T (atomics, pointers,
// counters) taken straight from anonymous memory, so only the pages actually
// used are ever touched. Tables sized by a pool's maximum size (64 GiB by
// default) would otherwise cost thousands of page faults per open; on this
// kind of VM that is ~15 us each.
#ifndef NVOBJ_RUNTIME_ZEROED_ARRAY_H_
#define NVOBJ_RUNTIME_ZEROED_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace nvobj {

template <typename T>
class ZeroedArray {
  // All-zero bytes must be a valid T (true of integers, pointers and their
  // lock-free atomics on the platforms nvobj supports).
  static_assert(std::is_standard_layout_v<T>);

 public:
  ZeroedArray() = default;
  explicit ZeroedArray(size_t n) : n_(n) {
    if (n == 0) return;
    void* p = ::mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
  }
  ~ZeroedArray() {
    if (data_ != nullptr) ::munmap(data_, bytes());
  }
  ZeroedArray(ZeroedArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  ZeroedArray& operator=(ZeroedArray&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    return *this;
  }

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return n_; }

 private:
  size_t bytes() const { return n_ * sizeof(T); }
  T* data_ = nullptr;
  size_t n_ = 0;
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_ZEROED_ARRAY_H_
