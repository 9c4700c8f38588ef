#include "pobjects/pcounter.h"

#include <algorithm>
#include <functional>
#include <thread>

#include "runtime/checksum.h"
#include "runtime/error.h"
#include "runtime/nonce.h"

namespace nvobj {

namespace {

// The proxy's word changed as one: (hi, lo) to (new_hi, new_lo) if it is
// still `expected`; on failure `expected` gets what it holds.
bool cas16(uint64_t* word, uint64_t expected[2], uint64_t new_lo, uint64_t new_hi) {
#if defined(__x86_64__)
  struct Pair {
    uint64_t w[2];
  };
  bool ok;
  asm volatile("lock cmpxchg16b %1"
               : "=@ccz"(ok), "+m"(*reinterpret_cast<Pair*>(word)), "+a"(expected[0]),
                 "+d"(expected[1])
               : "b"(new_lo), "c"(new_hi)
               : "memory");
  return ok;
#else
  __extension__ typedef unsigned __int128 U128;
  U128 e = static_cast<U128>(expected[1]) << 64 | expected[0];
  U128 d = static_cast<U128>(new_hi) << 64 | new_lo;
  bool ok = __atomic_compare_exchange_n(reinterpret_cast<U128*>(word), &e, d, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  expected[0] = static_cast<uint64_t>(e);
  expected[1] = static_cast<uint64_t>(e >> 64);
  return ok;
#endif
}

// This thread's line, among n.
uint64_t home_line(uint64_t n) {
  static std::atomic<uint64_t> next{0};
  thread_local const uint64_t t = next.fetch_add(1, std::memory_order_relaxed);
  return t % n;
}

}  // namespace

Ref<PCounter> PCounter::create(Store& s, int64_t initial, uint64_t lines) {
  if (lines == 0) lines = std::clamp<uint64_t>(std::thread::hardware_concurrency(), 1, 8);
  lines = std::min(lines, kMaxLines);
  // The tail is zeroed (no entries), durable with the object.
  return s.make_with_tail<PCounter>(lines * sizeof(PCounterLine) + kCacheLine - 8, initial, lines,
                                    fresh_nonce());
}

PCounter::PCounter(Store& store, uint64_t offset) : PObject(store, offset) {
  const PCounterData& d = raw();
  if (d.lines == 0 || d.lines > kMaxLines)
    throw Error(Status(StatusCode::kCorrupt, "PCounter: its line count is out of range"));
  lines_ = first_line_at<PCounterLine>(tail_ptr());
  line_count_ = d.lines;
  nonce_ = d.nonce;
  line_state_ = std::make_unique<LineState[]>(line_count_);
  // The newest valid entry of every line; the counter is the newest of all.
  uint64_t seq = 0;
  int64_t value = d.initial;
  for (uint64_t i = 0; i < line_count_; ++i) {
    LineState& st = line_state_[i];
    for (int e = 0; e < 2; ++e) {
      const PCounterEntry& x = lines_[i].entry[e];
      uint64_t s = std::atomic_ref(const_cast<uint64_t&>(x.seq)).load(std::memory_order_relaxed);
      auto v = static_cast<int64_t>(
          std::atomic_ref(const_cast<int64_t&>(x.value)).load(std::memory_order_relaxed));
      uint64_t c = std::atomic_ref(const_cast<uint64_t&>(x.check)).load(std::memory_order_relaxed);
      if (s == 0 || c != check(s, v)) continue;  // none, torn, or not this counter's
      if (s > st.newest_seq) {
        st.newest_seq = s;
        st.newest = e;
      }
      if (s > seq) {
        seq = s;
        value = v;
      }
    }
  }
  word_.value = static_cast<uint64_t>(value);
  word_.seq = seq;
  word_.durable = seq;
}

uint64_t PCounter::check(uint64_t seq, int64_t value) const {
  return mix64(mix64(seq ^ nonce_) + static_cast<uint64_t>(value));
}

void PCounter::persist_entry(uint64_t seq, int64_t value) const {
  // This thread's line, or the next free one; after a pass over all of
  // them (more threads than lines, a holder descheduled) the core is given up.
  uint64_t i = home_line(line_count_);
  for (uint64_t tried = 1;; ++tried, i = (i + 1) % line_count_) {
    LineState& st = line_state_[i];
    if (!st.busy.load(std::memory_order_relaxed) &&
        !st.busy.exchange(true, std::memory_order_acquire))
      break;
    if (tried % line_count_ == 0) std::this_thread::yield();
  }
  LineState& st = line_state_[i];
  struct Release {
    LineState& st;
    ~Release() { st.busy.store(false, std::memory_order_release); }
  } release{st};
  // Not a read-modify-write (a locked instruction on a line every update
  // writes): two updates may store out of order and leave an older
  // sequence, which only sends readers here needlessly.
  auto raise_durable = [this](uint64_t s) {
    if (durable().load(std::memory_order_relaxed) < s)
      durable().store(s, std::memory_order_release);
  };
  // A newer entry in this line was made durable by its writer (who held
  // the line across its fence).
  if (st.newest_seq >= seq) return raise_durable(st.newest_seq);
  int e = 1 - st.newest;  // the older entry: the newer stays whole if this one tears
  PCounterEntry x{seq, value, check(seq, value)};
  // Streamed: nothing reads it back before an open.
  store().pool().persister().write_nt(&lines_[i].entry[e], &x, sizeof(x));
  store().durable_fence();
  st.newest = e;
  st.newest_seq = seq;
  raise_durable(seq);
}

template <typename F>
int64_t PCounter::update(F&& f, bool* changed) {
  // A guess (the compare-and-swap returns what the word holds if wrong).
  uint64_t cur[2] = {value().load(std::memory_order_relaxed),
                     seq().load(std::memory_order_relaxed)};
  for (;;) {
    auto old = static_cast<int64_t>(cur[0]);
    int64_t next;
    if (!f(old, &next)) {
      // Unchanged: a value read is the counter's once the guess is
      // confirmed, and must be durable before it is returned.
      if (!cas16(&word_.value, cur, cur[0], cur[1])) continue;
      *changed = false;
      if (durable().load(std::memory_order_acquire) < cur[1]) persist_entry(cur[1], old);
      return old;
    }
    if (cas16(&word_.value, cur, static_cast<uint64_t>(next), cur[1] + 1)) {
      *changed = true;
      persist_entry(cur[1] + 1, next);
      return old;
    }
  }
}

int64_t PCounter::get_in_flight() const {
  // A compare-and-swap that changes nothing reads the word as one.
  uint64_t cur[2] = {value().load(std::memory_order_relaxed),
                     seq().load(std::memory_order_relaxed)};
  while (!cas16(&word_.value, cur, cur[0], cur[1])) {
  }
  auto v = static_cast<int64_t>(cur[0]);
  if (durable().load(std::memory_order_acquire) < cur[1]) persist_entry(cur[1], v);
  return v;
}

void PCounter::set(int64_t v) {
  bool changed;
  update(
      [v](int64_t, int64_t* next) {
        *next = v;
        return true;
      },
      &changed);
}

int64_t PCounter::add_and_get(int64_t delta) { return get_and_add(delta) + delta; }

int64_t PCounter::get_and_add(int64_t delta) {
  bool changed;
  return update(
      [delta](int64_t old, int64_t* next) {
        *next = static_cast<int64_t>(static_cast<uint64_t>(old) + static_cast<uint64_t>(delta));
        return true;
      },
      &changed);
}

bool PCounter::compare_and_set(int64_t& expected, int64_t desired) {
  bool changed;
  int64_t want = expected;
  int64_t old = update(
      [want, desired](int64_t cur, int64_t* next) {
        *next = desired;
        return cur == want;
      },
      &changed);
  if (!changed) expected = old;
  return changed;
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
