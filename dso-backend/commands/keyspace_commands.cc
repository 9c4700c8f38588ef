// The key space: TYPE, KEYS, SCAN, RENAME, RENAMENX.
#include <utility>

#include "dso-backend/commands/command_util.h"
#include "dso-backend/objects/object_space.h"
#include "runtime/group_commit.h"

namespace nvobj::dso::cmd {

namespace {

// An object's type is its own: a coordination object's (barrier...), a
// user-defined object's module type name.
std::string key_type(ServerContext& s, std::string_view key, ValueType t) {
  if (t == ValueType::kObject && s.objects != nullptr)
    if (std::string_view name = s.objects->object_type(key); !name.empty())
      return std::string(name);
  if (t == ValueType::kObject && s.backend->user_objects() != nullptr)
    return s.backend->user_objects()->module_type(key);
  return std::string(type_name(t));
}

void cmd_type(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  out.simple_string(key_type(s, a[1], s.backend->type(a[1])));
}

std::vector<std::string> matching_keys(ServerContext& s, std::string_view pattern,
                                       std::string_view type) {
  std::vector<std::string> keys;
  s.backend->for_each_key([&](std::string_view k, ValueType t) {
    if ((type.empty() || lower(key_type(s, k, t)) == type) && glob_match(pattern, k))
      keys.emplace_back(k);
  });
  return keys;
}

void reply_keys(const std::vector<std::string>& keys, ReplyWriter& out) {
  out.array_header(keys.size());
  for (const std::string& k : keys) out.bulk_string(k);
}

void cmd_keys(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  reply_keys(matching_keys(s, a[1], {}), out);
}

void cmd_scan(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  // One call returns the whole key space and cursor 0, which SCAN's
  // contract allows (every key present throughout is returned once).
  int64_t cursor;
  if (!parse_int64(a[1], &cursor) || cursor < 0) return out.error("invalid cursor");
  std::string pattern = "*", type;
  for (size_t i = 2; i < a.size(); i += 2) {
    std::string opt = lower(a[i]);
    if (i + 1 >= a.size()) return out.error(kSyntax);
    int64_t count;
    if (opt == "match") {
      pattern = a[i + 1];
    } else if (opt == "type") {
      type = lower(a[i + 1]);
    } else if (opt == "count") {
      if (!parse_int64(a[i + 1], &count)) return out.error(kNotInteger);
      if (count < 1) return out.error(kSyntax);
    } else {
      return out.error(kSyntax);
    }
  }
  out.array_header(2);
  out.bulk_string("0");
  reply_keys(matching_keys(s, pattern, type), out);
}

// Copies the value of `from` to `to` (absent) element by element.
void copy_value(Backend& b, std::string_view from, std::string_view to) {
  bool fresh;
  uint64_t len;
  switch (b.type(from)) {
    case ValueType::kString: {
      std::string v;
      b.get(from, &v);
      b.set(to, v);
      break;
    }
    case ValueType::kHash: {
      std::vector<std::pair<std::string, std::string>> fields;
      b.hscan(from, [&](std::string_view f, std::string_view v) { fields.emplace_back(f, v); });
      for (const auto& [f, v] : fields) b.hset(to, f, v, &fresh);
      break;
    }
    case ValueType::kList: {
      b.llen(from, &len);
      std::vector<std::string> elems;
      b.lrange(from, 0, len, [&](std::string_view e) { elems.emplace_back(e); });
      for (const std::string& e : elems) b.push(to, false, e, &len);
      break;
    }
    case ValueType::kZSet: {
      std::vector<std::pair<std::string, double>> members;
      b.zcard(from, &len);
      b.zrange(from, 0, len, false,
               [&](std::string_view m, double score) { members.emplace_back(m, score); });
      for (const auto& [m, score] : members) b.zadd(to, m, score, &fresh);
      break;
    }
    case ValueType::kObject:  // refused by rename()
    case ValueType::kNone: break;
  }
}

void rename(ServerContext& s, Args& a, ReplyWriter& out, bool only_if_new) {
  ValueType from = s.backend->type(a[1]);
  if (from == ValueType::kNone) return out.error("no such key");
  // A coordination object moves, with the calls parked on it. The key space
  // binds a user-defined object once, so moving one would need a copy of a
  // module's object, which only its module could make.
  if (from == ValueType::kObject && a[1] != a[2]) {
    if (s.objects == nullptr || s.objects->find(a[1]) == nullptr)
      return out.error("RENAME of a user-defined object is not supported");
    if (only_if_new && s.backend->type(a[2]) != ValueType::kNone) return out.integer(0);
    s.backend->del(a[2]);
    s.objects->move(a[1], a[2]);
    return only_if_new ? out.integer(1) : out.simple_string("OK");
  }
  if (only_if_new && s.backend->type(a[2]) != ValueType::kNone) return out.integer(0);
  if (a[1] != a[2]) {
    // Durable in steps (destination copied, then source removed): a crash
    // in between leaves both (docs/server.md). Both keys are locked, so no
    // client sees the steps.
    s.backend->del(a[2]);
    copy_value(*s.backend, a[1], a[2]);
    GroupCommit::flush();  // the copy is durable before the source goes (group_commit.h)
    s.backend->del(a[1]);
  }
  only_if_new ? out.integer(1) : out.simple_string("OK");
}

void cmd_rename(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  rename(s, a, out, false);
}
void cmd_renamenx(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  rename(s, a, out, true);
}

}  // namespace

void add_keyspace_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"type", {cmd_type, 2, L::kRead}},
      {"keys", {cmd_keys, 2, L::kAll}},
      {"scan", {cmd_scan, -2, L::kAll}},
      {"rename", {cmd_rename, 3, L::kWrite, 1, 2}},
      {"renamenx", {cmd_renamenx, 3, L::kWrite, 1, 2}},
  });
}

}  // namespace nvobj::dso::cmd
