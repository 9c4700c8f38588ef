// User-defined objects end to end: the real nvobj-dso with --load-module,
// driven with hiredis. The example modules' methods (kmeans.GlobalCentroids,
// logreg.Weights), DSO.NEW / DSO.CALL and their errors, the key space
// commands on module objects, atomicity under concurrent calls, an exception
// aborting a call's block, IDEMPOTENT retries (also across SHUTDOWN and
// SIGKILL: before the block commits, after it commits but before the reply,
// and at random points under concurrent callers) and every way a module can
// fail to load. A test module (modules/counter_module.cc, "test.Counter")
// provides what the examples do not: every reply kind, exceptions after a
// write, and SIGKILL around the commit.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
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

constexpr char kCentroids[] = "kmeans.GlobalCentroids";
constexpr char kWeights[] = "logreg.Weights";
constexpr char kCounter[] = "test.Counter";

std::vector<std::string> strings(const Reply& r) {
  std::vector<std::string> v;
  for (const Reply& e : r.elements) v.push_back(e.str);
  return v;
}

// How a start that must fail ended: exit status and what went to stderr.
struct Failed {
  bool exited = false;  // false: it got as far as serving (then killed)
  int code = -1;
  std::string err;
};

Failed start_expecting_failure(const std::vector<std::string>& extra) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    std::vector<std::string> args = {NVOBJ_DSO_BIN, "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  Failed f;
  std::string stdout_text;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      ssize_t n = ::read(i == 0 ? out[0] : err[0], buf, sizeof buf);
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      (i == 0 ? stdout_text : f.err).append(buf, static_cast<size_t>(n));
    }
    if (stdout_text.find("nvobj-dso ready") != std::string::npos) {
      ::kill(pid, SIGKILL);  // it started: the test fails below
      break;
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  f.exited = WIFEXITED(status);
  f.code = f.exited ? WEXITSTATUS(status) : -1;
  return f;
}

class DsoModuleTest : public ::testing::Test {
 protected:
  std::vector<std::string> args(bool with_modules = true) const {
    std::vector<std::string> a = {"--pool",  dir_.file("dso.pool"), "--size", "64M", "--mode",
                                  "emulated"};
    if (with_modules)
      a.insert(a.end(), {"--load-module", NVOBJ_KMEANS_MODULE, "--load-module", NVOBJ_LOGREG_MODULE,
                         "--load-module", NVOBJ_COUNTER_MODULE});
    return a;
  }
  void start(DsoProcess* p, bool with_modules = true) { ASSERT_TRUE(p->start(args(with_modules))); }
  void shutdown(DsoProcess* p) {
    Client c(p->port());
    c.cmd({"SHUTDOWN"});
    EXPECT_EQ(p->wait(), 0);
  }
  // The start-up error for these --load-module arguments.
  std::string load_error(const std::vector<std::string>& modules) {
    std::vector<std::string> a = {"--pool", dir_.file("refused.pool"), "--mode", "emulated"};
    for (const std::string& m : modules) a.insert(a.end(), {"--load-module", m});
    Failed f = start_expecting_failure(a);
    EXPECT_TRUE(f.exited) << "the server started with " << modules.back();
    EXPECT_EQ(f.code, 1);
    // Modules load before the pool is opened: nothing was created.
    EXPECT_FALSE(std::ifstream(dir_.file("refused.pool")).good());
    return f.err;
  }

  TempDir dir_;
};

Reply call(Client& c, const std::string& type, const std::string& key, const std::string& method,
           std::vector<std::string> more = {}) {
  std::vector<std::string> a = {"DSO.CALL", type, key, method};
  a.insert(a.end(), more.begin(), more.end());
  return c.cmd(a);
}

