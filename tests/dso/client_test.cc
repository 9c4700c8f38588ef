// nvobj::dso::Client (dso-backend/client) end to end against the real
// nvobj-dso: every proxy method, errors and their kinds, server-side and
// client-side timeouts, AUTH, the connection pool under contention, a
// pooled connection outliving a server restart, IDEMPOTENT module calls
// retried across a SIGKILL and restart (applied once), and persistent
// objects across a restart. The server runs with the test module
// (modules/counter_module.cc, "test.Counter").
#include "dso-backend/client/client.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dso/dso_testing.h"
#include "tests/testing/temp_dir.h"

namespace nvobj::testing {
namespace {

using dso::ConnectionError;
using dso::Persistence;
using dso::TimeoutError;
using std::chrono::milliseconds;
using StringPairs = std::vector<std::pair<std::string, std::string>>;

constexpr char kCounter[] = "test.Counter";

// The dso::Error fn throws (a test failure if it throws none).
template <typename Fn>
dso::Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const dso::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no dso::Error thrown";
  return dso::Error(dso::Error::Kind::kProtocol, "", "(none)");
}

class DsoClientTest : public ::testing::Test {
 protected:
  // The server on its pool; port 0 picks a free port, a restart passes the
  // old one so that clients find the server again.
  void start(DsoProcess* p, int port = 0, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {
        "--pool",        dir_.file("dso.pool"), "--size", "64M", "--mode", "emulated",
        "--load-module", NVOBJ_COUNTER_MODULE};
    a.insert(a.end(), extra.begin(), extra.end());
    ASSERT_TRUE(p->start(a, port));
  }
  dso::ClientOptions options(int port) {
    dso::ClientOptions o;
    o.port = port;
    return o;
  }
  // Starts server_ and returns a client of it with the default options.
  dso::Client& serve() {
    start(&server_);
    client_ = std::make_unique<dso::Client>(options(server_.port()));
    return *client_;
  }

  TempDir dir_;  // outlives the server (declared first, destroyed last)
  DsoProcess server_;
  std::unique_ptr<dso::Client> client_;
};

TEST_F(DsoClientTest, AtomicLong) {
  dso::Client& c = serve();
  auto n = c.atomic_long("n");
  EXPECT_EQ(n.get(), 0);                 // absent reads as 0
  EXPECT_TRUE(n.compare_and_set(0, 5));  // absent matches 0
  EXPECT_EQ(n.get(), 5);
  EXPECT_FALSE(n.compare_and_set(4, 6));
  EXPECT_EQ(n.get(), 5);
  EXPECT_TRUE(n.compare_and_set(5, 0));
  EXPECT_TRUE(n.compare_and_set(0, 7));  // a stored "0" matches 0 too
  EXPECT_EQ(n.increment_and_get(), 8);
  EXPECT_EQ(n.decrement_and_get(), 7);
  EXPECT_EQ(n.add_and_get(10), 17);
  EXPECT_EQ(n.get_and_add(3), 17);
  EXPECT_EQ(n.get(), 20);
  n.set(-4);
  EXPECT_EQ(n.get(), -4);
  c.call("SET", "text", "abc");
  {
    dso::Error e = error_of([&] { c.atomic_long("text").increment_and_get(); });
    EXPECT_EQ(e.kind(), dso::Error::Kind::kServer);
    EXPECT_EQ(e.code(), "ERR");
    EXPECT_STREQ(e.what(), "ERR value is not an integer or out of range");
  }
  EXPECT_THROW(c.atomic_long("text").get(), dso::Error);
}

TEST_F(DsoClientTest, AtomicBooleanAndReference) {
  dso::Client& c = serve();
  auto b = c.atomic_boolean("b");
  EXPECT_FALSE(b.get());
  EXPECT_FALSE(b.compare_and_set(true, false));
  EXPECT_TRUE(b.compare_and_set(false, true));  // absent matches false
  EXPECT_TRUE(b.get());
  EXPECT_TRUE(b.get_and_set(false));
  EXPECT_FALSE(b.get());
  EXPECT_TRUE(b.compare_and_set(false, true));  // a stored false matches too
  b.set(false);
  EXPECT_FALSE(b.get());

  auto r = c.atomic_reference("r");
  EXPECT_EQ(r.get(), std::nullopt);
  EXPECT_FALSE(r.compare_and_set("x", "y"));
  EXPECT_TRUE(r.compare_and_set(std::nullopt, std::string("bin\0ary", 7)));
  EXPECT_EQ(r.get(), std::string("bin\0ary", 7));
  EXPECT_FALSE(r.compare_and_set(std::nullopt, "z"));
  EXPECT_TRUE(r.compare_and_set(std::string("bin\0ary", 7), "two"));
  EXPECT_EQ(r.get_and_set("three"), "two");
  r.set("four");
  EXPECT_EQ(r.get(), "four");
}

TEST_F(DsoClientTest, Map) {
  dso::Client& c = serve();
  auto m = c.map("m");
  EXPECT_EQ(m.size(), 0);
  EXPECT_EQ(m.get("a"), std::nullopt);
  EXPECT_TRUE(m.put("a", "1"));
  EXPECT_FALSE(m.put("a", "2"));  // replaced, not new
  EXPECT_TRUE(m.put("b", "3"));
  EXPECT_EQ(m.get("a"), "2");
  EXPECT_TRUE(m.contains("b"));
  EXPECT_FALSE(m.contains("c"));
  EXPECT_EQ(m.size(), 2);
  auto entries = m.entries();
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (StringPairs{{"a", "2"}, {"b", "3"}}));
  EXPECT_TRUE(m.remove("a"));
  EXPECT_FALSE(m.remove("a"));
  EXPECT_EQ(m.size(), 1);
  m.clear();
  EXPECT_EQ(m.size(), 0);
}

