// The DSO coordination objects and parking without the network: commands
// run through the CommandTable over an ObjectSpace (on the volatile and the
// nvobj backend), with clients whose completed waiters are collected
// instead of posted to a connection. Barrier, semaphore, latch and future
// semantics, withdrawal against completion, objects in the key space (TYPE,
// EXISTS, DEL, SET over, RENAME, KEYS, SCAN, DBSIZE, FLUSHALL), persistent
// objects across a reopen, and threads racing acquire, release and
// withdrawal.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dso-backend/backend.h"
#include "dso-backend/commands.h"
#include "dso-backend/objects/coordination.h"
#include "dso-backend/objects/object_space.h"
#include "recovery/store_open.h"
#include "tests/testing/temp_dir.h"

namespace nvobj::dso {
namespace {

// A client of the command layer. Completed waiters arrive (from whichever
// thread completed them) in done_; reply() writes the parked call's reply.
class FakeClient {
 public:
  explicit FakeClient(bool can_park = true) {
    if (can_park)
      state.deliver = [this](std::shared_ptr<Waiter> w) {
        std::lock_guard l(mu_);
        done_.push_back(std::move(w));
        cv_.notify_all();
      };
  }
  bool parked() const { return state.parked != nullptr; }
  // Whether the parked call has completed (its reply delivered).
  bool completed() {
    std::lock_guard l(mu_);
    return !done_.empty();
  }
  // The parked call's reply once it completed (waits for it).
  std::string reply() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return !done_.empty(); });
    std::shared_ptr<Waiter> w = std::move(done_.front());
    done_.erase(done_.begin());
    l.unlock();
    EXPECT_EQ(w, state.parked);
    std::string out;
    ReplyWriter writer(&out);
    w->write_reply(writer);
    state.parked.reset();
    return out;
  }
  // Withdraws the parked call (a timeout or disconnect would).
  bool withdraw() {
    bool won = state.parked->withdraw();
    if (won) state.parked.reset();
    return won;
  }

  ClientState state;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Waiter>> done_;
};

class Objects {
 public:
  explicit Objects(Backend& backend) : space_(backend, ctx_.locks) {
    ctx_.backend = &space_;
    ctx_.objects = &space_;
    loaded_ = space_.load();
  }
  // The reply bytes; empty if the call parked.
  std::string run(FakeClient& c, std::vector<std::string> args) {
    std::string out;
    ReplyWriter writer(&out);
    table_.execute(ctx_, c.state, args, writer);
    EXPECT_EQ(out.empty(), c.parked()) << args[0];
    return out;
  }
  std::string run(std::vector<std::string> args) {
    FakeClient c(false);
    return run(c, std::move(args));
  }
  ObjectSpace& space() { return space_; }
  size_t loaded() const { return loaded_; }

 private:
  ServerContext ctx_;
  ObjectSpace space_;
  CommandTable table_;
  size_t loaded_ = 0;
};

const std::string kOk = "+OK\r\n";
const std::string kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const std::string kNoObject = "-ERR no such object\r\n";
const std::string kTimeout = "-TIMEOUT the wait timed out\r\n";

std::string integer(int64_t n) { return ":" + std::to_string(n) + "\r\n"; }
std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

class ObjectsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> backend_ = make_volatile_backend();
  Objects o_{*backend_};
};

TEST_F(ObjectsTest, BarrierTripsWithArrivalIndexesAndResets) {
  EXPECT_EQ(o_.run({"DSO.NEW", "barrier", "b", "3"}), integer(1));
  EXPECT_EQ(o_.run({"DSO.NEW", "BARRIER", "b", "7"}), integer(0)) << "idempotent";
  for (int generation = 0; generation < 3; ++generation) {
    FakeClient a, b, c;
    EXPECT_EQ(o_.run(a, {"DSO.BARRIER.AWAIT", "b"}), "");
    EXPECT_EQ(o_.run(b, {"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "100000"}), "");
    EXPECT_FALSE(a.completed());
    EXPECT_EQ(o_.run(c, {"dso.barrier.await", "b"}), integer(0));
    EXPECT_EQ(a.reply(), integer(2));
    EXPECT_EQ(b.reply(), integer(1));
  }
  auto b = std::static_pointer_cast<Barrier>(o_.space().find("b"));
  EXPECT_EQ(b->generation(), 3u);
  EXPECT_EQ(b->parties(), 3);
  EXPECT_EQ(o_.run({"DSO.NEW", "barrier", "one", "1"}), integer(1));
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "one"}), integer(0)) << "one party never waits";
}

