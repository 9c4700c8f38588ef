#include "runtime/persist.h"

#include <libpmem2.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace nvobj {
namespace {

void noop_flush(const void*, size_t) {}
void noop_drain() {}
void* plain_memcpy(void* dst, const void* src, size_t n, unsigned) {
  return std::memcpy(dst, src, n);
}

}  // namespace

std::string_view persist_backend_name(PersistBackend b) {
  switch (b) {
    case PersistBackend::kPmem2: return "pmem2";
    case PersistBackend::kNoop: return "noop";
    case PersistBackend::kHook: return "hook";
  }
  return "unknown";
}

Persister::Persister()
    : flush_(noop_flush),
      drain_(noop_drain),
      memcpy_(plain_memcpy),
      backend_(PersistBackend::kNoop) {}

Persister Persister::pmem2(FlushFn flush, DrainFn drain, MemcpyFn memcpy_fn, bool nontemporal) {
  Persister p;
  p.flush_ = flush;
  p.drain_ = drain;
  p.memcpy_ = memcpy_fn;
  p.backend_ = PersistBackend::kPmem2;
#if defined(__x86_64__)
  p.nontemporal_ = nontemporal;
#else
  (void)nontemporal;
#endif
  return p;
}

void Persister::stream(void* dst, const void* src, size_t n) {
#if defined(__x86_64__)
  // 16-byte stores (SSE2, in every x86-64) from the first 16-aligned
  // address, 8-byte ones at the edges. The sfence of the next pfence()
  // drains them.
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  auto word = [&] {
    long long w;
    std::memcpy(&w, s, 8);
    _mm_stream_si64(reinterpret_cast<long long*>(d), w);
    d += 8;
    s += 8;
    n -= 8;
  };
  if ((reinterpret_cast<uintptr_t>(d) & 15) != 0 && n >= 8) word();
  for (; n >= 16; d += 16, s += 16, n -= 16)
    _mm_stream_si128(reinterpret_cast<__m128i*>(d),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
  if (n >= 8) word();
#else
  (void)dst;
  (void)src;
  (void)n;
#endif
}

Persister Persister::noop() { return Persister(); }

Persister Persister::hook(PersistHook* hook) {
  Persister p;
  p.hook_ = hook;
  p.backend_ = PersistBackend::kHook;
  return p;
}

void Persister::copy(void* dst, const void* src, size_t n, bool drain) const {
  detail::CounterSlot& c = detail::counter_slot();
  detail::bump(c.writebacks, cache_lines_spanned(dst, n));
  detail::bump(c.bytes, n);
  if (drain) detail::bump(c.fences, 1);
  if (hook_ != nullptr) {
    std::memcpy(dst, src, n);
    hook_->on_writeback(dst, n);
    if (drain) hook_->on_fence();
    return;
  }
  memcpy_(dst, src, n, drain ? 0u : PMEM2_F_MEM_NODRAIN);
}

}  // namespace nvobj