TEST_F(DsoClientTest, List) {
  dso::Client& c = serve();
  auto l = c.list("l");
  EXPECT_EQ(l.size(), 0);
  EXPECT_EQ(l.pop(), std::nullopt);
  EXPECT_EQ(l.push("b"), 1);
  EXPECT_EQ(l.push("c"), 2);
  EXPECT_EQ(l.push_front("a"), 3);
  EXPECT_EQ(l.range(0, -1), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(l.get(1), "b");
  EXPECT_EQ(l.get(-1), "c");
  EXPECT_EQ(l.get(3), std::nullopt);
  l.set(1, "B");
  EXPECT_EQ(l.get(1), "B");
  {
    dso::Error e = error_of([&] { l.set(9, "x"); });
    EXPECT_STREQ(e.what(), "ERR index out of range");
  }
  EXPECT_EQ(l.pop(), "c");
  EXPECT_EQ(l.pop_front(), "a");
  EXPECT_EQ(l.size(), 1);
  l.clear();
  EXPECT_EQ(l.size(), 0);
}

TEST_F(DsoClientTest, CyclicBarrier) {
  dso::Client& c = serve();
  constexpr int kParties = 4;
  auto b = c.barrier("b", kParties);
  c.barrier("b", kParties);  // DSO.NEW again: the same barrier
  for (int generation = 0; generation < 3; ++generation) {
    std::vector<int64_t> got(kParties);
    std::vector<std::thread> t;
    for (int i = 0; i < kParties; ++i) t.emplace_back([&, i] { got[i] = b.await(); });
    for (auto& th : t) th.join();
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3})) << "generation " << generation;
  }
  // Alone at a barrier of 4: the wait times out and is withdrawn, so the
  // next generation still needs 4 arrivals (checked by the next round).
  EXPECT_THROW(b.await(milliseconds(50)), TimeoutError);
  {
    dso::Error e = error_of([&] { b.await(milliseconds(0)); });
    EXPECT_EQ(e.kind(), dso::Error::Kind::kTimeout);
    EXPECT_EQ(e.code(), "TIMEOUT");
  }
  std::vector<int64_t> got(kParties);
  std::vector<std::thread> t;
  for (int i = 0; i < kParties; ++i)
    t.emplace_back([&, i] { got[i] = b.await(std::chrono::seconds(60)); });
  for (auto& th : t) th.join();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(c.barrier("one", 1).await(), 0);
  // Another type at the key.
  c.call("SET", "s", "v");
  {
    dso::Error e = error_of([&] { c.barrier("s", 2); });
    EXPECT_EQ(e.code(), "WRONGTYPE");
  }
  {
    dso::Error e = error_of([&] { dso::CyclicBarrier(c, "absent").await(); });
    EXPECT_STREQ(e.what(), "ERR no such object");
  }
}

TEST_F(DsoClientTest, Semaphore) {
  dso::Client& c = serve();
  auto s = c.semaphore("s", 2);
  EXPECT_EQ(s.available(), 2);
  s.acquire();
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire(1, milliseconds(30)));  // times out, takes nothing
  EXPECT_EQ(s.available(), 0);
  // A parked acquire of 2, granted by the releases.
  std::thread waiter([&] { s.acquire(2); });
  s.release();
  s.release();
  waiter.join();
  EXPECT_EQ(s.available(), 0);
  s.release(3);
  EXPECT_TRUE(s.try_acquire(3, milliseconds(60000)));
  EXPECT_EQ(s.available(), 0);
  EXPECT_THROW(s.acquire(0), dso::Error);  // permits must be positive
}

