// nvobj-dso end to end: the real server binary on a loopback port, driven
// with hiredis. Commands and their error replies, pipelining, RESP3 via
// HELLO, AUTH, bad protocol input, and durability: data survives SHUTDOWN,
// and every acknowledged write survives SIGKILL.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
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

class DsoServerTest : public ::testing::Test {
 protected:
  std::vector<std::string> pool_args() const {
    return {"--pool", dir_.file("dso.pool"), "--size", "64M", "--mode", "emulated"};
  }
  nvobj::testing::TempDir dir_;
};

TEST_F(DsoServerTest, StringCommandsAndErrors) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.cmd({"PING"}).str, "PONG");
  EXPECT_EQ(c.cmd({"ECHO", "hi"}).str, "hi");
  EXPECT_EQ(c.cmd({"SET", "k", std::string("a\0b\r\n", 5)}).str, "OK");
  EXPECT_EQ(c.cmd({"GET", "k"}).str, std::string("a\0b\r\n", 5));
  EXPECT_EQ(c.cmd({"GET", "missing"}).type, REDIS_REPLY_NIL);
  EXPECT_EQ(c.cmd({"SET", "k", "v", "NX"}).type, REDIS_REPLY_NIL);
  EXPECT_EQ(c.cmd({"SET", "n", "v", "XX"}).type, REDIS_REPLY_NIL);
  EXPECT_EQ(c.cmd({"SET", "k", "v2", "XX", "GET"}).str, std::string("a\0b\r\n", 5));
  EXPECT_EQ(c.cmd({"GETSET", "k", "v3"}).str, "v2");
  EXPECT_EQ(c.cmd({"INCR", "c"}).integer, 1);
  EXPECT_EQ(c.cmd({"INCRBY", "c", "41"}).integer, 42);
  EXPECT_EQ(c.cmd({"DECRBY", "c", "2"}).integer, 40);
  EXPECT_EQ(c.cmd({"DECR", "c"}).integer, 39);
  EXPECT_EQ(c.cmd({"INCR", "k"}).str, "ERR value is not an integer or out of range");
  EXPECT_EQ(c.cmd({"SET", "big", "9223372036854775807"}).str, "OK");
  EXPECT_EQ(c.cmd({"INCR", "big"}).str, "ERR increment or decrement would overflow");
  EXPECT_EQ(c.cmd({"APPEND", "s", "ab"}).integer, 2);
  EXPECT_EQ(c.cmd({"APPEND", "s", "cd"}).integer, 4);
  EXPECT_EQ(c.cmd({"STRLEN", "s"}).integer, 4);
  EXPECT_EQ(c.cmd({"MSET", "m1", "1", "m2", "2"}).str, "OK");
  Reply mget = c.cmd({"MGET", "m1", "nope", "m2"});
  ASSERT_EQ(mget.elements.size(), 3u);
  EXPECT_EQ(mget.elements[0].str, "1");
  EXPECT_EQ(mget.elements[1].type, REDIS_REPLY_NIL);
  EXPECT_EQ(c.cmd({"EXISTS", "m1", "m2", "nope"}).integer, 2);
  EXPECT_EQ(c.cmd({"TYPE", "m1"}).str, "string");
  EXPECT_EQ(c.cmd({"TYPE", "nope"}).str, "none");
  EXPECT_EQ(c.cmd({"KEYS", "m?"}).elements.size(), 2u);
  EXPECT_EQ(c.cmd({"RENAME", "m1", "m3"}).str, "OK");
  EXPECT_EQ(c.cmd({"GET", "m3"}).str, "1");
  EXPECT_EQ(c.cmd({"RENAME", "nope", "x"}).str, "ERR no such key");
  EXPECT_EQ(c.cmd({"DEL", "m2", "m3", "nope"}).integer, 2);
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 4);  // k, c, big, s ("n" was never set: XX)
  EXPECT_EQ(c.cmd({"GET"}).str, "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(c.cmd({"NOSUCH", "a"}).str,
            "ERR unknown command 'NOSUCH', with args beginning with: 'a' ");
  EXPECT_EQ(c.cmd({"FLUSHALL"}).str, "OK");
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 0);
}

