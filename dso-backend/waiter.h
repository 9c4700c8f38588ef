// Waiter: a parked call, i.e. a command whose reply waits for an event (a
// barrier filling up, a permit being released, a future being set) without
// blocking a server thread.
//
// A handler that cannot reply yet parks its call: it takes a Waiter from
// ClientState::park() (commands.h), hands it to whatever it waits on, and
// returns without writing a reply. The connection then executes none of its
// further pipelined commands (they stay buffered) until the waiter ends, in
// exactly one of two ways:
//
//   completed  the thing waited on calls complete(fn), from any thread
//              (typically while another connection's command runs); the
//              connection later runs fn on its own strand to write the reply,
//              then resumes with its next command.
//   withdrawn  the connection calls withdraw() when the call's timeout
//              expires (it then replies -TIMEOUT) or the client disconnects;
//              the call then had no effect at all.
//
// What makes the two exclusive is the lock of the thing waited on, not the
// Waiter: complete() must be called with that lock held, and the withdraw
// hook (set_withdraw_hook) must take the same lock, take the waiter out of
// its queue and call mark_withdrawn() only if it was still queued. So a
// barrier never trips on an arrival that is being withdrawn, and a permit is
// either granted (the acquire completes) or stays with the semaphore. The
// Waiter's own state only records which came first; it is an atomic so that
// withdraw() can skip the hook once the waiter is completed.
//
// complete() never blocks on the connection: it stores the reply and posts
// it to the connection's strand. The waking side may therefore hold its
// locks while completing (see docs/dso.md, "Lock order").
//
// This header knows nothing of object types; dso-backend/objects/ builds the
// coordination objects on it.
#ifndef NVOBJ_DSO_BACKEND_WAITER_H_
#define NVOBJ_DSO_BACKEND_WAITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "dso-backend/resp/resp_writer.h"

namespace nvobj::dso {

class Waiter : public std::enable_shared_from_this<Waiter> {
 public:
  // Writes a completed call's reply (on the connection's strand).
  using ReplyFn = std::function<void(ReplyWriter&)>;
  // How a completed waiter reaches its connection: posts it to the
  // connection's strand. Set by the connection; must not block.
  using Deliver = std::function<void(std::shared_ptr<Waiter>)>;
  // Withdraws the waiter from what it waits on, under that thing's lock:
  // returns mark_withdrawn() if it was queued there, false if not (it was
  // completed). Runs on the connection's strand; may block on the lock.
  using WithdrawHook = std::function<bool(Waiter&)>;

  enum class State : uint8_t { kPending, kCompleted, kWithdrawn };

  explicit Waiter(Deliver deliver) : deliver_(std::move(deliver)) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // --- the side that waits is woken (an object) ---

  // Completes the call with the reply `fn` will write. False (fn dropped)
  // if the waiter was already completed or withdrawn. Call with the lock
  // the withdraw hook takes.
  bool complete(ReplyFn fn);
  void set_withdraw_hook(WithdrawHook hook) { hook_ = std::move(hook); }
  // For withdraw hooks: pending -> withdrawn; false if no longer pending.
  bool mark_withdrawn();
  State state() const { return state_.load(std::memory_order_acquire); }
  bool pending() const { return state() == State::kPending; }

  // --- the connection ---

  // Withdraws the call (timeout, disconnect): true if it was still pending
  // and now never completes; false if it was completed (its reply is on its
  // way to the connection) or already withdrawn.
  bool withdraw();
  // Writes the reply of a completed call; once.
  void write_reply(ReplyWriter& out);

 private:
  std::atomic<State> state_{State::kPending};
  Deliver deliver_;
  WithdrawHook hook_;
  ReplyFn reply_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_WAITER_H_
