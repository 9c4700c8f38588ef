#include "dso-backend/server/server.h"

#include <array>
#include <optional>

#include <asio.hpp>
#include <fmt/format.h>

#include "dso-backend/objects/object_space.h"
#include "runtime/group_commit.h"
#include "runtime/log.h"

namespace nvobj::dso {

namespace {

bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  return a.is_v6() && a.to_v6().is_v4_mapped() &&
         asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

}  // namespace

class Server::Impl {
 public:
  Impl(Backend& backend, ServerOptions options)
      : options_(std::move(options)), objects_(backend, ctx_.locks), acceptor_(io_) {
    // Commands see the backend through the object space (coordination
    // objects share its key space); persistent objects come back first.
    ctx_.backend = &objects_;
    ctx_.objects = &objects_;
    ctx_.password = options_.password;
    ctx_.bind = options_.bind;
    ctx_.proto_max_bulk_len = options_.parser.max_bulk_len;
    ctx_.shutdown = [this] { stop(); };
    if (size_t n = objects_.load(); n > 0) log().info("nvobj-dso: {} persistent objects", n);
  }

  Status start(uint16_t* port) {
    asio::error_code ec;
    asio::ip::address addr = asio::ip::make_address(options_.bind, ec);
    if (ec) return Status(StatusCode::kInvalidArgument, "bad bind address '" + options_.bind + "'");
    asio::ip::tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status(StatusCode::kIOError, fmt::format("cannot listen on {}:{}: {}", options_.bind,
                                                      options_.port, ec.message()));
    *port = acceptor_.local_endpoint().port();
    ctx_.port = *port;
    accept();
    return Status::ok();
  }

  void run() {
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < std::max(1u, options_.io_threads); ++i)
      threads.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : threads) t.join();
  }

  void stop() {
    asio::post(io_, [this] {
      asio::error_code ec;
      acceptor_.close(ec);
      io_.stop();
    });
  }

  ServerContext& ctx() { return ctx_; }
  const ServerOptions& options() const { return options_; }
  const CommandTable& table() const { return table_; }
  std::atomic<uint64_t>& next_id() { return next_id_; }

 private:
  class Session;
  void accept();

  // Sessions still queued in io_ when it is destroyed use ctx_, the table
  // and the objects (withdrawing a parked call) from their destructors, so
  // these are declared (built) first.
  ServerOptions options_;
  ServerContext ctx_;
  ObjectSpace objects_;
  CommandTable table_;
  std::atomic<uint64_t> next_id_{1};
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
};

