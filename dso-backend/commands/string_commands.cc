// Strings and integers: GET, SET (NX, XX, GET), SETNX, GETSET, GETDEL, MGET,
// MSET, DEL, UNLINK, EXISTS, INCR, INCRBY, DECR, DECRBY, APPEND, STRLEN.
#include <limits>

#include "dso-backend/commands/command_util.h"

namespace nvobj::dso::cmd {

namespace {

void cmd_get(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->get(a[1], &v);
  if (wrong_type(f, out)) return;
  f == Found::kOk ? out.bulk_string(v) : out.null();
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
      return out.error(kSyntax);
  }
  if (nx && xx) return out.error(kSyntax);
  if (!nx && !xx && !get) {
    s.backend->set(a[1], a[2]);
    return out.simple_string("OK");
  }
  // The key is locked: its type, old value and the write are one step.
  std::string old;
  Found f = s.backend->get(a[1], &old);
  if (get && wrong_type(f, out)) return;
  bool exists = f != Found::kMissing;
  bool apply = !(nx && exists) && !(xx && !exists);
  if (apply) s.backend->set(a[1], a[2]);
  if (get) return f == Found::kOk ? out.bulk_string(old) : out.null();
  apply ? out.simple_string("OK") : out.null();
}

void cmd_setnx(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (s.backend->type(a[1]) != ValueType::kNone) return out.integer(0);
  s.backend->set(a[1], a[2]);
  out.integer(1);
}

void cmd_getset(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  Args b = {a[0], a[1], a[2], "GET"};
  cmd_set(s, c, b, out);
}

void cmd_getdel(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->get(a[1], &v);
  if (wrong_type(f, out)) return;
  if (f == Found::kMissing) return out.null();
  s.backend->del(a[1]);
  out.bulk_string(v);
}

void cmd_mget(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  out.array_header(a.size() - 1);
  std::string v;
  for (size_t i = 1; i < a.size(); ++i)  // a key of another type reads as nil, as in redis
    s.backend->get(a[i], &v) == Found::kOk ? out.bulk_string(v) : out.null();
}

void cmd_mset(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (a.size() % 2 != 1) return wrong_args(a[0], out);
  // Each pair is durable before the reply; after a crash during MSET some
  // pairs may be set and others not (docs/server.md).
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
  for (size_t i = 1; i < a.size(); ++i) n += s.backend->type(a[i]) != ValueType::kNone ? 1 : 0;
  out.integer(n);
}

void incr_by(ServerContext& s, std::string_view key, int64_t delta, ReplyWriter& out) {
  bool bad = false, overflow = false;
  int64_t result = 0;
  Found f = s.backend->update(key, [&](std::optional<std::string_view> cur) {
    std::optional<std::string> next;
    int64_t v = 0;
    if (cur && !parse_int64(*cur, &v))
      bad = true;
    else if (__builtin_add_overflow(v, delta, &result))
      overflow = true;
    else
      next = std::to_string(result);
    return next;
  });
  if (wrong_type(f, out)) return;
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
  if (!parse_int64(a[2], &d)) return out.error(kNotInteger);
  if (d == std::numeric_limits<int64_t>::min()) return out.error("decrement would overflow");
  incr_by(s, a[1], -d, out);
}

void cmd_append(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  size_t len = 0;
  Found f = s.backend->update(a[1], [&](std::optional<std::string_view> cur) {
    std::optional<std::string> next(cur ? std::string(*cur) + a[2] : a[2]);
    len = next->size();
    return next;
  });
  if (wrong_type(f, out)) return;
  out.integer(static_cast<int64_t>(len));
}

void cmd_strlen(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->get(a[1], &v);
  if (wrong_type(f, out)) return;
  out.integer(f == Found::kOk ? static_cast<int64_t>(v.size()) : 0);
}

}  // namespace

void add_string_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"get", {cmd_get, 2, L::kRead}},
      {"set", {cmd_set, -3, L::kWrite}},
      {"setnx", {cmd_setnx, 3, L::kWrite}},
      {"getset", {cmd_getset, 3, L::kWrite}},
      {"getdel", {cmd_getdel, 2, L::kWrite}},
      {"mget", {cmd_mget, -2, L::kRead, 1, -1}},
      {"mset", {cmd_mset, -3, L::kWrite, 1, -1, 2}},
      {"del", {cmd_del, -2, L::kWrite, 1, -1}},
      {"unlink", {cmd_del, -2, L::kWrite, 1, -1}},
      {"exists", {cmd_exists, -2, L::kRead, 1, -1}},
      {"incr", {cmd_incr, 2, L::kWrite}},
      {"decr", {cmd_decr, 2, L::kWrite}},
      {"incrby", {cmd_incrby, 3, L::kWrite}},
      {"decrby", {cmd_decrby, 3, L::kWrite}},
      {"append", {cmd_append, 3, L::kWrite}},
      {"strlen", {cmd_strlen, 2, L::kRead}},
  });
}

}  // namespace nvobj::dso::cmd
