// PendingWrites: the volatile half of nvobj's "persist before you return"
// rule for concurrent types (a FliT-style counter).
//
// An update stores into the pool, writes the line back and fences, then
// returns: durable when it returns. A concurrent reader can see the stored
// value before the writer's fence, and must not return it until it is
// durable. Writers count themselves in while their store may be unpersisted;
// a reader that sees the count non-zero writes the line back and fences
// itself (helping), otherwise it returns at once: reads cost no fence unless
// they race with a write.
#ifndef NVOBJ_POBJECTS_PENDING_WRITES_H_
#define NVOBJ_POBJECTS_PENDING_WRITES_H_

#include <atomic>
#include <cstdint>

namespace nvobj {

class PendingWrites {
 public:
  // RAII: the scope of one update, from before its store to after its fence.
  class Scope {
   public:
    explicit Scope(PendingWrites& p) : p_(p) { p_.n_.fetch_add(1, std::memory_order_seq_cst); }
    ~Scope() { p_.n_.fetch_sub(1, std::memory_order_release); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PendingWrites& p_;
  };

  // After loading a value: whether a write that may not be durable yet is in
  // flight (the reader must then persist what it read before returning it).
  bool any() const { return n_.load(std::memory_order_seq_cst) != 0; }

 private:
  std::atomic<uint32_t> n_{0};
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PENDING_WRITES_H_