TEST_F(DsoModuleTest, GlobalCentroidsMethods) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  // k = 2 clusters in 2 dimensions, starting at (0,0) and (10,10).
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "2", "2", "0", "0", "10", "10"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "2", "2"}).integer, 0);  // exists: unchanged
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")),
            (std::vector<std::string>{"0", "0", "10", "10"}));
  EXPECT_EQ(call(c, kCentroids, "c", "iteration").integer, 0);
  // Two workers' partial results: cluster means and their point counts.
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"1", "1", "9", "9", "2", "3"}).integer, 1);
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"3", "5", "11", "11", "2", "1"}).integer, 2);
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")),
            (std::vector<std::string>{"2", "3", "9.5", "9.5"}));
  EXPECT_EQ(strings(call(c, kCentroids, "c", "counts")), (std::vector<std::string>{"4", "4"}));
  // A cluster nobody merged into keeps its starting point.
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "d", "2", "1", "5", "7"}).integer, 1);
  EXPECT_EQ(call(c, kCentroids, "d", "update", {"1", "0", "4", "0"}).integer, 1);
  EXPECT_EQ(strings(call(c, kCentroids, "d", "get")), (std::vector<std::string>{"1", "7"}));
  // advance moves on once, whoever calls it (retries and late workers too).
  EXPECT_EQ(call(c, kCentroids, "c", "advance", {"0"}).integer, 1);
  EXPECT_EQ(call(c, kCentroids, "c", "advance", {"0"}).integer, 1);
  EXPECT_EQ(call(c, kCentroids, "c", "iteration").integer, 1);
  EXPECT_EQ(call(c, kCentroids, "c", "advance", {"5"}).str,
            "ERR iteration 5 is ahead of the object's 1");
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")),
            (std::vector<std::string>{"2", "3", "9.5", "9.5"}));
  EXPECT_EQ(strings(call(c, kCentroids, "c", "counts")), (std::vector<std::string>{"0", "0"}));
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"0", "0", "0", "0", "1", "0"}).integer, 1);
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")),
            (std::vector<std::string>{"0", "0", "9.5", "9.5"}));
  // Arguments.
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"1"}).str,
            "ERR wrong number of arguments for method 'update': expected 6, got 1");
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"1", "x", "1", "1", "1", "1"}).str,
            "ERR argument 2 of method 'update' is not a valid float");
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"1", "1", "1", "1", "1", "-1"}).str,
            "ERR counts must not be negative");
  EXPECT_EQ(call(c, kCentroids, "c", "get", {"extra"}).str,
            "ERR wrong number of arguments for method 'get': expected 0, got 1");
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "e", "0", "2"}).str,
            "ERR k and dims must be at least 1, k*dims at most 1048576");
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "e", "2"}).str,
            "ERR wrong number of arguments for the constructor: expected 2, got 1");
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "e", "1", "2", "3"}).str,
            "ERR wrong number of arguments for the constructor: expected k, dims and no or all "
            "k*dims = 2 initial coordinates");
  EXPECT_EQ(c.cmd({"EXISTS", "e"}).integer, 0);  // a refused constructor leaves nothing
}

TEST_F(DsoModuleTest, WeightsMethods) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  EXPECT_EQ(c.cmd({"DSO.NEW", kWeights, "w", "3"}).integer, 1);
  EXPECT_EQ(strings(call(c, kWeights, "w", "get")), (std::vector<std::string>{"0", "0", "0"}));
  EXPECT_EQ(call(c, kWeights, "w", "count").integer, 0);
  // Mean gradients over 10 and 30 samples: the result is their
  // sample-weighted mean.
  EXPECT_EQ(call(c, kWeights, "w", "add", {"1", "2", "-4", "10"}).integer, 10);
  EXPECT_EQ(call(c, kWeights, "w", "add", {"5", "2", "0.5", "30"}).integer, 40);
  EXPECT_EQ(strings(call(c, kWeights, "w", "get")), (std::vector<std::string>{"4", "2", "-0.625"}));
  EXPECT_EQ(call(c, kWeights, "w", "count").integer, 40);
  EXPECT_EQ(call(c, kWeights, "w", "reset").str, "OK");
  EXPECT_EQ(call(c, kWeights, "w", "count").integer, 0);
  EXPECT_EQ(strings(call(c, kWeights, "w", "get")), (std::vector<std::string>{"0", "0", "0"}));
  EXPECT_EQ(call(c, kWeights, "w", "add", {"1", "2", "3", "0"}).str, "ERR n must be at least 1");
  EXPECT_EQ(call(c, kWeights, "w", "add", {"1", "2", "3"}).str,
            "ERR wrong number of arguments for method 'add': expected 4, got 3");
  EXPECT_EQ(call(c, kWeights, "w", "add", {"1", "2", "inf", "1"}).str,
            "ERR argument 3 of method 'add' is not a valid float");
  EXPECT_EQ(c.cmd({"DSO.NEW", kWeights, "x", "0"}).str, "ERR dims must be 1 to 1048576");
  EXPECT_EQ(c.cmd({"DSO.NEW", kWeights, "x"}).str,
            "ERR wrong number of arguments for the constructor: expected 1, got 0");
}

