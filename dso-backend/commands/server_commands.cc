// Connection and server commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO,
// CLIENT, COMMAND, CONFIG, INFO, DBSIZE, FLUSHALL, SHUTDOWN.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <utility>

#include <fmt/format.h>

#include "dso-backend/commands/command_util.h"

namespace nvobj::dso::cmd {

namespace {

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

// The one user is "default"; without a password it accepts any (redis's
// nopass user).
bool credentials_ok(const ServerContext& s, std::string_view user, std::string_view pass) {
  return user == "default" && (s.password.empty() || pass == s.password);
}

void wrong_pass(ReplyWriter& out) {
  out.error("WRONGPASS", "invalid username-password pair or user is disabled.");
}

// Redis's clientSetName check: printable ASCII without spaces.
bool valid_client_name(std::string_view name, ReplyWriter& out) {
  if (std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '!' && ch <= '~'; }))
    return true;
  out.error("Client names cannot contain spaces, newlines or special characters.");
  return false;
}

// Redis's errors for a container command's subcommand (CLIENT SETNAME...):
// false, error replied, when it is unknown or has the wrong number of
// arguments (arity as in the command table).
bool subcommand_ok(const Args& a, std::initializer_list<std::pair<std::string_view, int>> subs,
                   ReplyWriter& out) {
  std::string sub = lower(a[1]);
  auto n = static_cast<int>(a.size());
  for (auto [name, arity] : subs) {
    if (sub != name) continue;
    if ((arity > 0 && n != arity) || (arity < 0 && n < -arity)) {
      wrong_args(fmt::format("{}|{}", a[0], sub), out);
      return false;
    }
    return true;
  }
  std::string command = a[0];
  for (char& ch : command) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  out.error(fmt::format("unknown subcommand '{}'. Try {} HELP.",
                        std::string_view(a[1]).substr(0, 128), command));
  return false;
}

