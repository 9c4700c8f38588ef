#include "dso-backend/server/server.h"

#include <asio.hpp>
#include <fmt/format.h>

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
  Impl(Backend& backend, ServerOptions options) : options_(std::move(options)), acceptor_(io_) {
    ctx_.backend = &backend;
    ctx_.password = options_.password;
    ctx_.bind = options_.bind;
    ctx_.shutdown = [this] { stop(); };
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

  // Sessions still queued in io_ when it is destroyed use ctx_ and the
  // table from their destructors, so these are declared (built) first.
  ServerOptions options_;
  ServerContext ctx_;
  CommandTable table_;
  std::atomic<uint64_t> next_id_{1};
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
};

// One client connection. Its socket and idle timer share a strand, so its
// handlers never run concurrently and it needs no lock.
class Server::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, asio::ip::tcp::socket socket)
      : server_(server),
        socket_(std::move(socket)),
        idle_(socket_.get_executor()),
        parser_(server.options().parser) {
    client_.id = server.next_id().fetch_add(1);
    client_.authenticated = server.ctx().password.empty();
  }
  ~Session() { server_.ctx().connections.fetch_sub(1); }

  void start() { read(); }

 private:
  void read() {
    auto self = shared_from_this();
    arm_idle_timer();
    socket_.async_read_some(asio::buffer(in_), [this, self](asio::error_code ec, size_t n) {
      disarm_idle_timer();
      if (ec) return;  // closed, reset or timed out: drop the session
      parser_.feed(std::string_view(in_.data(), n));
      out_.clear();
      ReplyWriter writer(&out_, client_.version);
      while (!client_.close_after_reply && parser_.next(&args_)) {
        server_.table().execute(server_.ctx(), client_, args_, writer);
        writer.set_version(client_.version);  // HELLO may have switched it
      }
      if (parser_.failed()) {
        writer.error(parser_.error());
        client_.close_after_reply = true;
      } else if (parser_.pending_bytes() > server_.options().max_query_buffer) {
        writer.error("Protocol error: query buffer limit exceeded");
        client_.close_after_reply = true;
      }
      if (out_.empty()) {
        if (client_.close_after_reply) return;
        return read();
      }
      write();
    });
  }

  void write() {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [this, self](asio::error_code ec, size_t) {
      if (ec || client_.close_after_reply) {
        asio::error_code ignored;
        socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        return;
      }
      read();
    });
  }

  // Idle time is time spent waiting for the client to send something: the
  // timer runs only while a read is pending, so a slow command or a client
  // slow to take its replies is not cut off.
  void arm_idle_timer() {
    const std::chrono::seconds timeout = server_.options().idle_timeout;
    if (timeout.count() == 0) return;
    waiting_ = true;
    idle_.expires_after(timeout);
    idle_.async_wait([this, self = shared_from_this()](asio::error_code ec) {
      // A wait that had already fired when its read completed still runs:
      // it closes nothing unless the session is still waiting on input and
      // past the deadline of the wait armed last.
      if (ec || !waiting_ || idle_.expiry() > std::chrono::steady_clock::now()) return;
      log().debug("nvobj-dso: client {} idle for {} s: disconnected", client_.id,
                  server_.options().idle_timeout.count());
      asio::error_code ignored;
      socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      socket_.close(ignored);  // the pending read ends with operation_aborted
    });
  }
  // Also releases the wait's hold on the session, so that a closed session
  // goes (and leaves the client count) at once rather than at its deadline.
  void disarm_idle_timer() {
    if (!waiting_) return;
    waiting_ = false;
    idle_.cancel();
  }

  Impl& server_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer idle_;
  bool waiting_ = false;  // a read is pending and the idle timer armed
  RequestParser parser_;
  ClientState client_;
  std::vector<std::string> args_;
  std::array<char, 16384> in_;
  std::string out_;
};

void Server::Impl::accept() {
  // Each connection gets a strand of its own: its read, write and idle
  // timer handlers are serialised, different connections run in parallel.
  acceptor_.async_accept(asio::make_strand(io_), [this](asio::error_code ec,
                                                        asio::ip::tcp::socket socket) {
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
