#include "dso-backend/client/client.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

namespace nvobj::dso {

namespace {

using std::chrono::milliseconds;

timeval to_timeval(milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Value convert(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER: return Value::integer(r->integer);
    case REDIS_REPLY_STRING: return Value::string(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:  // only inside an array: the top level throws
      return Value::string(std::string(r->str, r->len), Value::Kind::kStatus);
    case REDIS_REPLY_ARRAY: {
      std::vector<Value> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(convert(r->element[i]));
      return Value::array(std::move(elements));
    }
    default: return Value::nil();
  }
}

[[noreturn]] void throw_error_reply(const redisReply* r) {
  std::string text(r->str, r->len);
  std::string code = text.substr(0, text.find(' '));
  if (code == "TIMEOUT") throw TimeoutError(text);
  throw Error(Error::Kind::kServer, code, text);
}

// One hiredis connection and the socket timeout it has now (ms, 0: none),
// so that a call sets it only when it needs another.
struct Connection {
  redisContext* ctx = nullptr;
  int64_t timeout_ms = -1;
  ~Connection() {
    if (ctx != nullptr) redisFree(ctx);
  }
  void set_timeout(milliseconds t) {
    if (t.count() == timeout_ms) return;
    redisSetTimeout(ctx, to_timeval(t));
    timeout_ms = t.count();
  }
  // false if the server closed the connection (e.g. it restarted while the
  // connection sat in the pool) or sent something unasked.
  bool alive() const {
    char b;
    ssize_t n = ::recv(ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

// hiredis writes with write(2): a second write to a connection the server
// reset would raise SIGPIPE and kill the application. The guard blocks
// SIGPIPE in this thread for the call and takes any it raised, so a lost
// connection is only an error (hiredis's EPIPE); nothing changes for an
// application that ignores SIGPIPE already.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false, blocked_ = false;
};

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)) {
    if (options.pool_size == 0) options.pool_size = 1;
  }

  ClientOptions options;
  mutable std::mutex mu;
  std::condition_variable freed;
  std::vector<std::unique_ptr<Connection>> idle;
  size_t open = 0;  // idle and in use

  std::unique_ptr<Connection> connect() {
    auto c = std::make_unique<Connection>();
    c->ctx = redisConnectWithTimeout(options.host.c_str(), options.port,
                                     to_timeval(options.connect_timeout));
    if (c->ctx == nullptr) throw ConnectionError("cannot allocate a connection", false);
    if (c->ctx->err != 0)
      throw ConnectionError("cannot connect to " + options.host + ":" +
                                std::to_string(options.port) + ": " + c->ctx->errstr,
                            false);
    c->set_timeout(options.command_timeout);
    if (!options.password.empty()) {
      redisReply* r;
      {
        SigpipeGuard guard;
        r = static_cast<redisReply*>(
            redisCommand(c->ctx, "AUTH %b", options.password.data(), options.password.size()));
      }
      if (r == nullptr) throw ConnectionError(std::string("AUTH failed: ") + c->ctx->errstr, false);
      if (r->type == REDIS_REPLY_ERROR) {
        std::unique_ptr<redisReply, void (*)(void*)> hold(r, freeReplyObject);
        throw_error_reply(r);
      }
      freeReplyObject(r);
    }
    return c;
  }

  // A connection for one call: an idle one that is still open, a new one
  // while fewer than pool_size are open, else the next one given back.
  std::unique_ptr<Connection> acquire() {
    std::unique_lock lock(mu);
    for (;;) {
      while (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        if (c->alive()) return c;
        --open;
      }
      if (open < options.pool_size) {
        ++open;
        lock.unlock();
        try {
          return connect();
        } catch (...) {
          lock.lock();
          --open;
          freed.notify_one();
          throw;
        }
      }
      freed.wait(lock);
    }
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    idle.push_back(std::move(c));
    freed.notify_one();
  }

  void discard(std::unique_ptr<Connection> c) {
    c.reset();
    std::lock_guard lock(mu);
    --open;
    freed.notify_one();
  }

  // Sends args and returns the reply; socket_timeout bounds the wait for
  // it (0: none).
  Value execute(const ArgList& args, Retry retry, milliseconds socket_timeout) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    milliseconds pause = options.retry_backoff;
    for (int attempt = 0;; ++attempt) {
      auto backoff = [&] {
        std::this_thread::sleep_for(pause);  // pacing retries, e.g. while a server restarts
        pause = std::min(pause * 2, options.retry_backoff_max);
      };
      std::unique_ptr<Connection> c;
      try {
        c = acquire();
      } catch (const ConnectionError&) {
        if (attempt >= options.retries) throw;
        backoff();
        continue;  // nothing was sent
      }
      c->set_timeout(socket_timeout);
      redisAppendCommandArgv(c->ctx, static_cast<int>(args.size()), argv.data(), lens.data());
      void* raw = nullptr;
      int rc, err;
      {
        SigpipeGuard guard;
        rc = redisGetReply(c->ctx, &raw);
        err = errno;
      }
      if (rc == REDIS_OK && raw != nullptr) {
        std::unique_ptr<redisReply, void (*)(void*)> r(static_cast<redisReply*>(raw),
                                                       freeReplyObject);
        release(std::move(c));
        if (r->type == REDIS_REPLY_ERROR) throw_error_reply(r.get());
        return convert(r.get());
      }
      bool timed_out = c->ctx->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK);
      std::string why = timed_out ? "the command timed out" : c->ctx->errstr;
      discard(std::move(c));
      if (retry == Retry::kSafe && attempt < options.retries) {
        backoff();
        continue;
      }
      throw ConnectionError("connection to " + options.host + ":" + std::to_string(options.port) +
                                " failed during " + args[0] + ": " + why,
                            timed_out);
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }

Value Client::command(const ArgList& args, Retry retry) {
  return impl_->execute(args, retry, impl_->options.command_timeout);
}

Value Client::blocking_command(const ArgList& args, Timeout wait) {
  ArgList full = args;
  milliseconds socket_timeout{0};  // none: the server may keep the call as long as it likes
  if (wait) {
    append_arg(full, "TIMEOUT");
    append_arg(full, static_cast<int64_t>(wait->count()));
    if (impl_->options.command_timeout.count() > 0)
      socket_timeout = *wait + impl_->options.command_timeout;
  }
  return impl_->execute(full, Retry::kNever, socket_timeout);
}

void Client::ping() { command({"PING"}, Retry::kSafe); }

size_t Client::open_connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->open;
}

namespace {

const char* persistence_flag(Persistence p) {
  return p == Persistence::kPersistent ? "PERSISTENT" : "EPHEMERAL";
}

}  // namespace

// DSO.NEW leaves an object of its type as it is, so a repeat is harmless.
CyclicBarrier Client::barrier(std::string key, int64_t parties, Persistence p) {
  command(make_args("DSO.NEW", "barrier", key, persistence_flag(p), parties), Retry::kSafe);
  return CyclicBarrier(*this, std::move(key));
}

Semaphore Client::semaphore(std::string key, int64_t permits, Persistence p) {
  command(make_args("DSO.NEW", "semaphore", key, persistence_flag(p), permits), Retry::kSafe);
  return Semaphore(*this, std::move(key));
}

CountDownLatch Client::latch(std::string key, int64_t count, Persistence p) {
  command(make_args("DSO.NEW", "latch", key, persistence_flag(p), count), Retry::kSafe);
  return CountDownLatch(*this, std::move(key));
}

Future Client::future(std::string key, Persistence p) {
  command(make_args("DSO.NEW", "future", key, persistence_flag(p)), Retry::kSafe);
  return Future(*this, std::move(key));
}

bool Client::remove(const std::string& key) { return command({"DEL", key}).as_integer() == 1; }

}  // namespace nvobj::dso