// One client connection. Its socket and timers share a strand (with one
// I/O thread, the io_context's executor: that thread is the strand), so its
// handlers never run concurrently and it needs no lock.
//
// It reads, parses what arrived and executes the complete commands in
// order, batching their replies into one write; it reads no more while a
// write is in flight. A command may park (waiter.h): then the commands
// after it stay in the parser, unexecuted, while the session keeps reading
// (within the query buffer limit, and without the idle timeout); the
// waiter's completion comes back through the strand (resume), or the park
// timer or a disconnect withdraws it, and execution continues with the next
// buffered command.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, asio::ip::tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        park_timer_(socket_.get_executor()),
        parser_(server.options().parser) {
    client_.id = server.next_id().fetch_add(1);
    client_.authenticated = server.ctx().password.empty();
  }
  ~Session() {
    // Only when the io_context is torn down can a session go while parked.
    if (client_.parked != nullptr) {
      client_.parked->withdraw();
      server_.ctx().blocked.fetch_sub(1);
    }
    server_.ctx().connections.fetch_sub(1);
  }

  // Every step of a session runs on its strand, the first one included.
  void start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      // A completed waiter comes back on the strand, from whichever thread
      // completed it; a session gone by then drops the reply.
      self->client_.deliver = [strand = self->socket_.get_executor(),
                               weak = std::weak_ptr<Session>(self)](std::shared_ptr<Waiter> w) {
        asio::post(strand, [weak, w = std::move(w)] {
          if (auto s = weak.lock()) s->resume(w);
        });
      };
      self->read();
    });
  }

 private:
  void read() {
    if (reading_ || closed_) return;
    reading_ = true;
    update_idle_timer();
    socket_.async_read_some(asio::buffer(in_),
                            [this, self = shared_from_this()](asio::error_code ec, size_t n) {
                              reading_ = false;
                              update_idle_timer();
                              if (ec)
                                return close();  // closed, reset or timed out: drop the session
                              parser_.feed(std::string_view(in_.data(), n));
                              run();
                            });
  }

  // Executes the buffered commands until one parks or none is complete,
  // then writes the replies and reads on.
  //
  // With one I/O thread the commands' updates are a group commit
  // (runtime/group_commit.h): written back and fenced once, together,
  // before the replies go out, instead of one fence per update. Only then:
  // another thread could read an update before its commit, and reply with
  // it or update from it, and a crash could keep its effect and lose it.
  void run() {
    ReplyWriter writer(&pending_, client_.version);
    {
      std::optional<GroupCommit> batch;
      if (server_.options().group_commit && server_.options().io_threads <= 1) batch.emplace();
      while (!client_.close_after_reply && client_.parked == nullptr && take_next()) {
        peek();
        server_.table().execute(server_.ctx(), client_, args_, writer);
        writer.set_version(client_.version);  // HELLO may have switched it
        if (client_.parked != nullptr) parked();
      }
    }  // the batch commits here: every reply below is durable
    if (client_.parked == nullptr && parser_.failed()) {
      writer.error(parser_.error());
      client_.close_after_reply = true;
    } else if (!client_.close_after_reply &&
               parser_.pending_bytes() > server_.options().max_query_buffer) {
      writer.error("Protocol error: query buffer limit exceeded");
      client_.close_after_reply = true;
      abandon_parked();
    }
    pump();
  }

  // Moves the next command into args_: the first one peek() parsed, else
  // the parser's next.
  bool take_next() {
    if (ahead_n_ == 0) return parser_.next(&args_);
    args_.swap(ahead_[0]);
    ahead_[0].swap(ahead_[1]);
    --ahead_n_;
    return true;
  }

  // Parses up to two commands after the current one, if they have arrived,
  // and lets the backend load their keys while the current one runs, in two
  // stages a command apart: a command two ahead gets its index slot loaded
  // (Backend::prefetch), the next one, whose slot is in cache by then, its
  // value (the record the slot points to), so that neither miss stalls. The
  // parsed commands stay here, unexecuted, if the current one parks or
  // closes the connection, just as the ones still in the parser.
  void peek() {
    const bool next_was_parsed = ahead_n_ > 0;
    while (ahead_n_ < ahead_.size() && parser_.next(&ahead_[ahead_n_]))
      server_.table().prefetch(server_.ctx(), ahead_[ahead_n_++], /*value=*/false);
    if (next_was_parsed) server_.table().prefetch(server_.ctx(), ahead_[0], /*value=*/true);
  }

  // Starts what is due: a write of the pending replies, else the close
  // QUIT or an error asked for, else the next read.
  void pump() {
    if (closed_ || writing_) return;
    if (!pending_.empty()) return write();
    if (client_.close_after_reply) return close();
    read();
  }

  void write() {
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    asio::async_write(socket_, asio::buffer(out_),
                      [this, self = shared_from_this()](asio::error_code ec, size_t) {
                        writing_ = false;
                        out_.clear();
                        if (ec) return close();
                        pump();
                      });
  }

  // The connection is done (client gone, QUIT, error): a parked call is
  // withdrawn, and the session goes when its last handler has run.
  void close() {
    if (closed_) return;
    closed_ = true;
    abandon_parked();
    update_idle_timer();
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // --- parking ---

  // The command just executed parked: count it, and arm its timeout.
  void parked() {
    server_.ctx().blocked.fetch_add(1);
    update_idle_timer();
    if (!client_.park_timeout) return;
    park_timer_.expires_after(*client_.park_timeout);
    park_timer_.async_wait(
        [this, self = shared_from_this(), w = client_.parked](asio::error_code ec) {
          if (ec || client_.parked != w) return;
          // Withdrawal loses to a completion already made: its reply is
          // then on its way to resume().
          if (!w->withdraw()) return;
          ReplyWriter writer(&pending_, client_.version);
          writer.error("TIMEOUT", "the wait timed out");
          unpark();
          run();
        });
  }

  // The parked call completed: its reply, then the commands behind it.
  void resume(const std::shared_ptr<Waiter>& w) {
    if (closed_ || client_.parked != w) return;
    ReplyWriter writer(&pending_, client_.version);
    w->write_reply(writer);
    unpark();
    run();
  }

  void unpark() {
    client_.parked.reset();
    server_.ctx().blocked.fetch_sub(1);
    park_timer_.cancel();
    update_idle_timer();
  }

  void abandon_parked() {
    if (client_.parked == nullptr) return;
    client_.parked->withdraw();
    unpark();
  }

  // --- idle timeout ---

  // Idle time is time spent waiting for the client to send something: the
  // timer runs only while a read is pending and no call is parked, so a
  // slow command, a client slow to take its replies or a long wait is not
  // cut off. Also releases the wait's hold on the session when disarmed, so
  // that a closed session goes (and leaves the client count) at once
  // rather than at its deadline.
  void update_idle_timer() {
    const std::chrono::seconds timeout = server_.options().idle_timeout;
    const bool want = timeout.count() != 0 && reading_ && client_.parked == nullptr && !closed_;
    if (want == waiting_) return;
    waiting_ = want;
    if (!want) {
      idle_.cancel();
      return;
    }
    idle_.expires_after(timeout);
    idle_.async_wait([this, self = shared_from_this()](asio::error_code ec) {
      // A wait that had already fired when its read completed still runs:
      // it closes nothing unless the session is still waiting on input and
      // past the deadline of the wait armed last.
      if (ec || !waiting_ || idle_.expiry() > std::chrono::steady_clock::now()) return;
      log().debug("nvobj-dso: client {} idle for {} s: disconnected", client_.id,
                  server_.options().idle_timeout.count());
      close();  // the pending read ends with operation_aborted
    });
  }

  Impl& server_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer idle_;
  asio::steady_timer park_timer_;  // the parked call's TIMEOUT
  bool waiting_ = false;           // the idle timer is armed
  bool reading_ = false;           // a read is pending
  bool writing_ = false;           // a write is pending (out_)
  bool closed_ = false;
  RequestParser parser_;
  ClientState client_;
  std::vector<std::string> args_;                  // the command being run
  std::array<std::vector<std::string>, 2> ahead_;  // the next ones, parsed by peek()
  size_t ahead_n_ = 0;
  std::array<char, 16384> in_;
  std::string out_;      // being written
  std::string pending_;  // replies not yet written
};

