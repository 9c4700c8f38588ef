// libFuzzer harness for nvobj-dso's command layer (run by scripts/fuzz).
//
// The input is what a client would send: a stream of RESP requests
// (multibulk or inline). Every command the parser yields runs through the
// CommandTable twice, against a volatile backend and against an nvobj
// backend on a small pool in /dev/shm (created once per process, unlinked at
// once so a crash leaves nothing behind), each behind an ObjectSpace as in
// the server, so the DSO objects are fuzzed too. There is one client: a
// call that parks (waiter.h) is withdrawn at once, as the server does when
// the call's timeout expires, and replies -TIMEOUT unless it completed. Besides crashes, sanitizer
// reports, leaks, hangs and runaway memory (libFuzzer's -timeout and
// -rss_limit_mb), these are findings:
//   - a reply stream that is not well-formed RESP, or not exactly one reply
//     per command (SHUTDOWN excepted, which has none), i.e. a handler that
//     wrote too little, too much or a wrong aggregate count;
//   - the two backends answering differently, except where the reply
//     depends on iteration order or on the backend itself (INFO, KEYS...).
// Both key spaces are emptied after each input, so that an input's outcome
// depends on that input alone and a crash replays from its file; the pool is
// made anew when emptying no longer frees enough of it (dead log records the
// cleaner has not reclaimed yet).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/backend.h"
#include "dso-backend/commands.h"
#include "dso-backend/objects/object_space.h"
#include "dso-backend/resp/resp_parser.h"
#include "dso-backend/resp/resp_writer.h"
#include "recovery/store_open.h"
#include "runtime/log.h"

