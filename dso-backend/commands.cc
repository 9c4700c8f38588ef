#include "dso-backend/commands.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <exception>

#include <fmt/format.h>

#include "dso-backend/baselines/baselines.h"
#include "dso-backend/commands/command_util.h"
#include "runtime/error.h"

namespace nvobj::dso {

namespace cmd {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool parse_int64(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size() && !(s.size() > 1 && s[0] == '0') &&
         !(s.size() > 1 && s[0] == '-' && s[1] == '0') && s[0] != '+';
}

bool parse_double(std::string_view s, double* v) {
  if (s.empty() || s.size() > 256 || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  std::string z(s);  // strtod needs the terminator
  char* end = nullptr;
  errno = 0;
  *v = std::strtod(z.c_str(), &end);
  if (end != z.c_str() + z.size() || std::isnan(*v)) return false;
  // Out of range: overflow and underflow to 0 are refused, a subnormal is
  // kept (redis's getDoubleFromObject).
  return errno != ERANGE || (!std::isinf(*v) && *v != 0);
}

void wrong_type(ReplyWriter& out) {
  out.error("WRONGTYPE", "Operation against a key holding the wrong kind of value");
}
bool wrong_type(Found f, ReplyWriter& out) {
  if (f != Found::kWrongType) return false;
  wrong_type(out);
  return true;
}
void wrong_args(std::string_view command, ReplyWriter& out) {
  out.error(fmt::format("wrong number of arguments for '{}' command", lower(command)));
}

bool resolve_index(int64_t i, uint64_t len, uint64_t* out) {
  auto n = static_cast<int64_t>(len);
  if (i < 0) i += n;
  if (i < 0 || i >= n) return false;
  *out = static_cast<uint64_t>(i);
  return true;
}

void resolve_range(int64_t start, int64_t stop, uint64_t len, uint64_t* from, uint64_t* to) {
  auto n = static_cast<int64_t>(len);
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (start > stop || start >= n) {
    *from = *to = 0;
    return;
  }
  if (stop >= n) stop = n - 1;
  *from = static_cast<uint64_t>(start);
  *to = static_cast<uint64_t>(stop) + 1;
}

}  // namespace cmd

bool glob_match(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  auto class_match = [&](size_t& i, char c) {
    // p[i] == '['; returns whether c matches and moves i past ']'.
    ++i;
    bool neg = i < p.size() && p[i] == '^';
    if (neg) ++i;
    bool hit = false;
    while (i < p.size() && p[i] != ']') {
      if (p[i] == '\\' && i + 1 < p.size()) {
        if (p[i + 1] == c) hit = true;
        i += 2;
      } else if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
        char lo = std::min(p[i], p[i + 2]), hi = std::max(p[i], p[i + 2]);
        if (c >= lo && c <= hi) hit = true;
        i += 3;
      } else {
        if (p[i] == c) hit = true;
        ++i;
      }
    }
    if (i < p.size()) ++i;  // ']'
    return hit != neg;
  };
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      size_t next = pi;
      bool ok;
      if (p[pi] == '?') {
        ok = true;
        next = pi + 1;
      } else if (p[pi] == '[') {
        ok = class_match(next, s[si]);
      } else if (p[pi] == '\\' && pi + 1 < p.size()) {
        ok = p[pi + 1] == s[si];
        next = pi + 2;
      } else {
        ok = p[pi] == s[si];
        next = pi + 1;
      }
      if (ok) {
        pi = next;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

CommandTable::CommandTable() {
  cmd::add_server_commands(commands_);
  cmd::add_string_commands(commands_);
  cmd::add_hash_commands(commands_);
  cmd::add_list_commands(commands_);
  cmd::add_zset_commands(commands_);
  cmd::add_keyspace_commands(commands_);
  cmd::add_object_commands(commands_);
  cmd::add_module_commands(commands_);  // last: see its DSO.NEW
}

namespace {

// A handler that parked its call and then threw replies the error
// instead: the call is withdrawn (its keys are unlocked by now, which the
// withdrawal may need).
void withdraw_parked(ClientState& client) {
  if (client.parked == nullptr) return;
  client.parked->withdraw();
  client.parked.reset();
}

}  // namespace

void CommandTable::prefetch(ServerContext& server, const std::vector<std::string>& args,
                            bool value) const {
  // The first argument is the key of nearly every keyed command; where it
  // is not (CONFIG GET, PING msg), the hint is only wasted.
  if (args.size() < 2 || server.backend == nullptr) return;
  if (value)
    server.backend->prefetch_value(args[1]);
  else
    server.backend->prefetch(args[1]);
}

void CommandTable::execute(ServerContext& server, ClientState& client,
                           std::vector<std::string>& args, ReplyWriter& out) const {
  server.commands.fetch_add(1, std::memory_order_relaxed);
  auto it = commands_.find(std::string_view(args[0]));
  if (it == commands_.end()) {
    // As redis: the name and the arguments cut to about 128 characters.
    std::string shown;
    for (size_t i = 1; i < args.size() && shown.size() < 128; ++i)
      shown += fmt::format("'{}' ", std::string_view(args[i]).substr(0, 128 - shown.size()));
    return out.error(fmt::format("unknown command '{}', with args beginning with: {}",
                                 std::string_view(args[0]).substr(0, 128), shown));
  }
  // Arity before authentication, as redis does.
  const std::string& name = it->first;  // lower case
  const Command& c = it->second;
  auto n = static_cast<int>(args.size());
  if ((c.arity > 0 && n != c.arity) || (c.arity < 0 && n < -c.arity))
    return cmd::wrong_args(name, out);
  if (!server.password.empty() && !client.authenticated && name != "auth" && name != "hello" &&
      name != "quit")
    return out.error("NOAUTH", "Authentication required.");

  // A handler that throws has written nothing durable it did not finish
  // (every backend call is failure-atomic), but may have begun its reply.
  size_t mark = out.buffer()->size();
  try {
    switch (c.lock) {
      case Lock::kNone: c.handler(server, client, args, out); break;
      case Lock::kAll: {
        KeyLocks::Guard g(server.locks);
        c.handler(server, client, args, out);
        break;
      }
      case Lock::kRead:
      case Lock::kWrite: {
        KeyLocks::Guard g(
            server.locks,
            [&](auto&& take) {  // the command's keys, by its key spec
              auto n = static_cast<int>(args.size());
              int last = c.last_key < 0 ? n + c.last_key : c.last_key;
              for (int i = c.first_key; i <= last && i < n; i += c.step) take(args[i]);
            },
            c.lock == Lock::kWrite);
        c.handler(server, client, args, out);
        break;
      }
    }
  } catch (const Error& e) {
    server.errors.fetch_add(1, std::memory_order_relaxed);
    out.buffer()->resize(mark);
    withdraw_parked(client);
    if (e.status().code() == StatusCode::kNoSpace)
      return out.error("OOM", fmt::format("command not allowed: {}", e.status().message()));
    out.error(e.status().message());
  } catch (const StorageError& e) {
    server.errors.fetch_add(1, std::memory_order_relaxed);
    out.buffer()->resize(mark);
    if (e.code() == StatusCode::kNoSpace)
      return out.error("OOM", fmt::format("command not allowed: {}", e.what()));
    out.error(e.what());
  } catch (const std::exception& e) {
    server.errors.fetch_add(1, std::memory_order_relaxed);
    out.buffer()->resize(mark);
    withdraw_parked(client);
    out.error(e.what());
  }
}

}  // namespace nvobj::dso