TEST_F(DsoModuleTest, CommandErrors) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n", "5"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.NEW", "no.Such", "k"}).str, "ERR unknown type 'no.Such'");
  EXPECT_EQ(call(c, "no.Such", "n", "get").str, "ERR unknown type 'no.Such'");
  EXPECT_EQ(call(c, kCounter, "n", "nope").str, "ERR unknown method 'nope' of type 'test.Counter'");
  EXPECT_EQ(call(c, kCounter, "n", "Get").str, "ERR unknown method 'Get' of type 'test.Counter'");
  EXPECT_EQ(call(c, kCounter, "n", "add", {"x"}).str,
            "ERR argument 1 of method 'add' is not an integer or out of range");
  EXPECT_EQ(call(c, kCounter, "n", "add").str,
            "ERR wrong number of arguments for method 'add': expected 1, got 0");
  EXPECT_EQ(c.cmd({"DSO.CALL", kCounter, "n"}).str,
            "ERR wrong number of arguments for 'dso.call' command");
  EXPECT_EQ(call(c, kCounter, "missing", "get").str, "ERR no such object");
  EXPECT_EQ(c.cmd({"SET", "s", "v"}).str, "OK");
  const std::string wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
  EXPECT_EQ(call(c, kCounter, "s", "get").str, wrongtype);
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "s"}).str, wrongtype);
  EXPECT_EQ(c.cmd({"HSET", "h", "f", "v"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "h", "get").str, wrongtype);
  // An object of another module type.
  ASSERT_EQ(c.cmd({"DSO.NEW", kWeights, "w", "1"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "w", "get").str, wrongtype);
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "w"}).str, wrongtype);
  // Data commands on an object.
  EXPECT_EQ(c.cmd({"GET", "n"}).str, wrongtype);
  EXPECT_EQ(c.cmd({"INCR", "n"}).str, wrongtype);
  EXPECT_EQ(c.cmd({"HGET", "n", "f"}).str, wrongtype);
  EXPECT_EQ(c.cmd({"LPUSH", "n", "x"}).str, wrongtype);
  EXPECT_EQ(c.cmd({"RENAME", "n", "m"}).str,
            "ERR RENAME of a user-defined object is not supported");
  // Persistence flag: PERSISTENT is the default, EPHEMERAL is refused.
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "p", "PERSISTENT", "3"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "p", "get").integer, 3);
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "q", "EPHEMERAL"}).str,
            "ERR user-defined objects are always persistent (EPHEMERAL is for coordination "
            "objects)");
  EXPECT_EQ(c.cmd({"EXISTS", "q"}).integer, 0);
  // IDEMPOTENT's own arguments.
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "w", "x"}).str,
            "ERR call id is not a non-negative integer");
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "w", "-1"}).str,
            "ERR call id is not a non-negative integer");
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "idempotent", std::string(257, 'c'), "1"}).str,
            "ERR caller id must be 1 to 256 bytes");
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 5);
}

