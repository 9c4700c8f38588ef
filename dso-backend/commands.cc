#include "dso-backend/commands.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace nvobj::dso {

namespace {

using Args = std::vector<std::string>;

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

constexpr std::string_view kNotInteger = "value is not an integer or out of range";

// --- connection and server -----------------------------------------------------------

void cmd_ping(ServerContext&, ClientState&, Args& a, ReplyWriter& out) {
  if (a.size() == 1)
    out.simple_string("PONG");
  else if (a.size() == 2)
    out.bulk_string(a[1]);
  else
    out.error("wrong number of arguments for 'ping' command");
}

void cmd_echo(ServerContext&, ClientState&, Args& a, ReplyWriter& out) { out.bulk_string(a[1]); }

void cmd_quit(ServerContext&, ClientState& c, Args&, ReplyWriter& out) {
  out.simple_string("OK");
  c.close_after_reply = true;
}

void cmd_select(ServerContext&, ClientState&, Args& a, ReplyWriter& out) {
  int64_t db;
  if (!parse_int64(a[1], &db)) return out.error(kNotInteger);
  if (db != 0) return out.error("DB index is out of range");
  out.simple_string("OK");
}

void cmd_auth(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  const std::string& given = a.back();  // AUTH password | AUTH user password
  if (s.password.empty())
    return out.error(
        "AUTH <password> called without any password configured for the default user. Are you "
        "sure your configuration is correct?");
  if (a.size() > 3) return out.error("syntax error");
  if (a.size() == 3 && a[1] != "default")
    return out.error("WRONGPASS", "invalid username-password pair or user is disabled.");
  if (given != s.password)
    return out.error("WRONGPASS", "invalid username-password pair or user is disabled.");
  c.authenticated = true;
  out.simple_string("OK");
}

void hello_reply(const ClientState& c, ReplyWriter& out) {
  out.map_header(7);
  out.bulk_string("server");
  out.bulk_string("nvobj-dso");
  out.bulk_string("version");
  out.bulk_string("7.0.0");
  out.bulk_string("proto");
  out.integer(static_cast<int64_t>(c.version));
  out.bulk_string("id");
  out.integer(static_cast<int64_t>(c.id));
  out.bulk_string("mode");
  out.bulk_string("standalone");
  out.bulk_string("role");
  out.bulk_string("master");
  out.bulk_string("modules");
  out.array_header(0);
}

void cmd_hello(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  size_t i = 1;
  RespVersion v = c.version;
  if (a.size() > 1) {
    int64_t proto;
    if (!parse_int64(a[1], &proto))
      return out.error("Protocol version is not an integer or out of range");
    if (proto != 2 && proto != 3) return out.error("NOPROTO", "unsupported protocol version");
    v = proto == 3 ? RespVersion::kResp3 : RespVersion::kResp2;
    i = 2;
  }
  for (; i < a.size(); ++i) {
    std::string opt = lower(a[i]);
    if (opt == "auth" && i + 2 < a.size()) {
      if (!s.password.empty() && (a[i + 2] != s.password || a[i + 1] != "default"))
        return out.error("WRONGPASS", "invalid username-password pair or user is disabled.");
      c.authenticated = true;
      i += 2;
    } else if (opt == "setname" && i + 1 < a.size()) {
      c.name = a[++i];
    } else {
      return out.error(fmt::format("Syntax error in HELLO option '{}'", a[i]));
    }
  }
  if (!s.password.empty() && !c.authenticated)
    return out.error("NOAUTH",
                     "HELLO must be called with the client already authenticated, otherwise the "
                     "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the "
                     "client and select the RESP protocol version at the same time");
  c.version = v;
  out.set_version(v);
  hello_reply(c, out);
}

void cmd_client(ServerContext&, ClientState& c, Args& a, ReplyWriter& out) {
  std::string sub = lower(a[1]);
  if (sub == "setname" && a.size() == 3) {
    if (a[2].find_first_of(" \n") != std::string::npos)
      return out.error("Client names cannot contain spaces, newlines or special characters.");
    c.name = a[2];
    return out.simple_string("OK");
  }
  if (sub == "getname" && a.size() == 2)
    return c.name.empty() ? out.null() : out.bulk_string(c.name);
  if (sub == "id" && a.size() == 2) return out.integer(static_cast<int64_t>(c.id));
  if (sub == "setinfo") return out.simple_string("OK");
  if (sub == "list")
    return out.bulk_string(
        fmt::format("id={} name={} resp={}\n", c.id, c.name, static_cast<int>(c.version)));
  out.error(fmt::format(
      "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.", a[1]));
}

void cmd_command(ServerContext&, ClientState&, Args& a, ReplyWriter& out) {
  // Enough for redis-cli's start-up (it asks for COMMAND DOCS): no docs.
  if (a.size() >= 2 && lower(a[1]) == "docs") return out.map_header(0);
  if (a.size() >= 2 && lower(a[1]) == "count") return out.integer(0);
  out.array_header(0);
}

void cmd_config(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string sub = lower(a[1]);
  if (sub != "get" || a.size() < 3) {
    if (sub == "set") return out.error("CONFIG SET is not supported by nvobj-dso");
    return out.error(fmt::format("unknown subcommand '{}'. Try CONFIG HELP.", a[1]));
  }
  // The settings clients and benchmarks ask for.
  std::vector<std::pair<std::string, std::string>> known = {
      {"save", ""},     {"appendonly", "no"}, {"databases", "1"}, {"port", std::to_string(s.port)},
      {"bind", s.bind}, {"maxmemory", "0"}};
  std::vector<std::pair<std::string, std::string>> hits;
  for (size_t i = 2; i < a.size(); ++i)
    for (auto& kv : known)
      if (glob_match(lower(a[i]), kv.first)) hits.push_back(kv);
  out.map_header(hits.size());
  for (auto& [k, v] : hits) {
    out.bulk_string(k);
    out.bulk_string(v);
  }
}

void cmd_info(ServerContext& s, ClientState&, Args&, ReplyWriter& out) {
  std::string info = fmt::format(
      "# Server\r\nredis_version:7.0.0\r\nnvobj_dso:1\r\ntcp_port:{}\r\n\r\n# Clients\r\n"
      "connected_clients:{}\r\n\r\n# Stats\r\ntotal_commands_processed:{}\r\n\r\n"
      "# Keyspace\r\ndb0:keys={},expires=0\r\n\r\n# nvobj\r\nbackend:{}\r\n{}",
      s.port, s.connections.load(), s.commands.load(), s.backend->size(), s.backend->name(),
      s.backend->info());
  out.bulk_string(info);
}

void cmd_dbsize(ServerContext& s, ClientState&, Args&, ReplyWriter& out) {
  out.integer(static_cast<int64_t>(s.backend->size()));
}

void cmd_flushall(ServerContext& s, ClientState&, Args&, ReplyWriter& out) {
  s.backend->flush_all();
  out.simple_string("OK");
}

void cmd_shutdown(ServerContext& s, ClientState& c, Args&, ReplyWriter&) {
  c.close_after_reply = true;  // redis sends no reply: the connection closes
  if (s.shutdown) s.shutdown();
}

// --- strings -------------------------------------------------------------------------

void cmd_get(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  if (s.backend->get(a[1], &v))
    out.bulk_string(v);
  else
    out.null();
}

void cmd_set(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  bool nx = false, xx = false, get = false;
  for (size_t i = 3; i < a.size(); ++i) {
    std::string opt = lower(a[i]);
    if (opt == "nx")
      nx = true;
    else if (opt == "xx")
      xx = true;
    else if (opt == "get")
      get = true;
    else if (opt == "keepttl")
      continue;
    else if (opt == "ex" || opt == "px" || opt == "exat" || opt == "pxat")
      return out.error("expiry options are not supported by nvobj-dso");
    else
      return out.error("syntax error");
  }
  if (nx && xx) return out.error("syntax error");
  if (!nx && !xx && !get) {
    s.backend->set(a[1], a[2]);
    return out.simple_string("OK");
  }
  bool applied = false;
  std::optional<std::string> old;
  s.backend->update(a[1], [&](std::optional<std::string_view> cur) -> std::optional<std::string> {
    if (cur) old.emplace(*cur);
    if ((nx && cur) || (xx && !cur)) return std::nullopt;
    applied = true;
    return a[2];
  });
  if (get) return old ? out.bulk_string(*old) : out.null();
  applied ? out.simple_string("OK") : out.null();
}

void cmd_getset(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  Args b = {a[0], a[1], a[2], "GET"};
  cmd_set(s, c, b, out);
}

void cmd_mget(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  out.array_header(a.size() - 1);
  std::string v;
  for (size_t i = 1; i < a.size(); ++i) {
    if (s.backend->get(a[i], &v))
      out.bulk_string(v);
    else
      out.null();
  }
}

void cmd_mset(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (a.size() % 2 != 1) return out.error("wrong number of arguments for 'mset' command");
  // Each pair is durable before the reply; MSET is not atomic across keys
  // on nvobj-dso (documented in docs/server.md).
  for (size_t i = 1; i + 1 < a.size(); i += 2) s.backend->set(a[i], a[i + 1]);
  out.simple_string("OK");
}

void cmd_del(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 0;
  for (size_t i = 1; i < a.size(); ++i) n += s.backend->del(a[i]) ? 1 : 0;
  out.integer(n);
}

void cmd_exists(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 0;
  for (size_t i = 1; i < a.size(); ++i) n += s.backend->exists(a[i]) ? 1 : 0;
  out.integer(n);
}

void incr_by(ServerContext& s, std::string_view key, int64_t delta, ReplyWriter& out) {
  bool bad = false, overflow = false;
  int64_t result = 0;
  s.backend->update(key, [&](std::optional<std::string_view> cur) -> std::optional<std::string> {
    int64_t v = 0;
    if (cur && !parse_int64(*cur, &v)) {
      bad = true;
      return std::nullopt;
    }
    if (__builtin_add_overflow(v, delta, &result)) {
      overflow = true;
      return std::nullopt;
    }
    return std::to_string(result);
  });
  if (bad) return out.error(kNotInteger);
  if (overflow) return out.error("increment or decrement would overflow");
  out.integer(result);
}

void cmd_incr(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  incr_by(s, a[1], 1, out);
}
void cmd_decr(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  incr_by(s, a[1], -1, out);
}
void cmd_incrby(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t d;
  if (!parse_int64(a[2], &d)) return out.error(kNotInteger);
  incr_by(s, a[1], d, out);
}
void cmd_decrby(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t d;
  if (!parse_int64(a[2], &d) || d == std::numeric_limits<int64_t>::min())
    return out.error(kNotInteger);
  incr_by(s, a[1], -d, out);
}

void cmd_append(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  size_t len = 0;
  s.backend->update(a[1], [&](std::optional<std::string_view> cur) -> std::optional<std::string> {
    std::string next = cur ? std::string(*cur) + a[2] : a[2];
    len = next.size();
    return next;
  });
  out.integer(static_cast<int64_t>(len));
}

void cmd_strlen(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  out.integer(s.backend->get(a[1], &v) ? static_cast<int64_t>(v.size()) : 0);
}

// --- key space ------------------------------------------------------------------------

void cmd_type(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  out.simple_string(s.backend->exists(a[1]) ? "string" : "none");
}

void cmd_keys(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::vector<std::string> keys;
  s.backend->for_each_key([&](std::string_view k) {
    if (glob_match(a[1], k)) keys.emplace_back(k);
  });
  out.array_header(keys.size());
  for (const std::string& k : keys) out.bulk_string(k);
}

void cmd_scan(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // One call returns the whole key space and cursor 0, which SCAN's
  // contract allows (every key present throughout is returned).
  std::string pattern = "*";
  for (size_t i = 2; i + 1 < a.size(); i += 2) {
    std::string opt = lower(a[i]);
    if (opt == "match")
      pattern = a[i + 1];
    else if (opt != "count" && opt != "type")
      return out.error("syntax error");
  }
  std::vector<std::string> keys;
  s.backend->for_each_key([&](std::string_view k) {
    if (glob_match(pattern, k)) keys.emplace_back(k);
  });
  out.array_header(2);
  out.bulk_string("0");
  out.array_header(keys.size());
  for (const std::string& k : keys) out.bulk_string(k);
}

void cmd_rename(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  if (!s.backend->get(a[1], &v)) return out.error("no such key");
  if (a[1] == a[2]) return out.simple_string("OK");
  // Durable in two steps (destination, then source removed): a crash in
  // between leaves both (documented).
  s.backend->set(a[2], v);
  s.backend->del(a[1]);
  out.simple_string("OK");
}

}  // namespace

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
  commands_ = {
      {"ping", {cmd_ping, -1}},        {"echo", {cmd_echo, 2}},
      {"quit", {cmd_quit, -1}},        {"select", {cmd_select, 2}},
      {"auth", {cmd_auth, -2}},        {"hello", {cmd_hello, -1}},
      {"client", {cmd_client, -2}},    {"command", {cmd_command, -1}},
      {"config", {cmd_config, -2}},    {"info", {cmd_info, -1}},
      {"dbsize", {cmd_dbsize, 1}},     {"flushall", {cmd_flushall, -1}},
      {"flushdb", {cmd_flushall, -1}}, {"shutdown", {cmd_shutdown, -1}},
      {"get", {cmd_get, 2}},           {"set", {cmd_set, -3}},
      {"getset", {cmd_getset, 3}},     {"mget", {cmd_mget, -2}},
      {"mset", {cmd_mset, -3}},        {"del", {cmd_del, -2}},
      {"unlink", {cmd_del, -2}},       {"exists", {cmd_exists, -2}},
      {"incr", {cmd_incr, 2}},         {"decr", {cmd_decr, 2}},
      {"incrby", {cmd_incrby, 3}},     {"decrby", {cmd_decrby, 3}},
      {"append", {cmd_append, 3}},     {"strlen", {cmd_strlen, 2}},
      {"type", {cmd_type, 2}},         {"keys", {cmd_keys, 2}},
      {"scan", {cmd_scan, -2}},        {"rename", {cmd_rename, 3}},
  };
}

void CommandTable::execute(ServerContext& server, ClientState& client,
                           std::vector<std::string>& args, ReplyWriter& out) const {
  server.commands.fetch_add(1, std::memory_order_relaxed);
  std::string name = lower(args[0]);
  auto it = commands_.find(name);
  if (it == commands_.end()) {
    std::string shown;
    for (size_t i = 1; i < args.size() && shown.size() < 128; ++i)
      shown += fmt::format("'{}' ", args[i]);
    return out.error(
        fmt::format("unknown command '{}', with args beginning with: {}", args[0], shown));
  }
  if (!server.password.empty() && !client.authenticated && name != "auth" && name != "hello" &&
      name != "quit")
    return out.error("NOAUTH", "Authentication required.");
  int arity = it->second.arity;
  auto n = static_cast<int>(args.size());
  if ((arity > 0 && n != arity) || (arity < 0 && n < -arity))
    return out.error(fmt::format("wrong number of arguments for '{}' command", name));
  it->second.handler(server, client, args, out);
}

}  // namespace nvobj::dso
