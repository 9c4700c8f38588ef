#include "dso-backend/objects/coordination.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "runtime/log.h"

namespace nvobj::dso {

namespace {

constexpr std::string_view kFormat = "dso1";

void reply_ok(ReplyWriter& out) { out.simple_string("OK"); }

// Splits off the next space-separated field of s.
std::string_view next_field(std::string_view* s) {
  size_t sp = s->find(' ');
  std::string_view f = s->substr(0, sp);
  s->remove_prefix(sp == std::string_view::npos ? s->size() : sp + 1);
  return f;
}

template <typename T>
bool parse_number(std::string_view s, T* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string_view object_type_name(ObjectType t) {
  switch (t) {
    case ObjectType::kBarrier: return "barrier";
    case ObjectType::kSemaphore: return "semaphore";
    case ObjectType::kLatch: return "latch";
    case ObjectType::kFuture: return "future";
  }
  return "none";
}

std::optional<ObjectType> parse_object_type(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (ObjectType t :
       {ObjectType::kBarrier, ObjectType::kSemaphore, ObjectType::kLatch, ObjectType::kFuture})
    if (object_type_name(t) == n) return t;
  return std::nullopt;
}

// --- WaitList -----------------------------------------------------------------------

bool WaitList::withdraw(Waiter& w, size_t* position) {
  auto it = std::find_if(list_.begin(), list_.end(), [&](const auto& p) { return p.get() == &w; });
  if (it == list_.end()) return false;
  if (position != nullptr) *position = static_cast<size_t>(it - list_.begin());
  list_.erase(it);
  return w.mark_withdrawn();
}

void WaitList::complete_all(const Waiter::ReplyFn& fn) {
  for (auto& w : list_) w->complete(fn);
  list_.clear();
}

void WaitList::fail_all(std::string_view message) {
  complete_all([m = std::string(message)](ReplyWriter& out) { out.error(m); });
}

// --- Barrier ------------------------------------------------------------------------

void Barrier::trip() {
  ++generation_;
  try {
    save();
  } catch (...) {
    --generation_;
    throw;
  }
  // Arrival i (0 = first) gets parties-1-i; the caller, last, gets 0.
  const auto n = static_cast<int64_t>(arrivals_.size());
  for (int64_t i = 0; i < n; ++i)
    arrivals_[static_cast<size_t>(i)]->complete(
        [index = n - i](ReplyWriter& out) { out.integer(index); });
  arrivals_.clear();
}

std::string Barrier::encode() const {
  return fmt::format("{} barrier {} {}", kFormat, parties_, generation_);
}

// --- Semaphore ----------------------------------------------------------------------

bool Semaphore::try_acquire(int64_t n) {
  if (!queue_.empty() || available_ < n) return false;
  available_ -= n;
  try {
    save();
  } catch (...) {
    available_ += n;
    throw;
  }
  return true;
}

void Semaphore::enqueue(std::shared_ptr<Waiter> w, int64_t n) {
  queue_.push(std::move(w));
  wants_.push_back(n);
}

bool Semaphore::release(int64_t n) {
  if (available_ > std::numeric_limits<int64_t>::max() - n) return false;
  available_ += n;
  try {
    // With nothing to grant, the new count is written here; grant() writes
    // it otherwise (once, after taking the granted permits).
    if (queue_.empty() || wants_.front() > available_)
      save();
    else
      grant();
  } catch (...) {
    available_ -= n;
    throw;
  }
  return true;
}

void Semaphore::grant() {
  size_t granted = 0;
  int64_t taken = 0;
  while (granted < wants_.size() && wants_[granted] <= available_ - taken)
    taken += wants_[granted++];
  if (granted == 0) return;
  available_ -= taken;
  try {
    save();
  } catch (...) {
    available_ += taken;
    throw;
  }
  for (size_t i = 0; i < granted; ++i) {
    queue_[0]->complete(reply_ok);
    queue_.pop_front();
    wants_.pop_front();
  }
}

bool Semaphore::withdraw(Waiter& w) {
  size_t at = 0;
  if (!queue_.withdraw(w, &at)) return false;
  wants_.erase(wants_.begin() + static_cast<std::ptrdiff_t>(at));
  if (at == 0) {
    // The acquires behind a withdrawn head may fit now. A failed write
    // (full pool) leaves them queued for the next release to grant.
    try {
      grant();
    } catch (const std::exception& e) {
      log().warn("nvobj-dso: semaphore {}: grant after a withdrawal failed: {}", key(), e.what());
    }
  }
  return true;
}

void Semaphore::fail_waiters(std::string_view message) {
  queue_.fail_all(message);
  wants_.clear();
}

std::string Semaphore::encode() const {
  return fmt::format("{} semaphore {}", kFormat, available_);
}

// --- CountDownLatch -----------------------------------------------------------------

int64_t CountDownLatch::count_down() {
  if (count_ == 0) return 0;
  --count_;
  try {
    save();
  } catch (...) {
    ++count_;
    throw;
  }
  if (count_ == 0) waiters_.complete_all(reply_ok);
  return count_;
}

std::string CountDownLatch::encode() const { return fmt::format("{} latch {}", kFormat, count_); }

// --- Future -------------------------------------------------------------------------

bool Future::set(std::string_view value) {
  if (done()) return false;
  value_ = std::make_shared<const std::string>(value);
  try {
    save();
  } catch (...) {
    value_.reset();
    throw;
  }
  waiters_.complete_all([v = value_](ReplyWriter& out) { out.bulk_string(*v); });
  return true;
}

std::string Future::encode() const {
  // The value goes last, as raw bytes (it may hold spaces).
  return done() ? fmt::format("{} future 1 {}", kFormat, *value_)
                : fmt::format("{} future 0", kFormat);
}

// --- decoding -----------------------------------------------------------------------

std::shared_ptr<Object> decode_object(std::string_view s) {
  if (next_field(&s) != kFormat) return nullptr;
  std::optional<ObjectType> type = parse_object_type(next_field(&s));
  if (!type) return nullptr;
  int64_t a = 0;
  uint64_t b = 0;
  switch (*type) {
    case ObjectType::kBarrier:
      if (!parse_number(next_field(&s), &a) || !parse_number(next_field(&s), &b) || a < 1 ||
          !s.empty())
        return nullptr;
      return std::make_shared<Barrier>(a, b);
    case ObjectType::kSemaphore:
      if (!parse_number(next_field(&s), &a) || !s.empty()) return nullptr;
      return std::make_shared<Semaphore>(a);
    case ObjectType::kLatch:
      if (!parse_number(next_field(&s), &a) || a < 0 || !s.empty()) return nullptr;
      return std::make_shared<CountDownLatch>(a);
    case ObjectType::kFuture: {
      std::string_view done = next_field(&s);
      auto f = std::make_shared<Future>();
      if (done == "1") {
        f->value_ = std::make_shared<const std::string>(s);
      } else if (done != "0" || !s.empty()) {
        return nullptr;
      }
      return f;
    }
  }
  return nullptr;
}

}  // namespace nvobj::dso
