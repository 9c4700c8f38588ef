// DSO objects end to end: the real nvobj-dso binary, many hiredis
// connections driven from one thread (non-blocking reads multiplexed with
// poll), parked blocking calls on barriers, semaphores, latches and
// futures: 200 connections through 100 barrier generations, contending
// acquirers with a checked holder invariant, timeouts and disconnects in
// the middle of a wait, 2,000 connections parked on one future, commands
// pipelined behind a parked one, the idle timeout and the query buffer
// limit while parked, persistent and ephemeral objects across SHUTDOWN and
// SIGKILL, errors, DSO.CAS, GETRANGE and SETRANGE.
//
// Nothing here waits for time to pass: a test that needs the server in a
// given state (N calls parked) polls INFO's blocked_clients for it. The
// deadlines (60 s) only stop a broken server from hanging the test.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "tests/dso/dso_testing.h"
#include "tests/testing/temp_dir.h"

namespace {

using nvobj::testing::Client;
using nvobj::testing::DsoProcess;
using nvobj::testing::RawSocket;
using nvobj::testing::Reply;
using Clock = std::chrono::steady_clock;

constexpr auto kGiveUp = std::chrono::seconds(60);

// One connection whose replies are read only when they have arrived, so
// that one thread can drive thousands of them.
class Conn {
 public:
  explicit Conn(int port) : c_(redisConnect("127.0.0.1", port)) {}
  ~Conn() {
    if (c_ != nullptr) redisFree(c_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return c_ != nullptr && c_->err == 0; }
  int fd() const { return c_->fd; }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data());
  }
  // Sends what was appended (commands are small: the write does not block
  // for long on a server that reads).
  void flush() {
    int done = 0;
    while (done == 0 && redisBufferWrite(c_, &done) == REDIS_OK) {
    }
  }
  void send(const std::vector<std::string>& args) {
    append(args);
    flush();
  }
  // Reads what arrived; false once the server closed the connection.
  bool fill() { return redisBufferRead(c_) == REDIS_OK; }
  // A reply already read, if any.
  bool next(Reply* r) {
    void* p = nullptr;
    if (redisGetReplyFromReader(c_, &p) != REDIS_OK || p == nullptr) return false;
    *r = nvobj::testing::convert(static_cast<redisReply*>(p));
    freeReplyObject(p);
    return true;
  }
  // Whether a reply (or the end of the connection) is waiting, without
  // blocking.
  bool readable() const {
    pollfd p{c_->fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // Blocks for the next reply (type 0 if the connection ended).
  Reply get() {
    Reply r;
    while (!next(&r)) {
      pollfd p{c_->fd, POLLIN, 0};
      if (::poll(&p, 1, 60000) <= 0 || !fill()) return Reply();
    }
    return r;
  }
  // Leaves without a word (the kernel closes the socket).
  void drop() {
    redisFree(c_);
    c_ = nullptr;
  }

 private:
  redisContext* c_;
};

// Calls on_reply(i, reply) for every reply arriving on conns[i] (a reply of
// type 0 when the server closed that connection) until done().
bool pump(std::vector<std::unique_ptr<Conn>>& conns,
          const std::function<void(size_t, const Reply&)>& on_reply,
          const std::function<bool()>& done) {
  std::vector<pollfd> fds(conns.size());
  for (size_t i = 0; i < conns.size(); ++i) fds[i] = {conns[i]->fd(), POLLIN, 0};
  const auto give_up = Clock::now() + kGiveUp;
  while (!done()) {
    if (Clock::now() > give_up) return false;
    if (::poll(fds.data(), fds.size(), 1000) < 0) return false;
    for (size_t i = 0; i < fds.size() && !done(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      bool open = conns[i]->fill();
      Reply r;
      while (conns[i]->next(&r)) on_reply(i, r);
      if (!open) {
        fds[i].fd = -1;
        on_reply(i, Reply());
      }
    }
  }
  return true;
}

std::vector<std::unique_ptr<Conn>> connect_many(int port, size_t n) {
  std::vector<std::unique_ptr<Conn>> conns;
  for (size_t i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<Conn>(port));
    if (!conns.back()->ok()) ADD_FAILURE() << "connection " << i << " failed";
  }
  return conns;
}

// INFO's blocked_clients: connections with a parked call.
long blocked(Client& c) {
  std::string info = c.cmd({"INFO", "clients"}).str;
  auto at = info.find("blocked_clients:");
  return at == std::string::npos ? -1 : std::stol(info.substr(at + 16));
}

// Polls until n calls are parked (a state the test needs before it goes on).
bool wait_blocked(Client& c, long n) {
  const auto give_up = Clock::now() + kGiveUp;
  while (blocked(c) != n)
    if (Clock::now() > give_up) return false;
  return true;
}

class DsoObjectsTest : public ::testing::Test {
 protected:
  std::vector<std::string> pool_args(std::vector<std::string> more = {}) const {
    std::vector<std::string> a = {"--pool",  dir_.file("dso.pool"), "--size", "64M", "--mode",
                                  "emulated"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }
  nvobj::testing::TempDir dir_;
};

// 200 connections await a barrier of 200 parties, each sending its next
// AWAIT once its last returned, for 100 generations: each generation hands
// out every index 0..199 once. Then the same with each connection
// pipelining all its awaits at once, which parks the first and leaves the
// rest buffered behind it.
TEST_F(DsoObjectsTest, TwoHundredConnectionsThroughAHundredBarrierGenerations) {
  constexpr size_t kParties = 200, kGenerations = 100;
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", "barrier", "b", std::to_string(kParties)}).integer, 1);
  auto conns = connect_many(p.port(), kParties);

  for (bool pipelined : {false, true}) {
    std::vector<std::vector<long long>> index(kGenerations);
    std::vector<size_t> generation(kParties, 0);
    size_t replies = 0;
    const auto start = Clock::now();
    for (auto& conn : conns) {
      for (size_t g = 0; g < (pipelined ? kGenerations : 1); ++g)
        conn->append({"DSO.BARRIER.AWAIT", "b"});
      conn->flush();
    }
    ASSERT_TRUE(pump(
        conns,
        [&](size_t i, const Reply& r) {
          ASSERT_EQ(r.type, REDIS_REPLY_INTEGER) << r.str;
          index[generation[i]].push_back(r.integer);
          ++replies;
          if (++generation[i] < kGenerations && !pipelined)
            conns[i]->send({"DSO.BARRIER.AWAIT", "b"});
        },
        [&] { return replies == kParties * kGenerations; }));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("barrier: %zu connections x %zu generations%s: %.3f s (%.1f us per generation)\n",
                kParties, kGenerations, pipelined ? ", pipelined" : "", seconds,
                seconds * 1e6 / kGenerations);
    std::vector<long long> all(kParties);
    std::iota(all.begin(), all.end(), 0);
    for (size_t g = 0; g < kGenerations; ++g) {
      std::sort(index[g].begin(), index[g].end());
      EXPECT_EQ(index[g], all) << "generation " << g;
    }
  }
  EXPECT_EQ(blocked(c), 0);
}

// Ad hoc figures for the report: one barrier round trip (every party
// arrives, the last trips it, all replies read) with 2 and 16 connections.
// Prints; asserts nothing about time.
TEST_F(DsoObjectsTest, BarrierRoundTripFigures) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  for (size_t parties : {2, 16}) {
    constexpr size_t kRounds = 2000;
    Client c(p.port());
    std::string key = "rt" + std::to_string(parties);
    c.cmd({"DSO.NEW", "barrier", key, std::to_string(parties)});
    auto conns = connect_many(p.port(), parties);
    size_t round = 0, arrived = 0;
    const auto start = Clock::now();
    for (auto& conn : conns) conn->send({"DSO.BARRIER.AWAIT", key});
    ASSERT_TRUE(pump(
        conns,
        [&](size_t, const Reply& r) {
          ASSERT_EQ(r.type, REDIS_REPLY_INTEGER);
          if (++arrived < parties) return;
          arrived = 0;
          if (++round < kRounds)
            for (auto& conn : conns) conn->send({"DSO.BARRIER.AWAIT", key});
        },
        [&] { return round == kRounds; }));
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    std::printf("barrier round trip, %zu connections: %.1f us\n", parties, us / kRounds);
  }
}

// Acquirers contend for 3 permits: some park without a timeout and pipeline
// their critical section behind the ACQUIRE, others use a 1 ms TIMEOUT and
// retry. Inside the critical section each INCRs a counter of holders: it
// never exceeds the permits. Then calls parked on a semaphore with no
// permits are dropped by their clients; the survivors get the permits
// released later, FIFO. At the end every permit is back.
TEST_F(DsoObjectsTest, SemaphoreNeverHasMoreHoldersThanPermits) {
  constexpr int kPermits = 3, kConns = 40, kRounds = 30;
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", "semaphore", "s", std::to_string(kPermits)}).integer, 1);
  auto conns = connect_many(p.port(), kConns);
  // Per connection: what its next reply answers.
  enum Step { kAcquire, kIncr, kDecr, kRelease };
  std::vector<Step> step(kConns, kAcquire);
  std::vector<int> rounds(kConns, 0);
  long long most = 0;
  int timeouts = 0, finished = 0;
  auto acquire = [&](size_t i) {
    if (i % 2 == 0) {
      // Parks until granted; the rest runs only after.
      for (auto& cmd : std::vector<std::vector<std::string>>{{"DSO.SEM.ACQUIRE", "s"},
                                                             {"INCR", "holders"},
                                                             {"DECR", "holders"},
                                                             {"DSO.SEM.RELEASE", "s"}})
        conns[i]->append(cmd);
      conns[i]->flush();
    } else {
      conns[i]->send({"DSO.SEM.ACQUIRE", "s", "TIMEOUT", "1"});
    }
  };
  for (size_t i = 0; i < kConns; ++i) acquire(i);
  ASSERT_TRUE(pump(
      conns,
      [&](size_t i, const Reply& r) {
        switch (step[i]) {
          case kAcquire:
            if (r.type == REDIS_REPLY_ERROR) {
              ASSERT_EQ(r.str, "TIMEOUT the wait timed out");
              ++timeouts;
              return acquire(i);
            }
            ASSERT_EQ(r.str, "OK");
            step[i] = kIncr;
            if (i % 2 == 1) conns[i]->send({"INCR", "holders"});
            return;
          case kIncr:
            most = std::max(most, r.integer);
            EXPECT_LE(r.integer, kPermits);
            step[i] = kDecr;
            if (i % 2 == 1) conns[i]->send({"DECR", "holders"});
            return;
          case kDecr:
            step[i] = kRelease;
            if (i % 2 == 1) conns[i]->send({"DSO.SEM.RELEASE", "s"});
            return;
          case kRelease:
            ASSERT_EQ(r.str, "OK");
            step[i] = kAcquire;
            if (++rounds[i] < kRounds)
              acquire(i);
            else
              ++finished;
            return;
        }
      },
      [&] { return finished == kConns; }));
  std::printf("semaphore: %d holders at most, %d timeouts\n", static_cast<int>(most), timeouts);
  EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "s"}).integer, kPermits);
  EXPECT_EQ(c.cmd({"GET", "holders"}).str, "0");

  // Disconnects mid-wait: 20 park on an empty semaphore, 10 of them leave.
  ASSERT_EQ(c.cmd({"DSO.SEM.ACQUIRE", "s", "3"}).str, "OK");
  auto waiting = connect_many(p.port(), 20);
  for (auto& w : waiting) w->send({"DSO.SEM.ACQUIRE", "s"});
  ASSERT_TRUE(wait_blocked(c, 20));
  for (size_t i = 0; i < 20; i += 2) waiting[i]->drop();
  ASSERT_TRUE(wait_blocked(c, 10));
  EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "s"}).integer, 0);
  // Three permits go to three of the ten left; the withdrawn took none.
  ASSERT_EQ(c.cmd({"DSO.SEM.RELEASE", "s", "3"}).str, "OK");
  ASSERT_TRUE(wait_blocked(c, 7));
  EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "s"}).integer, 0);
  // Each survivor releases its permit once granted, which lets the next in.
  std::vector<std::unique_ptr<Conn>> left;
  for (size_t i = 1; i < 20; i += 2) left.push_back(std::move(waiting[i]));
  std::vector<int> replies(left.size(), 0);
  int done = 0;
  ASSERT_TRUE(pump(
      left,
      [&](size_t i, const Reply& r) {
        EXPECT_EQ(r.str, "OK");
        if (++replies[i] == 1)
          left[i]->send({"DSO.SEM.RELEASE", "s"});
        else
          ++done;
      },
      [&] { return done == static_cast<int>(left.size()); }));
  EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "s"}).integer, kPermits) << "no permit lost";
}

