// Network targets: any server speaking RESP (nvobj-dso with any backend,
// redis-server), through hiredis, one connection per driver thread.
#include <stdexcept>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "bench/ycsb/db.h"
#include "bench/ycsb/record.h"

namespace nvobj::ycsb {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct Endpoint {
  std::string host;
  int port = 0;
};

class RedisClient : public DbClient {
 public:
  static Result<std::unique_ptr<RedisClient>> connect(const Endpoint& e) {
    timeval tv{10, 0};
    redisContext* c = redisConnectWithTimeout(e.host.c_str(), e.port, tv);
    if (c == nullptr || c->err != 0) {
      std::string why = c ? c->errstr : "out of memory";
      if (c) redisFree(c);
      return Status(StatusCode::kIOError,
                    fmt::format("cannot connect to {}:{}: {}", e.host, e.port, why));
    }
    return std::unique_ptr<RedisClient>(new RedisClient(c));
  }
  ~RedisClient() override { redisFree(c_); }

  // One command; a connection failure ends the run (thrown), an error reply
  // is returned for the caller to count as a failed operation.
  Reply command(const std::vector<std::string_view>& args) {
    append(args);
    return get_reply();
  }

  bool read(std::string_view key, int64_t field, std::vector<std::string>* out) override {
    Reply r = command({"GET", key});
    return decode(r.get(), field, out);
  }

  bool update(std::string_view key, int64_t field, std::string_view value) override {
    // No RESP command replaces one field of our record encoding, so this is
    // GET + SET of the re-encoded record (see db.h).
    if (field < 0) {
      Reply e = command({"EXISTS", key});
      if (!e || e->type != REDIS_REPLY_INTEGER || e->integer == 0) return false;
      Reply s = command({"SET", key, value});
      return s && s->type == REDIS_REPLY_STATUS;
    }
    Reply g = command({"GET", key});
    if (!g || g->type != REDIS_REPLY_STRING) return false;
    if (!replace_field(std::string_view(g->str, g->len), static_cast<size_t>(field), value, &next_))
      return false;
    Reply s = command({"SET", key, next_});
    return s && s->type == REDIS_REPLY_STATUS;
  }

  bool insert(std::string_view key, std::string_view record) override {
    // SET and ZADD go out together: one round trip, two commands.
    append_insert(key, record);
    return insert_replies_ok();
  }

  size_t insert_batch(const std::vector<std::pair<std::string, std::string>>& records) override {
    for (const auto& [k, v] : records) append_insert(k, v);
    size_t ok = 0;
    for (size_t i = 0; i < records.size(); ++i) ok += insert_replies_ok() ? 1 : 0;
    return ok;
  }

  bool scan(std::string_view start_key, int64_t count, int64_t field,
            std::vector<std::vector<std::string>>* out) override {
    std::string score = fmt::format("{}", static_cast<int64_t>(index_score(start_key)));
    std::string limit = std::to_string(count);
    Reply r = command({"ZRANGEBYSCORE", kIndexKey, score, "+inf", "LIMIT", "0", limit});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return false;
    // The GETs are pipelined (YCSB's binding sends them one by one; the
    // server does the same work either way, the client waits once).
    for (size_t i = 0; i < r->elements; ++i)
      append({"GET", std::string_view(r->element[i]->str, r->element[i]->len)});
    if (out->size() < r->elements) out->resize(r->elements);
    size_t found = 0;
    for (size_t i = 0; i < r->elements; ++i) {
      Reply g = get_reply();
      found += decode(g.get(), field, &(*out)[i]) ? 1 : 0;
    }
    return found > 0;
  }

 private:
  explicit RedisClient(redisContext* c) : c_(c) {}

