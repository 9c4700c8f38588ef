// nvobj-dso under SIGKILL: the server's durability promise end to end. The
// real binary serves a pool on /dev/shm; kThreads hiredis clients (one
// connection each) loop over INCR of a shared counter, SET of a key of
// their own per operation, HSET of a field of their own into a shared hash
// and RPUSH of an element of their own onto a shared list, recording each
// acknowledged write and the one in flight. One of them pipelines its
// writes kPipeline at a time: the server runs a batch's commands before it
// writes their replies, so a kill often finds writes applied but not
// acknowledged, which single requests almost never show. After a number of acknowledged
// writes drawn from a seeded RNG the test SIGKILLs the server, restarts it
// on the same pool (recovery) and checks that
//   - every acknowledged SET key has its value, every acknowledged HSET
//     field and RPUSH element is there,
//   - list elements appear at most once each, in each client's order,
//   - the counter is the acknowledged increments plus 0..(increments in
//     flight),
//   - a write in flight is there entirely or not at all (and nothing that
//     was never sent is there),
// then runs the next cycle on the recovered server, so it also serves
// normally after recovery. State accumulates over the cycles; at the end the
// server is shut down cleanly and everything is checked once more.
//
// No sleeps: the kill happens when the clients' acknowledgement count
// reaches the drawn number. NVOBJ_DSO_KILL_CYCLES sets the number of kills
// (default 50, what CI runs); NVOBJ_DSO_KILL_SEED replays a run's kill points
// (thread interleaving still varies).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "tests/dso/dso_testing.h"
#include "tests/testing/temp_dir.h"

namespace nvobj::testing {
namespace {

constexpr int kThreads = 4;
constexpr int kPipeline = 64;  // writes per batch of thread 0
// Every string is read back every this many kills (the newest ones at
// every kill), which keeps a long soak from being quadratic in its writes.
constexpr int kKillsPerFullCheck = 10;
constexpr char kCounter[] = "counter";
constexpr char kHash[] = "hash";
constexpr char kList[] = "list";

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

enum class Kind { kIncr, kSet, kHset, kRpush };

// One write; its id ("cycle.thread.seq") is unique over the whole run and
// orders a thread's writes.
struct Op {
  Kind kind;
  int cycle;
  int thread;
  uint64_t seq;
  std::string id() const {
    return std::to_string(cycle) + "." + std::to_string(thread) + "." + std::to_string(seq);
  }
};

std::string set_key(const Op& op) { return "s." + op.id(); }
// 1 to 1,500 bytes, so records of many sizes share the logs.
std::string set_value(const Op& op) {
  std::string v = "v" + op.id() + ":";
  v.resize(1 + (op.seq * 7919 + static_cast<uint64_t>(op.thread) * 104729) % 1500, '#');
  return v;
}
std::string hash_value(const Op& op) { return "h" + op.id(); }

std::vector<std::string> command(const Op& op) {
  switch (op.kind) {
    case Kind::kIncr: return {"INCR", kCounter};
    case Kind::kSet: return {"SET", set_key(op), set_value(op)};
    case Kind::kHset: return {"HSET", kHash, op.id(), hash_value(op)};
    case Kind::kRpush: return {"RPUSH", kList, op.id()};
  }
  return {};
}

bool acknowledged(const Op& op, const Reply& r) {
  switch (op.kind) {
    case Kind::kIncr:
    case Kind::kRpush: return r.type == REDIS_REPLY_INTEGER;
    case Kind::kSet: return r.type == REDIS_REPLY_STATUS && r.str == "OK";
    case Kind::kHset: return r.type == REDIS_REPLY_INTEGER && r.integer == 1;  // a new field
  }
  return false;
}

// What one client thread did in one cycle.
struct Worker {
  std::vector<Op> acked;
  std::vector<Op> in_flight;  // sent (or about to be) and not acknowledged, in order
  std::string unexpected;     // a reply that was neither an ack nor a dead connection
};

// Runs the clients until the server dies; calls kill() once `target`
// writes were acknowledged or, with `after_batch`, once thread 0 has then
// sent its next batch of pipelined writes: the kill races the server's run
// of that batch, so it may land before, inside or after it (writes applied
// but not acknowledged, the case a kill at an acknowledgement rarely hits).
class Cycle {
 public:
  Cycle(int cycle, int port, uint64_t target, bool after_batch)
      : cycle_(cycle), port_(port), target_(target), after_batch_(after_batch) {}

