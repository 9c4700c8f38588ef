// PCounter: a durable linearizable 64-bit counter.
//
// The value lives in DRAM, in the proxy: one 16-byte word holding it and a
// sequence number, changed by one compare-and-swap per update. An update
// then writes its (sequence, value) to its thread's line in the pool
// (streamed), fences, and stores its sequence as the newest durable one
// (beside the word, with a plain store: a stale one only makes a reader
// write back what is durable already): 1 fence per update, and two
// threads write back two lines, which the hardware does side by side. (One
// word in the pool that every update changes is a line whose write-backs
// take turns: `nvobj-micro-persist`, emulated, 2026-12-07: an atomic add,
// write-back and fence 178 ns alone, 347 ns with 2 threads on one word,
// 197 ns with 2 threads on a line each.) An open takes the entry
// with the highest sequence: each update that returned is in it (its own
// entry, or a later one whose value includes it).
//
// A line holds two entries, each (sequence, value, check): an update
// overwrites the older, so a torn write (which its check rejects) leaves
// the line's newest durable entry. The check mixes in a nonce of the
// object, so that entries of a freed counter whose memory this one reuses
// are no entries. Threads share lines when there are more of them than
// lines (one holder at a time, by a flag per line in the proxy).
//
// Reads load the value and return it without a fence if its sequence is
// durable; otherwise (an update in flight) the reader writes what it read
// to a line and fences first. A crash keeps
// every update that returned and, for one in flight, either its old or its
// new value.
//
// Operations are durable on their own: called inside a failure-atomic block
// they do not join it (they apply, durably, when called).
//
// The class is "nvobj.PCounter.v2": counters of the earlier layout (one
// word, class "nvobj.PCounter") are refused by name, with the class
// table's error, and left as they are.
//
//   auto c = nvobj::PCounter::create(store, 0);
//   store.set_root("hits", c);
//   c->increment();
#ifndef NVOBJ_POBJECTS_PCOUNTER_H_
#define NVOBJ_POBJECTS_PCOUNTER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "runtime/proxy.h"
#include "runtime/store.h"

namespace nvobj {

// On media.
struct PCounterData {
  int64_t initial;  // the value before any update
  uint64_t lines;   // lines of entries in the tail, from its first line boundary
  uint64_t nonce;   // mixed into every entry's check
  uint64_t reserved[5];
};
static_assert(sizeof(PCounterData) == 64);

// On media: an update's result.
struct PCounterEntry {
  uint64_t seq;  // 0: none
  int64_t value;
  uint64_t check;
};
struct PCounterLine {
  PCounterEntry entry[2];
  uint64_t reserved[2];
};
static_assert(sizeof(PCounterEntry) == 24 && sizeof(PCounterLine) == 64);

class PCounter : public PObject<PCounter, PCounterData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.PCounter.v2";
  static constexpr RefMap kRefs = ref_map<PCounterData>();
  PCounter(Store& store, uint64_t offset);

  // A new counter (unpublished: store a reference to it somewhere durable),
  // with `lines` lines for updates (0: one per hardware thread, up to 8).
  static Ref<PCounter> create(Store& s, int64_t initial = 0, uint64_t lines = 0);

  // Inline: a read is three loads of one line.
  int64_t get() const {
    // In this order: the value's sequence is at most the sequence loaded
    // after it, and a durable sequence loaded before both that is not
    // behind covers it (loads are not reordered with loads).
    uint64_t d = durable().load(std::memory_order_acquire);
    auto v = static_cast<int64_t>(value().load(std::memory_order_acquire));
    uint64_t s = seq().load(std::memory_order_acquire);
    if (__builtin_expect(s > d, 0)) return get_in_flight();
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

  static constexpr uint64_t kMaxLines = 64;

 private:
  // The DRAM word (value, sequence: changed together) and a sequence
  // known durable (some line holds an entry at least that new).
  struct alignas(64) Word {
    uint64_t value = 0, seq = 0;
    uint64_t durable = 0;
  };
  std::atomic_ref<uint64_t> value() const { return std::atomic_ref<uint64_t>(word_.value); }
  std::atomic_ref<uint64_t> seq() const { return std::atomic_ref<uint64_t>(word_.seq); }
  std::atomic_ref<uint64_t> durable() const { return std::atomic_ref<uint64_t>(word_.durable); }
  // The volatile state of a line: its holder, and its newest entry.
  struct alignas(64) LineState {
    std::atomic<bool> busy{false};
    int newest = 0;
    uint64_t newest_seq = 0;
  };
  // One update: f(old, &next) sets the new value and returns true, or
  // returns false to leave it (compare_and_set's failure). Returns the old
  // value.
  template <typename F>
  int64_t update(F&& f, bool* changed);
  // Makes (seq, value) durable in a line (one fence), unless the line
  // holds a newer entry already.
  void persist_entry(uint64_t seq, int64_t value) const;
  // A read that found an update in flight: the word read as one, made
  // durable, returned.
  int64_t get_in_flight() const;
  uint64_t check(uint64_t seq, int64_t value) const;

  mutable Word word_;
  PCounterLine* lines_ = nullptr;
  uint64_t line_count_ = 0;
  uint64_t nonce_ = 0;
  std::unique_ptr<LineState[]> line_state_;
};

// PStripedCounter: a counter for heavily contended increments. Each thread
// increments its own stripe (a cache line of the object), so increments do
// not contend; get() sums the stripes. Only +1 increments exist: the count
// then passes through every value between two reads, so a sum read while
// increments go on is a value the counter had at some instant (linearizable;
// durable as PCounter's reads). 1 fence per increment, none per get.
//
// A stripe's word holds its count in the low 56 bits and, in the top 8, the
// increments in flight on it (what a reader checks before it returns the
// sum without a fence, kept in the word it guards: one count per object was
// a line both threads wrote twice per increment, ~100 ns an increment at 2
// threads). An increment adds one to
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