TEST_F(DsoModuleTest, KeySpaceCommandsSeeModuleObjects) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
  ASSERT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "1", "1"}).integer, 1);
  ASSERT_EQ(c.cmd({"SET", "s", "v"}).str, "OK");
  EXPECT_EQ(c.cmd({"TYPE", "n"}).str, kCounter);
  EXPECT_EQ(c.cmd({"TYPE", "c"}).str, kCentroids);
  EXPECT_EQ(c.cmd({"EXISTS", "n", "c", "s"}).integer, 3);
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 3);
  EXPECT_EQ(c.cmd({"KEYS", "*"}).elements.size(), 3u);
  Reply scan = c.cmd({"SCAN", "0", "TYPE", kCentroids});
  ASSERT_EQ(scan.elements.size(), 2u);
  EXPECT_EQ(strings(scan.elements[1]), (std::vector<std::string>{"c"}));
  // DEL frees an object; the key can hold anything after.
  EXPECT_EQ(c.cmd({"DEL", "n"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "n", "get").str, "ERR no such object");
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "n", "7"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 7);
  // SET replaces an object, as it replaces any value.
  EXPECT_EQ(c.cmd({"SET", "n", "text"}).str, "OK");
  EXPECT_EQ(c.cmd({"TYPE", "n"}).str, "string");
  EXPECT_EQ(c.cmd({"FLUSHALL"}).str, "OK");
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 0);
  EXPECT_EQ(call(c, kCentroids, "c", "get").str, "ERR no such object");
}

TEST_F(DsoModuleTest, RepliesOfEveryKind) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "n", "reply", {"nil"}).type, REDIS_REPLY_NIL);
  Reply d = call(c, kCounter, "n", "reply", {"double"});  // RESP2: a bulk string
  EXPECT_EQ(d.type, REDIS_REPLY_STRING);
  EXPECT_EQ(d.str, "2.5");
  EXPECT_EQ(call(c, kCounter, "n", "reply", {"bulk"}).str, std::string("a\0b", 3));
  Reply ok = call(c, kCounter, "n", "reply", {"ok"});
  EXPECT_EQ(ok.type, REDIS_REPLY_STATUS);
  EXPECT_EQ(ok.str, "OK");
  Reply empty = call(c, kCounter, "n", "reply", {"empty"});
  EXPECT_EQ(empty.type, REDIS_REPLY_ARRAY);
  EXPECT_TRUE(empty.elements.empty());
  Reply err = call(c, kCounter, "n", "reply", {"error"});
  EXPECT_EQ(err.type, REDIS_REPLY_ERROR);
  EXPECT_EQ(err.str, "ERR plain");
  // The method sees its arguments without IDEMPOTENT and its ids; an
  // argument spelled IDEMPOTENT elsewhere is just an argument.
  EXPECT_EQ(
      strings(call(c, kCounter, "n", "args", {"a", "IDEMPOTENT", "b", "IDEMPOTENT", "w", "1"})),
      (std::vector<std::string>{"a", "IDEMPOTENT", "b"}));
  EXPECT_EQ(strings(call(c, kCounter, "n", "args", {"IDEMPOTENT", "x"})),
            (std::vector<std::string>{"IDEMPOTENT", "x"}));
  // A RESP3 client gets a real double.
  RawSocket raw(p.port());
  ASSERT_TRUE(raw.send("HELLO 3\r\n"));
  ASSERT_TRUE(raw.send("DSO.CALL test.Counter n reply double\r\nQUIT\r\n"));
  bool closed = false;
  std::string got = raw.read_until_eof(10000, &closed);
  EXPECT_NE(got.find(",2.5\r\n+OK\r\n"), std::string::npos) << got;
}