TEST_F(DsoClientTest, CountDownLatchAndFuture) {
  dso::Client& c = serve();
  auto l = c.latch("l", 2);
  EXPECT_EQ(l.count(), 2);
  EXPECT_FALSE(l.await(milliseconds(20)));
  std::thread waiter([&] { l.await(); });
  EXPECT_EQ(l.count_down(), 1);
  EXPECT_EQ(l.count_down(), 0);
  waiter.join();
  EXPECT_EQ(l.count_down(), 0);
  EXPECT_TRUE(l.await(milliseconds(0)));  // already open: no wait

  auto f = c.future("f");
  EXPECT_FALSE(f.is_done());
  EXPECT_THROW(f.get(milliseconds(20)), TimeoutError);
  std::string got;
  std::thread getter([&] { got = f.get(); });
  f.set(std::string("v\0alue", 6));
  getter.join();
  EXPECT_EQ(got, std::string("v\0alue", 6));
  EXPECT_TRUE(f.is_done());
  EXPECT_EQ(f.get(milliseconds(0)), got);
  {
    dso::Error e = error_of([&] { f.set("again"); });
    EXPECT_STREQ(e.what(), "ERR future already set");
  }
}

TEST_F(DsoClientTest, ModuleObjects) {
  dso::Client& c = serve();
  auto n = c.object(kCounter, "n");
  EXPECT_TRUE(n.create(100));
  EXPECT_FALSE(n.create(7));  // there already: left as it is
  EXPECT_EQ(n.call("add", 5).as_integer(), 105);
  EXPECT_EQ(n.call("get").as_integer(), 105);
  // Arguments: strings, integers, doubles (shortest exact form), ranges.
  std::vector<double> xs = {0.1, -2.5};
  EXPECT_EQ(n.call("args", "s", int64_t{-3}, 1e-7, xs).as_strings(),
            (std::vector<std::string>{"s", "-3", "1e-07", "0.1", "-2.5"}));
  {
    dso::Error e = error_of([&] { n.call("nope"); });
    EXPECT_STREQ(e.what(), "ERR unknown method 'nope' of type 'test.Counter'");
  }
  EXPECT_THROW(c.object(kCounter, "absent").call("get"), dso::Error);
  EXPECT_THROW(n.call_with_id(1, "add", 1), dso::Error);  // not idempotent

  // Idempotent: generated caller, increasing ids; an explicit repeat of an
  // id is answered from the record without running.
  auto w = c.object(kCounter, "n").idempotent();
  EXPECT_EQ(w.caller_id().size(), 34u);
  EXPECT_EQ(w.call("add", 1).as_integer(), 106);
  EXPECT_EQ(w.call("add", 1).as_integer(), 107);
  EXPECT_EQ(w.next_call_id(), 3);
  EXPECT_EQ(w.call_with_id(2, "add", 1).as_integer(), 107);  // a retry of call 2
  EXPECT_EQ(n.call("get").as_integer(), 107);
  {
    dso::Error e = error_of([&] { w.call_with_id(1, "add", 1); });
    EXPECT_EQ(e.code(), "ERR");
    EXPECT_NE(std::string(e.what()).find("stale call id 1"), std::string::npos);
  }
  // A worker's own caller id and numbering (an iteration number).
  auto it = c.object(kCounter, "n").idempotent("worker-1", 10);
  EXPECT_EQ(it.call("add", 10).as_integer(), 117);
  EXPECT_EQ(it.call_with_id(10, "add", 10).as_integer(), 117);
  EXPECT_EQ(it.call_with_id(20, "add", 10).as_integer(), 127);
  EXPECT_EQ(it.next_call_id(), 21);
}

TEST_F(DsoClientTest, Password) {
  DsoProcess p;
  start(&p, 0, {"--requirepass", "s3cret"});
  {
    dso::Client c(options(p.port()));
    try {
      c.atomic_long("n").get();
      FAIL() << "no AUTH";
    } catch (const dso::Error& e) {
      EXPECT_EQ(e.kind(), dso::Error::Kind::kServer);
      EXPECT_EQ(e.code(), "NOAUTH");
    }
  }
  {
    auto o = options(p.port());
    o.password = "wrong";
    dso::Client c(o);
    try {
      c.ping();
      FAIL() << "a wrong password";
    } catch (const dso::Error& e) {
      EXPECT_EQ(e.kind(), dso::Error::Kind::kServer);
    }
    EXPECT_EQ(c.open_connections(), 0u);  // the refused connection was not kept
  }
  auto o = options(p.port());
  o.password = "s3cret";
  dso::Client c(o);
  EXPECT_EQ(c.atomic_long("n").increment_and_get(), 1);
}

