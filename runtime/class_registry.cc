#include "runtime/class_registry.h"

#include <atomic>

namespace nvobj {

uint32_t next_class_index() {
  static std::atomic<uint32_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace nvobj
