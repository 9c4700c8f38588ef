// The coordination objects of docs/dso.md, in the style of
// java.util.concurrent as Crucial offers them: CyclicBarrier, Semaphore,
// CountDownLatch and Future. Each holds its state and the calls parked on
// it; the command layer (commands/object_commands.cc) decides when a call
// completes at once and when it parks (ObjectSpace::park), and these
// classes complete parked calls as their state changes.
//
// Every method runs with the key's stripe held (object.h), exclusively for
// those that change state. Methods that change state and may fail (a
// persistent object's write: nvobj::Error) change nothing when they throw.
#ifndef NVOBJ_DSO_BACKEND_OBJECTS_COORDINATION_H_
#define NVOBJ_DSO_BACKEND_OBJECTS_COORDINATION_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/objects/object.h"

namespace nvobj::dso {

// Parked calls in arrival order.
class WaitList {
 public:
  void push(std::shared_ptr<Waiter> w) { list_.push_back(std::move(w)); }
  // Takes w out and marks it withdrawn; false if it is not here.
  bool withdraw(Waiter& w, size_t* position = nullptr);
  // Completes every call with fn, in order, and empties the list.
  void complete_all(const Waiter::ReplyFn& fn);
  void fail_all(std::string_view message);
  size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  std::shared_ptr<Waiter>& operator[](size_t i) { return list_[i]; }
  void pop_front() { list_.pop_front(); }
  void clear() { list_.clear(); }

 private:
  std::deque<std::shared_ptr<Waiter>> list_;
};

// A cyclic barrier of `parties`: each arrival waits until the last one
// arrives, then all are released with their arrival index (parties-1 for
// the first to arrive, 0 for the last) and the barrier starts its next
// generation. An arrival withdrawn before the barrier trips does not count.
class Barrier final : public Object {
 public:
  explicit Barrier(int64_t parties, uint64_t generation = 0)
      : Object(ObjectType::kBarrier), parties_(parties), generation_(generation) {}

  int64_t parties() const { return parties_; }
  uint64_t generation() const { return generation_; }
  // Whether the next arrival is the last of its generation.
  bool next_trips() const { return static_cast<int64_t>(arrivals_.size()) + 1 >= parties_; }
  // The last arrival (whose index, 0, the caller replies itself): starts
  // the next generation and completes every parked arrival with its index.
  void trip();
  // Parks an arrival that does not trip the barrier.
  void arrive(std::shared_ptr<Waiter> w) { arrivals_.push(std::move(w)); }

  std::string encode() const override;
  size_t waiting() const override { return arrivals_.size(); }
  bool withdraw(Waiter& w) override { return arrivals_.withdraw(w); }
  void fail_waiters(std::string_view message) override { arrivals_.fail_all(message); }

 private:
  const int64_t parties_;
  uint64_t generation_;
  WaitList arrivals_;
};

// A counting semaphore with FIFO fairness: an acquire is granted only when
// no earlier acquire is still waiting (TRYACQUIRE included: nothing barges
// in), so a large acquire at the head holds back smaller ones behind it.
// Permits are not owned: any client may release, and releases may raise
// the count above its initial value.
class Semaphore final : public Object {
 public:
  explicit Semaphore(int64_t permits) : Object(ObjectType::kSemaphore), available_(permits) {}

  int64_t available() const { return available_; }
  // Takes n permits now if no acquire is queued and n are available.
  bool try_acquire(int64_t n);
  // Parks an acquire of n permits (after try_acquire failed).
  void enqueue(std::shared_ptr<Waiter> w, int64_t n);
  // Adds n permits and grants queued acquires, in order, while the head's
  // fit. False (nothing changed) if the count would overflow.
  bool release(int64_t n);

  std::string encode() const override;
  size_t waiting() const override { return queue_.size(); }
  // A withdrawn head may let the acquires behind it through.
  bool withdraw(Waiter& w) override;
  void fail_waiters(std::string_view message) override;

 private:
  // Grants what fits from the head of the queue (writing the new count
  // first if persistent).
  void grant();

  int64_t available_;
  WaitList queue_;
  std::deque<int64_t> wants_;  // permits each queued acquire asks for
};

// A count-down latch: AWAIT waits until COUNTDOWN took the count to 0,
// after which every AWAIT returns at once. Not reusable, as in Java.
class CountDownLatch final : public Object {
 public:
  explicit CountDownLatch(int64_t count) : Object(ObjectType::kLatch), count_(count) {}

  int64_t count() const { return count_; }
  // Decrements the count (not below 0), releasing every waiter when it
  // reaches 0; returns the count after.
  int64_t count_down();
  void enqueue(std::shared_ptr<Waiter> w) { waiters_.push(std::move(w)); }

  std::string encode() const override;
  size_t waiting() const override { return waiters_.size(); }
  bool withdraw(Waiter& w) override { return waiters_.withdraw(w); }
  void fail_waiters(std::string_view message) override { waiters_.fail_all(message); }

 private:
  int64_t count_;
  WaitList waiters_;
};

// A future: set once, then every GET (parked or later) returns its value.
class Future final : public Object {
 public:
  Future() : Object(ObjectType::kFuture) {}

  bool done() const { return value_ != nullptr; }
  const std::string& value() const { return *value_; }
  // Sets the value and completes every parked GET; false if already set.
  bool set(std::string_view value);
  void enqueue(std::shared_ptr<Waiter> w) { waiters_.push(std::move(w)); }

  std::string encode() const override;
  size_t waiting() const override { return waiters_.size(); }
  bool withdraw(Waiter& w) override { return waiters_.withdraw(w); }
  void fail_waiters(std::string_view message) override { waiters_.fail_all(message); }

 private:
  friend std::shared_ptr<Object> decode_object(std::string_view encoded);

  // Shared with the replies of the calls it completes (thousands of
  // waiters need not copy a large value).
  std::shared_ptr<const std::string> value_;
  WaitList waiters_;
};

// The object `encoded` (an encode() result), or null if it is malformed.
std::shared_ptr<Object> decode_object(std::string_view encoded);

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_OBJECTS_COORDINATION_H_
