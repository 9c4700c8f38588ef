// Proxies of nvobj-dso's shared objects, after Crucial's API
// (java.util.concurrent's names in snake_case): each is a small handle
// naming an object by key, and each method is one call on the server
// (docs/dso.md "Client API"). Handles are cheap to copy and safe to use
// from several threads; they point at their Client, which must outlive
// them. Make them with Client's factories (client.h).
//
//   AtomicLong, AtomicBoolean, AtomicReference: string values (INCRBY,
//     GET, SET, DSO.CAS); absent reads as 0, false, nullopt.
//   Map (a hash), List (a list).
//   CyclicBarrier, Semaphore, CountDownLatch, Future: the coordination
//     objects; their blocking calls take an optional timeout, sent to the
//     server (TIMEOUT ms), which withdraws the call when it expires.
#ifndef NVOBJ_DSO_BACKEND_CLIENT_OBJECTS_H_
#define NVOBJ_DSO_BACKEND_CLIENT_OBJECTS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nvobj::dso {

class Client;

// Where a coordination object lives (docs/dso.md "Ephemeral and
// persistent"): ephemeral in the server's DRAM, gone after a restart (the
// default, as in Crucial), or persistent in the pool.
enum class Persistence { kEphemeral, kPersistent };

using Timeout = std::optional<std::chrono::milliseconds>;  // nullopt: wait forever

// A handle on one key: what every proxy has.
class ObjectHandle {
 public:
  ObjectHandle(Client& client, std::string key) : client_(&client), key_(std::move(key)) {}
  const std::string& key() const { return key_; }
  Client& client() const { return *client_; }

 protected:
  Client* client_;
  std::string key_;
};

// A 64-bit counter in a string value (INCRBY/GET/SET); absent reads as 0.
class AtomicLong : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  int64_t get() const;
  void set(int64_t v) const;
  int64_t add_and_get(int64_t delta) const;
  int64_t get_and_add(int64_t delta) const;
  int64_t increment_and_get() const { return add_and_get(1); }
  int64_t decrement_and_get() const { return add_and_get(-1); }
  // Sets update if the value is expect (an absent value is 0).
  bool compare_and_set(int64_t expect, int64_t update) const;
};

// A boolean in a string value ("1"/"0"); absent reads as false.
class AtomicBoolean : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  bool get() const;
  void set(bool v) const;
  bool get_and_set(bool v) const;
  bool compare_and_set(bool expect, bool update) const;
};

// A byte string (Java's AtomicReference of a serialised value); absent
// reads as nullopt.
class AtomicReference : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  std::optional<std::string> get() const;
  void set(const std::string& v) const;
  std::optional<std::string> get_and_set(const std::string& v) const;
  // expect nullopt: the value is absent (the server matches absent with "").
  bool compare_and_set(const std::optional<std::string>& expect, const std::string& update) const;
};

// A map of strings (a hash).
class Map : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  std::optional<std::string> get(const std::string& field) const;
  // true if field was new.
  bool put(const std::string& field, const std::string& value) const;
  // true if field was there.
  bool remove(const std::string& field) const;
  bool contains(const std::string& field) const;
  int64_t size() const;
  std::vector<std::pair<std::string, std::string>> entries() const;
  void clear() const;
};

// A list of strings. Indexes count from 0 at the front, -1 at the back.
class List : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  // Appends at the back; the new size.
  int64_t push(const std::string& v) const;
  int64_t push_front(const std::string& v) const;
  // Removes from the back (pop) or the front; nullopt when empty.
  std::optional<std::string> pop() const;
  std::optional<std::string> pop_front() const;
  std::optional<std::string> get(int64_t index) const;
  // Throws Error ("ERR index out of range") outside the list.
  void set(int64_t index, const std::string& v) const;
  std::vector<std::string> range(int64_t start, int64_t stop) const;
  int64_t size() const;
  void clear() const;
};

// A cyclic barrier of `parties`.
class CyclicBarrier : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  // Waits until every party arrived; returns the arrival index as Java's
  // await does (parties-1 for the first to arrive .. 0 for the last).
  // Throws TimeoutError when timeout expires first (the arrival is withdrawn).
  int64_t await(Timeout timeout = std::nullopt) const;
};

// A FIFO-fair counting semaphore.
class Semaphore : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  // Waits for n permits.
  void acquire(int64_t n = 1) const;
  // Takes n permits if they come within timeout; false (nothing taken) if not.
  bool try_acquire(int64_t n, std::chrono::milliseconds timeout) const;
  // Takes n permits if it can at once.
  bool try_acquire(int64_t n = 1) const;
  void release(int64_t n = 1) const;
  int64_t available() const;
};

// A count-down latch.
class CountDownLatch : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  // The count after (never below 0).
  int64_t count_down() const;
  // Waits for 0.
  void await() const;
  // Waits for 0 at most timeout: false if it expired first.
  bool await(std::chrono::milliseconds timeout) const;
  int64_t count() const;
};

// A future: set once, got by everyone.
class Future : public ObjectHandle {
 public:
  using ObjectHandle::ObjectHandle;
  // Throws Error ("ERR future already set") the second time.
  void set(const std::string& value) const;
  // Waits for the value; TimeoutError when timeout expires first.
  std::string get(Timeout timeout = std::nullopt) const;
  bool is_done() const;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_OBJECTS_H_