TEST_F(DsoModuleTest, AnExceptionAbortsTheCall) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n", "10"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "n", "add_then_throw", {"5"}).str,
            "ERR add_then_throw: thrown after the write");
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 10);
  EXPECT_EQ(call(c, kCounter, "n", "add_then_throw_int", {"5"}).str,
            "ERR method 'add_then_throw_int' failed: it threw a non-standard exception");
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 10);
  // An error returned (not thrown) is a reply like any other: the write stays.
  EXPECT_EQ(call(c, kCounter, "n", "add_then_return_error", {"5"}).str,
            "MYERR returned, not thrown");
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 15);
  // An aborted IDEMPOTENT call records nothing: its retry runs again.
  EXPECT_EQ(call(c, kCounter, "n", "add_then_throw", {"5", "IDEMPOTENT", "w", "1"}).str,
            "ERR add_then_throw: thrown after the write");
  EXPECT_EQ(call(c, kCounter, "n", "add", {"5", "IDEMPOTENT", "w", "1"}).integer, 20);
  // kmeans checks every argument before it writes anything.
  ASSERT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "1", "2"}).integer, 1);
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"1", "1", "x"}).str,
            "ERR argument 3 of method 'update' is not an integer or out of range");
  EXPECT_EQ(strings(call(c, kCentroids, "c", "counts")), (std::vector<std::string>{"0"}));
  // The server is fine after all of it.
  EXPECT_EQ(c.cmd({"PING"}).str, "PONG");
}

TEST_F(DsoModuleTest, ConcurrentCallsAllApply) {
  DsoProcess p;
  start(&p);
  constexpr int kThreads = 4, kCalls = 200;
  {
    Client c(p.port());
    ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
    ASSERT_EQ(c.cmd({"DSO.NEW", kWeights, "w", "2"}).integer, 1);
    ASSERT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "1", "1"}).integer, 1);
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(p.port());
      std::string v = std::to_string(t + 1);
      for (int i = 0; i < kCalls; ++i) {
        if (call(c, kCounter, "n", "add", {v}).type != REDIS_REPLY_INTEGER) ++failures;
        if (call(c, kWeights, "w", "add", {v, "1", "1"}).type != REDIS_REPLY_INTEGER) ++failures;
        // Thread t merges the point t+1 with weight t+1.
        if (call(c, kCentroids, "c", "update", {v, v}).type != REDIS_REPLY_INTEGER) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Client c(p.port());
  // Sums of everything every thread added: 200 * (1+2+3+4) = 2000, and the
  // weighted means sum(w*w)/sum(w) = (1+4+9+16)/10 = 3.
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, kCalls * 10);
  EXPECT_EQ(call(c, kWeights, "w", "count").integer, kCalls * kThreads);
  EXPECT_EQ(strings(call(c, kWeights, "w", "get")), (std::vector<std::string>{"2.5", "1"}));
  EXPECT_EQ(strings(call(c, kCentroids, "c", "counts")), (std::vector<std::string>{"2000"}));
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")), (std::vector<std::string>{"3"}));
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"0", "0"}).integer, kCalls * kThreads + 1);
}

TEST_F(DsoModuleTest, IdempotentRetriesApplyOnce) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
  auto add = [&](const std::string& n, const std::string& caller, const std::string& id) {
    return call(c, kCounter, "n", "add", {n, "IDEMPOTENT", caller, id});
  };
  EXPECT_EQ(add("5", "w1", "1").integer, 5);
  EXPECT_EQ(add("5", "w1", "1").integer, 5);  // the retry: same reply, not applied
  EXPECT_EQ(add("7", "w1", "1").integer, 5);  // the call id decides, not the arguments
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 5);
  EXPECT_EQ(add("5", "w1", "2").integer, 10);  // a new call id applies
  EXPECT_EQ(add("5", "w2", "1").integer, 15);  // so does another caller's
  EXPECT_EQ(add("5", "w2", "1").integer, 15);
  EXPECT_EQ(add("5", "w1", "1").str, "ERR stale call id 1: caller 'w1' already made call 2");
  EXPECT_EQ(add("1", "w1", "10").integer, 16);                  // ids need not be consecutive
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1"}).integer, 17);  // not idempotent
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 17);
  // Every reply kind is recorded as it was.
  Reply first = call(c, kCounter, "n", "args", {"x", "y", "IDEMPOTENT", "w3", "1"});
  Reply again = call(c, kCounter, "n", "args", {"other", "IDEMPOTENT", "w3", "1"});
  EXPECT_EQ(strings(again), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(strings(first), strings(again));
  EXPECT_EQ(call(c, kCounter, "n", "reply", {"nil", "IDEMPOTENT", "w3", "2"}).type,
            REDIS_REPLY_NIL);
  EXPECT_EQ(call(c, kCounter, "n", "reply", {"ok", "IDEMPOTENT", "w3", "2"}).type, REDIS_REPLY_NIL);
  EXPECT_EQ(call(c, kCounter, "n", "add_then_return_error", {"1", "IDEMPOTENT", "w3", "3"}).str,
            "MYERR returned, not thrown");
  EXPECT_EQ(call(c, kCounter, "n", "add_then_return_error", {"1", "IDEMPOTENT", "w3", "3"}).str,
            "MYERR returned, not thrown");
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 18);
  // Records are per object.
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "m"}).integer, 1);
  EXPECT_EQ(call(c, kCounter, "m", "add", {"1", "IDEMPOTENT", "w1", "1"}).integer, 1);
}