TEST_F(ObjectsTest, WithdrawnBarrierArrivalNoLongerCounts) {
  o_.run({"DSO.NEW", "barrier", "b", "3"});
  FakeClient a, b, c, d;
  o_.run(a, {"DSO.BARRIER.AWAIT", "b"});
  o_.run(b, {"DSO.BARRIER.AWAIT", "b"});
  EXPECT_TRUE(b.withdraw());
  EXPECT_FALSE(b.completed());
  EXPECT_EQ(o_.run(c, {"DSO.BARRIER.AWAIT", "b"}), "") << "b's arrival was withdrawn";
  EXPECT_EQ(o_.run(d, {"DSO.BARRIER.AWAIT", "b"}), integer(0));
  EXPECT_EQ(a.reply(), integer(2));
  EXPECT_EQ(c.reply(), integer(1));
  // TIMEOUT 0: an arrival that would wait does not arrive at all.
  FakeClient e;
  EXPECT_EQ(o_.run(e, {"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "0"}), kTimeout);
  EXPECT_EQ(o_.run(a, {"DSO.BARRIER.AWAIT", "b"}), "");
  EXPECT_EQ(o_.run(c, {"DSO.BARRIER.AWAIT", "b"}), "");
  EXPECT_EQ(o_.run(d, {"DSO.BARRIER.AWAIT", "b"}), integer(0));
  EXPECT_EQ(a.reply(), integer(2));
  EXPECT_EQ(c.reply(), integer(1));
}

TEST_F(ObjectsTest, CompletionAndWithdrawalAreExclusive) {
  o_.run({"DSO.NEW", "future", "f"});
  FakeClient a, b;
  o_.run(a, {"DSO.FUTURE.GET", "f"});
  o_.run(b, {"DSO.FUTURE.GET", "f"});
  EXPECT_TRUE(b.withdraw());
  EXPECT_FALSE(b.state.parked);
  EXPECT_EQ(o_.run({"DSO.FUTURE.SET", "f", "v"}), kOk);
  std::shared_ptr<Waiter> w = a.state.parked;
  EXPECT_FALSE(w->withdraw()) << "completed first";
  EXPECT_FALSE(w->complete([](ReplyWriter& out) { out.null(); })) << "completes once";
  EXPECT_EQ(a.reply(), bulk("v"));
  EXPECT_FALSE(b.completed());
}

TEST_F(ObjectsTest, SemaphoreIsFifoAndAWithdrawnHeadLetsOthersThrough) {
  EXPECT_EQ(o_.run({"DSO.NEW", "semaphore", "s", "2"}), integer(1));
  FakeClient a, b, c;
  EXPECT_EQ(o_.run(a, {"DSO.SEM.ACQUIRE", "s", "2"}), kOk);
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(0));
  EXPECT_EQ(o_.run(b, {"DSO.SEM.ACQUIRE", "s", "2", "TIMEOUT", "5000"}), "");
  EXPECT_EQ(o_.run(c, {"DSO.SEM.ACQUIRE", "s"}), "");
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s"}), kOk);
  EXPECT_FALSE(c.completed()) << "FIFO: c is behind b, which needs 2";
  EXPECT_EQ(o_.run({"DSO.SEM.TRYACQUIRE", "s"}), integer(0)) << "no barging either";
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(1));
  EXPECT_TRUE(b.withdraw());  // b's timeout
  EXPECT_EQ(c.reply(), kOk) << "the withdrawn head let c through";
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(0));
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s", "3"}), kOk);
  EXPECT_EQ(o_.run({"DSO.SEM.TRYACQUIRE", "s", "2"}), integer(1));
  EXPECT_EQ(o_.run({"DSO.SEM.TRYACQUIRE", "s", "2"}), integer(0));
  EXPECT_EQ(o_.run({"DSO.SEM.ACQUIRE", "s", "2", "TIMEOUT", "0"}), kTimeout);
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(1));
  // Several grants from one release, in order.
  FakeClient d, e, f;
  o_.run(d, {"DSO.SEM.ACQUIRE", "s", "2"});
  o_.run(e, {"DSO.SEM.ACQUIRE", "s", "1"});
  o_.run(f, {"DSO.SEM.ACQUIRE", "s", "5"});
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s", "2"}), kOk);
  EXPECT_EQ(d.reply(), kOk);
  EXPECT_EQ(e.reply(), kOk);
  EXPECT_FALSE(f.completed());
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(0));
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s", "9223372036854775807"}), kOk);
  EXPECT_EQ(f.reply(), kOk);
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s", "6"}),
            "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(9223372036854775802));
}

