// Failure-atomic blocks.
//
//   nvobj::failure_atomic([&] {
//     from->withdraw(amount);   // writes through proxies / Store::write
//     to->deposit(amount);
//     store.free(old_record);   // frees happen at commit
//   });
//
// Every persistent write made through a Store inside the block, the block's
// allocations and its frees apply all-or-nothing across crashes. Blocks nest
// (inner blocks flatten into the outermost one, which commits). An exception
// leaving the block discards it: nothing reaches the pool and its new objects
// are freed. An exception that leaves an inner block but is caught inside the
// outer one still dooms the whole block (it cannot be partly undone): the
// outer block then throws Error(kInternal) instead of committing.
//
// Blocks give atomicity, not isolation: two threads writing the same object
// need a lock, held across the block. Writes go to a private shadow until
// commit, so other threads see a block's writes only once it has committed
// (and then durably). Cost: two fences per block whatever its size (see
// redo_log.h); a block that wrote nothing costs none.
#ifndef NVOBJ_RUNTIME_BLOCK_H_
#define NVOBJ_RUNTIME_BLOCK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nvobj {

class Store;

namespace detail {

// One cache line of a block's pending writes.
struct ShadowLine {
  uint64_t dirty = 0;  // bit i: byte i was written by the block
  alignas(8) char bytes[64];
};

// The calling thread's open block.
struct BlockState {
  int depth = 0;
  bool doomed = false;                             // an exception left an inner block
  Store* store = nullptr;                          // bound on first write / allocation / free
  std::unordered_map<uint64_t, ShadowLine> lines;  // by line offset
  std::map<uint64_t, uint64_t> new_objects;        // payload offset -> bytes
  std::vector<uint64_t> frees;
  bool holds_roots = false;
  std::vector<std::function<void(bool committed)>> on_end;

  bool is_new(uint64_t off, uint64_t n) const {
    if (new_objects.empty()) return false;
    auto it = new_objects.upper_bound(off);
    if (it == new_objects.begin()) return false;
    --it;
    return off + n <= it->first + it->second;
  }
  void clear() {
    doomed = false;
    store = nullptr;
    lines.clear();
    new_objects.clear();
    frees.clear();
    holds_roots = false;
    on_end.clear();
  }
};

BlockState& block_state();  // this thread's (depth 0 when no block is open)
inline bool in_block() { return block_state().depth > 0; }
void block_enter();
void block_leave_commit();          // may throw Error; the block is then discarded
void block_leave_abort() noexcept;  // an exception is leaving this level

}  // namespace detail

// Runs f() as a failure-atomic block and returns what it returns.
template <typename F>
auto failure_atomic(F&& f) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  detail::block_enter();
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(f)();
    } catch (...) {
      detail::block_leave_abort();
      throw;
    }
    detail::block_leave_commit();
  } else {
    std::optional<R> r;
    try {
      r.emplace(std::forward<F>(f)());
    } catch (...) {
      detail::block_leave_abort();
      throw;
    }
    detail::block_leave_commit();
    return std::move(*r);
  }
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_BLOCK_H_