TEST_F(DsoServerTest, PipeliningResp3AndAuth) {
  DsoProcess p;
  ASSERT_TRUE(p.start([&] {
    auto a = pool_args();
    a.insert(a.end(), {"--requirepass", "secret"});
    return a;
  }()));
  Client c(p.port());
  EXPECT_EQ(c.cmd({"GET", "k"}).str, "NOAUTH Authentication required.");
  EXPECT_EQ(c.cmd({"AUTH", "wrong"}).str,
            "WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(c.cmd({"AUTH", "secret"}).str, "OK");
  // 1000 pipelined commands, replies in order.
  for (int i = 0; i < 1000; ++i) redisAppendCommand(c.raw(), "SET key%d %d", i % 10, i);
  for (int i = 0; i < 1000; ++i) {
    void* r = nullptr;
    ASSERT_EQ(redisGetReply(c.raw(), &r), REDIS_OK);
    EXPECT_EQ(std::string(static_cast<redisReply*>(r)->str), "OK");
    freeReplyObject(r);
  }
  EXPECT_EQ(c.cmd({"GET", "key9"}).str, "999");
  // HELLO 3 answers with a RESP3 map (hiredis 0.14 reads only RESP2, so the
  // bytes are checked raw on a socket of our own below).
  Reply hello2 = c.cmd({"HELLO", "2"});
  ASSERT_EQ(hello2.type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(hello2.elements[1].str, "nvobj-dso");
  EXPECT_EQ(c.cmd({"HELLO", "4"}).str, "NOPROTO unsupported protocol version");
}

// The fences the server made so far (INFO's nvobj section).
long long info_fences(Client& c) {
  std::string info = c.cmd({"INFO"}).str;
  size_t at = info.find("nvobj_fences:");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + 13));
}

// Pipelined writes on one I/O thread share fences (group commit); with
// --group-commit no, or two I/O threads, each write fences. Either way every
// write is there after a SIGKILL.
TEST_F(DsoServerTest, OneIoThreadGroupCommitsAClientsPipeline) {
  for (const char* mode : {"yes", "no", "2 threads"}) {
    SCOPED_TRACE(mode);
    DsoProcess p;
    auto args = pool_args();
    bool two = std::string(mode) == "2 threads";
    args.insert(args.end(),
                {"--io-threads", two ? "2" : "1", "--group-commit", two ? "yes" : mode});
    ASSERT_TRUE(p.start(args));
    Client c(p.port());
    c.cmd({"FLUSHALL"});
    long long before = info_fences(c);
    ASSERT_GE(before, 0);
    constexpr int kWrites = 200;  // 200 distinct keys: no write reads another's record
    for (int i = 0; i < kWrites; ++i) redisAppendCommand(c.raw(), "SET gc%d v%d", i, i);
    for (int i = 0; i < kWrites; ++i) {
      void* r = nullptr;
      ASSERT_EQ(redisGetReply(c.raw(), &r), REDIS_OK);
      freeReplyObject(r);
    }
    long long fences = info_fences(c) - before;
    if (std::string(mode) == "yes")
      EXPECT_LT(fences, kWrites / 4);  // one per batch read (and per new chunk)
    else
      EXPECT_GE(fences, kWrites);
    p.kill(SIGKILL);
    p.wait();
    DsoProcess q;
    ASSERT_TRUE(q.start(pool_args()));
    Client d(q.port());
    for (int i = 0; i < kWrites; ++i)
      ASSERT_EQ(d.cmd({"GET", "gc" + std::to_string(i)}).str, "v" + std::to_string(i));
  }
}

// An INFO field of the nvobj section, or -1.
long long info_field(Client& c, const std::string& name) {
  std::string info = c.cmd({"INFO"}).str;
  size_t at = info.find(name + ":");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + name.size() + 1));
}

