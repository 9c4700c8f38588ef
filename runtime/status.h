// Status and Result<T>: the error type at nvobj's API boundaries (pool open,
// tools, server I/O). A Status is a code plus a one-line human message that
// names the problem ("not an nvobj pool: /dev/shm/x"), so callers can print it
// as is and tests can match on the code.
#ifndef NVOBJ_RUNTIME_STATUS_H_
#define NVOBJ_RUNTIME_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nvobj {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,   // caller passed something unusable
  kNotFound,          // file, object or name does not exist
  kAlreadyExists,     // create would overwrite
  kPermissionDenied,  // the OS refused access
  kNotAPool,          // file is not an nvobj pool (magic mismatch)
  kCorrupt,           // pool metadata fails its checksums or invariants
  kVersionMismatch,   // pool layout newer (or older) than this build reads
  kTruncated,         // file shorter than its header says
  kBusy,              // pool already open elsewhere (lock held)
  kUnsafeShutdown,    // device reports an unsafe shutdown since last open
  kNoSpace,           // pool or reservation full
  kNotSupported,      // operation impossible in this mode / on this platform
  kIOError,           // any other OS-level failure
  kInternal,          // a bug: an invariant of nvobj itself failed
};

std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Builds a Status from errno-style failures: maps ENOENT, EACCES, EEXIST,
// ENOSPC, EWOULDBLOCK... onto StatusCode and appends strerror(err).
Status status_from_errno(int err, std::string_view what);

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.is_ok() && "Result needs a value or an error");
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }

  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

 private:
  Status status_;  // ok exactly when value_ is set
  std::optional<T> value_;
};

}  // namespace nvobj

// Propagates a non-ok Status from an expression returning Status.
#define NVOBJ_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::nvobj::Status nvobj_status_ = (expr);           \
    if (!nvobj_status_.is_ok()) return nvobj_status_; \
  } while (0)

// Declares `lhs` from a Result-returning expression, or returns its Status.
#define NVOBJ_CONCAT_INNER_(a, b) a##b
#define NVOBJ_CONCAT_(a, b) NVOBJ_CONCAT_INNER_(a, b)
#define NVOBJ_ASSIGN_OR_RETURN(lhs, expr) \
  NVOBJ_ASSIGN_OR_RETURN_IMPL_(NVOBJ_CONCAT_(nvobj_result_, __LINE__), lhs, expr)
#define NVOBJ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(*tmp)

#endif  // NVOBJ_RUNTIME_STATUS_H_