TEST_F(ObjectsTest, LatchAndFuture) {
  o_.run({"DSO.NEW", "latch", "l", "2"});
  FakeClient a;
  EXPECT_EQ(o_.run(a, {"DSO.LATCH.AWAIT", "l"}), "");
  EXPECT_EQ(o_.run({"DSO.LATCH.COUNTDOWN", "l"}), integer(1));
  EXPECT_FALSE(a.completed());
  EXPECT_EQ(o_.run({"DSO.LATCH.COUNT", "l"}), integer(1));
  EXPECT_EQ(o_.run({"DSO.LATCH.COUNTDOWN", "l"}), integer(0));
  EXPECT_EQ(a.reply(), kOk);
  EXPECT_EQ(o_.run({"DSO.LATCH.COUNTDOWN", "l"}), integer(0)) << "stays at 0";
  EXPECT_EQ(o_.run({"DSO.LATCH.AWAIT", "l", "TIMEOUT", "0"}), kOk);
  o_.run({"DSO.NEW", "latch", "open", "0"});
  EXPECT_EQ(o_.run({"DSO.LATCH.AWAIT", "open"}), kOk);

  o_.run({"DSO.NEW", "future", "f"});
  EXPECT_EQ(o_.run({"DSO.FUTURE.ISDONE", "f"}), integer(0));
  EXPECT_EQ(o_.run({"DSO.FUTURE.GET", "f", "TIMEOUT", "0"}), kTimeout);
  std::string value("a b\0\r\n", 6);
  EXPECT_EQ(o_.run({"DSO.FUTURE.SET", "f", value}), kOk);
  EXPECT_EQ(o_.run({"DSO.FUTURE.SET", "f", "again"}), "-ERR future already set\r\n");
  EXPECT_EQ(o_.run({"DSO.FUTURE.GET", "f"}), bulk(value));
  EXPECT_EQ(o_.run({"DSO.FUTURE.ISDONE", "f"}), integer(1));
}