// A call that times out or whose client leaves is withdrawn, and the object
// works on: for each type.
TEST_F(DsoObjectsTest, TimeoutsAndDisconnectsMidWaitThenTheObjectStillWorks) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  const std::string kTimeout = "TIMEOUT the wait timed out";
  c.cmd({"DSO.NEW", "barrier", "b", "3"});
  c.cmd({"DSO.NEW", "semaphore", "s", "0"});
  c.cmd({"DSO.NEW", "latch", "l", "1"});
  c.cmd({"DSO.NEW", "future", "f"});

  // Barrier: an arrival that timed out and one that left do not count.
  Conn a(p.port()), gone(p.port()), late(p.port()), last(p.port());
  {
    Conn t(p.port());
    t.send({"DSO.BARRIER.AWAIT", "b", "TIMEOUT", "20"});
    EXPECT_EQ(t.get().str, kTimeout);
  }
  a.send({"DSO.BARRIER.AWAIT", "b"});
  gone.send({"DSO.BARRIER.AWAIT", "b"});
  ASSERT_TRUE(wait_blocked(c, 2));
  gone.drop();
  ASSERT_TRUE(wait_blocked(c, 1));
  late.send({"DSO.BARRIER.AWAIT", "b"});
  ASSERT_TRUE(wait_blocked(c, 2)) << "the withdrawn arrival would have tripped the barrier";
  EXPECT_FALSE(late.readable());
  last.send({"DSO.BARRIER.AWAIT", "b"});
  EXPECT_EQ(last.get().integer, 0);
  EXPECT_EQ(a.get().integer, 2);
  EXPECT_EQ(late.get().integer, 1);

  // Semaphore: a timed-out and a departed acquire take no permit.
  {
    Conn t(p.port()), d(p.port());
    t.send({"DSO.SEM.ACQUIRE", "s", "TIMEOUT", "20"});
    d.send({"DSO.SEM.ACQUIRE", "s"});
    EXPECT_EQ(t.get().str, kTimeout);
    ASSERT_TRUE(wait_blocked(c, 1));
    d.drop();
    ASSERT_TRUE(wait_blocked(c, 0));
  }
  EXPECT_EQ(c.cmd({"DSO.SEM.RELEASE", "s"}).str, "OK");
  EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "s"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.SEM.TRYACQUIRE", "s"}).integer, 1);

  // Latch and future.
  for (auto [key, cmd] : {std::pair{"l", "DSO.LATCH.AWAIT"}, std::pair{"f", "DSO.FUTURE.GET"}}) {
    Conn t(p.port()), d(p.port()), w(p.port());
    t.send({cmd, key, "TIMEOUT", "20"});
    EXPECT_EQ(t.get().str, kTimeout);
    d.send({cmd, key});
    w.send({cmd, key});
    ASSERT_TRUE(wait_blocked(c, 2));
    d.drop();
    ASSERT_TRUE(wait_blocked(c, 1));
    if (std::string(key) == "l") {
      EXPECT_EQ(c.cmd({"DSO.LATCH.COUNTDOWN", "l"}).integer, 0);
      EXPECT_EQ(w.get().str, "OK");
    } else {
      EXPECT_EQ(c.cmd({"DSO.FUTURE.SET", "f", "value"}).str, "OK");
      EXPECT_EQ(w.get().str, "value");
    }
    t.send({cmd, key, "TIMEOUT", "20"});
    EXPECT_NE(t.get().str, kTimeout) << "done: no wait";
  }
  EXPECT_EQ(blocked(c), 0);
}