void cmd_auth(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  // AUTH password | AUTH user password
  if (a.size() > 3) return out.error(kSyntax);
  if (a.size() == 2 && s.password.empty())
    return out.error(
        "AUTH <password> called without any password configured for the default user. Are you "
        "sure your configuration is correct?");
  if (!credentials_ok(s, a.size() == 3 ? a[1] : "default", a.back())) return wrong_pass(out);
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
  // As redis: every option parsed, then AUTH, then the name.
  const std::string *user = nullptr, *pass = nullptr, *name = nullptr;
  for (; i < a.size(); ++i) {
    std::string opt = lower(a[i]);
    if (opt == "auth" && i + 2 < a.size()) {
      user = &a[i + 1];
      pass = &a[i + 2];
      i += 2;
    } else if (opt == "setname" && i + 1 < a.size()) {
      name = &a[++i];
    } else {
      return out.error(fmt::format("Syntax error in HELLO option '{}'", a[i]));
    }
  }
  if (user) {
    if (!credentials_ok(s, *user, *pass)) return wrong_pass(out);
    c.authenticated = true;
  }
  if (!s.password.empty() && !c.authenticated)
    return out.error("NOAUTH",
                     "HELLO must be called with the client already authenticated, otherwise the "
                     "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                     "select the RESP protocol version at the same time");
  if (name) {
    if (!valid_client_name(*name, out)) return;
    c.name = *name;
  }
  c.version = v;
  out.set_version(v);
  hello_reply(c, out);
}

void cmd_client(ServerContext&, ClientState& c, Args& a, ReplyWriter& out) {
  if (!subcommand_ok(a, {{"setname", 3}, {"getname", 2}, {"id", 2}, {"list", -2}, {"setinfo", 4}},
                     out))
    return;
  std::string sub = lower(a[1]);
  if (sub == "setname") {
    if (!valid_client_name(a[2], out)) return;
    c.name = a[2];
    return out.simple_string("OK");
  }
  if (sub == "getname") return c.name.empty() ? out.null() : out.bulk_string(c.name);
  if (sub == "id") return out.integer(static_cast<int64_t>(c.id));
  if (sub == "setinfo") return out.simple_string("OK");
  // "list": this connection only (docs/server.md).
  out.bulk_string(
      fmt::format("id={} name={} resp={}\n", c.id, c.name, static_cast<int>(c.version)));
}

void cmd_command(ServerContext&, ClientState&, Args& a, ReplyWriter& out) {
  // Enough for redis-cli's start-up (it asks for COMMAND DOCS): no docs.
  if (a.size() >= 2 && lower(a[1]) == "docs") return out.map_header(0);
  if (a.size() >= 2 && lower(a[1]) == "count") return out.integer(0);
  out.array_header(0);
}

void cmd_config(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (!subcommand_ok(a, {{"get", -3}, {"set", -4}}, out)) return;
  if (lower(a[1]) == "set") return out.error("CONFIG SET is not supported by nvobj-dso");
  // The settings clients and benchmarks ask for.
  std::vector<std::pair<std::string, std::string>> known = {
      {"save", ""},     {"appendonly", "no"}, {"databases", "1"}, {"port", std::to_string(s.port)},
      {"bind", s.bind}, {"maxmemory", "0"}};
  // As redis: a name without glob characters is looked up case-insensitively
  // and echoed as given; a pattern yields the settings' own names; each
  // setting at most once.
  std::vector<std::pair<std::string, const std::string*>> hits;
  std::vector<const std::string*> seen;
  for (size_t i = 2; i < a.size(); ++i) {
    std::string pattern = lower(a[i]);
    bool glob = pattern.find_first_of("[*?") != std::string::npos;
    for (auto& [k, v] : known) {
      if (!(glob ? glob_match(pattern, k) : pattern == k)) continue;
      if (std::find(seen.begin(), seen.end(), &k) != seen.end()) continue;
      seen.push_back(&k);
      hits.emplace_back(glob ? k : a[i], &v);
    }
  }
  out.map_header(hits.size());
  for (auto& [k, v] : hits) {
    out.bulk_string(k);
    out.bulk_string(*v);
  }
}

void cmd_info(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // As redis: no argument, "default", "all" or "everything" for every
  // section, else the named ones (none: an empty reply).
  bool all = a.size() == 1;
  std::vector<std::string> wanted;
  for (size_t i = 1; i < a.size(); ++i) {
    wanted.push_back(lower(a[i]));
    all |= wanted.back() == "all" || wanted.back() == "everything" || wanted.back() == "default";
  }
  auto want = [&](std::string_view section) {
    return all || std::find(wanted.begin(), wanted.end(), section) != wanted.end();
  };
  std::string info;
  auto add = [&](std::string_view title, const std::string& body) {
    if (!info.empty()) info += "\r\n";
    info += fmt::format("# {}\r\n{}", title, body);
  };
  if (want("server"))
    add("Server", fmt::format("redis_version:7.0.0\r\nnvobj_dso:1\r\ntcp_port:{}\r\n", s.port));
  if (want("clients"))
    add("Clients", fmt::format("connected_clients:{}\r\nblocked_clients:{}\r\n",
                               s.connections.load(), s.blocked.load()));
  if (want("stats"))
    add("Stats", fmt::format("total_commands_processed:{}\r\n", s.commands.load()));
  if (want("keyspace")) {
    uint64_t keys = s.backend->size();  // no db0 line for an empty database, as in redis
    add("Keyspace", keys == 0 ? "" : fmt::format("db0:keys={},expires=0,avg_ttl=0\r\n", keys));
  }
  if (want("nvobj"))
    add("nvobj", fmt::format("backend:{}\r\n{}", s.backend->name(), s.backend->info()));
  out.bulk_string(info);
}

void cmd_dbsize(ServerContext& s, ClientState&, Args&, ReplyWriter& out) {
  out.integer(static_cast<int64_t>(s.backend->size()));
}

void cmd_flushall(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // SYNC or ASYNC, as redis accepts (both flush before the reply here).
  if (a.size() > 2 || (a.size() == 2 && lower(a[1]) != "sync" && lower(a[1]) != "async"))
    return out.error(kSyntax);
  s.backend->flush_all();
  out.simple_string("OK");
}

void cmd_shutdown(ServerContext& s, ClientState& c, Args&, ReplyWriter&) {
  c.close_after_reply = true;  // redis sends no reply: the connection closes
  if (s.shutdown) s.shutdown();
}

}  // namespace

void add_server_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"ping", {cmd_ping, -1}},
      {"echo", {cmd_echo, 2}},
      {"quit", {cmd_quit, -1}},
      {"select", {cmd_select, 2}},
      {"auth", {cmd_auth, -2}},
      {"hello", {cmd_hello, -1}},
      {"client", {cmd_client, -2}},
      {"command", {cmd_command, -1}},
      {"config", {cmd_config, -2}},
      {"info", {cmd_info, -1}},
      {"dbsize", {cmd_dbsize, 1}},
      {"flushall", {cmd_flushall, -1, L::kAll}},
      {"flushdb", {cmd_flushall, -1, L::kAll}},
      {"shutdown", {cmd_shutdown, -1}},
  });
}

}  // namespace nvobj::dso::cmd