TEST_F(DsoClientTest, Timeouts) {
  DsoProcess p;
  start(&p);
  auto o = options(p.port());
  o.command_timeout = milliseconds(100);
  o.retries = 0;
  dso::Client c(o);
  c.future("f");
  // A blocking command sent as an ordinary one: the client's command
  // timeout ends it and drops the connection.
  try {
    c.command({"DSO.FUTURE.GET", "f"});
    FAIL() << "the command timeout";
  } catch (const ConnectionError& e) {
    EXPECT_TRUE(e.timed_out());
  }
  EXPECT_EQ(c.open_connections(), 0u);
  // A blocking call's wait is not bounded by the command timeout: it gets
  // the server's -TIMEOUT, then the value once it is set.
  EXPECT_THROW(c.future("f").get(milliseconds(300)), TimeoutError);
  c.future("f").set("x");
  EXPECT_EQ(c.future("f").get(milliseconds(300)), "x");

  // Nothing listening: connection errors, after the retries.
  int port = p.port();
  p.kill(SIGKILL);
  p.wait();
  auto dead = options(port);
  dead.retries = 2;
  dead.retry_backoff = milliseconds(1);
  dso::Client d(dead);
  try {
    d.ping();
    FAIL() << "no server";
  } catch (const ConnectionError& e) {
    EXPECT_FALSE(e.timed_out());
    EXPECT_EQ(e.kind(), dso::Error::Kind::kConnection);
  }
}

// A request the server refuses half-way (a bulk longer than
// --proto-max-bulk-len) and closes the connection on: the client's writes
// after the close must not raise SIGPIPE (which would kill this process);
// the call is an error and the next one works.
TEST_F(DsoClientTest, ConnectionClosedMidRequestIsNoSigpipe) {
  DsoProcess p;
  start(&p, 0, {"--proto-max-bulk-len", "1mb"});
  auto o = options(p.port());
  o.retries = 0;
  dso::Client c(o);
  EXPECT_THROW(c.atomic_reference("big").set(std::string(size_t{64} << 20, 'x')), dso::Error);
  EXPECT_EQ(c.atomic_long("n").increment_and_get(), 1);
}

// 16 threads through a pool of 4 connections: every increment counted
// once, never more than 4 connections open.
TEST_F(DsoClientTest, PoolUnderContention) {
  DsoProcess p;
  start(&p);
  auto o = options(p.port());
  o.pool_size = 4;
  dso::Client c(o);
  constexpr int kThreads = 16, kIncrements = 300;
  auto n = c.atomic_long("n");
  auto m = c.map("seen");
  std::vector<std::thread> t;
  std::atomic<size_t> most_open{0};
  for (int i = 0; i < kThreads; ++i)
    t.emplace_back([&, i] {
      for (int j = 0; j < kIncrements; ++j) {
        int64_t v = n.increment_and_get();
        if (j % 50 == 0) m.put(std::to_string(v), std::to_string(i));
        size_t open = c.open_connections(), seen = most_open.load();
        while (open > seen && !most_open.compare_exchange_weak(seen, open)) {
        }
      }
    });
  for (auto& th : t) th.join();
  EXPECT_EQ(n.get(), kThreads * kIncrements);
  EXPECT_EQ(m.size(), kThreads * (kIncrements / 50));  // each value handed out once
  EXPECT_LE(most_open.load(), 4u);
  EXPECT_GE(c.open_connections(), 1u);
}

// The server restarts under a client: its pooled connections are closed;
// the next calls (writes included, which are never resent) notice that
// before sending and use fresh connections.
TEST_F(DsoClientTest, PooledConnectionsOutliveARestart) {
  DsoProcess p;
  start(&p);
  int port = p.port();
  auto o = options(port);
  o.pool_size = 2;
  dso::Client c(o);
  auto n = c.atomic_long("n");
  c.call("DSO.NEW", kCounter, "k");  // (module objects are persistent)
  EXPECT_EQ(n.increment_and_get(), 1);
  EXPECT_EQ(c.open_connections(), 1u);
  p.kill(SIGKILL);
  p.wait();
  start(&p, port);
  EXPECT_EQ(n.increment_and_get(), 2);  // the string survived; INCRBY sent once
  EXPECT_EQ(c.object(kCounter, "k").call("add", 1).as_integer(), 1);
}

