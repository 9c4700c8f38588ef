// GroupCommit: several durable updates of one thread share one fence.
//
// An update outside a failure-atomic block ends with a fence that makes it
// durable before it returns (Store::commit_fence). A server answering a
// batch of pipelined commands needs less: each update durable before the
// batch's replies go out. Inside a GroupCommit scope the update's closing
// write-backs and fence are deferred to the scope's commit(), where one
// fence makes the whole batch durable.
//
//   nvobj::GroupCommit batch;
//   for (const Command& c : commands) execute(c, &replies);
//   batch.commit();     // the batch is durable
//   send(replies);
//
// A crash before commit() keeps some of the batch's updates, each whole
// (every update is all-or-nothing on its own; which ones: see Visibility);
// none was acknowledged.
// Only the closing fences are deferred: fences that order writes inside an
// update (data before the pointer that publishes it) still happen at once.
//
// Visibility: a deferred update is visible to other threads before it is
// durable, and an update that read it could become durable without it. So a
// scope is for code whose deferred updates no other thread reads or updates
// before the commit: nvobj-dso uses it when one I/O thread runs every
// command. Within the thread, the updates to one map or list become durable
// as a prefix of the order they were made in (its log keeps one lane per
// thread, and recovery stops at the first torn record), so an update that
// depends on an earlier one of the same object never survives without it.
// Across objects there is no such order: where one must be durable before
// another is made (a copy before the original is removed), call flush().
//
// Tickets: an update deferred in a scope gets a CommitTicket, durable once
// its thread's commit is done; code that must act only after an update is
// durable (the record log frees a cleaned chunk only after its unlink is
// durable) checks the ticket instead of assuming the fence happened.
//
// A scope defers at most kMaxDeferred updates: then it commits what it has
// and goes on, which bounds the work a crash may take back (and lets the
// record log's cleaner, which waits for tickets, keep up). The stores a
// scope deferred on must outlive its commit.
#ifndef NVOBJ_RUNTIME_GROUP_COMMIT_H_
#define NVOBJ_RUNTIME_GROUP_COMMIT_H_

#include <cstddef>
#include <cstdint>

namespace nvobj {

class Store;

// Where a deferred update stands. A default ticket is durable.
class CommitTicket {
 public:
  CommitTicket() = default;
  bool durable() const;
  // A word, so that a ticket can be kept in an std::atomic<uint64_t>.
  uint64_t raw() const { return raw_; }
  static CommitTicket from_raw(uint64_t raw) { return CommitTicket(raw); }
  // Not durable before the end of time: a placeholder until the ticket of
  // the update that made something is known.
  static CommitTicket never() { return CommitTicket((uint64_t{1} << kEpochBits) - 1); }
  static constexpr unsigned kEpochBits = 52;

 private:
  friend class GroupCommit;
  explicit CommitTicket(uint64_t raw) : raw_(raw) {}
  uint64_t raw_ = 0;  // thread slot << kEpochBits | epoch; epoch 0: durable
};

class GroupCommit {
 public:
  static constexpr uint32_t kMaxDeferred = 64;

  // Opens a scope on this thread (scopes nest; the thread defers while any
  // is open).
  GroupCommit();
  // Commits whatever is pending.
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Makes every update this thread deferred durable: one fence per store
  // with deferred updates, none if there are none.
  void commit() { flush(); }

  // Commits this thread's deferred updates (scope open or not).
  static void flush();

  // For the code that ends updates (Store::commit_fence, the record log).
  // Each returns false when this thread has no scope open: then write back
  // or fence now.
  //
  // Defers the closing fence of an update to `store`; *ticket tells when
  // it is done.
  static bool defer(const Store& store, CommitTicket* ticket);
  // Defers the write-back of [p, p + n) of `store` to the commit. Write-backs
  // are deferred too, not only the fence: a locked instruction (any mutex)
  // waits for the write-backs issued before it to complete, as a fence
  // does, so write-backs issued as updates go would each cost a fence's wait
  // at the next update's first lock. Issued together at the commit, they
  // overlap.
  static bool defer_writeback(const Store& store, const void* p, size_t n);
  // Whether this thread has deferred work on `store` not yet committed.
  static bool pending(const Store& store);
  // Whether this thread defers its updates (a scope is open), deferred
  // work or not yet.
  static bool deferring();

 private:
  friend class Store;
  // Store::durable_fence, of any caller, commits the thread's deferred
  // work on that store: it first issues the deferred write-backs (drain:
  // true if the thread deferred on this store), then after its fence
  // publishes the commit (committed).
  static bool drain(const Store& store);
  static void committed();
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_GROUP_COMMIT_H_
