// Backend: the storage nvobj-dso serves its key space from, behind one
// interface so that the same commands run on every backend (DESIGN.md):
// `nvobj` (durable types in a pool, the default), `volatile` (DRAM only),
// `pmemobj-tx` (a PCJ-style baseline on libpmemobj transactions) and `fs`
// (records in files, fdatasync per operation).
//
// A key holds one of four types, as in Redis: a string, a hash (field ->
// value), a list, or a sorted set (member -> score, ordered by score, then
// member). Containers are created by their first write and deleted when
// their last element goes, so an empty container never exists.
//
// Concurrency contract: the caller (the command layer, see KeyLocks in
// commands.h) never runs two calls on the same key at once, except calls
// that only read; calls on different keys run concurrently. So a backend
// needs no per-key locking of its own, only what keeps its key space
// structure safe. for_each_key and flush_all run with every key locked.
//
// Durability contract: on a durable backend every write method has made its
// effect durable when it returns (the server replies only after). Each call
// is failure-atomic on its own; a command that makes several calls (HSET of
// several fields, MSET, RENAME) is durable call by call.
#ifndef NVOBJ_DSO_BACKEND_BACKEND_H_
#define NVOBJ_DSO_BACKEND_BACKEND_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/status.h"

namespace nvobj {
class Store;
}

namespace nvobj::dso {

// kObject: a user-defined object (a module's type, docs/dso.md); TYPE
// replies its type name (UserObjects::module_type), not type_name's "object".
enum class ValueType : uint8_t { kNone, kString, kHash, kList, kZSet, kObject };
// "none", "string", "hash", "list", "zset", "object" (what TYPE replies).
std::string_view type_name(ValueType t);

// What a typed call found. kWrongType: the key holds another type and
// nothing was done. kMissing: the key, field, member or index is absent.
enum class Found : uint8_t { kOk, kMissing, kWrongType };

// One end of a score range: value, and whether it is excluded ("(1.5").
struct ScoreBound {
  double value;
  bool exclusive = false;
};

// User-defined objects bound in the key space (dso-backend/modules/): a
// backend that keeps its key space in a pool binds each one's
// ModuleObject (modules/module_objects.h) to its key, owns it from then on
// and destroys it with its key (DEL, FLUSHALL, SET over it). Same
// concurrency contract as Backend: the caller holds the key's lock.
class UserObjects {
 public:
  virtual Store& store() = 0;
  // kOk and *object (the ModuleObject) if key holds a user-defined object;
  // kWrongType if it holds another type.
  virtual Found find(std::string_view key, uint64_t* object) = 0;
  // Binds the absent key to `object`, a ModuleObject the caller made (not
  // yet reachable). Durable on return.
  virtual void bind(std::string_view key, uint64_t object) = 0;
  // The module type name of the object under key (a kObject key).
  virtual std::string module_type(std::string_view key) = 0;

 protected:
  ~UserObjects() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Lines for INFO's nvobj section ("field:value\r\n").
  virtual std::string info() = 0;

  // A hint, not a call: a command on key comes next (the server passes a
  // pipeline's next command while it runs the current one), so a backend
  // may start loading what the lookup of key will touch. No lock is held
  // and the key may be of any type, or absent.
  virtual void prefetch(std::string_view /*key*/) {}
  // The second stage, a command later: the key's index entry is likely in
  // cache now; start loading its value. May take the index's read lock.
  virtual void prefetch_value(std::string_view /*key*/) {}

  // --- key space ---
  virtual ValueType type(std::string_view key) = 0;
  // Removes the key whatever its type; false if absent.
  virtual bool del(std::string_view key) = 0;
  virtual uint64_t size() = 0;
  virtual void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) = 0;
  virtual void flush_all() = 0;

  // --- strings ---
  virtual Found get(std::string_view key, std::string* value) = 0;
  // Binds key to the string value, replacing a value of any type.
  virtual void set(std::string_view key, std::string_view value) = 0;
  // fn(current string or nullopt) returns the new value, or nullopt to write
  // nothing. kWrongType (fn not called) if the key holds another type.
  using UpdateFn = std::function<std::optional<std::string>(std::optional<std::string_view>)>;
  virtual Found update(std::string_view key, const UpdateFn& fn) = 0;

  // --- hashes ---
  virtual Found hget(std::string_view key, std::string_view field, std::string* value) = 0;
  // Creates the hash if the key is absent. *created: the field was new.
  virtual Found hset(std::string_view key, std::string_view field, std::string_view value,
                     bool* created) = 0;
  // kMissing if the field (or key) is absent. Deletes the key when it empties.
  virtual Found hdel(std::string_view key, std::string_view field) = 0;
  virtual Found hlen(std::string_view key, uint64_t* n) = 0;
  // fn(field, value) for every field.
  virtual Found hscan(std::string_view key,
                      const std::function<void(std::string_view, std::string_view)>& fn) = 0;

  // --- lists (index i counts from 0; the command layer resolves negatives) ---
  virtual Found llen(std::string_view key, uint64_t* n) = 0;
  virtual Found lindex(std::string_view key, uint64_t i, std::string* value) = 0;
  virtual Found lset(std::string_view key, uint64_t i, std::string_view value) = 0;
  // Creates the list if the key is absent; *len: its length after.
  virtual Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) = 0;
  // Deletes the key when it empties.
  virtual Found pop(std::string_view key, bool front, std::string* value) = 0;
  // Elements [from, to), to <= length.
  virtual Found lrange(std::string_view key, uint64_t from, uint64_t to,
                       const std::function<void(std::string_view)>& fn) = 0;
  // Inserts before (after = false) or after element i.
  virtual Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) = 0;
  // Removes element i. Deletes the key when it empties.
  virtual Found lremove(std::string_view key, uint64_t i) = 0;

  // --- sorted sets (ordered by score, then member bytes) ---
  virtual Found zscore(std::string_view key, std::string_view member, double* score) = 0;
  // Creates the set if the key is absent. *created: the member was new.
  virtual Found zadd(std::string_view key, std::string_view member, double score,
                     bool* created) = 0;
  // Deletes the key when it empties.
  virtual Found zrem(std::string_view key, std::string_view member) = 0;
  virtual Found zcard(std::string_view key, uint64_t* n) = 0;
  using ZFn = std::function<void(std::string_view member, double score)>;
  // Ranks [from, to), to <= card; reverse: rank 0 is the highest score.
  virtual Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
                       const ZFn& fn) = 0;
  // Members with min <= score <= max (bounds may exclude), skipping `offset`
  // and yielding at most `count` (count < 0: all). reverse: from max down.
  virtual Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                                uint64_t offset, int64_t count, const ZFn& fn) = 0;

  // --- user-defined objects ---
  // nullptr on backends without them: their objects live in an nvobj pool
  // and run the runtime's failure-atomic blocks, so only the nvobj backend
  // has them.
  virtual UserObjects* user_objects() { return nullptr; }
};

// The key space in a PHashMap bound to the root "dso.keyspace" of `store`;
// hashes, lists and sorted sets are PHashMap, PList and PSortedSet objects
// the key space owns.
std::unique_ptr<Backend> make_nvobj_backend(Store& store);
// DRAM structures: the volatile baseline.
std::unique_ptr<Backend> make_volatile_backend();

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_BACKEND_H_
