#include "dso-backend/objects/object_space.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dso-backend/objects/coordination.h"
#include "runtime/error.h"
#include "runtime/group_commit.h"
#include "runtime/log.h"

namespace nvobj::dso {

namespace {

// The reply of a call parked on an object that is deleted or replaced.
constexpr std::string_view kGone = "no such object";

}  // namespace

std::string ObjectSpace::shadow(std::string_view key) {
  std::string s(kShadowPrefix);
  s += key;
  return s;
}

bool ObjectSpace::is_object(std::string_view key) {
  if (key.starts_with(kShadowPrefix))
    throw Error(Status(StatusCode::kInvalidArgument,
                       "keys beginning with \\xffnvobj-dso.object\\xff are reserved"));
  return count_.load(std::memory_order_acquire) != 0 && find(key) != nullptr;
}

std::shared_ptr<Object> ObjectSpace::find(std::string_view key) {
  if (count_.load(std::memory_order_acquire) == 0) return nullptr;
  Shard& s = shard(key);
  std::lock_guard l(s.mu);
  auto it = s.map.find(key);
  return it == s.map.end() ? nullptr : it->second;
}

void ObjectSpace::add(std::string_view key, std::shared_ptr<Object> obj, bool persistent) {
  obj->bind(std::string(key), persistent ? this : nullptr);
  if (persistent) save(*obj);  // throws before anything is bound
  Shard& s = shard(key);
  {
    std::lock_guard l(s.mu);
    s.map.emplace(std::string(key), std::move(obj));
  }
  count_.fetch_add(1, std::memory_order_release);
  if (!persistent) ephemeral_.fetch_add(1, std::memory_order_relaxed);
}

bool ObjectSpace::remove(std::string_view key) {
  std::shared_ptr<Object> obj = find(key);
  if (obj == nullptr) return false;
  // The shadow goes first: if deleting it fails, the object stays whole.
  if (obj->persistent()) inner_.del(shadow(key));
  Shard& s = shard(key);
  {
    std::lock_guard l(s.mu);
    s.map.erase(s.map.find(key));
  }
  count_.fetch_sub(1, std::memory_order_release);
  if (!obj->persistent()) ephemeral_.fetch_sub(1, std::memory_order_relaxed);
  obj->fail_waiters(kGone);
  return true;
}

bool ObjectSpace::move(std::string_view from, std::string_view to) {
  std::shared_ptr<Object> obj = find(from);
  if (obj == nullptr) return false;
  if (obj->persistent()) {
    // As RENAME of a value: the destination is written, then the source
    // removed; a crash in between leaves both.
    inner_.set(shadow(to), obj->encode());
    GroupCommit::flush();  // durable before the source goes (runtime/group_commit.h)
    inner_.del(shadow(from));
  }
  {
    Shard& s = shard(from);
    std::lock_guard l(s.mu);
    s.map.erase(s.map.find(from));
  }
  obj->bind(std::string(to), obj->persistent() ? this : nullptr);
  Shard& s = shard(to);
  std::lock_guard l(s.mu);
  s.map.emplace(std::string(to), std::move(obj));
  return true;
}

std::string_view ObjectSpace::object_type(std::string_view key) {
  std::shared_ptr<Object> obj = find(key);
  return obj ? object_type_name(obj->type()) : std::string_view();
}

void ObjectSpace::save(const Object& o) { inner_.set(shadow(o.key()), o.encode()); }

std::shared_ptr<Waiter> ObjectSpace::park(ClientState& client, const std::shared_ptr<Object>& obj,
                                          std::optional<std::chrono::milliseconds> timeout) {
  std::shared_ptr<Waiter> w = client.park(timeout);
  if (w == nullptr) return nullptr;
  // Runs on the parked connection's strand (timeout, disconnect). The key
  // is read before its stripe is taken, so a RENAME in between is noticed
  // and the new key's stripe taken instead. If the object was deleted, its
  // calls were failed (completed): the withdrawal loses.
  w->set_withdraw_hook([this, weak = std::weak_ptr<Object>(obj)](Waiter& waiter) {
    for (;;) {
      std::shared_ptr<Object> o = weak.lock();
      if (o == nullptr) return waiter.mark_withdrawn();  // the space is being torn down
      std::string key = o->key();
      KeyLocks::Guard g(locks_, {key}, true);
      if (o->key() == key) return o->withdraw(waiter);
    }
  });
  return w;
}

size_t ObjectSpace::load() {
  std::vector<std::string> shadows;
  inner_.for_each_key([&](std::string_view k, ValueType t) {
    if (t == ValueType::kString && k.starts_with(kShadowPrefix)) shadows.emplace_back(k);
  });
  size_t loaded = 0;
  for (const std::string& sk : shadows) {
    std::string_view key = std::string_view(sk).substr(kShadowPrefix.size());
    if (inner_.type(key) != ValueType::kNone) {
      // A SET over the object was written but the crash came before its
      // shadow was deleted: the value is the later write.
      log().info("nvobj-dso: dropping the stale object state of a key that holds a value");
      inner_.del(sk);
      continue;
    }
    std::string state;
    std::shared_ptr<Object> obj;
    if (inner_.get(sk, &state) == Found::kOk) obj = decode_object(state);
    if (obj == nullptr) {
      log().warn("nvobj-dso: unreadable persistent object state ({} bytes); left alone",
                 state.size());
      continue;
    }
    obj->bind(std::string(key), this);
    Shard& s = shard(key);
    std::lock_guard l(s.mu);
    s.map.emplace(std::string(key), std::move(obj));
    count_.fetch_add(1, std::memory_order_release);
    ++loaded;
  }
  return loaded;
}

// --- Backend ------------------------------------------------------------------------

std::string ObjectSpace::info() {
  return inner_.info() + fmt::format("dso_objects:{}\r\n", objects());
}

ValueType ObjectSpace::type(std::string_view key) {
  return is_object(key) ? ValueType::kObject : inner_.type(key);
}

bool ObjectSpace::del(std::string_view key) {
  return is_object(key) ? remove(key) : inner_.del(key);
}

uint64_t ObjectSpace::size() {
  // A persistent object's shadow is one key of the backend already.
  return inner_.size() + ephemeral_.load(std::memory_order_relaxed);
}

void ObjectSpace::for_each_key(const std::function<void(std::string_view, ValueType)>& fn) {
  inner_.for_each_key([&](std::string_view k, ValueType t) {
    if (!k.starts_with(kShadowPrefix)) fn(k, t);
  });
  std::vector<std::string> keys;
  for (Shard& s : shards_) {
    std::lock_guard l(s.mu);
    for (const auto& [k, obj] : s.map) keys.push_back(k);
  }
  for (const std::string& k : keys) fn(k, ValueType::kObject);
}

void ObjectSpace::flush_all() {
  inner_.flush_all();
  for (Shard& s : shards_) {
    Map gone;
    {
      std::lock_guard l(s.mu);
      gone.swap(s.map);
    }
    for (auto& [k, obj] : gone) obj->fail_waiters(kGone);
  }
  count_.store(0, std::memory_order_release);
  ephemeral_.store(0, std::memory_order_relaxed);
}

Found ObjectSpace::get(std::string_view key, std::string* value) {
  return is_object(key) ? Found::kWrongType : inner_.get(key, value);
}

void ObjectSpace::set(std::string_view key, std::string_view value) {
  bool replaces = is_object(key);
  // The value first: if it cannot be written, the object stays.
  inner_.set(key, value);
  if (replaces) remove(key);
}

Found ObjectSpace::update(std::string_view key, const UpdateFn& fn) {
  return is_object(key) ? Found::kWrongType : inner_.update(key, fn);
}

Found ObjectSpace::hget(std::string_view key, std::string_view field, std::string* value) {
  return is_object(key) ? Found::kWrongType : inner_.hget(key, field, value);
}

Found ObjectSpace::hset(std::string_view key, std::string_view field, std::string_view value,
                        bool* created) {
  return is_object(key) ? Found::kWrongType : inner_.hset(key, field, value, created);
}

Found ObjectSpace::hdel(std::string_view key, std::string_view field) {
  return is_object(key) ? Found::kWrongType : inner_.hdel(key, field);
}

Found ObjectSpace::hlen(std::string_view key, uint64_t* n) {
  return is_object(key) ? Found::kWrongType : inner_.hlen(key, n);
}

Found ObjectSpace::hscan(std::string_view key,
                         const std::function<void(std::string_view, std::string_view)>& fn) {
  return is_object(key) ? Found::kWrongType : inner_.hscan(key, fn);
}

Found ObjectSpace::llen(std::string_view key, uint64_t* n) {
  return is_object(key) ? Found::kWrongType : inner_.llen(key, n);
}

Found ObjectSpace::lindex(std::string_view key, uint64_t i, std::string* value) {
  return is_object(key) ? Found::kWrongType : inner_.lindex(key, i, value);
}

Found ObjectSpace::lset(std::string_view key, uint64_t i, std::string_view value) {
  return is_object(key) ? Found::kWrongType : inner_.lset(key, i, value);
}

Found ObjectSpace::push(std::string_view key, bool front, std::string_view value, uint64_t* len) {
  return is_object(key) ? Found::kWrongType : inner_.push(key, front, value, len);
}

Found ObjectSpace::pop(std::string_view key, bool front, std::string* value) {
  return is_object(key) ? Found::kWrongType : inner_.pop(key, front, value);
}

Found ObjectSpace::lrange(std::string_view key, uint64_t from, uint64_t to,
                          const std::function<void(std::string_view)>& fn) {
  return is_object(key) ? Found::kWrongType : inner_.lrange(key, from, to, fn);
}

Found ObjectSpace::linsert(std::string_view key, uint64_t i, bool after, std::string_view value) {
  return is_object(key) ? Found::kWrongType : inner_.linsert(key, i, after, value);
}

Found ObjectSpace::lremove(std::string_view key, uint64_t i) {
  return is_object(key) ? Found::kWrongType : inner_.lremove(key, i);
}

Found ObjectSpace::zscore(std::string_view key, std::string_view member, double* score) {
  return is_object(key) ? Found::kWrongType : inner_.zscore(key, member, score);
}

Found ObjectSpace::zadd(std::string_view key, std::string_view member, double score,
                        bool* created) {
  return is_object(key) ? Found::kWrongType : inner_.zadd(key, member, score, created);
}

Found ObjectSpace::zrem(std::string_view key, std::string_view member) {
  return is_object(key) ? Found::kWrongType : inner_.zrem(key, member);
}

Found ObjectSpace::zcard(std::string_view key, uint64_t* n) {
  return is_object(key) ? Found::kWrongType : inner_.zcard(key, n);
}

Found ObjectSpace::zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
                          const ZFn& fn) {
  return is_object(key) ? Found::kWrongType : inner_.zrange(key, from, to, reverse, fn);
}

Found ObjectSpace::zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max,
                                   bool reverse, uint64_t offset, int64_t count, const ZFn& fn) {
  return is_object(key) ? Found::kWrongType
                        : inner_.zrange_by_score(key, min, max, reverse, offset, count, fn);
}

}  // namespace nvobj::dso
