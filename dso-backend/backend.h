// Backend: the storage nvobj-dso serves its key space from, behind one
// interface so that the same commands run on every backend (DESIGN.md):
// `nvobj` (durable types in a pool, the default) and `volatile` (DRAM only,
// the baseline). Every method is atomic for its key and, on a durable
// backend, durable when it returns: the server replies only after.
//
// Values are byte strings for now (Redis strings); hashes, lists and
// ordered maps arrive with their commands.
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

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  virtual bool get(std::string_view key, std::string* value) = 0;
  virtual void set(std::string_view key, std::string_view value) = 0;
  virtual bool del(std::string_view key) = 0;
  virtual bool exists(std::string_view key) = 0;
  // Atomically for `key`: fn(current value or nullopt) returns the new
  // value, or nullopt to leave the key as it is (nothing written).
  using UpdateFn = std::function<std::optional<std::string>(std::optional<std::string_view>)>;
  virtual void update(std::string_view key, const UpdateFn& fn) = 0;
  virtual uint64_t size() = 0;
  // Weakly consistent: every key present for the whole call, once.
  virtual void for_each_key(const std::function<void(std::string_view)>& fn) = 0;
  virtual void flush_all() = 0;
  // Lines for INFO ("field:value\r\n").
  virtual std::string info() = 0;
};

// The key space in a PHashMap bound to the root "dso.keyspace" of `store`.
std::unique_ptr<Backend> make_nvobj_backend(Store& store);
// A DRAM hash map under a lock: the volatile baseline.
std::unique_ptr<Backend> make_volatile_backend();

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_BACKEND_H_
