// A pool: one file (or a devdax character device) mapped with libpmem2 into a
// reserved virtual range, so that it can grow in place and offsets stay
// valid. The pool owns the mapping, the header, the file lock and the
// Persister every layer above uses to make its writes durable.
//
//   auto pool = nvobj::Pool::create("/dev/shm/app.pool", {.size = 64 << 20});
//   if (!pool) { fprintf(stderr, "%s\n", pool.status().to_string().c_str()); }
//   char* p = (*pool)->at<char>((*pool)->data_offset());
//   std::memcpy(p, "hello", 5);
//   (*pool)->persister().persist(p, 5);
//
// Opening refuses, with a message naming the problem, a file that is not a
// pool, a corrupt header, a newer layout, a truncated file, a pool open in
// another process, missing permissions, and (on real hardware) a pool whose
// device had an unsafe shutdown while it was open. Destroying a Pool closes it
// cleanly (the next open can skip recovery).
#ifndef NVOBJ_RUNTIME_POOL_H_
#define NVOBJ_RUNTIME_POOL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/device.h"
#include "runtime/mode.h"
#include "runtime/persist.h"
#include "runtime/pool_header.h"
#include "runtime/status.h"

struct pmem2_map;
struct pmem2_source;

namespace nvobj {

// Virtual range reserved per pool unless told otherwise: growth beyond it
// needs a reopen with a larger max_size.
inline constexpr uint64_t kDefaultMaxSize = uint64_t{64} << 30;

struct PersistOptions {
  PersistBackend backend = PersistBackend::kPmem2;
  PersistHook* hook = nullptr;  // required for kHook; must outlive the pool
};

struct CreateOptions {
  uint64_t size = uint64_t{64} << 20;  // rounded up to the mapping alignment
  Mode mode = Mode::kAuto;
  bool overwrite = false;               // replace an existing file or pool
  uint64_t max_size = kDefaultMaxSize;  // virtual reservation for growth
  mode_t file_mode = 0600;
  PersistOptions persist;
};

struct OpenOptions {
  Mode mode = Mode::kAuto;
  uint64_t max_size = kDefaultMaxSize;
  bool allow_unsafe_shutdown = false;  // open even if the device lost data
  // Copy-on-write mapping: every change (recovery included) stays in this
  // process and the file is never written. For inspecting crash images.
  bool private_mapping = false;
  PersistOptions persist;
};

class Pool {
 public:
  static Result<std::unique_ptr<Pool>> create(const std::string& path, const CreateOptions& opts);
  static Result<std::unique_ptr<Pool>> open(const std::string& path, const OpenOptions& opts);

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  // Closes cleanly if close() was not called (errors are logged).
  ~Pool();

  // Marks the pool cleanly shut down, unmaps it and releases the lock.
  Status close();

  // Extends the pool to new_size bytes (rounded up to the alignment), in place.
  // Crash-safe: the header's size changes only after the file space is durable.
  Status grow(uint64_t new_size);

  const std::string& path() const { return path_; }
  Mode mode() const { return mode_; }                                      // effective mode
  uint64_t size() const { return size_.load(std::memory_order_acquire); }  // bytes mapped
  uint64_t max_size() const { return reservation_size_; }
  uint64_t data_offset() const { return header_.data_offset; }
  uint64_t alignment() const { return alignment_; }
  const PoolHeader& header() const { return header_; }
  std::string uuid() const { return uuid_to_string(header_.uuid); }
  // State found at open: false means the last session crashed.
  bool was_clean_shutdown() const { return was_clean_; }
  bool header_was_repaired() const { return header_repaired_; }
  const DeviceInfo& device() const { return device_; }

  char* base() const { return base_; }
  template <typename T = void>
  T* at(uint64_t offset) const {
    return reinterpret_cast<T*>(base_ + offset);
  }
  uint64_t offset_of(const void* p) const {
    return static_cast<uint64_t>(static_cast<const char*>(p) - base_);
  }
  bool contains(const void* p, size_t n = 1) const {
    auto* c = static_cast<const char*>(p);
    uint64_t sz = size();
    return c >= base_ && n <= sz && c <= base_ + sz - n;
  }

  // Anchor slots (see pool_header.h) for the layers above.
  uint64_t* anchor(size_t i) const { return at<uint64_t>(kAnchorOffset) + i; }

  const Persister& persister() const { return persister_; }
  // The parts of [from, to) the file holds data for (SEEK_DATA/SEEK_HOLE):
  // holes have never been written and read as zeros, so a scan of the pool
  // can skip them without touching their pages. The whole range on devices
  // and file systems that cannot tell.
  std::vector<std::pair<uint64_t, uint64_t>> data_ranges(uint64_t from, uint64_t to) const;

  // A hint that [offset, offset + length) is about to be written:
  // prefault_pages (runtime/prefault.h) on it, unless this process has
  // prefaulted all its pages already (space the allocator hands out again:
  // asking the kernel about mapped pages costs ~0.5 us a page in this VM's
  // page-table walk). Not in msync mode, where it would dirty pages of a
  // disk file before they are written.
  void prefault(uint64_t offset, uint64_t length) const;

  // Swaps the persistence backend; only while no other thread uses the pool.
  Status set_persist_backend(const PersistOptions& opts);

 private:
  Pool() = default;
  // Maps [0, size) of an open, locked fd and resolves the mode. On failure the
  // caller keeps ownership of fd.
  static Result<std::unique_ptr<Pool>> open_fd(int fd, const std::string& path, Mode mode,
                                               uint64_t size, uint64_t max_size,
                                               const PersistOptions& persist, bool private_mapping);
  Status map_range(uint64_t offset, uint64_t length);
  Status write_header();  // seals header_ and writes copy 1 then copy 0
  void unmap_all();

  std::string path_;
  int fd_ = -1;
  bool devdax_ = false;
  bool private_ = false;
  Mode mode_ = Mode::kAuto;
  uint64_t alignment_ = 4096;
  uint64_t reservation_size_ = 0;
  pmem2_source* source_ = nullptr;
  std::vector<pmem2_map*> maps_;
  bool flushes_lines_ = false;  // cache-line granularity (ADR, emulation): write_nt streams
  char* base_ = nullptr;
  std::atomic<uint64_t> size_{0};
  std::mutex header_mu_;  // guards header_ updates (open/close/grow)
  std::mutex grow_mu_;    // one grow at a time
  PoolHeader header_{};
  bool live_ = false;  // header valid on media; close() marks it clean
  bool was_clean_ = true;
  bool header_repaired_ = false;
  DeviceInfo device_;
  Persister persister_;
  Persister pmem2_persister_;  // kept so set_persist_backend can switch back
  // One bit per page of the reservation: prefault() did it. Zero pages from
  // calloc, so only the words of pages in use take memory.
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<std::atomic<uint64_t>[], FreeDeleter> prefaulted_;
};

// Reads a pool's header without mapping or locking it (for `nvobj-pool info`
// on a pool another process has open).
struct PoolInspection {
  PoolHeader header{};
  HeaderChoice choice{};
  uint64_t file_size = 0;
  bool is_device = false;
  bool locked = false;  // another process holds the pool open
};
Result<PoolInspection> inspect_pool(const std::string& path);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_POOL_H_
