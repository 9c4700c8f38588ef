// Server: nvobj-dso's network layer. Asio, event-driven, with a pool of I/O
// threads running one io_context; each connection reads, parses every
// complete command in what arrived (pipelining), executes them in order and
// writes all their replies with one write. A request's reply is written only
// after the command returned, i.e. after the backend made it durable.
//
// Protection as in redis-server: bound to loopback by default; with a
// non-loopback bind and no password, clients from other addresses are
// refused (protected mode). Limits: clients, bytes a client may have
// pending (query buffer), the size of a request (ParserLimits: bulk length,
// arguments), idle time; protocol errors and an exceeded limit close the
// connection after an error reply.
#ifndef NVOBJ_DSO_BACKEND_SERVER_SERVER_H_
#define NVOBJ_DSO_BACKEND_SERVER_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dso-backend/commands.h"
#include "dso-backend/resp/resp_parser.h"
#include "runtime/status.h"

namespace nvobj::dso {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 7379;  // 0: any free port (see Server::port())
  // One, as redis-server's default: then a client's pipelined writes are a
  // group commit (below), and on a machine of few cores the clients'
  // processes need the others.
  unsigned io_threads = 1;
  // With one I/O thread, the updates of a client's batch of pipelined
  // commands share one fence before their replies (runtime/group_commit.h);
  // with more, every update fences on its own.
  bool group_commit = true;
  std::string password;
  bool protected_mode = true;
  size_t max_clients = 10000;
  size_t max_query_buffer = size_t{1} << 30;  // bytes pending per client
  ParserLimits parser;
  // A client that sends nothing for this long is disconnected, as redis's
  // `timeout`; 0: never.
  std::chrono::seconds idle_timeout{0};
};

class Server {
 public:
  Server(Backend& backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens. Fails with a clear message (address in use...).
  Status start();
  uint16_t port() const { return port_; }
  // Serves until stop() (from any thread, or SHUTDOWN) and returns.
  void run();
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_SERVER_SERVER_H_