// 2,000 connections parked on one future; one SET wakes them all.
TEST_F(DsoObjectsTest, TwoThousandParkedCallsWokenByOneSet) {
  constexpr size_t kWaiters = 2000;
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  c.cmd({"DSO.NEW", "future", "f"});
  auto conns = connect_many(p.port(), kWaiters);
  for (auto& conn : conns) conn->send({"DSO.FUTURE.GET", "f", "TIMEOUT", "600000"});
  ASSERT_TRUE(wait_blocked(c, kWaiters));
  EXPECT_EQ(c.cmd({"DSO.FUTURE.ISDONE", "f"}).integer, 0);
  const std::string value(1000, 'v');
  ASSERT_EQ(c.cmd({"DSO.FUTURE.SET", "f", value}).str, "OK");
  size_t got = 0;
  ASSERT_TRUE(pump(
      conns,
      [&](size_t, const Reply& r) {
        EXPECT_EQ(r.str, value);
        ++got;
      },
      [&] { return got == kWaiters; }));
  EXPECT_EQ(blocked(c), 0);
  // They all carry on.
  for (auto& conn : conns) conn->send({"PING"});
  got = 0;
  ASSERT_TRUE(pump(
      conns, [&](size_t, const Reply& r) { got += r.str == "PONG"; },
      [&] { return got == kWaiters; }));
}