TEST_F(DsoModuleTest, IdempotencyRecordKeepsTheLatestCallers) {
  DsoProcess p;
  start(&p);
  Client c(p.port());
  ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
  constexpr int kMaxCallers = 1024;  // ModuleObject::kMaxCallers
  for (int i = 0; i <= kMaxCallers; ++i) {
    c.append({"DSO.CALL", kCounter, "n", "add", "1", "IDEMPOTENT", "c" + std::to_string(i), "1"});
  }
  for (int i = 0; i <= kMaxCallers; ++i) ASSERT_EQ(c.get_reply().integer, i + 1);
  // c0, the oldest, was forgotten to make room for c1024: its retry runs
  // again. c1 .. c1024 are remembered.
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "c1", "1"}).integer, 2);
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "c1024", "1"}).integer, 1025);
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "c0", "1"}).integer, 1026);
}

TEST_F(DsoModuleTest, ObjectsAndRecordsSurviveShutdown) {
  {
    DsoProcess p;
    start(&p);
    Client c(p.port());
    ASSERT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "1", "2"}).integer, 1);
    ASSERT_EQ(call(c, kCentroids, "c", "update", {"2", "4", "2", "IDEMPOTENT", "w", "1"}).integer,
              1);
    ASSERT_EQ(c.cmd({"DSO.NEW", kWeights, "w", "1"}).integer, 1);
    ASSERT_EQ(call(c, kWeights, "w", "add", {"3", "2"}).integer, 2);
    shutdown(&p);
  }
  {
    // Without its module the object is still there and still typed; only
    // its methods are missing.
    DsoProcess p;
    start(&p, false);
    Client c(p.port());
    EXPECT_EQ(c.cmd({"TYPE", "c"}).str, kCentroids);
    EXPECT_EQ(call(c, kCentroids, "c", "get").str, "ERR unknown type 'kmeans.GlobalCentroids'");
    shutdown(&p);
  }
  DsoProcess p;
  start(&p);
  Client c(p.port());
  EXPECT_EQ(strings(call(c, kCentroids, "c", "get")), (std::vector<std::string>{"2", "4"}));
  // The retry after the restart is answered from the record.
  EXPECT_EQ(call(c, kCentroids, "c", "update", {"2", "4", "2", "IDEMPOTENT", "w", "1"}).integer, 1);
  EXPECT_EQ(strings(call(c, kCentroids, "c", "counts")), (std::vector<std::string>{"2"}));
  EXPECT_EQ(strings(call(c, kWeights, "w", "get")), (std::vector<std::string>{"3"}));
}

TEST_F(DsoModuleTest, SigkillAfterTheCommitBeforeTheReply) {
  {
    DsoProcess p;
    start(&p);
    Client c(p.port());
    ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n", "100"}).integer, 1);
    // The server dies once the call's block committed, before replying.
    Reply r = call(c, kCounter, "n", "add_then_die_after_commit", {"5", "IDEMPOTENT", "w", "1"});
    EXPECT_EQ(r.type, 0);  // no reply: the connection dropped
    int status = p.wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  DsoProcess p;
  start(&p);
  Client c(p.port());
  // The retry gets the first call's reply and does not run (or die) again.
  EXPECT_EQ(
      call(c, kCounter, "n", "add_then_die_after_commit", {"5", "IDEMPOTENT", "w", "1"}).integer,
      105);
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 105);
}

