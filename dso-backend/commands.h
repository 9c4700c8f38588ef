// Commands: what nvobj-dso does with each request. A CommandTable maps a
// command name (case-insensitive) to its handler and arity, checks arity
// and authentication like redis-server (same error texts, so clients
// behave the same), and runs the handler against the Backend. Handlers write
// their reply with a ReplyWriter; a write's reply is only produced after the
// backend made it durable. The table also holds each command's keys locked
// while it runs (key_locks.h), which is what makes a command atomic for its
// key on every backend.
#ifndef NVOBJ_DSO_BACKEND_COMMANDS_H_
#define NVOBJ_DSO_BACKEND_COMMANDS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dso-backend/backend.h"
#include "dso-backend/key_locks.h"
#include "dso-backend/resp/resp_writer.h"
#include "dso-backend/waiter.h"

namespace nvobj::dso {

class ObjectSpace;

// Per-connection state commands may read or change.
struct ClientState {
  uint64_t id = 0;
  std::string name;
  bool authenticated = false;
  bool close_after_reply = false;  // QUIT, protocol errors
  RespVersion version = RespVersion::kResp2;

  // Parking (waiter.h): a handler that must wait calls park() and returns
  // without replying; the connection then runs none of its later commands
  // until `parked` completes, or withdraws it after `park_timeout` (and
  // replies -TIMEOUT) or when the client goes. Set by the connection:
  // `deliver` (empty: this client cannot park, park() returns null).
  Waiter::Deliver deliver;
  std::shared_ptr<Waiter> parked;
  std::optional<std::chrono::milliseconds> park_timeout;  // none: wait forever
  std::shared_ptr<Waiter> park(std::optional<std::chrono::milliseconds> timeout) {
    if (!deliver) return nullptr;
    parked = std::make_shared<Waiter>(deliver);
    park_timeout = timeout;
    return parked;
  }
};

// Server-wide facts and actions commands need.
struct ServerContext {
  Backend* backend = nullptr;
  std::string password;  // empty: no AUTH needed
  std::string bind;
  uint16_t port = 0;
  std::function<void()> shutdown;  // SHUTDOWN: stop accepting, close cleanly
  // The DSO objects, also behind `backend` (objects/object_space.h); null
  // when the command layer runs without them (DSO.* commands then fail).
  ObjectSpace* objects = nullptr;
  uint64_t proto_max_bulk_len = uint64_t{512} << 20;  // longest string SETRANGE may make
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> blocked{0};  // connections with a parked call
  std::atomic<uint64_t> errors{0};   // error replies caused by backend exceptions
  KeyLocks locks;
};

class CommandTable {
 public:
  using Handler = void (*)(ServerContext&, ClientState&, std::vector<std::string>&, ReplyWriter&);
  // Which keys a command locks, as in redis's key specs: args[first_key]
  // to args[last_key] (negative: from the end) every `step`.
  enum class Lock : uint8_t {
    kNone,   // no keys (PING, INFO...)
    kRead,   // its keys, shared
    kWrite,  // its keys, exclusive
    kAll,    // every key, exclusive (FLUSHALL, KEYS, SCAN)
  };
  struct Command {
    Handler handler;
    int arity;  // redis convention: n = exactly n args, -n = at least n (name included)
    Lock lock = Lock::kNone;
    int first_key = 1;
    int last_key = 1;
    int step = 1;
  };
  // Command names ignore ASCII case, as redis's do; found without copying
  // or lowering the name a client sent.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const {
      uint64_t h = 14695981039346656037ull;  // FNV-1a over the lowered bytes
      for (char c : s) h = (h ^ static_cast<unsigned char>(ascii_lower(c))) * 1099511628211ull;
      return h;
    }
  };
  struct NameEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
      return true;
    }
  };
  static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
  using Map = std::unordered_map<std::string, Command, NameHash, NameEqual>;

  CommandTable();
  // Runs one command (args[0] is its name) with its keys locked and appends
  // its reply. A backend exception (e.g. a full pool) becomes an error
  // reply; the backend left nothing half-done.
  void execute(ServerContext& server, ClientState& client, std::vector<std::string>& args,
               ReplyWriter& out) const;
  // A pipelined command that will run after the current one: lets the
  // backend start loading its key's index entry (Backend::prefetch), or
  // with `value` its value (Backend::prefetch_value), so that the cache
  // misses of its lookup overlap the current command.
  void prefetch(ServerContext& server, const std::vector<std::string>& args, bool value) const;
  size_t size() const { return commands_.size(); }
  const Map& commands() const { return commands_; }

 private:
  Map commands_;
};

// Redis's glob-style pattern matching (KEYS, SCAN MATCH): * ? [abc] [^a-z] \x.
bool glob_match(std::string_view pattern, std::string_view s);

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_COMMANDS_H_