TEST_F(ObjectsTest, Errors) {
  o_.run({"SET", "str", "x"});
  o_.run({"DSO.NEW", "barrier", "b", "2"});
  EXPECT_EQ(o_.run({"DSO.SEM.ACQUIRE", "nope"}), kNoObject);
  EXPECT_EQ(o_.run({"DSO.SEM.ACQUIRE", "str"}), kWrongType);
  EXPECT_EQ(o_.run({"DSO.SEM.ACQUIRE", "b"}), kWrongType);
  EXPECT_EQ(o_.run({"DSO.NEW", "latch", "b", "1"}), kWrongType);
  EXPECT_EQ(o_.run({"DSO.NEW", "latch", "str", "1"}), kWrongType);
  EXPECT_EQ(o_.run({"GET", "b"}), kWrongType);
  EXPECT_EQ(o_.run({"HSET", "b", "f", "v"}), kWrongType);
  EXPECT_EQ(o_.run({"LPUSH", "b", "v"}), kWrongType);
  EXPECT_EQ(o_.run({"ZADD", "b", "1", "m"}), kWrongType);
  EXPECT_EQ(o_.run({"DSO.CAS", "b", "", "x"}), kWrongType);
  EXPECT_EQ(o_.run({"DSO.NEW", "queue", "q"}), "-ERR unknown type 'queue'\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "barrier", "z", "0"}),
            "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "semaphore", "z", "-1"}),
            "-ERR value is out of range, must not be negative\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "latch", "z", "x"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "latch", "z"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "future", "z", "1"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.NEW", "barrier", "z", "PERSISTENT", "2", "3"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "b", "TIMEOUT"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "b", "WAIT", "1"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "-1"}), "-ERR timeout is negative\r\n");
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "1.5"}),
            "-ERR timeout is not an integer or out of range\r\n");
  o_.run({"DSO.NEW", "semaphore", "s", "1"});
  EXPECT_EQ(o_.run({"DSO.SEM.ACQUIRE", "s", "0"}),
            "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(o_.run({"DSO.SEM.RELEASE", "s", "1", "2"}), "-ERR syntax error\r\n");
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE"}),
            "-ERR wrong number of arguments for 'dso.sem.available' command\r\n");
  // A client that cannot park (no connection) is told so, and nothing waits.
  EXPECT_EQ(o_.run({"DSO.BARRIER.AWAIT", "b"}),
            "-ERR this client cannot wait for a blocking call\r\n");
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(1));
  EXPECT_EQ(o_.space().find("b")->waiting(), 0u);
  // Shadow keys are reserved.
  std::string shadow = std::string(ObjectSpace::kShadowPrefix) + "k";
  EXPECT_TRUE(o_.run({"SET", shadow, "x"}).starts_with("-ERR keys beginning with "));
  EXPECT_TRUE(o_.run({"TYPE", shadow}).starts_with("-ERR keys beginning with "));
}

