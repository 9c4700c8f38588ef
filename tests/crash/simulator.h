// Power-failure simulator: a PersistHook that keeps, beside the working pool,
// the image a power failure would leave behind.
//
//   persisted  a shadow file holding every line that was written back and
//              then fenced (what survives for sure)
//   pending    lines written back since the last fence, with their content at
//              write-back time (may or may not have reached the media)
//   dirty      lines whose working content differs from what is persisted and
//              pending: stored but not written back (caches may have evicted
//              them, or not)
//
// Dirty lines are found by comparing the working mapping with the shadow at a
// crash point rather than by tracking stores: nvobj code stores straight into
// the mapping, so write tracking would need page protection tricks or
// compiler instrumentation, while a comparison of a small test pool costs
// microseconds and sees every store whatever made it.
//
// Aligned 8-byte words are atomic; a 64-byte line is not, so an image may
// take some words of a line from its new content and the rest from the old.
#ifndef NVOBJ_TESTS_CRASH_SIMULATOR_H_
#define NVOBJ_TESTS_CRASH_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/persist.h"

namespace nvobj::crash {

using Line = std::array<char, kCacheLine>;

// A line that a crash image may or may not contain, with the content(s) it
// could have: its pending write-back snapshot and/or its current dirty value.
struct CandidateLine {
  uint64_t offset;
  std::vector<Line> versions;
};

class PowerFailureSimulator : public PersistHook {
 public:
  // `working_path` is the pool file being run; its current content is taken
  // as persisted. The shadow file is created at `shadow_path`.
  PowerFailureSimulator(std::string working_path, std::string shadow_path);
  ~PowerFailureSimulator() override;
  PowerFailureSimulator(const PowerFailureSimulator&) = delete;
  PowerFailureSimulator& operator=(const PowerFailureSimulator&) = delete;

  void on_attach(const char* base) override { working_ = base; }
  void on_detach() { working_ = nullptr; }
  void on_writeback(const void* addr, size_t len) override;
  // Calls the crash-point callback (the state just before this fence takes
  // effect), then makes the pending lines persisted.
  void on_fence() override;

  void set_crash_point_callback(std::function<void(uint64_t fence)> cb) {
    on_crash_point_ = std::move(cb);
  }
  uint64_t fences() const { return fences_; }
  // The persisted image (valid until the next apply()).
  const char* persisted() const { return shadow_; }
  const std::string& shadow_path() const { return shadow_path_; }

  // At a crash point: the lines whose persisted state is undecided.
  std::vector<CandidateLine> candidates(bool include_pending, bool include_dirty);

  // Writes chosen line contents into the shadow file (the crash image), and
  // puts the persisted content back with revert().
  struct Choice {
    uint64_t offset;
    Line content;
  };
  void apply(const std::vector<Choice>& choices);
  void revert();

  // Extends the shadow to the working file's size (file growth is made
  // durable by fsync before the pool uses it, see pool-format.md).
  void sync_size();

 private:
  void map_shadow(uint64_t size);

  std::string working_path_;
  std::string shadow_path_;
  int shadow_fd_ = -1;
  char* shadow_ = nullptr;
  uint64_t shadow_size_ = 0;
  const char* working_ = nullptr;
  std::map<uint64_t, Line> pending_;
  std::vector<std::pair<uint64_t, Line>> undo_;
  uint64_t fences_ = 0;
  std::function<void(uint64_t)> on_crash_point_;
};

}  // namespace nvobj::crash

#endif  // NVOBJ_TESTS_CRASH_SIMULATOR_H_
