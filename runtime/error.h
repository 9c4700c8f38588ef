// nvobj::Error: the exception the C++ object API throws (pool full, a class
// whose layout changed, a reference of the wrong type). It carries the
// Status, so callers can branch on the code. Thrown inside a failure-atomic
// block it aborts the block: nothing of the block reaches the pool.
#ifndef NVOBJ_RUNTIME_ERROR_H_
#define NVOBJ_RUNTIME_ERROR_H_

#include <stdexcept>

#include "runtime/status.h"

namespace nvobj {

class Error : public std::runtime_error {
 public:
  explicit Error(Status status)
      : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  const Status& status() const { return status_; }
  StatusCode code() const { return status_.code(); }

 private:
  Status status_;
};

// Throws Error if `s` is not ok.
inline void throw_if_error(Status s) {
  if (!s.is_ok()) throw Error(std::move(s));
}
template <typename T>
T value_or_throw(Result<T> r) {
  if (!r.is_ok()) throw Error(r.status());
  return std::move(*r);
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_ERROR_H_
