// Object: what the DSO object layer keeps for a key that holds a
// coordination object (docs/dso.md): its type, its state, the calls parked
// on it, and whether its state is persistent.
//
// Concurrency: an object is guarded by its key's lock stripe (key_locks.h),
// exactly like a value in the Backend. Commands that change it hold the
// stripe exclusively, commands that only read it hold it shared, and a
// parked call's withdraw hook takes it exclusively (ObjectSpace::park). So
// the object needs no lock of its own, and its waiter queues and its
// durable state always change together.
//
// Persistence: a persistent object's state is written through a StateStore
// (ObjectSpace) after each change and before the change is acknowledged or
// any waiter is completed; if the write fails (a full pool) the object
// undoes the change and the exception reaches the command layer. Ephemeral
// objects have no store. Waiters are never persistent.
#ifndef NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_H_
#define NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "dso-backend/waiter.h"

namespace nvobj::dso {

enum class ObjectType : uint8_t { kBarrier, kSemaphore, kLatch, kFuture };
// "barrier", "semaphore", "latch", "future" (what TYPE replies).
std::string_view object_type_name(ObjectType t);
// The type named (case-insensitively) by `name`, if any.
std::optional<ObjectType> parse_object_type(std::string_view name);

class Object;

// Where persistent objects keep their state (ObjectSpace).
class StateStore {
 public:
  // Writes o's state durably; throws (nvobj::Error) on failure.
  virtual void save(const Object& o) = 0;

 protected:
  ~StateStore() = default;
};

class Object {
 public:
  virtual ~Object() = default;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  ObjectType type() const { return type_; }
  bool persistent() const { return store_ != nullptr; }
  // The key it is bound to (RENAME changes it). Readable without the
  // stripe, so that a withdraw hook can find which stripe to take.
  std::string key() const {
    std::lock_guard l(key_mu_);
    return key_;
  }

  // Its state as a persistent object stores it ("dso1 <type> ..."); read
  // back by decode_object (coordination.h).
  virtual std::string encode() const = 0;
  // Calls parked on it.
  virtual size_t waiting() const = 0;
  // Withdraws w if it is parked here: true if it was (and is now withdrawn).
  // Caller holds the key's stripe exclusively.
  virtual bool withdraw(Waiter& w) = 0;
  // Completes every parked call with the error `message` ("ERR ..."), as
  // the object is deleted or replaced.
  virtual void fail_waiters(std::string_view message) = 0;

 protected:
  explicit Object(ObjectType type) : type_(type) {}
  // Writes the state if the object is persistent (see the top of the file).
  void save() const {
    if (store_ != nullptr) store_->save(*this);
  }

 private:
  friend class ObjectSpace;
  void bind(std::string key, StateStore* store) {
    std::lock_guard l(key_mu_);
    key_ = std::move(key);
    store_ = store;
  }

  const ObjectType type_;
  StateStore* store_ = nullptr;  // null: ephemeral
  mutable std::mutex key_mu_;
  std::string key_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_H_
