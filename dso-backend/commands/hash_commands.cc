// Hashes: HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HEXISTS, HLEN, HSTRLEN,
// HGETALL, HKEYS, HVALS, HINCRBY, HSCAN.
#include <utility>

#include "dso-backend/commands/command_util.h"

namespace nvobj::dso::cmd {

namespace {

// HSET/HMSET: the fields one by one, each durable before the reply.
void hset_pairs(ServerContext& s, Args& a, ReplyWriter& out, bool count_reply) {
  if (a.size() % 2 != 0) return wrong_args(a[0], out);
  int64_t created = 0;
  for (size_t i = 2; i + 1 < a.size(); i += 2) {
    bool fresh = false;
    if (wrong_type(s.backend->hset(a[1], a[i], a[i + 1], &fresh), out)) return;
    created += fresh ? 1 : 0;
  }
  count_reply ? out.integer(created) : out.simple_string("OK");
}

void cmd_hset(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  hset_pairs(s, a, out, true);
}
void cmd_hmset(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  hset_pairs(s, a, out, false);
}

void cmd_hsetnx(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->hget(a[1], a[2], &v);
  if (wrong_type(f, out)) return;
  if (f == Found::kOk) return out.integer(0);
  bool fresh = false;
  s.backend->hset(a[1], a[2], a[3], &fresh);
  out.integer(1);
}

void cmd_hget(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->hget(a[1], a[2], &v);
  if (wrong_type(f, out)) return;
  f == Found::kOk ? out.bulk_string(v) : out.null();
}

void cmd_hmget(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  if (s.backend->type(a[1]) != ValueType::kNone && s.backend->type(a[1]) != ValueType::kHash)
    return wrong_type(out);
  out.array_header(a.size() - 2);
  std::string v;
  for (size_t i = 2; i < a.size(); ++i)
    s.backend->hget(a[1], a[i], &v) == Found::kOk ? out.bulk_string(v) : out.null();
}

void cmd_hdel(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 0;
  for (size_t i = 2; i < a.size(); ++i) {
    Found f = s.backend->hdel(a[1], a[i]);
    if (wrong_type(f, out)) return;
    n += f == Found::kOk ? 1 : 0;
  }
  out.integer(n);
}

void cmd_hexists(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->hget(a[1], a[2], &v);
  if (wrong_type(f, out)) return;
  out.integer(f == Found::kOk ? 1 : 0);
}

void cmd_hlen(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  uint64_t n = 0;
  if (wrong_type(s.backend->hlen(a[1], &n), out)) return;
  out.integer(static_cast<int64_t>(n));
}

void cmd_hstrlen(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string v;
  Found f = s.backend->hget(a[1], a[2], &v);
  if (wrong_type(f, out)) return;
  out.integer(f == Found::kOk ? static_cast<int64_t>(v.size()) : 0);
}

enum class Part { kBoth, kKeys, kValues };

// The hash's fields (collected first: the reply header needs the count).
bool collect(ServerContext& s, std::string_view key, std::string_view pattern,
             std::vector<std::pair<std::string, std::string>>* fields, ReplyWriter& out) {
  Found f = s.backend->hscan(key, [&](std::string_view k, std::string_view v) {
    if (pattern.empty() || glob_match(pattern, k)) fields->emplace_back(k, v);
  });
  return !wrong_type(f, out);
}

void hgetall(ServerContext& s, Args& a, ReplyWriter& out, Part part) {
  std::vector<std::pair<std::string, std::string>> fields;
  if (!collect(s, a[1], {}, &fields, out)) return;
  if (part == Part::kBoth)
    out.map_header(fields.size());
  else
    out.array_header(fields.size());
  for (const auto& [k, v] : fields) {
    if (part != Part::kValues) out.bulk_string(k);
    if (part != Part::kKeys) out.bulk_string(v);
  }
}

void cmd_hgetall(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  hgetall(s, a, out, Part::kBoth);
}
void cmd_hkeys(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  hgetall(s, a, out, Part::kKeys);
}
void cmd_hvals(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  hgetall(s, a, out, Part::kValues);
}

void cmd_hincrby(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t delta, v = 0, result;
  if (!parse_int64(a[3], &delta)) return out.error(kNotInteger);
  std::string cur;
  Found f = s.backend->hget(a[1], a[2], &cur);
  if (wrong_type(f, out)) return;
  if (f == Found::kOk && !parse_int64(cur, &v)) return out.error("hash value is not an integer");
  if (__builtin_add_overflow(v, delta, &result))
    return out.error("increment or decrement would overflow");
  bool fresh = false;
  s.backend->hset(a[1], a[2], std::to_string(result), &fresh);
  out.integer(result);
}

void cmd_hscan(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // Like SCAN: one call returns every field and cursor 0.
  int64_t cursor;
  if (!parse_int64(a[2], &cursor) || cursor < 0) return out.error("invalid cursor");
  std::string pattern;
  for (size_t i = 3; i < a.size(); i += 2) {
    std::string opt = lower(a[i]);
    if (i + 1 >= a.size() || (opt != "match" && opt != "count")) return out.error(kSyntax);
    int64_t count;
    if (opt == "count" && !parse_int64(a[i + 1], &count)) return out.error(kNotInteger);
    if (opt == "count" && count < 1) return out.error(kSyntax);
    if (opt == "match") pattern = a[i + 1];
  }
  std::vector<std::pair<std::string, std::string>> fields;
  if (!collect(s, a[1], pattern, &fields, out)) return;
  out.array_header(2);
  out.bulk_string("0");
  out.array_header(2 * fields.size());
  for (const auto& [k, v] : fields) {
    out.bulk_string(k);
    out.bulk_string(v);
  }
}

}  // namespace

void add_hash_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"hset", {cmd_hset, -4, L::kWrite}},
      {"hmset", {cmd_hmset, -4, L::kWrite}},
      {"hsetnx", {cmd_hsetnx, 4, L::kWrite}},
      {"hget", {cmd_hget, 3, L::kRead}},
      {"hmget", {cmd_hmget, -3, L::kRead}},
      {"hdel", {cmd_hdel, -3, L::kWrite}},
      {"hexists", {cmd_hexists, 3, L::kRead}},
      {"hlen", {cmd_hlen, 2, L::kRead}},
      {"hstrlen", {cmd_hstrlen, 3, L::kRead}},
      {"hgetall", {cmd_hgetall, 2, L::kRead}},
      {"hkeys", {cmd_hkeys, 2, L::kRead}},
      {"hvals", {cmd_hvals, 2, L::kRead}},
      {"hincrby", {cmd_hincrby, 4, L::kWrite}},
      {"hscan", {cmd_hscan, -3, L::kRead}},
  });
}

}  // namespace nvobj::dso::cmd