// Commands pipelined behind a parked call wait for it, in order; so do
// their replies.
TEST_F(DsoObjectsTest, PipelinedCommandsWaitBehindAParkedCall) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  c.cmd({"DSO.NEW", "future", "f"});
  Conn w(p.port());
  for (auto& cmd : std::vector<std::vector<std::string>>{{"SET", "k", "1"},
                                                         {"DSO.FUTURE.GET", "f"},
                                                         {"SET", "k", "2"},
                                                         {"GET", "k"},
                                                         {"DSO.FUTURE.GET", "f", "TIMEOUT", "0"}})
    w.append(cmd);
  w.flush();
  // The first reply is written when execution stops at the parked call,
  // so once it is here, SET k 2 has certainly not run.
  EXPECT_EQ(w.get().str, "OK");
  EXPECT_EQ(c.cmd({"GET", "k"}).str, "1");
  ASSERT_TRUE(wait_blocked(c, 1));
  EXPECT_FALSE(w.readable());
  ASSERT_EQ(c.cmd({"DSO.FUTURE.SET", "f", "done"}).str, "OK");
  EXPECT_EQ(w.get().str, "done");
  EXPECT_EQ(w.get().str, "OK");
  EXPECT_EQ(w.get().str, "2");
  EXPECT_EQ(w.get().str, "done");
  EXPECT_EQ(c.cmd({"GET", "k"}).str, "2");
}

