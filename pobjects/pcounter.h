// PCounter: a durable linearizable 64-bit counter.
//
// One 8-byte word in the pool, updated with an atomic instruction, written
// back and fenced before the operation returns: 1 fence per update. Reads
// load the word and return it without a fence, unless an update is in
// flight (PendingWrites), in which case they persist what they read first.
// A crash keeps every update that returned and, for one in flight, either
// its old or its new value (8-byte stores do not tear).
//
// Operations are durable on their own: called inside a failure-atomic block
// they do not join it (they apply, durably, when called).
//
//   auto c = nvobj::PCounter::create(store, 0);
//   store.set_root("hits", c);
//   c->increment();
#ifndef NVOBJ_POBJECTS_PCOUNTER_H_
#define NVOBJ_POBJECTS_PCOUNTER_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "pobjects/pending_writes.h"
#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj {

struct PCounterData {
  int64_t value;
};

class PCounter : public PObject<PCounter, PCounterData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PCounter";
  static constexpr RefMap kRefs = ref_map<PCounterData>();
  // The word's address is kept in the proxy (it never moves): a read then
  // loads it without following store -> pool -> mapping first.
  PCounter(Store& store, uint64_t offset)
      : PObject(store, offset), value_(const_cast<int64_t*>(&raw().value)) {}

  // A new counter (unpublished: store a reference to it somewhere durable).
  static Ref<PCounter> create(Store& s, int64_t initial = 0) { return s.make<PCounter>(initial); }

  // Inline: a read is a load and a check of the in-flight writers.
  int64_t get() const {
    int64_t v = word().load(std::memory_order_seq_cst);
    if (pending_.any()) persist_word();  // v may not be durable yet
    return v;
  }
  void set(int64_t v);
  int64_t add_and_get(int64_t delta);
  int64_t get_and_add(int64_t delta);
  int64_t increment() { return add_and_get(1); }
  int64_t decrement() { return add_and_get(-1); }
  // Sets desired if the value is expected; returns whether it did. On
  // failure `expected` receives the current (durable) value.
  bool compare_and_set(int64_t& expected, int64_t desired);

 private:
  std::atomic_ref<int64_t> word() const { return std::atomic_ref<int64_t>(*value_); }
  void persist_word() const;  // write back the word and fence

  int64_t* value_;
  mutable PendingWrites pending_;
};

// PStripedCounter: a counter for heavily contended increments. Each thread
// increments its own stripe (a cache line of the object), so increments do
// not contend; get() sums the stripes. Only +1 increments exist: the count
// then passes through every value between two reads, so a sum read while
// increments go on is a value the counter had at some instant (linearizable;
// durable as PCounter's reads). 1 fence per increment, none per get.
//
// A stripe's word holds its count in the low 56 bits and, in the top 8, the
// increments in flight on it (PendingWrites' count, kept in the word it
// guards: one count per object was a line both threads wrote twice per
// increment, ~100 ns an increment at 2 threads). An increment adds one to
// both in one instruction and takes itself out after its fence; a read
// that sees no in-flight bits in any stripe returns the plain sum. The top
// byte means nothing after a crash or a close: the proxy clears it at open.
// At most 255 increments may be in flight on one stripe (threads wait
// while 192 are): a count is good for 2^56 increments.
struct PStripedCounterData {
  uint64_t stripes;  // cache lines in the tail
  uint64_t reserved[7];
};

class PStripedCounter : public PObject<PStripedCounter, PStripedCounterData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PStripedCounter";
  static constexpr RefMap kRefs = ref_map<PStripedCounterData>();
  static constexpr uint64_t kStripeBytes = 64;
  // The stripes' address and count are kept in the proxy: they never
  // change, and a read then loads them without following store -> pool ->
  // mapping (a volatile sum of 16 stripes took a quarter of the time).
  PStripedCounter(Store& store, uint64_t offset);

  static Ref<PStripedCounter> create(Store& s, uint64_t stripes = 16);

  // Inline: a read is a load per stripe and a check of the in-flight
  // writers.
  uint64_t get() const {
    // Copied first: an atomic load orders later loads, even of these.
    char* const tail = tail_;
    const uint64_t n = stripes_;
    uint64_t sum = 0, any = 0;
    // Unrolled: the loads are independent and each adds one cycle; the
    // loop's own compare and branch per stripe cost as much again.
#pragma GCC unroll 16
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t w = stripe_at(tail, i).load(std::memory_order_seq_cst);
      sum += w;
      any |= w;
    }
    // With no increment in flight the top bytes are all zero: the sum is
    // the count.
    if (__builtin_expect((any & kInFlightMask) != 0, 0)) return get_in_flight();
    return sum;
  }
  void increment();

 private:
  static std::atomic_ref<uint64_t> stripe_at(char* tail, uint64_t i) {
    return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(tail + i * kStripeBytes));
  }
  static constexpr int kInFlightShift = 56;
  static constexpr uint64_t kInFlightOne = uint64_t{1} << kInFlightShift;
  static constexpr uint64_t kInFlightMask = ~(kInFlightOne - 1);
  static constexpr uint64_t kInFlightWait = 192;  // in flight on a stripe
  // A read that saw an increment in flight: the sum of the counts, made
  // durable before it is returned.
  uint64_t get_in_flight() const;
  char* tail_;
  uint64_t stripes_;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PCOUNTER_H_