TEST_F(ObjectsTest, ObjectsShareTheKeySpace) {
  o_.run({"SET", "str", "x"});
  o_.run({"DSO.NEW", "barrier", "b", "2"});
  o_.run({"DSO.NEW", "semaphore", "s", "1"});
  o_.run({"DSO.NEW", "latch", "l", "1"});
  o_.run({"DSO.NEW", "future", "f"});
  EXPECT_EQ(o_.run({"TYPE", "b"}), "+barrier\r\n");
  EXPECT_EQ(o_.run({"TYPE", "s"}), "+semaphore\r\n");
  EXPECT_EQ(o_.run({"TYPE", "l"}), "+latch\r\n");
  EXPECT_EQ(o_.run({"TYPE", "f"}), "+future\r\n");
  EXPECT_EQ(o_.run({"EXISTS", "b", "s", "str", "nope"}), integer(3));
  EXPECT_EQ(o_.run({"DBSIZE"}), integer(5));
  EXPECT_EQ(o_.run({"KEYS", "[bs]"}).substr(0, 4), "*2\r\n");
  EXPECT_EQ(o_.run({"SCAN", "0", "TYPE", "latch"}), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nl\r\n");
  EXPECT_EQ(o_.run({"SETNX", "b", "x"}), integer(0));

  // DEL and SET over an object fail its parked calls.
  FakeClient a, c;
  o_.run(a, {"DSO.BARRIER.AWAIT", "b"});
  o_.run(c, {"DSO.LATCH.AWAIT", "l"});
  EXPECT_EQ(o_.run({"DEL", "b"}), integer(1));
  EXPECT_EQ(a.reply(), kNoObject);
  EXPECT_EQ(o_.run({"TYPE", "b"}), "+none\r\n");
  EXPECT_EQ(o_.run({"SET", "l", "now a string"}), kOk);
  EXPECT_EQ(c.reply(), kNoObject);
  EXPECT_EQ(o_.run({"GET", "l"}), bulk("now a string"));
  EXPECT_EQ(o_.run({"DBSIZE"}), integer(4));

  // RENAME moves an object with its parked calls.
  FakeClient g;
  o_.run(g, {"DSO.FUTURE.GET", "f"});
  EXPECT_EQ(o_.run({"RENAME", "f", "f2"}), kOk);
  EXPECT_EQ(o_.run({"TYPE", "f"}), "+none\r\n");
  EXPECT_EQ(o_.run({"DSO.FUTURE.SET", "f2", "moved"}), kOk);
  EXPECT_EQ(g.reply(), bulk("moved"));
  EXPECT_EQ(o_.run({"RENAMENX", "f2", "str"}), integer(0));
  EXPECT_EQ(o_.run({"RENAME", "f2", "str"}), kOk);
  EXPECT_EQ(o_.run({"TYPE", "str"}), "+future\r\n");
  // A withdrawal follows a RENAME to the new key's stripe.
  FakeClient h;
  o_.run(h, {"DSO.SEM.ACQUIRE", "s", "2"});
  EXPECT_EQ(o_.run({"RENAME", "s", "s2"}), kOk);
  EXPECT_TRUE(h.withdraw());
  EXPECT_EQ(o_.space().find("s2")->waiting(), 0u);

  FakeClient k;
  o_.run(k, {"DSO.SEM.ACQUIRE", "s2", "5"});
  EXPECT_EQ(o_.run({"FLUSHALL"}), kOk);
  EXPECT_EQ(k.reply(), kNoObject);
  EXPECT_EQ(o_.run({"DBSIZE"}), integer(0));
  EXPECT_EQ(o_.space().objects(), 0u);
}

TEST_F(ObjectsTest, CasGetrangeSetrange) {
  EXPECT_EQ(o_.run({"DSO.CAS", "k", "", "a"}), integer(1)) << "absent matches \"\"";
  EXPECT_EQ(o_.run({"DSO.CAS", "k", "", "b"}), integer(0));
  EXPECT_EQ(o_.run({"DSO.CAS", "k", "a", "b"}), integer(1));
  EXPECT_EQ(o_.run({"GET", "k"}), bulk("b"));
  EXPECT_EQ(o_.run({"DSO.CAS", "absent", "x", "y"}), integer(0));
  EXPECT_EQ(o_.run({"EXISTS", "absent"}), integer(0));
  o_.run({"SET", "s", "Hello World"});
  EXPECT_EQ(o_.run({"GETRANGE", "s", "0", "4"}), bulk("Hello"));
  EXPECT_EQ(o_.run({"GETRANGE", "s", "-5", "-1"}), bulk("World"));
  EXPECT_EQ(o_.run({"GETRANGE", "s", "-1", "-5"}), bulk(""));
  EXPECT_EQ(o_.run({"GETRANGE", "s", "5", "2"}), bulk(""));
  EXPECT_EQ(o_.run({"GETRANGE", "s", "-100", "100"}), bulk("Hello World"));
  EXPECT_EQ(o_.run({"GETRANGE", "none", "0", "-1"}), bulk(""));
  EXPECT_EQ(o_.run({"SETRANGE", "s", "6", "Redis"}), integer(11));
  EXPECT_EQ(o_.run({"GET", "s"}), bulk("Hello Redis"));
  EXPECT_EQ(o_.run({"SETRANGE", "pad", "3", "x"}), integer(4));
  EXPECT_EQ(o_.run({"GET", "pad"}), bulk(std::string("\0\0\0x", 4)));
  EXPECT_EQ(o_.run({"SETRANGE", "empty", "5", ""}), integer(0));
  EXPECT_EQ(o_.run({"EXISTS", "empty"}), integer(0));
  EXPECT_EQ(o_.run({"SETRANGE", "s", "-1", "x"}), "-ERR offset is out of range\r\n");
  EXPECT_EQ(o_.run({"SETRANGE", "s", "536870911", "xy"}),
            "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  o_.run({"LPUSH", "list", "x"});
  EXPECT_EQ(o_.run({"GETRANGE", "list", "0", "1"}), kWrongType);
  EXPECT_EQ(o_.run({"SETRANGE", "list", "0", ""}), kWrongType);
}

// Threads acquire (parking when they must), sometimes withdraw, and release;
// at no time do more hold a permit than there are, and at the end every
// permit is back.
TEST_F(ObjectsTest, SemaphoreRacesKeepTheCount) {
  constexpr int kPermits = 3, kThreads = 6, kRounds = 400;
  o_.run({"DSO.NEW", "semaphore", "s", std::to_string(kPermits)});
  std::atomic<int> holders{0}, max_holders{0}, withdrawn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRounds; ++i) {
        FakeClient c;
        std::string r = o_.run(c, {"DSO.SEM.ACQUIRE", "s"});
        if (r.empty()) {
          if (rng() % 3 == 0 && c.withdraw()) {
            ++withdrawn;
            continue;
          }
          r = c.reply();
        }
        EXPECT_EQ(r, kOk);
        int now = ++holders;
        int seen = max_holders.load();
        while (now > seen && !max_holders.compare_exchange_weak(seen, now)) {
        }
        --holders;
        o_.run({"DSO.SEM.RELEASE", "s"});
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_holders.load(), kPermits);
  EXPECT_EQ(o_.run({"DSO.SEM.AVAILABLE", "s"}), integer(kPermits)) << withdrawn << " withdrawn";
  EXPECT_EQ(o_.space().find("s")->waiting(), 0u);
}

// Barrier generations with one thread per party, arrivals withdrawn at
// random by a party that then arrives again.
TEST_F(ObjectsTest, BarrierRacesGiveEachIndexOnce) {
  constexpr int kParties = 4, kGenerations = 300;
  o_.run({"DSO.NEW", "barrier", "b", std::to_string(kParties)});
  std::vector<std::vector<int64_t>> indexes(kParties);
  std::vector<std::thread> threads;
  for (int t = 0; t < kParties; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int g = 0; g < kGenerations; ++g) {
        std::string r;
        for (;;) {
          FakeClient c;
          r = o_.run(c, {"DSO.BARRIER.AWAIT", "b"});
          if (!r.empty()) break;
          if (rng() % 4 != 0 || !c.withdraw()) {
            r = c.reply();
            break;
          }
        }
        indexes[t].push_back(std::stoll(r.substr(1)));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int g = 0; g < kGenerations; ++g) {
    std::vector<int64_t> seen;
    for (int t = 0; t < kParties; ++t) seen.push_back(indexes[t][g]);
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3})) << "generation " << g;
  }
}

