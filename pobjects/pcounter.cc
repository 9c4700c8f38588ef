#include "pobjects/pcounter.h"

#include <functional>
#include <thread>

namespace nvobj {

void PCounter::persist_word() const {
  store().pool().persister().pwb(value_, sizeof(int64_t));
  store().durable_fence();
}

void PCounter::set(int64_t v) {
  PendingWrites::Scope scope(pending_);
  word().store(v, std::memory_order_seq_cst);
  persist_word();
}

int64_t PCounter::add_and_get(int64_t delta) { return get_and_add(delta) + delta; }

int64_t PCounter::get_and_add(int64_t delta) {
  PendingWrites::Scope scope(pending_);
  int64_t old = word().fetch_add(delta, std::memory_order_seq_cst);
  persist_word();
  return old;
}

bool PCounter::compare_and_set(int64_t& expected, int64_t desired) {
  PendingWrites::Scope scope(pending_);
  bool ok = word().compare_exchange_strong(expected, desired, std::memory_order_seq_cst);
  // On failure `expected` holds a value some writer stored: persist it too.
  persist_word();
  return ok;
}

Ref<PStripedCounter> PStripedCounter::create(Store& s, uint64_t stripes) {
  if (stripes == 0) stripes = 1;
  return s.make_with_tail<PStripedCounter>(stripes * kStripeBytes, stripes);
}

void PStripedCounter::persist_stripes() const {
  store().pool().persister().pwb(tail_, stripes_ * kStripeBytes);
  store().durable_fence();
}

void PStripedCounter::increment() {
  static thread_local const uint64_t kThreadHash =
      std::hash<std::thread::id>{}(std::this_thread::get_id());
  uint64_t i = kThreadHash % stripes_;
  PendingWrites::Scope scope(pending_);
  stripe_at(tail_, i).fetch_add(1, std::memory_order_seq_cst);
  store().pool().persister().pwb(tail_ + i * kStripeBytes, sizeof(uint64_t));
  store().durable_fence();
}

}  // namespace nvobj