// --clean-at sets the share of the key space's log that may be dead before
// updates clean it: rewriting 100 keys over and over keeps the log near it.
TEST_F(DsoServerTest, CleanAtBoundsTheDeadShareOfTheLog) {
  for (int clean_at : {10, 60}) {
    SCOPED_TRACE(clean_at);
    nvobj::testing::TempDir dir;
    DsoProcess p;
    ASSERT_TRUE(p.start({"--pool", dir.file("p"), "--size", "64M", "--mode", "emulated",
                         "--clean-at", std::to_string(clean_at)}));
    Client c(p.port());
    constexpr int kWrites = 20000;
    for (int i = 0; i < kWrites; ++i) redisAppendCommand(c.raw(), "SET k%d %d", i % 100, i);
    for (int i = 0; i < kWrites; ++i) {
      void* r = nullptr;
      ASSERT_EQ(redisGetReply(c.raw(), &r), REDIS_OK);
      freeReplyObject(r);
    }
    double log = static_cast<double>(info_field(c, "nvobj_keyspace_log_bytes"));
    double dead = static_cast<double>(info_field(c, "nvobj_keyspace_dead_bytes"));
    ASSERT_GT(log, 0);
    if (clean_at == 10)
      EXPECT_LT(dead / log, 0.3);
    else
      EXPECT_GT(dead / log, 0.3);
    EXPECT_EQ(c.cmd({"GET", "k42"}).str, std::to_string(kWrites - 58));
  }
  DsoProcess bad;
  EXPECT_FALSE(bad.start({"--pool", dir_.file("p"), "--clean-at", "0"}));
  EXPECT_NE(bad.wait(), 0);
}

TEST_F(DsoServerTest, MalformedInputGetsAnErrorAndTheConnectionCloses) {
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  std::string bad = "*1\r\n$x\r\n";
  ASSERT_EQ(::write(c.raw()->fd, bad.data(), bad.size()), static_cast<ssize_t>(bad.size()));
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::read(c.raw()->fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(got, "-ERR Protocol error: invalid bulk length\r\n");  // then EOF
  Client again(p.port());                                          // the server is fine
  EXPECT_EQ(again.cmd({"PING"}).str, "PONG");
}

TEST_F(DsoServerTest, DataSurvivesShutdownAndSigkill) {
  {
    DsoProcess p;
    ASSERT_TRUE(p.start(pool_args()));
    Client c(p.port());
    EXPECT_EQ(c.cmd({"SET", "kept", "1"}).str, "OK");
    c.cmd({"SHUTDOWN"});
    EXPECT_EQ(p.wait(), 0);
  }
  for (int round = 0; round < 5; ++round) {
    DsoProcess p;
    ASSERT_TRUE(p.start(pool_args()));
    Client c(p.port());
    EXPECT_EQ(c.cmd({"GET", "kept"}).str, "1");
    // Every INCR acknowledged before the kill must be there after it.
    long long acked = c.cmd({"GET", "count"}).type == REDIS_REPLY_NIL
                          ? 0
                          : std::stoll(c.cmd({"GET", "count"}).str);
    for (int i = 0; i < 100 + round * 37; ++i) acked = c.cmd({"INCR", "count"}).integer;
    p.kill(SIGKILL);
    p.wait();
    DsoProcess q;
    ASSERT_TRUE(q.start(pool_args()));
    Client d(q.port());
    EXPECT_EQ(std::stoll(d.cmd({"GET", "count"}).str), acked) << "round " << round;
    d.cmd({"SHUTDOWN"});
    q.wait();
  }
}

// A clean shutdown saves the key space's index (and a large hash's): the
// next start loads them instead of reading the logs, and serves the same
// data; after a SIGKILL the logs are read again.
TEST_F(DsoServerTest, ACleanShutdownSavesTheIndexesForTheNextStart) {
  const std::string kb(1000, 'v');
  auto from_snapshot = [](Client& c) {
    return c.cmd({"INFO"}).str.find("nvobj_keyspace_index_from_snapshot:1") != std::string::npos;
  };
  {
    DsoProcess p;
    ASSERT_TRUE(p.start(pool_args()));
    Client c(p.port());
    for (int i = 0; i < 400; ++i) ASSERT_EQ(c.cmd({"SET", "k" + std::to_string(i), kb}).str, "OK");
    for (int i = 0; i < 400; ++i) c.cmd({"HSET", "h", "f" + std::to_string(i), kb});
    EXPECT_FALSE(from_snapshot(c));  // a new pool
    c.cmd({"SHUTDOWN"});
    EXPECT_EQ(p.wait(), 0);
  }
  {
    DsoProcess p;
    ASSERT_TRUE(p.start(pool_args()));
    Client c(p.port());
    EXPECT_TRUE(from_snapshot(c));
    EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 401);
    EXPECT_EQ(c.cmd({"GET", "k399"}).str, kb);
    EXPECT_EQ(c.cmd({"HLEN", "h"}).integer, 400);
    EXPECT_EQ(c.cmd({"HGET", "h", "f0"}).str, kb);
    EXPECT_EQ(c.cmd({"SET", "k0", "changed"}).str, "OK");
    p.kill(SIGKILL);
    p.wait();
  }
  DsoProcess p;
  ASSERT_TRUE(p.start(pool_args()));
  Client c(p.port());
  EXPECT_FALSE(from_snapshot(c));  // recovered: the log was read
  EXPECT_EQ(c.cmd({"GET", "k0"}).str, "changed");
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, 401);
  c.cmd({"SHUTDOWN"});
  p.wait();
}

