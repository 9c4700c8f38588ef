// pptr<T>: a persistent reference. An 8-byte offset from the pool's base to
// an object's payload, 0 = null. Offsets stay valid wherever the pool is
// mapped, and a pptr is trivially copyable and 8 bytes, so it can live in
// std::atomic and be compare-and-swapped in place (unlike PMDK's 16-byte
// PMEMoid). Resolving one needs the pool: Pool::at() or a proxy.
#ifndef NVOBJ_RUNTIME_PPTR_H_
#define NVOBJ_RUNTIME_PPTR_H_

#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>

namespace nvobj {

template <typename T>
class pptr {  // NOLINT(readability-identifier-naming): named like a pointer
 public:
  using element_type = T;

  constexpr pptr() noexcept = default;
  constexpr explicit pptr(uint64_t offset) noexcept : off_(offset) {}
  // Conversion between reference types is explicit: the class registry, not
  // the C++ type system, decides what an offset holds.
  template <typename U>
  constexpr explicit pptr(pptr<U> other) noexcept : off_(other.offset()) {}

  constexpr uint64_t offset() const noexcept { return off_; }
  constexpr bool is_null() const noexcept { return off_ == 0; }
  constexpr explicit operator bool() const noexcept { return off_ != 0; }

  friend constexpr bool operator==(pptr a, pptr b) noexcept = default;
  friend constexpr auto operator<=>(pptr a, pptr b) noexcept = default;

 private:
  uint64_t off_ = 0;
};

static_assert(sizeof(pptr<int>) == 8 && alignof(pptr<int>) == 8);
static_assert(std::is_trivially_copyable_v<pptr<int>>);
static_assert(std::atomic<pptr<int>>::is_always_lock_free);

}  // namespace nvobj

template <typename T>
struct std::hash<nvobj::pptr<T>> {
  size_t operator()(nvobj::pptr<T> p) const noexcept { return std::hash<uint64_t>{}(p.offset()); }
};

#endif  // NVOBJ_RUNTIME_PPTR_H_
