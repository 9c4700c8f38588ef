#include "runtime/status.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace nvobj {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kAlreadyExists: return "already exists";
    case StatusCode::kPermissionDenied: return "permission denied";
    case StatusCode::kNotAPool: return "not a pool";
    case StatusCode::kCorrupt: return "corrupt";
    case StatusCode::kVersionMismatch: return "version mismatch";
    case StatusCode::kTruncated: return "truncated";
    case StatusCode::kBusy: return "busy";
    case StatusCode::kUnsafeShutdown: return "unsafe shutdown";
    case StatusCode::kNoSpace: return "no space";
    case StatusCode::kNotSupported: return "not supported";
    case StatusCode::kIOError: return "I/O error";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return fmt::format("{}: {}", status_code_name(code_), message_);
}

Status status_from_errno(int err, std::string_view what) {
  StatusCode code = StatusCode::kIOError;
  switch (err) {
    case ENOENT: code = StatusCode::kNotFound; break;
    case EACCES:
    case EPERM:
    case EROFS: code = StatusCode::kPermissionDenied; break;
    case EEXIST: code = StatusCode::kAlreadyExists; break;
    case ENOSPC:
    case EFBIG:
    case ENOMEM: code = StatusCode::kNoSpace; break;
    case EWOULDBLOCK: code = StatusCode::kBusy; break;
    case EINVAL:
    case EISDIR:
    case ENOTDIR: code = StatusCode::kInvalidArgument; break;
    case EOPNOTSUPP: code = StatusCode::kNotSupported; break;
    default: break;
  }
  return Status(code, fmt::format("{}: {}", what, std::strerror(err)));
}

}  // namespace nvobj