TEST_F(DsoServerTest, IdleClientsAreDisconnected) {
  DsoProcess p;
  auto args = pool_args();
  args.insert(args.end(), {"--timeout", "1"});
  ASSERT_TRUE(p.start(args));
  RawSocket silent(p.port());
  RawSocket partial(p.port());  // idle halfway through a request
  Client active(p.port());
  ASSERT_TRUE(silent.ok() && partial.ok() && active.ok());
  ASSERT_TRUE(partial.send("*2\r\n$3\r\nGET\r\n"));
  // The active client keeps sending while the others wait for the server to
  // close them; between its commands it waits at most 20 ms on their
  // sockets, far below the timeout. The 60 s bound only stops a broken
  // server from hanging the test.
  bool silent_closed = false, partial_closed = false;
  std::string silent_got, partial_got;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(silent_closed && partial_closed) && std::chrono::steady_clock::now() < give_up) {
    ASSERT_EQ(active.cmd({"PING"}).str, "PONG");
    if (!silent_closed) silent_got += silent.read_until_eof(10, &silent_closed);
    if (!partial_closed) partial_got += partial.read_until_eof(10, &partial_closed);
  }
  EXPECT_TRUE(silent_closed);
  EXPECT_TRUE(partial_closed);
  EXPECT_EQ(silent_got, "");  // closed without a word, as redis does
  EXPECT_EQ(partial_got, "");
  EXPECT_EQ(active.cmd({"PING"}).str, "PONG");
  Client later(p.port());
  EXPECT_EQ(later.cmd({"PING"}).str, "PONG");
}

TEST_F(DsoServerTest, RequestsOverTheSizeLimitsGetAnErrorAndTheConnectionCloses) {
  DsoProcess p;
  auto args = pool_args();
  args.insert(args.end(), {"--proto-max-bulk-len", "64K", "--proto-max-multibulk-len", "4",
                           "--client-query-buffer-limit", "16K"});
  ASSERT_TRUE(p.start(args));
  Client other(p.port());
  ASSERT_TRUE(other.ok());
  // At the limits: served.
  EXPECT_EQ(other.cmd({"SET", "k", std::string(1024, 'x')}).str, "OK");
  EXPECT_EQ(other.cmd({"MGET", "k", "a", "b"}).elements.size(), 3u);  // 4 arguments
  EXPECT_EQ(other.cmd({"SET", "k", "v", "XX", "GET"}).str,
            "ERR Protocol error: invalid multibulk length");  // 5: closed

  struct Case {
    std::string request;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$65537\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*5\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"MGET a b c d e\r\n", "-ERR Protocol error: too many arguments in inline request\r\n"},
      // A 40 KB argument is under the bulk limit but over the 16 KiB a
      // client may have pending.
      {"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40000\r\n" + std::string(40000, 'v') + "\r\n",
       "-ERR Protocol error: query buffer limit exceeded\r\n"},
  };
  for (const Case& c : cases) {
    RawSocket s(p.port());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.send(c.request));
    bool closed = false;
    EXPECT_EQ(s.read_until_eof(30000, &closed), c.reply) << c.request.substr(0, 40);
    EXPECT_TRUE(closed);
  }
  // The server keeps serving.
  Client again(p.port());
  EXPECT_TRUE(again.cmd({"GET", "k"}).str == std::string(1024, 'x'));
}