// With --timeout 1 a parked client is not idle: an idle client that
// connected after it parked is closed first, and the parked one is still
// there to get its reply.
TEST_F(DsoObjectsTest, ParkedClientsAreNotIdle) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args({"--timeout", "1"})));
  Client c(p.port());
  c.cmd({"DSO.NEW", "latch", "l", "1"});
  Conn parked(p.port());
  parked.send({"DSO.LATCH.AWAIT", "l"});
  ASSERT_TRUE(wait_blocked(c, 1));
  RawSocket idle(p.port());
  bool closed = false;
  const auto give_up = Clock::now() + kGiveUp;
  while (!closed && Clock::now() < give_up) {
    ASSERT_EQ(c.cmd({"PING"}).str, "PONG");  // c stays active
    idle.read_until_eof(10, &closed);
  }
  ASSERT_TRUE(closed);
  EXPECT_EQ(blocked(c), 1);
  EXPECT_EQ(c.cmd({"DSO.LATCH.COUNTDOWN", "l"}).integer, 0);
  EXPECT_EQ(parked.get().str, "OK");
}

// A parked connection keeps reading, within the query buffer limit: past
// it, it gets the error and is closed, and its arrival is withdrawn.
TEST_F(DsoObjectsTest, QueryBufferLimitWhileParked) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args({"--client-query-buffer-limit", "16K"})));
  Client c(p.port());
  c.cmd({"DSO.NEW", "barrier", "b", "2"});
  RawSocket s(p.port());
  ASSERT_TRUE(s.send("*2\r\n$17\r\nDSO.BARRIER.AWAIT\r\n$1\r\nb\r\n"));
  ASSERT_TRUE(wait_blocked(c, 1));
  // 10 KiB of pipelined commands are held...
  std::string ping = "*1\r\n$4\r\nPING\r\n";
  std::string some;
  while (some.size() < 10240) some += ping;
  ASSERT_TRUE(s.send(some));
  EXPECT_EQ(c.cmd({"PING"}).str, "PONG");
  // ...20 more are too many.
  std::string more;
  while (more.size() < 20480) more += ping;
  ASSERT_TRUE(s.send(more));
  bool closed = false;
  EXPECT_EQ(s.read_until_eof(30000, &closed),
            "-ERR Protocol error: query buffer limit exceeded\r\n");
  EXPECT_TRUE(closed);
  ASSERT_TRUE(wait_blocked(c, 0));
  Conn a(p.port());
  a.send({"DSO.BARRIER.AWAIT", "b"});
  ASSERT_TRUE(wait_blocked(c, 1)) << "the closed connection's arrival was withdrawn";
  EXPECT_EQ(c.cmd({"DSO.BARRIER.AWAIT", "b"}).integer, 0);
  EXPECT_EQ(a.get().integer, 1);
}

