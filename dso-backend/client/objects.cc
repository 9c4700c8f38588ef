#include "dso-backend/client/objects.h"

#include <charconv>

#include "dso-backend/client/client.h"

namespace nvobj::dso {

namespace {

int64_t parse_long(const std::optional<std::string>& s, const std::string& key) {
  if (!s) return 0;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size() || s->empty())
    throw Error(Error::Kind::kProtocol, "", "the value at '" + key + "' is not an integer");
  return v;
}

bool parse_bool(const std::optional<std::string>& s) { return s && *s == "1"; }

// DSO.CAS for a value whose absent form reads as `zero` (0, false): the
// server matches absent only with "", so expecting zero tries both forms,
// and fails only once it read a value other than zero.
bool cas_with_absent(Client& c, const std::string& key, const std::string& expect,
                     const std::string& update, bool expect_is_zero) {
  auto cas = [&](const std::string& e) {
    return c.command({"DSO.CAS", key, e, update}).as_integer() == 1;
  };
  if (!expect_is_zero) return cas(expect);
  for (;;) {
    if (cas(expect) || cas("")) return true;
    std::optional<std::string> now = c.command({"GET", key}, Retry::kSafe).as_optional_string();
    if (now && *now != expect) return false;  // else it changed in between: again
  }
}

std::optional<std::string> get_string(Client& c, const std::string& key) {
  return c.command({"GET", key}, Retry::kSafe).as_optional_string();
}

}  // namespace

// --- AtomicLong ---------------------------------------------------------------

int64_t AtomicLong::get() const { return parse_long(get_string(*client_, key_), key_); }

void AtomicLong::set(int64_t v) const { client_->command(make_args("SET", key_, v)); }

int64_t AtomicLong::add_and_get(int64_t delta) const {
  return client_->command(make_args("INCRBY", key_, delta)).as_integer();
}

int64_t AtomicLong::get_and_add(int64_t delta) const { return add_and_get(delta) - delta; }

bool AtomicLong::compare_and_set(int64_t expect, int64_t update) const {
  return cas_with_absent(*client_, key_, std::to_string(expect), std::to_string(update),
                         expect == 0);
}

// --- AtomicBoolean ------------------------------------------------------------

bool AtomicBoolean::get() const { return parse_bool(get_string(*client_, key_)); }

void AtomicBoolean::set(bool v) const { client_->command({"SET", key_, v ? "1" : "0"}); }

bool AtomicBoolean::get_and_set(bool v) const {
  return parse_bool(client_->command({"GETSET", key_, v ? "1" : "0"}).as_optional_string());
}

bool AtomicBoolean::compare_and_set(bool expect, bool update) const {
  return cas_with_absent(*client_, key_, expect ? "1" : "0", update ? "1" : "0", !expect);
}

// --- AtomicReference ----------------------------------------------------------

std::optional<std::string> AtomicReference::get() const { return get_string(*client_, key_); }

void AtomicReference::set(const std::string& v) const { client_->command({"SET", key_, v}); }

std::optional<std::string> AtomicReference::get_and_set(const std::string& v) const {
  return client_->command({"GETSET", key_, v}).as_optional_string();
}

bool AtomicReference::compare_and_set(const std::optional<std::string>& expect,
                                      const std::string& update) const {
  return client_->command({"DSO.CAS", key_, expect.value_or(""), update}).as_integer() == 1;
}

// --- Map ------------------------------------------------------------------------

std::optional<std::string> Map::get(const std::string& field) const {
  return client_->command({"HGET", key_, field}, Retry::kSafe).as_optional_string();
}

bool Map::put(const std::string& field, const std::string& value) const {
  return client_->command({"HSET", key_, field, value}).as_integer() == 1;
}

bool Map::remove(const std::string& field) const {
  return client_->command({"HDEL", key_, field}).as_integer() == 1;
}