TEST_F(DsoServerTest, ClientsBeyondMaxclientsAreRefused) {
  DsoProcess p;
  auto args = pool_args();
  args.insert(args.end(), {"--maxclients", "2"});
  ASSERT_TRUE(p.start(args));
  {
    Client a(p.port()), b(p.port());
    // A reply means the server has accepted and counted the connection.
    ASSERT_EQ(a.cmd({"PING"}).str, "PONG");
    ASSERT_EQ(b.cmd({"PING"}).str, "PONG");
    RawSocket third(p.port());
    ASSERT_TRUE(third.ok());
    bool closed = false;
    EXPECT_EQ(third.read_until_eof(30000, &closed), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(closed);
    EXPECT_EQ(a.cmd({"PING"}).str, "PONG");  // the others are unaffected
  }
  // The server frees a slot once it has seen the client go, which it may
  // not have yet when the next one connects: retry (each try is a round
  // trip; the bound only stops a broken server from hanging the test).
  bool served = false;
  for (int i = 0; i < 10000 && !served; ++i) {
    Client c(p.port());
    served = c.cmd({"PING"}).str == "PONG";
  }
  EXPECT_TRUE(served);
}

// 64 KiB, distinct per i, so that a value read back under another key or a
// torn one shows.
std::string big_value(int i) {
  std::string v(size_t{64} << 10, '.');
  const std::string tag = std::to_string(i) + ":";
  for (size_t at = 0; at + tag.size() <= v.size(); at += tag.size()) v.replace(at, tag.size(), tag);
  return v;
}

// SETs of 64 KiB values until the pool (which may not grow) is full. Returns
// the first error reply; every acknowledged key goes into *model.
std::string fill(Client& c, int* next, std::map<std::string, std::string>* model) {
  for (int bound = *next + 100000; *next < bound; ++*next) {
    const std::string key = "k" + std::to_string(*next);
    Reply r = c.cmd({"SET", key, big_value(*next)});
    if (r.type != REDIS_REPLY_STATUS) {
      EXPECT_EQ(c.cmd({"EXISTS", key}).integer, 0) << "a refused SET left its key";
      ++*next;
      return r.str;
    }
    EXPECT_EQ(r.str, "OK");
    (*model)[key] = big_value(*next);
  }
  return "pool never filled";
}

void expect_model(Client& c, const std::map<std::string, std::string>& model) {
  EXPECT_EQ(c.cmd({"DBSIZE"}).integer, static_cast<long long>(model.size()));
  for (const auto& [k, v] : model) {
    Reply r = c.cmd({"GET", k});
    ASSERT_EQ(r.type, REDIS_REPLY_STRING) << k << ": " << r.str;
    ASSERT_TRUE(r.str == v) << k << " has another value";
  }
}

TEST_F(DsoServerTest, FullPoolRefusesWritesWithOomAndKeepsAcknowledgedData) {
  // 16 MiB that may not grow: about 240 values of 64 KiB.
  std::vector<std::string> args = {
      "--pool", dir_.file("full.pool"), "--size", "16M", "--max-size", "16M", "--mode", "emulated"};
  std::map<std::string, std::string> model;
  int next = 0;
  {
    DsoProcess p;
    ASSERT_TRUE(p.start(args));
    Client c(p.port());
    const std::string error = fill(c, &next, &model);
    EXPECT_TRUE(error.starts_with("OOM command not allowed: ")) << error;
    EXPECT_GT(model.size(), 100u);
    // Reads keep working, and nothing acknowledged was lost or damaged.
    expect_model(c, model);
    EXPECT_EQ(c.cmd({"PING"}).str, "PONG");
    // Writes of every type get an error or succeed whole: a refused one
    // leaves no key behind (in particular no empty container) and no
    // string changed.
    const std::vector<std::vector<std::string>> writes = {
        {"HSET", "hash", "f", big_value(-1)}, {"RPUSH", "list", big_value(-2)},
        {"ZADD", "zset", "1", big_value(-3)}, {"APPEND", "k0", big_value(-4)},
        {"SET", "k1", big_value(-5), "XX"},   {"INCR", "counter"},
    };
    for (const auto& w : writes) {
      Reply r = c.cmd(w);
      const std::string& key = w[1];
      if (r.type == REDIS_REPLY_ERROR) {
        EXPECT_TRUE(r.str.starts_with("OOM command not allowed: ")) << w[0] << ": " << r.str;
        if (!model.contains(key)) {
          EXPECT_EQ(c.cmd({"EXISTS", key}).integer, 0) << w[0];
        }
      } else if (w[0] == "APPEND") {
        model[key] += w[2];
      } else if (w[0] == "SET") {
        model[key] = w[2];
      } else if (w[0] == "INCR") {
        model[key] = std::to_string(r.integer);
      } else {  // a container: only strings are modelled
        EXPECT_EQ(c.cmd({"DEL", key}).integer, 1);
      }
    }
    // MSET is durable key by key: a refusal may leave the first key written.
    if (c.cmd({"MSET", "m1", big_value(-6), "m2", big_value(-7)}).type == REDIS_REPLY_STATUS) {
      model["m1"] = big_value(-6);
      model["m2"] = big_value(-7);
    } else {
      EXPECT_EQ(c.cmd({"EXISTS", "m2"}).integer, 0);
      if (c.cmd({"EXISTS", "m1"}).integer == 1) model["m1"] = big_value(-6);
    }
    expect_model(c, model);
    // DEL works on a full pool and makes room for new values.
    int deleted = 0;
    for (auto it = model.begin(); it != model.end() && deleted < 60;) {
      ASSERT_EQ(c.cmd({"DEL", it->first}).integer, 1);
      it = model.erase(it);
      ++deleted;
    }
    int taken = 0;
    for (int i = 0; i < deleted; ++i) {
      const std::string key = "new" + std::to_string(i);
      if (c.cmd({"SET", key, big_value(100000 + i)}).str != "OK") break;
      model[key] = big_value(100000 + i);
      ++taken;
    }
    EXPECT_GT(taken, 0) << "deleting " << deleted << " values freed no room";
    std::printf("full pool: %zu values, then %d deleted made room for %d\n", model.size(), deleted,
                taken);
    expect_model(c, model);
    c.cmd({"SHUTDOWN"});
    EXPECT_EQ(p.wait(), 0);
  }
  {
    // A clean restart of a full pool has every acknowledged value; fill it
    // up again and kill the server while it is full.
    DsoProcess p;
    ASSERT_TRUE(p.start(args));
    Client c(p.port());
    expect_model(c, model);
    const std::string error = fill(c, &next, &model);
    EXPECT_TRUE(error.starts_with("OOM command not allowed: ")) << error;
    p.kill(SIGKILL);
    p.wait();
  }
  // Recovery of a full pool.
  DsoProcess p;
  ASSERT_TRUE(p.start(args));
  Client c(p.port());
  expect_model(c, model);
  // And serves normally: room made by DEL is reused.
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(c.cmd({"DEL", model.begin()->first}).integer, 1);
    model.erase(model.begin());
  }
  EXPECT_EQ(c.cmd({"SET", "after", "recovery"}).str, "OK");
}

}  // namespace
