#include "dso-backend/waiter.h"

#include <utility>

namespace nvobj::dso {

bool Waiter::complete(ReplyFn fn) {
  State expected = State::kPending;
  if (!state_.compare_exchange_strong(expected, State::kCompleted, std::memory_order_acq_rel))
    return false;
  // Only the connection reads reply_, after deliver_'s post (which orders
  // this write before it).
  reply_ = std::move(fn);
  if (deliver_) deliver_(shared_from_this());
  return true;
}

bool Waiter::mark_withdrawn() {
  State expected = State::kPending;
  return state_.compare_exchange_strong(expected, State::kWithdrawn, std::memory_order_acq_rel);
}

bool Waiter::withdraw() {
  // A completed waiter needs no lock to know it: this also keeps a
  // connection torn down under the completer's lock from taking it again.
  if (!pending()) return false;
  return hook_ ? hook_(*this) : mark_withdrawn();
}

void Waiter::write_reply(ReplyWriter& out) {
  if (reply_) {
    ReplyFn fn = std::move(reply_);
    reply_ = nullptr;
    fn(out);
  }
}

}  // namespace nvobj::dso