// An IDEMPOTENT call whose server dies after the call committed, before
// replying: the client resends it with the same ids to the restarted
// server and gets the first reply; the call applied once. A call that is
// not idempotent throws ConnectionError instead, and did apply.
TEST_F(DsoClientTest, IdempotentRetryAcrossSigkill) {
  DsoProcess p;
  start(&p);
  int port = p.port();
  auto o = options(port);
  o.retries = 200;
  o.retry_backoff_max = milliseconds(50);
  dso::Client c(o);
  ASSERT_TRUE(c.object(kCounter, "n").create(100));
  auto restart = [&] {
    int status = p.wait();  // the module's method killed it
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    start(&p, port);
  };
  {
    std::thread restarter(restart);
    auto w = c.object(kCounter, "n").idempotent();
    EXPECT_EQ(w.call("add_then_die_after_commit", 5).as_integer(), 105);
    restarter.join();
    EXPECT_EQ(w.call("get").as_integer(), 105);  // applied once
  }
  {
    std::thread restarter(restart);
    auto plain = c.object(kCounter, "n");
    EXPECT_THROW(plain.call("add_then_die_after_commit", 1), ConnectionError);
    restarter.join();
    EXPECT_EQ(plain.call("get").as_integer(), 106);  // it did run
  }
}

// Eight threads make idempotent calls while the server is SIGKILLed and
// restarted three times at whatever point they are: every call applied
// exactly once.
TEST_F(DsoClientTest, IdempotentCallsUnderRepeatedKills) {
  DsoProcess p;
  start(&p);
  int port = p.port();
  auto o = options(port);
  o.retries = 400;
  o.retry_backoff_max = milliseconds(50);
  dso::Client c(o);
  ASSERT_TRUE(c.object(kCounter, "n").create());
  constexpr int kThreads = 8, kCalls = 150, kKills = 3;
  std::atomic<int> acked{0};
  std::mutex mu;
  std::condition_variable progressed;
  std::vector<std::thread> t;
  for (int i = 0; i < kThreads; ++i)
    t.emplace_back([&] {
      auto w = c.object(kCounter, "n").idempotent();
      for (int j = 0; j < kCalls; ++j) {
        w.call("add", 1);
        {
          std::lock_guard lock(mu);
          acked.fetch_add(1);
        }
        progressed.notify_all();
      }
    });
  for (int k = 1; k <= kKills; ++k) {
    {
      // Kill once the calls reached the next quarter, wherever each is.
      std::unique_lock lock(mu);
      progressed.wait(lock, [&] { return acked.load() >= k * kThreads * kCalls / (kKills + 1); });
    }
    p.kill(SIGKILL);
    p.wait();
    start(&p, port);
  }
  for (auto& th : t) th.join();
  EXPECT_EQ(c.object(kCounter, "n").call("get").as_integer(), kThreads * kCalls);
}

// Persistent objects keep their state across SIGKILL; ephemeral ones are
// gone.
TEST_F(DsoClientTest, PersistentObjectsSurviveARestart) {
  DsoProcess p;
  start(&p);
  int port = p.port();
  auto o = options(port);
  dso::Client c(o);
  c.semaphore("sem", 5, Persistence::kPersistent).acquire(2);
  c.latch("latch", 3, Persistence::kPersistent).count_down();
  c.future("fut", Persistence::kPersistent).set("done");
  c.barrier("bar", 3, Persistence::kPersistent);
  c.semaphore("gone", 5);
  c.atomic_long("n").set(42);
  c.map("m").put("f", "v");
  c.object(kCounter, "k").create(9);
  p.kill(SIGKILL);
  p.wait();
  start(&p, port);
  EXPECT_EQ(dso::Semaphore(c, "sem").available(), 3);
  EXPECT_EQ(dso::CountDownLatch(c, "latch").count(), 2);
  EXPECT_EQ(dso::Future(c, "fut").get(milliseconds(0)), "done");
  EXPECT_EQ(c.call("TYPE", "bar").as_string(), "barrier");
  EXPECT_EQ(c.call("EXISTS", "gone").as_integer(), 0);
  EXPECT_EQ(c.atomic_long("n").get(), 42);
  EXPECT_EQ(c.map("m").get("f"), "v");
  EXPECT_EQ(c.object(kCounter, "k").call("get").as_integer(), 9);
}

}  // namespace
}  // namespace nvobj::testing