  void append(const std::vector<std::string_view>& args) {
    argv_.clear();
    lens_.clear();
    for (std::string_view a : args) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    if (redisAppendCommandArgv(c_, static_cast<int>(args.size()), argv_.data(), lens_.data()) !=
        REDIS_OK)
      throw std::runtime_error(fmt::format("hiredis: {}", c_->errstr));
  }
  Reply get_reply() {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK || r == nullptr)
      throw std::runtime_error(fmt::format("hiredis: {}", c_->errstr));
    return Reply(static_cast<redisReply*>(r));
  }
  void append_insert(std::string_view key, std::string_view record) {
    append({"SET", key, record});
    std::string score = fmt::format("{}", static_cast<int64_t>(index_score(key)));
    append({"ZADD", kIndexKey, score, key});
  }
  bool insert_replies_ok() {
    Reply s = get_reply();
    Reply z = get_reply();
    return s->type == REDIS_REPLY_STATUS && z->type == REDIS_REPLY_INTEGER;
  }
  static bool decode(redisReply* r, int64_t field, std::vector<std::string>* out) {
    if (r == nullptr || r->type != REDIS_REPLY_STRING) return false;
    std::string_view rec(r->str, r->len);
    if (field < 0) return decode_fields(rec, out);
    out->resize(1);
    return decode_field(rec, static_cast<size_t>(field), &(*out)[0]);
  }

  redisContext* c_;
  std::vector<const char*> argv_;
  std::vector<size_t> lens_;
  std::string next_;
};

class NetworkTarget : public Target {
 public:
  NetworkTarget(std::string label, std::string mode, Endpoint e)
      : label_(std::move(label)), mode_(std::move(mode)), endpoint_(std::move(e)) {}

  const std::string& label() const override { return label_; }
  const std::string& mode() const override { return mode_; }
  bool embedded() const override { return false; }
  Result<std::unique_ptr<DbClient>> connect() override {
    NVOBJ_ASSIGN_OR_RETURN(auto c, RedisClient::connect(endpoint_));
    return std::unique_ptr<DbClient>(std::move(c));
  }
  std::map<std::string, double> stats() override {
    auto c = RedisClient::connect(endpoint_);
    if (!c) return {};
    Reply r = (*c)->command({"INFO", "all"});
    if (!r || r->type == REDIS_REPLY_ERROR) r = (*c)->command({"INFO"});
    if (!r || (r->type != REDIS_REPLY_STRING)) return {};
    return parse_info(std::string_view(r->str, r->len));
  }
  std::map<std::string, std::string> notes() const override {
    return {{"server", fmt::format("{}:{}", endpoint_.host, endpoint_.port)}};
  }
  Status flush() {
    NVOBJ_ASSIGN_OR_RETURN(auto c, RedisClient::connect(endpoint_));
    Reply r = c->command({"FLUSHALL"});
    if (!r || r->type == REDIS_REPLY_ERROR)
      return Status(StatusCode::kIOError, fmt::format("{}: FLUSHALL failed", label_));
    return Status::ok();
  }
  Status close() override { return Status::ok(); }

 private:
  std::string label_, mode_;
  Endpoint endpoint_;
};

}  // namespace

Result<std::unique_ptr<Target>> open_network_target(const std::string& spec, bool flush) {
  // LABEL=HOST:PORT[/MODE]
  size_t eq = spec.find('=');
  size_t colon = spec.rfind(':');
  if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("--server '{}': expected LABEL=HOST:PORT[/MODE]", spec));
  }
  std::string label = spec.substr(0, eq);
  Endpoint e;
  e.host = spec.substr(eq + 1, colon - eq - 1);
  std::string rest = spec.substr(colon + 1);
  std::string mode = "none";
  if (size_t slash = rest.find('/'); slash != std::string::npos) {
    mode = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  try {
    e.port = std::stoi(rest);
  } catch (const std::exception&) {
    return Status(StatusCode::kInvalidArgument, fmt::format("--server '{}': bad port", spec));
  }
  auto t = std::make_unique<NetworkTarget>(label, mode, e);
  try {
    if (flush) NVOBJ_RETURN_IF_ERROR(t->flush());
  } catch (const std::exception& ex) {
    return Status(StatusCode::kIOError, fmt::format("{}: {}", label, ex.what()));
  }
  return std::unique_ptr<Target>(std::move(t));
}

}  // namespace nvobj::ycsb