TEST_F(DsoModuleTest, SigkillBeforeTheCommit) {
  {
    DsoProcess p;
    start(&p);
    Client c(p.port());
    ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n", "100"}).integer, 1);
    EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "w", "1"}).integer, 101);
    Reply r = call(c, kCounter, "n", "add_then_die_before_commit", {"5", "IDEMPOTENT", "w", "2"});
    EXPECT_EQ(r.type, 0);
    int status = p.wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  DsoProcess p;
  start(&p);
  Client c(p.port());
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, 101);  // nothing of call 2
  EXPECT_EQ(call(c, kCounter, "n", "add", {"5", "IDEMPOTENT", "w", "2"}).integer, 106);
  EXPECT_EQ(call(c, kCounter, "n", "add", {"5", "IDEMPOTENT", "w", "2"}).integer, 106);
  EXPECT_EQ(call(c, kCounter, "n", "add", {"1", "IDEMPOTENT", "w", "1"}).str,
            "ERR stale call id 1: caller 'w' already made call 2");
}

// kCallers clients call add 1 on one counter with IDEMPOTENT, each with its
// own caller id and increasing call ids; the server is SIGKILLed when the
// acknowledged calls reach a number drawn from a seeded RNG, restarted, and
// each client retries the call it had in flight. Then every call made
// (acknowledged or retried) must have been applied exactly once: the
// counter equals their number, and the replies are distinct.
TEST_F(DsoModuleTest, SigkillUnderConcurrentIdempotentCallers) {
  constexpr int kCallers = 4, kCycles = 8;
  std::mt19937_64 rng(12345);
  std::vector<int64_t> last_id(kCallers, 0);  // per caller: the last call made
  std::set<long long> replies;
  int64_t calls = 0;
  {
    DsoProcess p;
    start(&p);
    Client c(p.port());
    ASSERT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).integer, 1);
    shutdown(&p);
  }
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    DsoProcess p;
    start(&p);
    {
      // Retry what was in flight when the last server died.
      Client c(p.port());
      for (int t = 0; t < kCallers; ++t) {
        if (last_id[t] == 0) continue;
        Reply r = call(c, kCounter, "n", "add",
                       {"1", "IDEMPOTENT", "t" + std::to_string(t), std::to_string(last_id[t])});
        ASSERT_EQ(r.type, REDIS_REPLY_INTEGER) << r.str;
        replies.insert(r.integer);
      }
      ASSERT_EQ(call(c, kCounter, "n", "get").integer, calls);
      ASSERT_EQ(replies.size(), static_cast<size_t>(calls));
    }
    const int target = 50 + static_cast<int>(rng() % 400);
    std::mutex mu;
    std::condition_variable cv;
    int acked = 0;
    std::vector<std::set<long long>> got(kCallers);
    std::vector<std::thread> threads;
    for (int t = 0; t < kCallers; ++t) {
      threads.emplace_back([&, t] {
        Client c(p.port());
        for (;;) {
          int64_t id = last_id[t] + 1;
          last_id[t] = id;  // sent: a retry must use it
          Reply r = call(c, kCounter, "n", "add",
                         {"1", "IDEMPOTENT", "t" + std::to_string(t), std::to_string(id)});
          if (r.type != REDIS_REPLY_INTEGER) return;  // the server is gone
          got[t].insert(r.integer);
          std::lock_guard l(mu);
          ++acked;
          cv.notify_all();
        }
      });
    }
    {
      std::unique_lock l(mu);
      cv.wait(l, [&] { return acked >= target; });
    }
    p.kill(SIGKILL);
    for (auto& th : threads) th.join();
    p.wait();
    calls = 0;
    for (int t = 0; t < kCallers; ++t) {
      for (long long v : got[t]) ASSERT_TRUE(replies.insert(v).second) << "reply given twice";
      calls += last_id[t];
    }
  }
  DsoProcess p;
  start(&p);
  Client c(p.port());
  for (int t = 0; t < kCallers; ++t) {
    Reply r = call(c, kCounter, "n", "add",
                   {"1", "IDEMPOTENT", "t" + std::to_string(t), std::to_string(last_id[t])});
    ASSERT_EQ(r.type, REDIS_REPLY_INTEGER);
    replies.insert(r.integer);
  }
  EXPECT_EQ(call(c, kCounter, "n", "get").integer, calls);
  EXPECT_EQ(replies.size(), static_cast<size_t>(calls));
  EXPECT_EQ(*replies.begin(), 1);
  EXPECT_EQ(*replies.rbegin(), calls);
}

