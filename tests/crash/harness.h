// Crash-consistency harness: runs a workload against a pool whose persistence
// goes through the PowerFailureSimulator and, at every fence (exhaustive) or a
// seeded sample of them, builds crash images and checks each one.
//
// A workload is a setup, a sequence of operations and a checker:
//
//   crash::Workload w;
//   w.name = "counter";
//   w.ops = 50;
//   w.setup = [](Pool& p) { ...create the structure... };
//   w.op = [](crash::Context& c, size_t i) { ...operation i on c.pool()... };
//   w.check = [](Pool& image, size_t completed) -> Status {
//     // ops [0, completed) returned before the crash: they must be there.
//     // op `completed` (if any) was in flight: all of it or none of it.
//   };
//
// For each image the harness opens a copy-on-write view in a fresh Pool (the
// runtime's open/recovery path), runs the pool's own checks (as
// `nvobj-pool check` does), then the workload's checker. A violation names
// the crash point and image and the command that replays exactly it.
#ifndef NVOBJ_TESTS_CRASH_HARNESS_H_
#define NVOBJ_TESTS_CRASH_HARNESS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/pool.h"
#include "tests/crash/simulator.h"

namespace nvobj::crash {

class Context {
 public:
  Context(std::unique_ptr<Pool>* pool, PowerFailureSimulator* sim, std::string path)
      : pool_(pool), sim_(sim), path_(std::move(path)) {}
  Pool& pool() { return **pool_; }
  // Closes the pool cleanly and opens it again, both under the simulator.
  Status reopen();

 private:
  std::unique_ptr<Pool>* pool_;
  PowerFailureSimulator* sim_;
  std::string path_;
};

struct Workload {
  std::string name;
  uint64_t pool_size = 1 << 20;
  size_t ops = 0;
  // Operations that write nothing by design (e.g. an add with an unchanged
  // score): the harness's sanity check expects a fence from every other one.
  size_t noop_ops = 0;
  // Runs before the simulation starts; its result is taken as durable.
  std::function<void(Pool&)> setup = [](Pool&) {};
  std::function<void(Context&, size_t op)> op;
  std::function<Status(Pool& image, size_t completed)> check;
  // Runs after the last operation (and on failure), before the final close:
  // a workload that keeps a Store over the pool closes it here.
  std::function<void(Context&)> finish = [](Context&) {};
  // Also crash-test the final clean close.
  bool close_at_end = true;
};

struct CrashOptions {
  uint64_t seed = 1;
  int random_images = 4;               // per crash point, besides the three fixed ones
  double sample = 1.0;                 // fraction of fences that are crash points (1 = all)
  std::optional<uint64_t> only_fence;  // replay one crash point...
  std::optional<int> only_image;       // ...and one image of it
  std::string dir = "/dev/shm";
  size_t max_violations = 10;  // stop collecting after this many
  std::string replay_args;     // appended to replay commands (e.g. "--scale 4")
};

struct CrashReport {
  uint64_t fences = 0;
  uint64_t crash_points = 0;
  uint64_t images = 0;
  uint64_t violation_count = 0;
  std::vector<std::string> violations;  // the first max_violations, with replay commands
};

// Image numbering at a crash point: 0 persisted only, 1 + all pending lines,
// 2 + all pending and dirty lines, 3.. random subsets (some lines torn).
inline constexpr int kFixedImages = 3;
// Crash points that are not at a fence: after the last operation returned,
// and after the final clean close.
inline constexpr uint64_t kCrashAfterOps = uint64_t{1} << 62;
inline constexpr uint64_t kCrashAfterClose = kCrashAfterOps + 1;

CrashReport run_crash_test(const Workload& w, const CrashOptions& opts);

// "crash images checked: N, violations: V"
std::string summary_line(uint64_t images, uint64_t violations);

}  // namespace nvobj::crash

#endif  // NVOBJ_TESTS_CRASH_HARNESS_H_