// Persistent objects keep their state across SHUTDOWN and SIGKILL;
// ephemeral ones are gone; parked clients see their connection close.
TEST_F(DsoObjectsTest, PersistentAndEphemeralObjectsAcrossRestarts) {
  for (bool kill : {false, true}) {
    SCOPED_TRACE(kill ? "SIGKILL" : "SHUTDOWN");
    std::filesystem::remove(dir_.file("dso.pool"));
    DsoProcess p;
    ASSERT_TRUE(p.start(pool_args()));
    {
      Client c(p.port());
      ASSERT_EQ(c.cmd({"DSO.NEW", "semaphore", "ps", "PERSISTENT", "4"}).integer, 1);
      ASSERT_EQ(c.cmd({"DSO.NEW", "latch", "pl", "PERSISTENT", "5"}).integer, 1);
      ASSERT_EQ(c.cmd({"DSO.NEW", "future", "pf", "PERSISTENT"}).integer, 1);
      ASSERT_EQ(c.cmd({"DSO.NEW", "barrier", "pb", "PERSISTENT", "2"}).integer, 1);
      ASSERT_EQ(c.cmd({"DSO.NEW", "semaphore", "es", "4"}).integer, 1);
      ASSERT_EQ(c.cmd({"DSO.NEW", "future", "ef", "EPHEMERAL"}).integer, 1);
      ASSERT_EQ(c.cmd({"SET", "plain", "x"}).str, "OK");
      EXPECT_EQ(c.cmd({"DSO.SEM.ACQUIRE", "ps", "3"}).str, "OK");
      EXPECT_EQ(c.cmd({"DSO.LATCH.COUNTDOWN", "pl"}).integer, 4);
      EXPECT_EQ(c.cmd({"DSO.LATCH.COUNTDOWN", "pl"}).integer, 3);
      EXPECT_EQ(c.cmd({"DSO.FUTURE.SET", "pf", "kept"}).str, "OK");
      EXPECT_EQ(c.cmd({"DSO.FUTURE.SET", "ef", "lost"}).str, "OK");
      EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 7);
      Conn parked(p.port());
      parked.send({"DSO.SEM.ACQUIRE", "ps", "2"});
      ASSERT_TRUE(wait_blocked(c, 1));
      if (kill) {
        p.kill(SIGKILL);
      } else {
        c.cmd({"SHUTDOWN"});
      }
      EXPECT_EQ(parked.get().type, 0) << "a parked client's connection closes";
      p.wait();
    }
    ASSERT_TRUE(p.start(pool_args()));
    Client c(p.port());
    EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 5);
    EXPECT_EQ(c.cmd({"TYPE", "ps"}).str, "semaphore");
    EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "ps"}).integer, 1) << "the parked acquire took none";
    EXPECT_EQ(c.cmd({"DSO.LATCH.COUNT", "pl"}).integer, 3);
    EXPECT_EQ(c.cmd({"DSO.FUTURE.GET", "pf"}).str, "kept");
    EXPECT_EQ(c.cmd({"TYPE", "pb"}).str, "barrier");
    EXPECT_EQ(c.cmd({"EXISTS", "es", "ef"}).integer, 0);
    EXPECT_EQ(c.cmd({"DSO.SEM.ACQUIRE", "es"}).str, "ERR no such object");
    EXPECT_EQ(c.cmd({"GET", "plain"}).str, "x");
    // The objects work on.
    Conn w(p.port());
    w.send({"DSO.BARRIER.AWAIT", "pb"});
    ASSERT_TRUE(wait_blocked(c, 1));
    EXPECT_EQ(c.cmd({"DSO.BARRIER.AWAIT", "pb"}).integer, 0);
    EXPECT_EQ(w.get().integer, 1);
    EXPECT_EQ(c.cmd({"DSO.SEM.RELEASE", "ps", "3"}).str, "OK");
    EXPECT_EQ(c.cmd({"DSO.SEM.AVAILABLE", "ps"}).integer, 4);
    c.cmd({"SHUTDOWN"});
    p.wait();
  }
}