// --- persistence --------------------------------------------------------------------

class PersistentObjectsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> open() {
    backend_.reset();
    store_.reset();
    std::string path = dir_.file("objects.pool");
    StoreOptions o;
    o.create.size = 64 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = std::filesystem::exists(path) ? open_store(path, o) : create_store(path, o);
    if (!s) throw std::runtime_error(s.status().to_string());
    store_ = std::move(*s);
    return make_nvobj_backend(*store_);
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(PersistentObjectsTest, StateSurvivesAReopenWaitersAndEphemeralObjectsDoNot) {
  backend_ = open();
  {
    Objects o(*backend_);
    o.run({"DSO.NEW", "semaphore", "s", "PERSISTENT", "5"});
    o.run({"DSO.NEW", "latch", "l", "persistent", "3"});
    o.run({"DSO.NEW", "barrier", "b", "PERSISTENT", "2"});
    o.run({"DSO.NEW", "future", "f", "PERSISTENT"});
    o.run({"DSO.NEW", "future", "unset", "PERSISTENT"});
    o.run({"DSO.NEW", "semaphore", "eph", "EPHEMERAL", "5"});
    o.run({"DSO.NEW", "latch", "eph2", "1"});
    o.run({"SET", "plain", "v"});
    EXPECT_EQ(o.run({"DSO.SEM.ACQUIRE", "s", "2"}), kOk);
    EXPECT_EQ(o.run({"DSO.LATCH.COUNTDOWN", "l"}), integer(2));
    EXPECT_EQ(o.run({"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "0"}), kTimeout);
    EXPECT_EQ(o.run({"DSO.FUTURE.SET", "f", std::string("x y\0z", 5)}), kOk);
    FakeClient parked;
    EXPECT_EQ(o.run(parked, {"DSO.SEM.ACQUIRE", "s", "10"}), "");
    EXPECT_EQ(o.run({"DBSIZE"}), integer(8));
    EXPECT_EQ(o.run({"RENAME", "unset", "moved"}), kOk);
    EXPECT_TRUE(parked.withdraw());
  }
  backend_ = open();
  Objects o(*backend_);
  EXPECT_EQ(o.loaded(), 5u);
  EXPECT_EQ(o.run({"DBSIZE"}), integer(6));
  EXPECT_EQ(o.run({"DSO.SEM.AVAILABLE", "s"}), integer(3));
  EXPECT_EQ(o.run({"DSO.LATCH.COUNT", "l"}), integer(2));
  EXPECT_EQ(o.run({"DSO.FUTURE.GET", "f"}), bulk(std::string("x y\0z", 5)));
  EXPECT_EQ(o.run({"DSO.FUTURE.ISDONE", "moved"}), integer(0));
  EXPECT_EQ(o.run({"TYPE", "unset"}), "+none\r\n");
  EXPECT_EQ(o.run({"TYPE", "b"}), "+barrier\r\n");
  EXPECT_EQ(o.run({"EXISTS", "eph", "eph2"}), integer(0));
  EXPECT_EQ(o.run({"GET", "plain"}), bulk("v"));
  EXPECT_EQ(std::static_pointer_cast<Barrier>(o.space().find("b"))->generation(), 0u);
  EXPECT_EQ(o.run({"KEYS", "*"}).substr(0, 4), "*6\r\n") << "shadow keys are hidden";
  EXPECT_EQ(o.run({"DEL", "s"}), integer(1));
  EXPECT_EQ(o.run({"SET", "l", "string now"}), kOk);
  backend_ = open();
  Objects again(*backend_);
  EXPECT_EQ(again.loaded(), 3u);
  EXPECT_EQ(again.run({"TYPE", "s"}), "+none\r\n");
  EXPECT_EQ(again.run({"GET", "l"}), bulk("string now"));
  EXPECT_EQ(again.run({"DBSIZE"}), integer(5));
}

TEST_F(PersistentObjectsTest, AShadowLeftBehindASetIsDropped) {
  // What a crash between SET's two writes over a persistent object leaves.
  backend_ = open();
  backend_->set(std::string(ObjectSpace::kShadowPrefix) + "k", "dso1 latch 4");
  backend_->set("k", "the later value");
  backend_->set(std::string(ObjectSpace::kShadowPrefix) + "bad", "dso1 latch x");
  Objects o(*backend_);
  EXPECT_EQ(o.loaded(), 0u);
  EXPECT_EQ(o.run({"GET", "k"}), bulk("the later value"));
  EXPECT_EQ(backend_->type(std::string(ObjectSpace::kShadowPrefix) + "k"), ValueType::kNone);
  EXPECT_EQ(o.run({"TYPE", "bad"}), "+none\r\n") << "unreadable state stays hidden";
}

TEST(ObjectEncoding, RoundTrips) {
  for (std::string s : {"dso1 barrier 3 17", "dso1 semaphore 0", "dso1 latch 9", "dso1 future 0",
                        "dso1 future 1 ", "dso1 future 1 a b c"}) {
    auto o = decode_object(s);
    ASSERT_NE(o, nullptr) << s;
    EXPECT_EQ(o->encode(), s);
  }
  for (std::string s :
       {"", "dso1", "dso2 latch 1", "dso1 latch", "dso1 latch -1", "dso1 latch 1 2",
        "dso1 barrier 0 0", "dso1 barrier 2", "dso1 future 2", "dso1 future 0 x", "dso1 queue 1"})
    EXPECT_EQ(decode_object(s), nullptr) << s;
}

}  // namespace
}  // namespace nvobj::dso