  template <typename Kill>
  std::vector<Worker> run(Kill kill) {
    std::vector<Worker> workers(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { client(t, &workers[t]); });
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        // (Thread 0 gone, e.g. on an unexpected reply, sends no batch: kill
        // anyway, or the other clients would write on forever.)
        return (acks_.load() >= target_ && (!after_batch_ || batch_sent_ || pipeliner_gone_)) ||
               exited_ == kThreads;
      });
    }
    kill();
    for (auto& th : threads) th.join();
    return workers;
  }
  bool reached_target() const { return acks_.load() >= target_; }

 private:
  void client(int t, Worker* w) {
    Client c(port_);
    const int batch = t == 0 ? kPipeline : 1;
    for (uint64_t seq = 0; c.ok() && w->unexpected.empty();) {
      for (int i = 0; i < batch; ++i, ++seq) {
        // Threads start on different kinds, so all four run at once.
        Op op{static_cast<Kind>((seq + static_cast<uint64_t>(t)) % 4), cycle_, t, seq};
        w->in_flight.push_back(op);
        c.append(command(op));
      }
      if (t == 0 && after_batch_ && acks_.load() >= target_) {
        // Sent in full before the kill is let go.
        int done = 0;
        while (!done && redisBufferWrite(c.raw(), &done) == REDIS_OK) {
        }
        std::lock_guard lock(mu_);
        batch_sent_ = true;
        cv_.notify_one();
      }
      while (!w->in_flight.empty()) {
        Reply r = c.get_reply();
        if (r.type == 0) break;  // the connection died: the rest stay in flight
        const Op op = w->in_flight.front();
        if (!acknowledged(op, r)) {
          w->unexpected = command(op)[0] + " got type " + std::to_string(r.type) + ": " + r.str;
          break;
        }
        w->in_flight.erase(w->in_flight.begin());
        w->acked.push_back(op);
        if (acks_.fetch_add(1) + 1 == target_) {
          std::lock_guard lock(mu_);
          cv_.notify_one();
        }
      }
      if (!w->in_flight.empty()) break;
    }
    std::lock_guard lock(mu_);
    ++exited_;
    if (t == 0) pipeliner_gone_ = true;
    cv_.notify_one();
  }

  const int cycle_;
  const int port_;
  const uint64_t target_;
  const bool after_batch_;
  std::atomic<uint64_t> acks_{0};
  std::mutex mu_;
  bool batch_sent_ = false;      // under mu_
  bool pipeliner_gone_ = false;  // under mu_: thread 0 returned
  std::condition_variable cv_;
  int exited_ = 0;
};

// What the server must hold: every acknowledged write, plus in-flight
// writes found applied after their kill.
class Model {
 public:
  // Checks the recovered server against the model extended by `workers`'
  // acknowledged writes (and, each either way, their in-flight ones), then
  // takes all of what it found into the model.
  void check(Client& c, const std::vector<Worker>& workers, int cycle) {
    SCOPED_TRACE("after kill " + std::to_string(cycle));
    uint64_t acked_incrs = 0, inflight_incrs = 0;
    for (const Worker& w : workers) {
      for (const Op& op : w.acked) {
        if (op.kind == Kind::kIncr) ++acked_incrs;
        if (op.kind == Kind::kSet) strings_[set_key(op)] = set_value(op);
        if (op.kind == Kind::kHset) fields_[op.id()] = hash_value(op);
        if (op.kind == Kind::kRpush) list_.insert(order(op));
      }
      for (const Op& op : w.in_flight) inflight_incrs += op.kind == Kind::kIncr ? 1 : 0;
    }

    // The counter: every acknowledged increment, plus some in flight.
    Reply counter = c.cmd({"GET", kCounter});
    const uint64_t got = counter.type == REDIS_REPLY_NIL ? 0 : std::stoull(counter.str);
    EXPECT_GE(got, counter_ + acked_incrs) << "lost an acknowledged INCR";
    EXPECT_LE(got, counter_ + acked_incrs + inflight_incrs) << "INCR applied twice";
    in_flight_applied_ += got - std::min(got, counter_ + acked_incrs);
    in_flight_ += inflight_incrs;
    counter_ = got;

    // In-flight SET and HSET: all or nothing.
    for (const Worker& w : workers) {
      for (const Op& op : w.in_flight) check_in_flight(c, op);
    }
    // The strings written this round; all of them every kKillsPerFullCheck
    // rounds (DBSIZE below notices a lost one at every round).
    check_strings(c, cycle % kKillsPerFullCheck == kKillsPerFullCheck - 1
                         ? std::string()
                         : "s." + std::to_string(cycle) + ".");
    check_hash(c);
    check_list(c, workers);
    // A connection's commands run in order: the in-flight writes found
    // applied are a prefix of those it sent.
    for (const Worker& w : workers) {
      const Op* lost = nullptr;
      for (const Op& op : w.in_flight) {
        std::optional<bool> applied = was_applied(op);
        if (!applied) continue;
        if (*applied && lost != nullptr) {
          ADD_FAILURE() << "in-flight " << op.id() << " applied, the earlier " << lost->id()
                        << " of its connection not";
        }
        if (!*applied && lost == nullptr) lost = &op;
      }
    }
    // Nothing else: the strings, the counter, the hash and the list.
    const long long extra = c.cmd({"EXISTS", kCounter, kHash, kList}).integer;
    EXPECT_EQ(c.cmd({"DBSIZE"}).integer, static_cast<long long>(strings_.size()) + extra);
  }

