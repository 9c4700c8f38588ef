// Lists: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LINDEX, LSET,
// LRANGE, LREM, LINSERT.
#include <algorithm>

#include "dso-backend/commands/command_util.h"

namespace nvobj::dso::cmd {

namespace {

void push(ServerContext& s, Args& a, ReplyWriter& out, bool front, bool only_existing) {
  if (only_existing) {
    ValueType t = s.backend->type(a[1]);
    if (t == ValueType::kNone) return out.integer(0);
    if (t != ValueType::kList) return wrong_type(out);
  }
  uint64_t len = 0;
  for (size_t i = 2; i < a.size(); ++i)
    if (wrong_type(s.backend->push(a[1], front, a[i], &len), out)) return;
  out.integer(static_cast<int64_t>(len));
}

void cmd_lpush(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  push(s, a, out, true, false);
}
void cmd_rpush(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  push(s, a, out, false, false);
}
void cmd_lpushx(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  push(s, a, out, true, true);
}
void cmd_rpushx(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  push(s, a, out, false, true);
}

void pop(ServerContext& s, Args& a, ReplyWriter& out, bool front) {
  if (a.size() > 3) return wrong_args(a[0], out);
  std::string v;
  if (a.size() == 2) {
    Found f = s.backend->pop(a[1], front, &v);
    if (wrong_type(f, out)) return;
    return f == Found::kOk ? out.bulk_string(v) : out.null();
  }
  int64_t count;
  if (!parse_int64(a[2], &count) || count < 0)
    return out.error("value is out of range, must be positive");
  uint64_t len = 0;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  if (f == Found::kMissing) return out.null_array();
  uint64_t n = std::min<uint64_t>(len, static_cast<uint64_t>(count));
  out.array_header(n);
  for (uint64_t i = 0; i < n; ++i) {
    s.backend->pop(a[1], front, &v);
    out.bulk_string(v);
  }
}

void cmd_lpop(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) { pop(s, a, out, true); }
void cmd_rpop(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) { pop(s, a, out, false); }

void cmd_llen(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  uint64_t n = 0;
  if (wrong_type(s.backend->llen(a[1], &n), out)) return;
  out.integer(static_cast<int64_t>(n));
}

void cmd_lindex(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // As redis: the key's type first, then the index.
  uint64_t len = 0, at;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  if (f == Found::kMissing) return out.null();
  int64_t i;
  if (!parse_int64(a[2], &i)) return out.error(kNotInteger);
  std::string v;
  if (resolve_index(i, len, &at) && s.backend->lindex(a[1], at, &v) == Found::kOk)
    return out.bulk_string(v);
  out.null();
}

void cmd_lset(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // As redis: the key and its type first, then the index.
  uint64_t len = 0, at;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  if (f == Found::kMissing) return out.error("no such key");
  int64_t i;
  if (!parse_int64(a[2], &i)) return out.error(kNotInteger);
  if (!resolve_index(i, len, &at)) return out.error("index out of range");
  s.backend->lset(a[1], at, a[3]);
  out.simple_string("OK");
}

// The list's elements [from, to).
bool elements(ServerContext& s, std::string_view key, uint64_t from, uint64_t to,
              std::vector<std::string>* v, ReplyWriter& out) {
  Found f = s.backend->lrange(key, from, to, [&](std::string_view e) { v->emplace_back(e); });
  return !wrong_type(f, out);
}

void cmd_lrange(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t start, stop;
  if (!parse_int64(a[2], &start) || !parse_int64(a[3], &stop)) return out.error(kNotInteger);
  uint64_t len = 0, from, to;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  resolve_range(start, stop, len, &from, &to);
  std::vector<std::string> v;
  if (from < to && !elements(s, a[1], from, to, &v, out)) return;
  out.array_header(v.size());
  for (const std::string& e : v) out.bulk_string(e);
}

void cmd_lrem(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t count;
  if (!parse_int64(a[2], &count)) return out.error(kNotInteger);
  uint64_t len = 0;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  std::vector<std::string> v;
  if (f == Found::kOk && !elements(s, a[1], 0, len, &v, out)) return;
  // Matches from the head (count > 0), the tail (count < 0) or all (0).
  std::vector<uint64_t> hits;
  uint64_t limit = count == 0 ? v.size() : static_cast<uint64_t>(count < 0 ? -count : count);
  for (uint64_t k = 0; k < v.size() && hits.size() < limit; ++k) {
    uint64_t i = count < 0 ? v.size() - 1 - k : k;
    if (v[i] == a[3]) hits.push_back(i);
  }
  // Highest index first, so the others stay where they are. Each removal
  // is durable on its own (docs/server.md).
  std::sort(hits.rbegin(), hits.rend());
  for (uint64_t i : hits) s.backend->lremove(a[1], i);
  out.integer(static_cast<int64_t>(hits.size()));
}

void cmd_linsert(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  std::string where = lower(a[2]);
  if (where != "before" && where != "after") return out.error(kSyntax);
  uint64_t len = 0;
  Found f = s.backend->llen(a[1], &len);
  if (wrong_type(f, out)) return;
  if (f == Found::kMissing) return out.integer(0);
  std::vector<std::string> v;
  if (!elements(s, a[1], 0, len, &v, out)) return;
  auto it = std::find(v.begin(), v.end(), a[3]);
  if (it == v.end()) return out.integer(-1);
  s.backend->linsert(a[1], static_cast<uint64_t>(it - v.begin()), where == "after", a[4]);
  out.integer(static_cast<int64_t>(len + 1));
}

}  // namespace

void add_list_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"lpush", {cmd_lpush, -3, L::kWrite}},
      {"rpush", {cmd_rpush, -3, L::kWrite}},
      {"lpushx", {cmd_lpushx, -3, L::kWrite}},
      {"rpushx", {cmd_rpushx, -3, L::kWrite}},
      {"lpop", {cmd_lpop, -2, L::kWrite}},
      {"rpop", {cmd_rpop, -2, L::kWrite}},
      {"llen", {cmd_llen, 2, L::kRead}},
      {"lindex", {cmd_lindex, 3, L::kRead}},
      {"lset", {cmd_lset, 4, L::kWrite}},
      {"lrange", {cmd_lrange, 4, L::kRead}},
      {"lrem", {cmd_lrem, 4, L::kWrite}},
      {"linsert", {cmd_linsert, 5, L::kWrite}},
  });
}

}  // namespace nvobj::dso::cmd
