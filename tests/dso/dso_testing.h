// What the nvobj-dso end-to-end tests share: the real server binary as a
// child process, a hiredis client, and a raw socket for bytes hiredis would
// not send (or for watching a connection close).
#ifndef NVOBJ_TESTS_DSO_DSO_TESTING_H_
#define NVOBJ_TESTS_DSO_DSO_TESTING_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#ifndef NVOBJ_DSO_BIN
#error "NVOBJ_DSO_BIN must name the nvobj-dso binary"
#endif

namespace nvobj::testing {

// A running nvobj-dso. start() returns once the server printed its "ready on
// HOST:PORT" line, i.e. accepts connections; false if it exited before.
// port 0 picks a free port; a restart may pass the port it had.
class DsoProcess {
 public:
  DsoProcess() = default;
  DsoProcess(const DsoProcess&) = delete;
  DsoProcess& operator=(const DsoProcess&) = delete;
  ~DsoProcess() {
    if (pid_ > 0) {
      kill(SIGKILL);
      wait();
    }
  }

  bool start(const std::vector<std::string>& extra, int port = 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);  // dup2 clears O_CLOEXEC on the copy
      std::vector<std::string> args = {NVOBJ_DSO_BIN, "--port", std::to_string(port)};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
    char line[256];
    while (std::fgets(line, sizeof line, out_) != nullptr) {
      std::string s(line);
      if (auto at = s.rfind(':'); s.starts_with("nvobj-dso ready on") && at != std::string::npos) {
        port_ = std::stoi(s.substr(at + 1));
        return true;
      }
    }
    return false;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits for exit; returns the wait status.
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    if (out_ != nullptr) std::fclose(out_);
    out_ = nullptr;
    pid_ = -1;
    return status;
  }
  void kill(int sig) { ::kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  FILE* out_ = nullptr;
};

struct Reply {
  int type = 0;  // REDIS_REPLY_*; 0: no reply (the connection failed)
  long long integer = 0;
  std::string str;
  std::vector<Reply> elements;
};

inline Reply convert(const redisReply* r) {
  Reply out;
  if (r == nullptr) return out;
  out.type = r->type;
  out.integer = r->integer;
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
  return out;
}

class Client {
 public:
  explicit Client(int port) : c_(redisConnect("127.0.0.1", port)) {}
  ~Client() { redisFree(c_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  bool ok() const { return c_ != nullptr && c_->err == 0; }
  Reply cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data()));
    Reply out = convert(r);
    if (r != nullptr) freeReplyObject(r);
    return out;
  }
  // Pipelining: append() queues a command, get_reply() sends what is
  // queued and returns the next reply (type 0 if the connection failed).
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data());
  }
  Reply get_reply() {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK) return Reply();
    Reply out = convert(static_cast<redisReply*>(r));
    freeReplyObject(r);
    return out;
  }
  redisContext* raw() { return c_; }

 private:
  redisContext* c_;
};

// A plain loopback TCP connection.
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Everything the server sends until it closes the connection. *closed
  // tells whether it did within timeout_ms (a generous bound, not a timing
  // the test relies on).
  std::string read_until_eof(int timeout_ms, bool* closed) {
    std::string got;
    *closed = false;
    char buf[4096];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return got;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {  // EOF, or a reset after the server closed
        *closed = true;
        return got;
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

}  // namespace nvobj::testing

#endif  // NVOBJ_TESTS_DSO_DSO_TESTING_H_