void Server::Impl::accept() {
  // Each connection gets a strand of its own: its read, write and idle
  // timer handlers are serialised, different connections run in parallel.
  // With one I/O thread the io_context's own executor serialises them
  // already, and a strand would only add its lock and queue to every step.
  asio::any_io_executor ex = options_.io_threads <= 1
                                 ? asio::any_io_executor(io_.get_executor())
                                 : asio::any_io_executor(asio::make_strand(io_));
  acceptor_.async_accept(ex, [this](asio::error_code ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) accept();
      return;
    }
    asio::error_code e2;
    asio::ip::tcp::endpoint peer = socket.remote_endpoint(e2);
    socket.set_option(asio::ip::tcp::no_delay(true), e2);
    if (options_.protected_mode && ctx_.password.empty() && !e2 && !is_loopback(peer.address())) {
      static constexpr std::string_view kDenied =
          "-DENIED nvobj-dso is running in protected mode: no password is set and the client "
          "is not on the loopback interface. Set a password (--requirepass) or disable "
          "protected mode (--protected-mode no).\r\n";
      asio::write(socket, asio::buffer(kDenied), e2);
      return accept();
    }
    if (ctx_.connections.load() >= options_.max_clients) {
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      asio::write(socket, asio::buffer(kFull), e2);
      return accept();
    }
    ctx_.connections.fetch_add(1);
    std::make_shared<Session>(*this, std::move(socket))->start();
    accept();
  });
}

Server::Server(Backend& backend, ServerOptions options)
    : impl_(std::make_unique<Impl>(backend, std::move(options))) {}
Server::~Server() = default;
Status Server::start() { return impl_->start(&port_); }
void Server::run() { impl_->run(); }
void Server::stop() { impl_->stop(); }

}  // namespace nvobj::dso
