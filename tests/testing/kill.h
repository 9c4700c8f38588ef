// run_and_kill: the fork + SIGKILL pattern of the kill tests. A child opens
// the store and runs child(store, ack), acknowledging each operation that
// returned (so is durable) with ack(i); the parent reads `after`
// acknowledgements, kills the child with SIGKILL, drains what was already
// sent and returns the last acknowledged index (-1 if none, -2 if no pipe).
// The caller then reopens the store (crash recovery) and checks that every
// acknowledged operation is there and at most the one in flight beyond it.
#ifndef NVOBJ_TESTS_TESTING_KILL_H_
#define NVOBJ_TESTS_TESTING_KILL_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "recovery/store_open.h"

namespace nvobj::testing {

template <typename Child>
int64_t run_and_kill(const std::string& path, int after, Child child) {
  int fds[2];
  if (::pipe(fds) != 0) return -2;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto s = open_store(path);
    if (!s) ::_exit(3);
    child(**s, [&](int64_t i) {
      if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
    });
    ::_exit(0);
  }
  ::close(fds[1]);
  int64_t acked = -1, v;
  for (int i = 0; i < after; ++i) {
    if (::read(fds[0], &v, sizeof v) != sizeof v) break;
    acked = v;
  }
  ::kill(pid, SIGKILL);
  while (::read(fds[0], &v, sizeof v) == sizeof v) acked = v;
  ::close(fds[0]);
  int status;
  ::waitpid(pid, &status, 0);
  return acked;
}

}  // namespace nvobj::testing

#endif  // NVOBJ_TESTS_TESTING_KILL_H_