namespace {

using nvobj::dso::Backend;
using nvobj::dso::ClientState;
using nvobj::dso::CommandTable;
using nvobj::dso::ObjectSpace;
using nvobj::dso::ReplyWriter;
using nvobj::dso::RequestParser;
using nvobj::dso::ServerContext;
using nvobj::dso::Waiter;

// Small, and not growing: a full pool is one of the paths worth fuzzing.
constexpr uint64_t kPoolSize = uint64_t{32} << 20;
// The longest string SETRANGE may make: redis's 512 MiB would let a
// 40-byte input allocate that much, twice.
constexpr uint64_t kMaxString = uint64_t{1} << 20;
// Commands whose reply may differ between backends by design: iteration
// order (KEYS, SCAN, whole hashes) or the backend's own figures (INFO).
const std::set<std::string> kNotCompared = {"info",  "keys",  "scan", "hgetall",
                                            "hkeys", "hvals", "hscan"};

void check(bool ok, const char* what, std::string_view detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "commands_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// One backend with the server state commands need, set up as
// Server::Impl sets up its own.
struct Target {
  std::unique_ptr<nvobj::Store> store;  // nvobj only
  std::unique_ptr<Backend> backend;
  ServerContext ctx;
  std::unique_ptr<ObjectSpace> objects;

  void serve() {
    objects = std::make_unique<ObjectSpace>(*backend, ctx.locks);
    ctx.backend = objects.get();
    ctx.objects = objects.get();
    ctx.proto_max_bulk_len = kMaxString;
    objects->load();
  }
  // What FLUSHALL does.
  void flush() {
    nvobj::dso::KeyLocks::Guard all(ctx.locks);
    ctx.backend->flush_all();
  }
};

Target* make_volatile() {
  auto* t = new Target;
  t->backend = nvobj::dso::make_volatile_backend();
  t->serve();
  return t;
}

Target* make_nvobj() {
  const std::string path = "/dev/shm/nvobj-commands-fuzz-" + std::to_string(::getpid()) + ".pool";
  ::unlink(path.c_str());
  nvobj::StoreOptions o;
  o.create.size = kPoolSize;
  o.create.max_size = kPoolSize;
  o.create.mode = nvobj::Mode::kEmulated;
  auto s = nvobj::create_store(path, o);
  check(static_cast<bool>(s), "cannot create the pool", path);
  ::unlink(path.c_str());  // the mapping keeps it alive; a crash leaves no file
  auto* t = new Target;
  t->store = std::move(*s);
  t->backend = nvobj::dso::make_nvobj_backend(*t->store);
  t->serve();
  return t;
}

// Skips the reply at s[*at]; false if it is malformed or incomplete.
bool skip_reply(std::string_view s, size_t* at, int depth) {
  if (depth > 64 || *at >= s.size()) return false;
  const char type = s[*at];
  const size_t eol = s.find("\r\n", *at);
  if (eol == std::string_view::npos) return false;
  const std::string line(s.substr(*at + 1, eol - *at - 1));
  *at = eol + 2;
  auto count = [&](long long* n) {
    char* end = nullptr;
    *n = std::strtoll(line.c_str(), &end, 10);
    return !line.empty() && *end == '\0';
  };
  long long n = 0;
  switch (type) {
    case '+':
    case '-':
    case ',':
    case '(': return line.find_first_of("\r\n") == std::string::npos;
    case ':': return count(&n);
    case '#': return line == "t" || line == "f";
    case '_': return line.empty();
    case '$':
    case '=':
    case '!':
      if (!count(&n) || n < -1) return false;
      if (n == -1) return type == '$';
      if (s.size() - *at < static_cast<size_t>(n) + 2) return false;
      *at += static_cast<size_t>(n);
      if (s.substr(*at, 2) != "\r\n") return false;
      *at += 2;
      return true;
    case '*':
    case '~':
    case '>':
    case '%':
    case '|':
      if (!count(&n) || n < -1) return false;
      if (n == -1) return type == '*';
      if (type == '%' || type == '|') n *= 2;
      for (long long i = 0; i < n; ++i)
        if (!skip_reply(s, at, depth + 1)) return false;
      return true;
    default: return false;
  }
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return r;
}

// The one client of a Target.
struct Connection {
  ClientState client;
  Connection() {
    client.authenticated = true;
    // Completion while the command runs is the only kind there is here;
    // the reply is written below either way.
    client.deliver = [](std::shared_ptr<Waiter>) {};
  }
};

// Runs one command on t and returns its reply bytes. A parked call ends as
// the server's park timer ends it: withdrawn (-TIMEOUT), or, if it completed
// first, with its reply.
std::string run(const CommandTable& table, Target& t, Connection& c,
                std::vector<std::string> args) {
  std::string out;
  ReplyWriter w(&out, c.client.version);
  table.execute(t.ctx, c.client, args, w);
  if (std::shared_ptr<Waiter> parked = std::move(c.client.parked)) {
    check(out.empty(), "a parked call replied", out);
    w.set_version(c.client.version);
    if (parked->withdraw())
      w.error("TIMEOUT", "the wait timed out");
    else
      parked->write_reply(w);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  nvobj::set_log_level("error");  // not a line per pool open or full pool
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const CommandTable table;
  static Target* const vol = make_volatile();
  static Target* pm = make_nvobj();
  static uint64_t inputs = 0;
  if (++inputs % 1024 == 0 && pm->store->usage().free_bytes < kPoolSize / 2) {
    delete pm;
    pm = make_nvobj();
  }

  RequestParser parser;
  parser.feed(std::string_view(reinterpret_cast<const char*>(data), size));
  Connection vol_conn, pm_conn;
  std::vector<std::string> args;
  bool diverged = false;  // a write failed on one backend only (a full pool)
  while (!vol_conn.client.close_after_reply && parser.next(&args)) {
    const std::string name = lower(args[0]);
    const std::string a = run(table, *vol, vol_conn, args);
    const std::string b = run(table, *pm, pm_conn, args);
    for (const std::string* reply : {&a, &b}) {
      size_t at = 0;
      if (name == "shutdown") {
        check(reply->empty(), "SHUTDOWN replied", *reply);
        continue;
      }
      check(skip_reply(*reply, &at, 0) && at == reply->size(), "not exactly one well-formed reply",
            *reply);
    }
    diverged = diverged || b.starts_with("-OOM ");
    if (!diverged && !kNotCompared.contains(name)) {
      check(a == b, "the volatile and nvobj backends disagree", args[0] + ":\n" + a + "\n" + b);
    }
  }
  // Emptied here rather than before the next input: libFuzzer looks for
  // leaks (an expensive scan) after any input that freed less than it
  // allocated.
  vol->flush();
  pm->flush();
  return 0;
}
