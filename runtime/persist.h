// The persistence layer: every persistent byte nvobj writes reaches the
// persistence domain through a Persister.
//
//   pwb(p, n)             write back the cache lines covering [p, p+n)
//   pfence()              order earlier write-backs before later stores
//   psync()               make earlier write-backs durable (same instruction
//                         as pfence on x86; named for what the caller needs)
//   persist(p, n)         pwb + psync
//   memcpy_persist(...)   copy, write back and fence in one call
//   write_nt(dst, src, n) copy with stores that bypass the cache and count
//                         as write-backs (durable at the next fence)
//
// A Persister dispatches to one of three backends:
//   kPmem2  libpmem2's flush/drain/memcpy functions for the mapping (normal)
//   kNoop   nothing: measures what persistence itself costs
//   kHook   a PersistHook (the power-failure simulator observes every
//           write-back and fence and keeps its own "persisted image")
// The normal path is one predictable branch plus libpmem2's own function
// pointer, i.e. what a direct libpmem2 user pays (see bench/micro).
//
// Every call also counts into the calling thread's PersistCounters: lines
// written back and fences are counted as the caller requested them, whatever
// the mode (eADR and no-op backends still count), so fences/op is a property
// of the algorithm, comparable across machines.
#ifndef NVOBJ_RUNTIME_PERSIST_H_
#define NVOBJ_RUNTIME_PERSIST_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "runtime/persist_stats.h"

namespace nvobj {

inline constexpr size_t kCacheLine = 64;

// The first cache-line boundary at or after p, as a T*: for line-aligned
// structures in an object's tail (objects are only 8-aligned; such a tail
// has kCacheLine - 8 bytes of slack).
template <typename T>
T* first_line_at(char* p) {
  auto at = (reinterpret_cast<uintptr_t>(p) + kCacheLine - 1) & ~uintptr_t{kCacheLine - 1};
  return reinterpret_cast<T*>(at);
}

// Number of cache lines that [p, p+n) touches.
inline uint64_t cache_lines_spanned(const void* p, size_t n) {
  if (n == 0) return 0;
  auto a = reinterpret_cast<uintptr_t>(p);
  return ((a + n - 1) / kCacheLine) - (a / kCacheLine) + 1;
}

// Observer of persistence events, used by the power-failure simulator. The
// hook sees the memory at write-back time, which is what a real clwb takes.
class PersistHook {
 public:
  virtual ~PersistHook() = default;
  // Called when a pool installs the hook, before any write-back through it,
  // with the base address of the pool's mapping (offsets are addr - base).
  virtual void on_attach(const char* /*base*/) {}
  virtual void on_writeback(const void* addr, size_t len) = 0;
  virtual void on_fence() = 0;
};

enum class PersistBackend : uint8_t { kPmem2, kNoop, kHook };
std::string_view persist_backend_name(PersistBackend b);

class Persister {
 public:
  using FlushFn = void (*)(const void*, size_t);
  using DrainFn = void (*)();
  using MemcpyFn = void* (*)(void*, const void*, size_t, unsigned);

  // A no-op persister; Pool replaces it with a real one at open.
  Persister();
  // libpmem2 functions obtained from a pmem2_map (see Pool). `nontemporal`:
  // write_nt() uses non-temporal stores (cache-line granularity: ADR and
  // emulation); otherwise it stores and flushes.
  static Persister pmem2(FlushFn flush, DrainFn drain, MemcpyFn memcpy_fn,
                         bool nontemporal = false);
  static Persister noop();
  static Persister hook(PersistHook* hook);

  PersistBackend backend() const { return backend_; }
  // Whether write_nt() uses non-temporal stores.
  bool nontemporal() const { return nontemporal_ && hook_ == nullptr; }

  void pwb(const void* p, size_t n) const {
    detail::CounterSlot& c = detail::counter_slot();
    detail::bump(c.writebacks, cache_lines_spanned(p, n));
    detail::bump(c.bytes, n);
    if (__builtin_expect(hook_ != nullptr, 0)) {
      hook_->on_writeback(p, n);
      return;
    }
    flush_(p, n);
  }

  void pfence() const {
    detail::bump(detail::counter_slot().fences, 1);
    if (__builtin_expect(hook_ != nullptr, 0)) {
      hook_->on_fence();
      return;
    }
    drain_();
  }

  void psync() const { pfence(); }

  void persist(const void* p, size_t n) const {
    pwb(p, n);
    pfence();
  }

  // Copies n bytes to persistent dst and makes them durable (1 fence).
  void memcpy_persist(void* dst, const void* src, size_t n) const {
    copy(dst, src, n, /*drain=*/true);
  }
  // Copies and writes back but does not fence: batch several, then pfence().
  void memcpy_nodrain(void* dst, const void* src, size_t n) const {
    copy(dst, src, n, /*drain=*/false);
  }

  // Copies n bytes (dst 8-aligned, n a multiple of 8) to persistent dst with
  // non-temporal stores where the mapping flushes cache lines: the data
  // goes to memory without entering the cache, and the next pfence()
  // waits for it as for a write-back. Counted as pwb(dst, n). Each aligned
  // 8-byte word is written whole (a power failure does not tear it). For
  // bytes nobody reads back soon (log records, a list's ends): a later
  // read misses the cache. Measured in emulated mode on this project's
  // 2-vCPU VM (nvobj-micro-persist; docs/persistence.md): a line made
  // durable this way costs ~100 ns against ~165 for store + clwb + sfence.
  void write_nt(void* dst, const void* src, size_t n) const {
    copy_nt(dst, src, n);
    wrote_nt(dst, n);
  }
  // write_nt in two halves, for a range written by several copies: the
  // copies (not counted, nothing else done), then the range once (counted
  // as one pwb; the hook sees it; flushed where the mapping does not stream).
  void copy_nt(void* dst, const void* src, size_t n) const {
    if (nontemporal()) {
      stream(dst, src, n);
      return;
    }
    std::memcpy(dst, src, n);
  }
  void wrote_nt(const void* dst, size_t n) const {
    if (!nontemporal()) return pwb(dst, n);  // stored: written back (or seen by the hook)
    detail::CounterSlot& c = detail::counter_slot();
    detail::bump(c.writebacks, cache_lines_spanned(dst, n));
    detail::bump(c.bytes, n);
  }

  // Stores a trivially copyable value and makes it durable.
  template <typename T>
  void store_persist(T* dst, const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    *dst = value;
    persist(dst, sizeof(T));
  }

 private:
  void copy(void* dst, const void* src, size_t n, bool drain) const;
  static void stream(void* dst, const void* src, size_t n);

  FlushFn flush_;
  DrainFn drain_;
  MemcpyFn memcpy_;
  PersistHook* hook_ = nullptr;
  PersistBackend backend_;
  bool nontemporal_ = false;
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_PERSIST_H_