  // An in-flight SET or HSET: there entirely or not at all.
  void check_in_flight(Client& c, const Op& op) {
    if (op.kind != Kind::kIncr) ++in_flight_;
    if (op.kind == Kind::kSet) {
      Reply r = c.cmd({"GET", set_key(op)});
      if (r.type == REDIS_REPLY_STRING) {
        EXPECT_TRUE(r.str == set_value(op)) << "in-flight SET " << op.id() << " torn";
        strings_[set_key(op)] = set_value(op);
        ++in_flight_applied_;
      } else {
        EXPECT_EQ(r.type, REDIS_REPLY_NIL) << r.str;
      }
    } else if (op.kind == Kind::kHset) {
      Reply r = c.cmd({"HGET", kHash, op.id()});
      if (r.type == REDIS_REPLY_STRING) {
        EXPECT_EQ(r.str, hash_value(op)) << "in-flight HSET " << op.id() << " torn";
        fields_[op.id()] = hash_value(op);
        ++in_flight_applied_;
      } else {
        EXPECT_EQ(r.type, REDIS_REPLY_NIL) << r.str;
      }
    }
  }

  // Whether the model (updated with what the server had) holds op; nullopt
  // for an INCR, which has no identity of its own.
  std::optional<bool> was_applied(const Op& op) const {
    switch (op.kind) {
      case Kind::kIncr: return std::nullopt;
      case Kind::kSet: return strings_.contains(set_key(op));
      case Kind::kHset: return fields_.contains(op.id());
      case Kind::kRpush: return list_.contains(order(op));
    }
    return std::nullopt;
  }

  void check_all(Client& c) {
    Reply counter = c.cmd({"GET", kCounter});
    EXPECT_EQ(counter.type == REDIS_REPLY_NIL ? 0 : std::stoull(counter.str), counter_);
    check_strings(c, "");
    check_hash(c);
    check_list(c, {});
  }

  uint64_t writes() const { return counter_ + strings_.size() + fields_.size() + list_.size(); }
  // Writes in flight at a kill, and how many of them were found applied.
  uint64_t in_flight() const { return in_flight_; }
  uint64_t in_flight_applied() const { return in_flight_applied_; }

 private:
  // A list element's place in its thread's order.
  struct Order {
    int thread;
    int cycle;
    uint64_t seq;
    auto operator<=>(const Order&) const = default;
  };
  static Order order(const Op& op) { return {op.thread, op.cycle, op.seq}; }
  static std::optional<Order> parse(const std::string& id) {
    Order o{};
    if (std::sscanf(id.c_str(), "%d.%d.%" SCNu64, &o.cycle, &o.thread, &o.seq) != 3) return {};
    return o;
  }

  // The strings whose keys start with prefix, in MGETs of 500 keys.
  void check_strings(Client& c, const std::string& prefix) {
    std::vector<const std::pair<const std::string, std::string>*> batch;
    auto flush = [&] {
      std::vector<std::string> args = {"MGET"};
      for (auto* kv : batch) args.push_back(kv->first);
      Reply r = c.cmd(args);
      ASSERT_EQ(r.elements.size(), batch.size()) << "MGET failed: " << r.str;
      for (size_t i = 0; i < batch.size(); ++i) {
        ASSERT_EQ(r.elements[i].type, REDIS_REPLY_STRING) << "lost SET " << batch[i]->first;
        ASSERT_TRUE(r.elements[i].str == batch[i]->second) << "SET " << batch[i]->first << " torn";
      }
      batch.clear();
    };
    for (auto it = strings_.lower_bound(prefix); it != strings_.end(); ++it) {
      if (!it->first.starts_with(prefix)) break;
      batch.push_back(&*it);
      if (batch.size() == 500) flush();
    }
    if (!batch.empty()) flush();
  }

  void check_hash(Client& c) {
    Reply all = c.cmd({"HGETALL", kHash});
    std::map<std::string, std::string> got;
    for (size_t i = 0; i + 1 < all.elements.size(); i += 2)
      got[all.elements[i].str] = all.elements[i + 1].str;
    for (const auto& [field, value] : fields_) {
      auto it = got.find(field);
      ASSERT_TRUE(it != got.end()) << "lost HSET field " << field;
      ASSERT_EQ(it->second, value) << "HSET field " << field << " torn";
    }
    EXPECT_EQ(got.size(), fields_.size()) << "a field nobody acknowledged or sent";
  }

