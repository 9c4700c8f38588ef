#include "runtime/persist.h"

#include <libpmem2.h>

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

Persister Persister::pmem2(FlushFn flush, DrainFn drain, MemcpyFn memcpy_fn) {
  Persister p;
  p.flush_ = flush;
  p.drain_ = drain;
  p.memcpy_ = memcpy_fn;
  p.backend_ = PersistBackend::kPmem2;
  return p;
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
