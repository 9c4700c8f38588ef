// nvobj::dso::Client: a C++ client of nvobj-dso (docs/dso.md "Client
// API"). It keeps a pool of hiredis connections, checked out for one call
// at a time, so one Client serves many threads; it authenticates each
// connection, bounds connecting and each command by timeouts, and retries
// a call whose connection failed on a fresh connection when that is safe
// (below). Errors are exceptions (error.h). It links hiredis only, not the
// nvobj runtime.
//
//   nvobj::dso::Client client({.port = 6379});
//   auto hits = client.atomic_long("hits");
//   hits.increment_and_get();
//   auto b = client.barrier("step", 4);          // DSO.NEW barrier step 4
//   b.await(std::chrono::seconds(10));
//   client.object("kmeans.GlobalCentroids", "c").idempotent().call("update", coords, counts);
//
// Retries. A call that could not get a connection (refused, reset, the
// server restarting) is tried again, retries times, with a doubling pause
// from retry_backoff to retry_backoff_max: nothing was sent. A call whose
// connection failed after it was sent may or may not have run; it is sent
// again only when running it twice is the same as once: reads, DSO.NEW,
// and IDEMPOTENT module calls (the server answers a repeat from its record).
// Other writes (INCRBY, DSO.CAS, an acquire...) throw ConnectionError then.
// A pooled connection the server has closed (a restart) is noticed before
// it is used and replaced, so that case never reaches a write.
#ifndef NVOBJ_DSO_BACKEND_CLIENT_CLIENT_H_
#define NVOBJ_DSO_BACKEND_CLIENT_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dso-backend/client/args.h"
#include "dso-backend/client/error.h"
#include "dso-backend/client/module_object.h"
#include "dso-backend/client/objects.h"
#include "dso-backend/client/value.h"

namespace nvobj::dso {

struct ClientOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // empty: no AUTH
  size_t pool_size = 8;  // connections at most; a call waits for a free one
  std::chrono::milliseconds connect_timeout{2000};
  // Bounds sending a command and waiting for its reply (0: no bound). A
  // blocking call with a TIMEOUT gets that timeout on top; one without
  // waits as long as the server keeps it.
  std::chrono::milliseconds command_timeout{10000};
  int retries = 5;
  std::chrono::milliseconds retry_backoff{20};
  std::chrono::milliseconds retry_backoff_max{1000};
};

// Whether a command may be sent again after its connection failed once it
// was sent (see "Retries" above).
enum class Retry { kNever, kSafe };

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;

  // Any command: its reply, or an exception for an error reply.
  Value command(const ArgList& args, Retry retry = Retry::kNever);
  template <typename... A>
  Value call(const A&... args) {
    return command(make_args(args...));
  }
  // A command that may park on the server for up to wait (nullopt: for as
  // long as the server keeps it): -TIMEOUT comes back as TimeoutError.
  Value blocking_command(const ArgList& args, Timeout wait);

  // Checks the connection (PING through the pool).
  void ping();
  // Connections open now (idle and in use).
  size_t open_connections() const;

  // Proxies of data objects; nothing is sent until a method is called.
  AtomicLong atomic_long(std::string key) { return AtomicLong(*this, std::move(key)); }
  AtomicBoolean atomic_boolean(std::string key) { return AtomicBoolean(*this, std::move(key)); }
  AtomicReference atomic_reference(std::string key) {
    return AtomicReference(*this, std::move(key));
  }
  Map map(std::string key) { return Map(*this, std::move(key)); }
  List list(std::string key) { return List(*this, std::move(key)); }

  // Coordination objects: DSO.NEW (an object of the type already at key
  // is left as it is), then the proxy.
  CyclicBarrier barrier(std::string key, int64_t parties, Persistence p = Persistence::kEphemeral);
  Semaphore semaphore(std::string key, int64_t permits, Persistence p = Persistence::kEphemeral);
  CountDownLatch latch(std::string key, int64_t count, Persistence p = Persistence::kEphemeral);
  Future future(std::string key, Persistence p = Persistence::kEphemeral);

  // A module's object (create it with ModuleObject::create).
  ModuleObject object(std::string type, std::string key) {
    return ModuleObject(*this, std::move(type), std::move(key));
  }

  // DEL key: true if it was there.
  bool remove(const std::string& key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_CLIENT_H_