  // The list: each element once, each thread's in its order, every
  // acknowledged one; in-flight ones found are taken into the model.
  void check_list(Client& c, const std::vector<Worker>& workers) {
    Reply all = c.cmd({"LRANGE", kList, "0", "-1"});
    std::set<Order> seen;
    std::map<int, Order> last;  // per thread
    for (const Reply& e : all.elements) {
      std::optional<Order> o = parse(e.str);
      ASSERT_TRUE(o.has_value()) << "list element '" << e.str << "' was never pushed";
      ASSERT_TRUE(seen.insert(*o).second) << "list element " << e.str << " twice";
      if (auto it = last.find(o->thread); it != last.end()) {
        ASSERT_LT(it->second, *o) << "list element " << e.str << " out of its thread's order";
      }
      last[o->thread] = *o;
    }
    for (const Order& o : list_) {
      ASSERT_TRUE(seen.contains(o)) << "lost RPUSH " << o.cycle << "." << o.thread << "." << o.seq;
    }
    for (const Worker& w : workers) {
      for (const Op& op : w.in_flight) {
        if (op.kind == Kind::kRpush && seen.contains(order(op))) {
          list_.insert(order(op));
          ++in_flight_applied_;
        }
      }
    }
    EXPECT_EQ(seen.size(), list_.size()) << "a list element nobody acknowledged or sent";
  }

  uint64_t counter_ = 0;
  std::map<std::string, std::string> strings_;
  std::map<std::string, std::string> fields_;
  std::set<Order> list_;
  uint64_t in_flight_ = 0;
  uint64_t in_flight_applied_ = 0;
};

// With one I/O thread the server group-commits each client's batch
// (runtime/group_commit.h); with two, every write fences on its own.
class DsoKillTest : public ::testing::TestWithParam<int> {};

TEST_P(DsoKillTest, AcknowledgedWritesSurviveSigkillUnderConcurrentClients) {
  // hiredis writes with write(): a client of a killed server must get
  // EPIPE, not die of SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  const uint64_t cycles = env_or("NVOBJ_DSO_KILL_CYCLES", 50);
  const uint64_t seed = env_or("NVOBJ_DSO_KILL_SEED", std::random_device{}());
  std::printf("dso_kill_test: %" PRIu64 " kills, seed %" PRIu64 " (NVOBJ_DSO_KILL_SEED=%" PRIu64
              " replays the kill points)\n",
              cycles, seed, seed);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);

  TempDir dir;
  std::vector<std::string> args = {"--pool", dir.file("kill.pool"), "--size", "64M"};
  args.insert(args.end(), {"--mode", "emulated", "--log-level", "error"});
  args.insert(args.end(), {"--io-threads", std::to_string(GetParam())});
  Model model;
  auto server = std::make_unique<DsoProcess>();
  ASSERT_TRUE(server->start(args));
  for (int cycle = 0; cycle < static_cast<int>(cycles); ++cycle) {
    // Mostly a few hundred writes, sometimes one or two (a kill right after
    // recovery).
    const uint64_t target = rng() % 8 == 0 ? 1 + rng() % 2 : 1 + rng() % 600;
    Cycle run(cycle, server->port(), target, /*after_batch=*/rng() % 2 == 0);
    std::vector<Worker> workers = run.run([&] {
      server->kill(SIGKILL);
      server->wait();
    });
    for (const Worker& w : workers) ASSERT_EQ(w.unexpected, "") << "kill " << cycle;
    ASSERT_TRUE(run.reached_target()) << "kill " << cycle << ": the server died on its own";

    server = std::make_unique<DsoProcess>();
    ASSERT_TRUE(server->start(args)) << "no restart after kill " << cycle;
    Client c(server->port());
    ASSERT_TRUE(c.ok());
    model.check(c, workers, cycle);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // A clean shutdown keeps it all too.
  {
    Client c(server->port());
    c.cmd({"SHUTDOWN"});
  }
  EXPECT_EQ(server->wait(), 0);
  server = std::make_unique<DsoProcess>();
  ASSERT_TRUE(server->start(args));
  Client c(server->port());
  model.check_all(c);
  std::printf("dso_kill_test: %" PRIu64 " kills, %" PRIu64 " durable writes checked; %" PRIu64
              " writes in flight at a kill, %" PRIu64 " of them found applied\n",
              cycles, model.writes(), model.in_flight(), model.in_flight_applied());
}

INSTANTIATE_TEST_SUITE_P(IoThreads, DsoKillTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == 1 ? "OneIoThreadGroupCommit" : "TwoIoThreads";
                         });

}  // namespace
}  // namespace nvobj::testing