bool Map::contains(const std::string& field) const {
  return client_->command({"HEXISTS", key_, field}, Retry::kSafe).as_integer() == 1;
}

int64_t Map::size() const { return client_->command({"HLEN", key_}, Retry::kSafe).as_integer(); }

std::vector<std::pair<std::string, std::string>> Map::entries() const {
  std::vector<std::string> flat = client_->command({"HGETALL", key_}, Retry::kSafe).as_strings();
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2)
    out.emplace_back(std::move(flat[i]), std::move(flat[i + 1]));
  return out;
}

void Map::clear() const { client_->remove(key_); }

// --- List -----------------------------------------------------------------------

int64_t List::push(const std::string& v) const {
  return client_->command({"RPUSH", key_, v}).as_integer();
}

int64_t List::push_front(const std::string& v) const {
  return client_->command({"LPUSH", key_, v}).as_integer();
}

std::optional<std::string> List::pop() const {
  return client_->command({"RPOP", key_}).as_optional_string();
}

std::optional<std::string> List::pop_front() const {
  return client_->command({"LPOP", key_}).as_optional_string();
}

std::optional<std::string> List::get(int64_t index) const {
  return client_->command(make_args("LINDEX", key_, index), Retry::kSafe).as_optional_string();
}

void List::set(int64_t index, const std::string& v) const {
  client_->command(make_args("LSET", key_, index, v));
}

std::vector<std::string> List::range(int64_t start, int64_t stop) const {
  return client_->command(make_args("LRANGE", key_, start, stop), Retry::kSafe).as_strings();
}

int64_t List::size() const { return client_->command({"LLEN", key_}, Retry::kSafe).as_integer(); }

void List::clear() const { client_->remove(key_); }

// --- coordination objects -------------------------------------------------------

int64_t CyclicBarrier::await(Timeout timeout) const {
  return client_->blocking_command({"DSO.BARRIER.AWAIT", key_}, timeout).as_integer();
}

void Semaphore::acquire(int64_t n) const {
  client_->blocking_command(make_args("DSO.SEM.ACQUIRE", key_, n), std::nullopt);
}

bool Semaphore::try_acquire(int64_t n, std::chrono::milliseconds timeout) const {
  try {
    client_->blocking_command(make_args("DSO.SEM.ACQUIRE", key_, n), timeout);
    return true;
  } catch (const TimeoutError&) {
    return false;
  }
}

bool Semaphore::try_acquire(int64_t n) const {
  return client_->command(make_args("DSO.SEM.TRYACQUIRE", key_, n)).as_integer() == 1;
}

void Semaphore::release(int64_t n) const {
  client_->command(make_args("DSO.SEM.RELEASE", key_, n));
}

int64_t Semaphore::available() const {
  return client_->command({"DSO.SEM.AVAILABLE", key_}, Retry::kSafe).as_integer();
}

int64_t CountDownLatch::count_down() const {
  return client_->command({"DSO.LATCH.COUNTDOWN", key_}).as_integer();
}

void CountDownLatch::await() const {
  client_->blocking_command({"DSO.LATCH.AWAIT", key_}, std::nullopt);
}

bool CountDownLatch::await(std::chrono::milliseconds timeout) const {
  try {
    client_->blocking_command({"DSO.LATCH.AWAIT", key_}, timeout);
    return true;
  } catch (const TimeoutError&) {
    return false;
  }
}

int64_t CountDownLatch::count() const {
  return client_->command({"DSO.LATCH.COUNT", key_}, Retry::kSafe).as_integer();
}

void Future::set(const std::string& value) const {
  client_->command({"DSO.FUTURE.SET", key_, value});
}

std::string Future::get(Timeout timeout) const {
  return client_->blocking_command({"DSO.FUTURE.GET", key_}, timeout).as_string();
}

bool Future::is_done() const {
  return client_->command({"DSO.FUTURE.ISDONE", key_}, Retry::kSafe).as_integer() == 1;
}

}  // namespace nvobj::dso