TEST_F(DsoModuleTest, ModulesFromTheConfigFile) {
  std::string config = dir_.file("dso.conf");
  {
    std::ofstream f(config);
    f << "pool = \"" << dir_.file("dso.pool") << "\"\nmode = \"emulated\"\nsize = \"64M\"\n"
      << "load-module = [\"" << NVOBJ_KMEANS_MODULE << "\", \"" << NVOBJ_LOGREG_MODULE << "\"]\n";
  }
  DsoProcess p;
  ASSERT_TRUE(p.start({"--config", config}));
  Client c(p.port());
  EXPECT_EQ(c.cmd({"DSO.NEW", kCentroids, "c", "1", "1"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.NEW", kWeights, "w", "1"}).integer, 1);
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).str, "ERR unknown type 'test.Counter'");
}

TEST_F(DsoModuleTest, OtherBackendsRefuseModuleObjects) {
  DsoProcess p;
  ASSERT_TRUE(p.start({"--backend", "volatile", "--load-module", NVOBJ_COUNTER_MODULE}));
  Client c(p.port());
  EXPECT_EQ(c.cmd({"DSO.NEW", kCounter, "n"}).str,
            "ERR user-defined objects need the nvobj backend");
  EXPECT_EQ(call(c, kCounter, "n", "get").str, "ERR user-defined objects need the nvobj backend");
}

TEST_F(DsoModuleTest, ModuleLoadingErrors) {
  const std::string missing = dir_.file("none.so");
  EXPECT_NE(load_error({missing}).find("module " + missing + ": no such file"), std::string::npos);
  const std::string text = dir_.file("text.so");
  std::ofstream(text) << "not a library\n";
  EXPECT_NE(load_error({text}).find("module " + text + ": not a shared library (no ELF header)"),
            std::string::npos);
  EXPECT_NE(load_error({dir_.path()}).find("not a regular file"), std::string::npos);
  EXPECT_NE(load_error({NVOBJ_BAD_MODULE_no_entry})
                .find("not an nvobj-dso module: it does not export nvobj_dso_module()"),
            std::string::npos);
  EXPECT_NE(load_error({NVOBJ_BAD_MODULE_abi})
                .find("built for module ABI version 2, this server loads version 1"),
            std::string::npos);
  EXPECT_NE(load_error({NVOBJ_BAD_MODULE_facts})
                .find("ABI mismatch: sizeof(nvobj::Store) is 8 in the module"),
            std::string::npos);
  EXPECT_NE(load_error({NVOBJ_BAD_MODULE_no_types}).find("it registers no type"),
            std::string::npos);
  EXPECT_NE(
      load_error({NVOBJ_BAD_MODULE_bad_name}).find("type name 'Plain' must be <namespace>.<Name>"),
      std::string::npos);
  EXPECT_NE(
      load_error({NVOBJ_BAD_MODULE_throws}).find("registration failed: cannot register today"),
      std::string::npos);
  EXPECT_NE(load_error({NVOBJ_COUNTER_MODULE, NVOBJ_DUP_MODULE})
                .find("duplicate type name 'test.Counter': already defined by module counter"),
            std::string::npos);
  EXPECT_NE(load_error({NVOBJ_PRIVATE_RUNTIME_MODULE})
                .find("it carries its own copy of the nvobj runtime"),
            std::string::npos);
}

}  // namespace
}  // namespace nvobj::testing