TEST_F(DsoObjectsTest, ErrorsAndStringAtomics) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  const std::string kWrongType =
      "WRONGTYPE Operation against a key holding the wrong kind of value";
  c.cmd({"SET", "str", "x"});
  c.cmd({"DSO.NEW", "latch", "l", "1"});
  EXPECT_EQ(c.cmd({"DSO.LATCH.AWAIT", "str"}).str, kWrongType);
  EXPECT_EQ(c.cmd({"DSO.FUTURE.GET", "l"}).str, kWrongType);
  EXPECT_EQ(c.cmd({"GET", "l"}).str, kWrongType);
  EXPECT_EQ(c.cmd({"DSO.NEW", "future", "l"}).str, kWrongType);
  EXPECT_EQ(c.cmd({"DSO.LATCH.AWAIT", "nope"}).str, "ERR no such object");
  EXPECT_EQ(c.cmd({"DSO.LATCH.COUNT"}).str,
            "ERR wrong number of arguments for 'dso.latch.count' command");
  EXPECT_EQ(c.cmd({"DSO.FUTURE.SET", "f"}).str,
            "ERR wrong number of arguments for 'dso.future.set' command");
  EXPECT_EQ(c.cmd({"DSO.NEW", "future"}).str,
            "ERR wrong number of arguments for 'dso.new' command");
  EXPECT_EQ(c.cmd({"DSO.LATCH.AWAIT", "l", "TIMEOUT", "x"}).str,
            "ERR timeout is not an integer or out of range");
  EXPECT_EQ(c.cmd({"TYPE", "l"}).str, "latch");

  EXPECT_EQ(c.cmd({"DSO.CAS", "k", "", "v1"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.CAS", "k", "v0", "v2"}).integer, 0);
  EXPECT_EQ(c.cmd({"DSO.CAS", "k", "v1", "v2"}).integer, 1);
  EXPECT_EQ(c.cmd({"GET", "k"}).str, "v2");
  EXPECT_EQ(c.cmd({"DSO.CAS", "l", "", "x"}).str, kWrongType);
  EXPECT_EQ(c.cmd({"SETRANGE", "k", "4", "xyz"}).integer, 7);
  EXPECT_EQ(c.cmd({"GET", "k"}).str, std::string("v2\0\0xyz", 7));
  EXPECT_EQ(c.cmd({"GETRANGE", "k", "-3", "-1"}).str, "xyz");
  EXPECT_EQ(c.cmd({"GETRANGE", "l", "0", "1"}).str, kWrongType);
}

}  // namespace
