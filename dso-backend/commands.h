// Commands: what nvobj-dso does with each request. A CommandTable maps a
// command name (case-insensitive) to its handler and arity, checks arity
// and authentication like redis-server (same error texts, so clients
// behave the same), and runs the handler against the Backend. Handlers write
// their reply with a ReplyWriter; a write's reply is only produced after the
// backend made it durable.
#ifndef NVOBJ_DSO_BACKEND_COMMANDS_H_
#define NVOBJ_DSO_BACKEND_COMMANDS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dso-backend/backend.h"
#include "dso-backend/resp/resp_writer.h"

namespace nvobj::dso {

// Per-connection state commands may read or change.
struct ClientState {
  uint64_t id = 0;
  std::string name;
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT, protocol errors
  RespVersion version = RespVersion::kResp2;
};

// Server-wide facts and actions commands need.
struct ServerContext {
  Backend* backend = nullptr;
  std::string password;  // empty: no AUTH needed
  std::string bind;
  uint16_t port = 0;
  std::function<void()> shutdown;  // SHUTDOWN: stop accepting, close cleanly
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> connections{0};
};

class CommandTable {
 public:
  CommandTable();
  // Runs one command (args[0] is its name) and appends its reply.
  void execute(ServerContext& server, ClientState& client, std::vector<std::string>& args,
               ReplyWriter& out) const;
  size_t size() const { return commands_.size(); }

 private:
  using Handler = void (*)(ServerContext&, ClientState&, std::vector<std::string>&, ReplyWriter&);
  struct Command {
    Handler handler;
    int arity;  // redis convention: n = exactly n args, -n = at least n (name included)
  };
  std::unordered_map<std::string, Command> commands_;
};

// Redis's glob-style pattern matching (KEYS, SCAN MATCH): * ? [abc] [^a-z] \x.
bool glob_match(std::string_view pattern, std::string_view s);

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_COMMANDS_H_
