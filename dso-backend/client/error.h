// The exceptions of the DSO client (nvobj::dso::Client): what the server
// refused (its error reply), a wait that timed out on the server, and a
// connection that failed. Every one is an nvobj::dso::Error, so a caller
// that does not care which catches that.
#ifndef NVOBJ_DSO_BACKEND_CLIENT_ERROR_H_
#define NVOBJ_DSO_BACKEND_CLIENT_ERROR_H_

#include <stdexcept>
#include <string>

namespace nvobj::dso {

class Error : public std::runtime_error {
 public:
  enum class Kind {
    kServer,      // an error reply: code() is its first word (ERR, WRONGTYPE, ...)
    kTimeout,     // a blocking call's TIMEOUT expired on the server (-TIMEOUT)
    kConnection,  // no connection, or it failed during the call: the outcome is unknown
    kProtocol,    // a reply of a shape the call does not expect
  };
  Error(Kind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  Kind kind() const { return kind_; }
  // The error reply's code ("ERR", "WRONGTYPE", "TIMEOUT", "NOAUTH"...);
  // empty for connection and protocol errors.
  const std::string& code() const { return code_; }

 private:
  Kind kind_;
  std::string code_;
};

// A blocking call (barrier await, semaphore acquire, latch await, future
// get) whose TIMEOUT expired: the server withdrew it, it had no effect.
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& message) : Error(Kind::kTimeout, "TIMEOUT", message) {}
};

// The call could not be made or its reply was lost (connection refused or
// closed, the command timeout elapsed). Unless the call was retried to a
// reply (reads, idempotent writes, IDEMPOTENT module calls), it may or may
// not have been applied. timed_out(): the client's command timeout expired.
class ConnectionError : public Error {
 public:
  ConnectionError(const std::string& message, bool timed_out)
      : Error(Kind::kConnection, "", message), timed_out_(timed_out) {}
  bool timed_out() const { return timed_out_; }

 private:
  bool timed_out_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_CLIENT_ERROR_H_
