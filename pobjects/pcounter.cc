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

PStripedCounter::PStripedCounter(Store& store, uint64_t offset)
    : PObject(store, offset), tail_(tail_ptr()), stripes_(raw().stripes) {
  // No increment is in flight before the proxy exists; a word's top byte
  // holds whatever the last write-back of its line saw. Not written back:
  // only the count is durable data, and every open clears the byte again.
  for (uint64_t i = 0; i < stripes_; ++i) {
    uint64_t w = stripe_at(tail_, i).load(std::memory_order_relaxed);
    if ((w & kInFlightMask) != 0)
      stripe_at(tail_, i).store(w & ~kInFlightMask, std::memory_order_relaxed);
  }
}

uint64_t PStripedCounter::get_in_flight() const {
  // Every stripe's word once more, each with its count's value then or
  // later (counts only grow); written back after the loads, so each count
  // read is durable when this returns (the line holds it or a later one).
  uint64_t sum = 0;
  for (uint64_t i = 0; i < stripes_; ++i)
    sum += stripe_at(tail_, i).load(std::memory_order_seq_cst) & ~kInFlightMask;
  store().pool().persister().pwb(tail_, stripes_ * kStripeBytes);
  store().durable_fence();
  return sum;
}

void PStripedCounter::increment() {
  static thread_local const uint64_t kThreadHash =
      std::hash<std::thread::id>{}(std::this_thread::get_id());
  uint64_t i = kThreadHash % stripes_;
  std::atomic_ref<uint64_t> word = stripe_at(tail_, i);
  // Far more threads than stripes could overflow the in-flight byte: wait
  // for some to finish (one load of a line this thread just wrote).
  while ((word.load(std::memory_order_relaxed) >> kInFlightShift) >= kInFlightWait)
    std::this_thread::yield();
  // The count and the in-flight mark in one instruction (a reader that
  // sees the new count sees the mark); the mark goes after the fence, also
  // if the fence throws.
  struct InFlight {
    std::atomic_ref<uint64_t> w;
    ~InFlight() { w.fetch_sub(kInFlightOne, std::memory_order_release); }
  };
  word.fetch_add(kInFlightOne + 1, std::memory_order_seq_cst);
  InFlight mark{word};
  store().pool().persister().pwb(tail_ + i * kStripeBytes, sizeof(uint64_t));
  store().durable_fence();
}

}  // namespace nvobj
