// ObjectSpace: the DSO object registry, and the Backend the command layer
// sees when objects are served (nvobj-dso always does).
//
// One key space. A key holds either a value of the wrapped Backend (string,
// hash, list, sorted set) or a coordination object (objects/object.h). The
// objects, ephemeral and persistent, are all in a DRAM registry here;
// ObjectSpace implements Backend by forwarding to the wrapped backend, with
// object keys answering as a value of another type would:
//
//   type()          kObject, as for a user-defined object (TYPE and SCAN's
//                   TYPE filter ask object_type() for "barrier"...)
//   typed calls     kWrongType (GET, HSET, LPUSH... on an object: WRONGTYPE)
//   set()           replaces the object (its parked calls get an error)
//   del()           deletes it (same)
//   size(), for_each_key(), flush_all()
//                   count, list and remove objects with the backend's keys
//
// so every existing command (TYPE, EXISTS, DEL, KEYS, SCAN, DBSIZE, FLUSHALL,
// SET...) sees objects without knowing about them. RENAME moves an object
// with move().
//
// Persistence: a persistent object's state (Object::encode) is a string in
// the wrapped backend under a shadow key, kShadowPrefix + key, written with
// one set() per change (so each change is failure-atomic on every backend);
// ephemeral objects write nothing. Shadow keys are hidden: for_each_key
// skips them, and a command naming a key that begins with kShadowPrefix gets
// an error. load() reads the shadows back at start-up (key names only are
// scanned, not values). Invariant: a key holds a backend value or an object,
// never both; a shadow left over by a crash in the middle of SET over an
// object (value written, shadow not yet deleted) is dropped by load().
//
// Concurrency: the Backend contract (backend.h), i.e. calls for a key run
// with its stripe held; the registry itself is sharded under mutexes of its
// own. Objects are guarded by their key's stripe (object.h); a parked call's
// withdraw hook (park()) takes it. Lock order: key stripes (index order) ->
// registry shard mutex, or -> Object's key mutex; nothing that holds either
// mutex waits for a stripe, and nothing waits for a connection's strand.
#ifndef NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_SPACE_H_
#define NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_SPACE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dso-backend/backend.h"
#include "dso-backend/commands.h"
#include "dso-backend/key_locks.h"
#include "dso-backend/objects/object.h"

namespace nvobj::dso {

class ObjectSpace final : public Backend, private StateStore {
 public:
  // Persistent objects' state lives under kShadowPrefix + key.
  static constexpr std::string_view kShadowPrefix{
      "\xff"
      "nvobj-dso.object\xff",
      18};

  ObjectSpace(Backend& inner, KeyLocks& locks) : inner_(inner), locks_(locks) {}
  ~ObjectSpace() override = default;

  // Reads the persistent objects back from the backend; call once, before
  // serving. Returns how many; malformed ones are logged and left alone.
  size_t load();

  // --- objects (the caller holds the key's stripe) ---

  // The object at key, or null (absent, or a backend value).
  std::shared_ptr<Object> find(std::string_view key);
  // Binds a new object to key, which must be free (type() == kNone).
  // Persistent: its state is written first (may throw; then nothing is
  // bound).
  void add(std::string_view key, std::shared_ptr<Object> obj, bool persistent);
  // Moves the object at `from` to `to` (free), with its parked calls, for
  // RENAME. False if `from` holds no object.
  bool move(std::string_view from, std::string_view to);
  // The type name of the coordination object at key ("barrier"...); empty
  // if there is none.
  std::string_view object_type(std::string_view key);

  // Parks the caller's command on obj (see waiter.h): a Waiter whose
  // withdraw hook takes the object's key stripe (following a RENAME) and
  // asks the object to withdraw it. Null if the connection cannot park (no
  // network connection: the command layer run by itself).
  std::shared_ptr<Waiter> park(ClientState& client, const std::shared_ptr<Object>& obj,
                               std::optional<std::chrono::milliseconds> timeout);

  uint64_t objects() const { return count_.load(std::memory_order_relaxed); }

  // --- Backend ---
  std::string_view name() const override { return inner_.name(); }
  // The backend's user-defined objects, seen through this space: a key
  // holding a coordination object is of the wrong type for them too.
  UserObjects* user_objects() override {
    return inner_.user_objects() != nullptr ? &user_view_ : nullptr;
  }
  std::string info() override;
  void prefetch(std::string_view key) override { inner_.prefetch(key); }
  void prefetch_value(std::string_view key) override { inner_.prefetch_value(key); }
  ValueType type(std::string_view key) override;
  bool del(std::string_view key) override;
  uint64_t size() override;
  void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) override;
  void flush_all() override;
  Found get(std::string_view key, std::string* value) override;
  void set(std::string_view key, std::string_view value) override;
  Found update(std::string_view key, const UpdateFn& fn) override;
  Found hget(std::string_view key, std::string_view field, std::string* value) override;
  Found hset(std::string_view key, std::string_view field, std::string_view value,
             bool* created) override;
  Found hdel(std::string_view key, std::string_view field) override;
  Found hlen(std::string_view key, uint64_t* n) override;
  Found hscan(std::string_view key,
              const std::function<void(std::string_view, std::string_view)>& fn) override;
  Found llen(std::string_view key, uint64_t* n) override;
  Found lindex(std::string_view key, uint64_t i, std::string* value) override;
  Found lset(std::string_view key, uint64_t i, std::string_view value) override;
  Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) override;
  Found pop(std::string_view key, bool front, std::string* value) override;
  Found lrange(std::string_view key, uint64_t from, uint64_t to,
               const std::function<void(std::string_view)>& fn) override;
  Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) override;
  Found lremove(std::string_view key, uint64_t i) override;
  Found zscore(std::string_view key, std::string_view member, double* score) override;
  Found zadd(std::string_view key, std::string_view member, double score, bool* created) override;
  Found zrem(std::string_view key, std::string_view member) override;
  Found zcard(std::string_view key, uint64_t* n) override;
  Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
               const ZFn& fn) override;
  Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                        uint64_t offset, int64_t count, const ZFn& fn) override;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<Object>, Hash, std::equal_to<>>;
  struct alignas(64) Shard {
    std::mutex mu;
    Map map;
  };
  static constexpr size_t kShards = 64;

  Shard& shard(std::string_view key) { return shards_[Hash{}(key) % kShards]; }
  static std::string shadow(std::string_view key);
  // Refuses shadow keys; true if key holds an object.
  bool is_object(std::string_view key);
  // Unbinds the object at key (its parked calls get an error), removing its
  // shadow; false if there is none.
  bool remove(std::string_view key);
  void save(const Object& o) override;

  class UserView final : public UserObjects {
   public:
    explicit UserView(ObjectSpace& space) : space_(space) {}
    Store& store() override { return space_.inner_.user_objects()->store(); }
    Found find(std::string_view key, uint64_t* object) override {
      if (space_.is_object(key)) return Found::kWrongType;
      return space_.inner_.user_objects()->find(key, object);
    }
    void bind(std::string_view key, uint64_t object) override {
      space_.inner_.user_objects()->bind(key, object);
    }
    std::string module_type(std::string_view key) override {
      return space_.inner_.user_objects()->module_type(key);
    }

   private:
    ObjectSpace& space_;
  };

  Backend& inner_;
  KeyLocks& locks_;
  UserView user_view_{*this};
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> count_{0};      // objects
  std::atomic<uint64_t> ephemeral_{0};  // of which ephemeral (no shadow key)
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_OBJECTS_OBJECT_SPACE_H_
