// DSO objects (docs/dso.md): DSO.NEW for the coordination objects (module
// types are handed to new_module_object), their blocking and non-blocking
// calls, and the atomics on strings: DSO.CAS, GETRANGE, SETRANGE.
//
//   DSO.NEW barrier|semaphore|latch|future <key> [PERSISTENT|EPHEMERAL] [n]
//   DSO.BARRIER.AWAIT <key> [TIMEOUT ms]
//   DSO.SEM.ACQUIRE <key> [permits] [TIMEOUT ms] / TRYACQUIRE / RELEASE / AVAILABLE
//   DSO.LATCH.COUNTDOWN / AWAIT [TIMEOUT ms] / COUNT
//   DSO.FUTURE.SET <key> <value> / GET [TIMEOUT ms] / ISDONE
//
// A call that must wait parks (ObjectSpace::park) and replies later, from
// the connection's strand. Every call holds its key's stripe (exclusive
// for those that change the object or park on it), which is the object's
// lock (objects/object.h).
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "dso-backend/commands/command_util.h"
#include "dso-backend/objects/coordination.h"
#include "dso-backend/objects/object_space.h"

namespace nvobj::dso::cmd {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view kNoSuchObject = "no such object";
constexpr std::string_view kPositive = "value is out of range, must be positive";
constexpr std::string_view kNotNegative = "value is out of range, must not be negative";

// The object at key if it is a T; else replies (no such object, WRONGTYPE,
// or no object layer) and returns null.
template <typename T>
std::shared_ptr<T> lookup(ServerContext& s, std::string_view key, ObjectType type,
                          ReplyWriter& out) {
  if (s.objects == nullptr) {
    out.error("DSO objects are not served here");
    return nullptr;
  }
  std::shared_ptr<Object> obj = s.objects->find(key);
  if (obj == nullptr) {
    if (s.backend->type(key) != ValueType::kNone)
      wrong_type(out);
    else
      out.error(kNoSuchObject);
    return nullptr;
  }
  if (obj->type() != type) {
    wrong_type(out);
    return nullptr;
  }
  return std::static_pointer_cast<T>(obj);
}

// An integer argument >= min (0 or 1), with redis's error texts.
bool parse_count(std::string_view arg, int64_t min, int64_t* n, ReplyWriter& out) {
  if (!parse_int64(arg, n)) {
    out.error(kNotInteger);
    return false;
  }
  if (*n < min) {
    out.error(min > 0 ? kPositive : kNotNegative);
    return false;
  }
  return true;
}

// The optional arguments of a blocking call, from a[first]: a count (if
// `count` is given) then TIMEOUT ms, as redis parses timeouts in ms.
bool parse_wait_args(const Args& a, size_t first, int64_t* count,
                     std::optional<milliseconds>* timeout, ReplyWriter& out) {
  size_t i = first;
  if (count != nullptr && i < a.size() && lower(a[i]) != "timeout") {
    if (!parse_count(a[i], 1, count, out)) return false;
    ++i;
  }
  if (i == a.size()) return true;
  if (i + 2 != a.size() || lower(a[i]) != "timeout") {
    out.error(kSyntax);
    return false;
  }
  int64_t ms;
  if (!parse_int64(a[i + 1], &ms)) {
    out.error("timeout is not an integer or out of range");
    return false;
  }
  if (ms < 0) {
    out.error("timeout is negative");
    return false;
  }
  *timeout = milliseconds(ms);
  return true;
}

void reply_timeout(ReplyWriter& out) { out.error("TIMEOUT", "the wait timed out"); }

// Parks the call on obj, or replies why it cannot: TIMEOUT 0 means do not
// wait, and a client without a connection cannot wait at all. The caller
// queues the returned waiter on obj.
std::shared_ptr<Waiter> park(ServerContext& s, ClientState& c, const std::shared_ptr<Object>& obj,
                             std::optional<milliseconds> timeout, ReplyWriter& out) {
  if (timeout && timeout->count() == 0) {
    reply_timeout(out);
    return nullptr;
  }
  std::shared_ptr<Waiter> w = s.objects->park(c, obj, timeout);
  if (w == nullptr) out.error("this client cannot wait for a blocking call");
  return w;
}

// --- DSO.NEW --------------------------------------------------------------------------

void cmd_dso_new(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::optional<ObjectType> type = parse_object_type(a[1]);
  if (!type) {
    if (!new_module_object(s, a, out)) out.error(fmt::format("unknown type '{}'", a[1]));
    return;
  }
  if (s.objects == nullptr) return out.error("DSO objects are not served here");
  size_t i = 3;
  bool persistent = false;  // coordination objects are ephemeral by default (Crucial's)
  if (i < a.size()) {
    std::string flag = lower(a[i]);
    if (flag == "persistent" || flag == "ephemeral") {
      persistent = flag == "persistent";
      ++i;
    }
  }
  const size_t want = *type == ObjectType::kFuture ? 0 : 1;
  if (a.size() - i != want) return out.error(kSyntax);
  int64_t n = 0;
  if (want == 1 && !parse_count(a[i], *type == ObjectType::kBarrier ? 1 : 0, &n, out)) return;

  // Idempotent: an object of this type is left as it is (its arguments and
  // persistence are not compared).
  if (std::shared_ptr<Object> held = s.objects->find(a[2])) {
    if (held->type() != *type) return wrong_type(out);
    return out.integer(0);
  }
  if (s.backend->type(a[2]) != ValueType::kNone) return wrong_type(out);
  std::shared_ptr<Object> obj;
  switch (*type) {
    case ObjectType::kBarrier: obj = std::make_shared<Barrier>(n); break;
    case ObjectType::kSemaphore: obj = std::make_shared<Semaphore>(n); break;
    case ObjectType::kLatch: obj = std::make_shared<CountDownLatch>(n); break;
    case ObjectType::kFuture: obj = std::make_shared<Future>(); break;
  }
  s.objects->add(a[2], std::move(obj), persistent);
  out.integer(1);
}

// --- barrier --------------------------------------------------------------------------

void cmd_barrier_await(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  std::optional<milliseconds> timeout;
  if (!parse_wait_args(a, 2, nullptr, &timeout, out)) return;
  auto b = lookup<Barrier>(s, a[1], ObjectType::kBarrier, out);
  if (b == nullptr) return;
  if (b->next_trips()) {
    b->trip();
    return out.integer(0);
  }
  if (auto w = park(s, c, b, timeout, out)) b->arrive(std::move(w));
}

// --- semaphore ------------------------------------------------------------------------

void cmd_sem_acquire(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  int64_t n = 1;
  std::optional<milliseconds> timeout;
  if (!parse_wait_args(a, 2, &n, &timeout, out)) return;
  auto sem = lookup<Semaphore>(s, a[1], ObjectType::kSemaphore, out);
  if (sem == nullptr) return;
  if (sem->try_acquire(n)) return out.simple_string("OK");
  if (auto w = park(s, c, sem, timeout, out)) sem->enqueue(std::move(w), n);
}

void cmd_sem_tryacquire(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 1;
  if (a.size() > 3) return out.error(kSyntax);
  if (a.size() == 3 && !parse_count(a[2], 1, &n, out)) return;
  auto sem = lookup<Semaphore>(s, a[1], ObjectType::kSemaphore, out);
  if (sem == nullptr) return;
  out.integer(sem->try_acquire(n) ? 1 : 0);
}

void cmd_sem_release(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 1;
  if (a.size() > 3) return out.error(kSyntax);
  if (a.size() == 3 && !parse_count(a[2], 1, &n, out)) return;
  auto sem = lookup<Semaphore>(s, a[1], ObjectType::kSemaphore, out);
  if (sem == nullptr) return;
  if (!sem->release(n)) return out.error("increment or decrement would overflow");
  out.simple_string("OK");
}

void cmd_sem_available(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (auto sem = lookup<Semaphore>(s, a[1], ObjectType::kSemaphore, out))
    out.integer(sem->available());
}

// --- latch ----------------------------------------------------------------------------

void cmd_latch_countdown(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (auto l = lookup<CountDownLatch>(s, a[1], ObjectType::kLatch, out))
    out.integer(l->count_down());
}

void cmd_latch_await(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  std::optional<milliseconds> timeout;
  if (!parse_wait_args(a, 2, nullptr, &timeout, out)) return;
  auto l = lookup<CountDownLatch>(s, a[1], ObjectType::kLatch, out);
  if (l == nullptr) return;
  if (l->count() == 0) return out.simple_string("OK");
  if (auto w = park(s, c, l, timeout, out)) l->enqueue(std::move(w));
}

void cmd_latch_count(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (auto l = lookup<CountDownLatch>(s, a[1], ObjectType::kLatch, out)) out.integer(l->count());
}

// --- future ---------------------------------------------------------------------------

void cmd_future_set(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  auto f = lookup<Future>(s, a[1], ObjectType::kFuture, out);
  if (f == nullptr) return;
  if (!f->set(a[2])) return out.error("future already set");
  out.simple_string("OK");
}

void cmd_future_get(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  std::optional<milliseconds> timeout;
  if (!parse_wait_args(a, 2, nullptr, &timeout, out)) return;
  auto f = lookup<Future>(s, a[1], ObjectType::kFuture, out);
  if (f == nullptr) return;
  if (f->done()) return out.bulk_string(f->value());
  if (auto w = park(s, c, f, timeout, out)) f->enqueue(std::move(w));
}

void cmd_future_isdone(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (auto f = lookup<Future>(s, a[1], ObjectType::kFuture, out)) out.integer(f->done() ? 1 : 0);
}

// --- atomics on strings ---------------------------------------------------------------

void cmd_dso_cas(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  bool swapped = false;
  Found f = s.backend->update(a[1], [&](std::optional<std::string_view> cur) {
    std::optional<std::string> next;
    swapped = cur.value_or("") == a[2];  // an absent key matches ""
    if (swapped) next = a[3];
    return next;
  });
  if (wrong_type(f, out)) return;
  out.integer(swapped ? 1 : 0);
}

// As redis's getrangeCommand: indexes from the end when negative, clamped
// to the string; an empty reply when nothing is left.
void cmd_getrange(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t start, end;
  if (!parse_int64(a[2], &start) || !parse_int64(a[3], &end)) return out.error(kNotInteger);
  std::string v;
  Found f = s.backend->get(a[1], &v);
  if (wrong_type(f, out)) return;
  const auto len = static_cast<int64_t>(v.size());
  if (start < 0 && end < 0 && start > end) return out.bulk_string("");
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return out.bulk_string("");
  out.bulk_string(
      std::string_view(v).substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

// As redis's setrangeCommand: zero-padded, an empty value changes nothing
// (and creates no key), the result may not exceed proto-max-bulk-len.
void cmd_setrange(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t offset;
  if (!parse_int64(a[2], &offset)) return out.error(kNotInteger);
  if (offset < 0) return out.error("offset is out of range");
  const std::string& value = a[3];
  bool too_long = false;
  size_t len = 0;
  Found f = s.backend->update(a[1], [&](std::optional<std::string_view> cur) {
    std::optional<std::string> next;
    if (value.empty()) {
      len = cur ? cur->size() : 0;
      return next;
    }
    if (static_cast<uint64_t>(offset) + value.size() > s.proto_max_bulk_len) {
      too_long = true;
      return next;
    }
    next.emplace(cur.value_or(""));
    const size_t end = static_cast<size_t>(offset) + value.size();
    if (next->size() < end) next->resize(end, '\0');
    next->replace(static_cast<size_t>(offset), value.size(), value);
    len = next->size();
    return next;
  });
  if (wrong_type(f, out)) return;
  if (too_long) return out.error("string exceeds maximum allowed size (proto-max-bulk-len)");
  out.integer(static_cast<int64_t>(len));
}

}  // namespace

void add_object_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"dso.new", {cmd_dso_new, -3, L::kWrite, 2, 2}},
      {"dso.barrier.await", {cmd_barrier_await, -2, L::kWrite}},
      {"dso.sem.acquire", {cmd_sem_acquire, -2, L::kWrite}},
      {"dso.sem.tryacquire", {cmd_sem_tryacquire, -2, L::kWrite}},
      {"dso.sem.release", {cmd_sem_release, -2, L::kWrite}},
      {"dso.sem.available", {cmd_sem_available, 2, L::kRead}},
      {"dso.latch.countdown", {cmd_latch_countdown, 2, L::kWrite}},
      {"dso.latch.await", {cmd_latch_await, -2, L::kWrite}},
      {"dso.latch.count", {cmd_latch_count, 2, L::kRead}},
      {"dso.future.set", {cmd_future_set, 3, L::kWrite}},
      {"dso.future.get", {cmd_future_get, -2, L::kWrite}},
      {"dso.future.isdone", {cmd_future_isdone, 2, L::kRead}},
      {"dso.cas", {cmd_dso_cas, 4, L::kWrite}},
      {"getrange", {cmd_getrange, 4, L::kRead}},
      {"setrange", {cmd_setrange, 4, L::kWrite}},
  });
}

}  // namespace nvobj::dso::cmd
