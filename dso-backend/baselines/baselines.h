// The two persistent baselines nvobj-dso is measured against (DESIGN.md,
// "The DSO server"; REFERENCE.md section 1: J-NVM's PCJ and FS backends).
// Both implement Backend (dso-backend/backend.h) exactly, so the same
// commands and the same conformance tests run on them as on `nvobj`.
//
// `pmemobj-tx` (PCJ-style): every structure lives in a libpmemobj pool and
// every write call is one libpmemobj transaction; reads traverse the pool.
// See pmemobj_backend.cc for the layout.
//
// `fs` (a single-file store, like Infinispan's SingleFileStore on ext4-dax):
// an append-only file of checksummed batches, one write() and one
// fdatasync() per write call; a DRAM index locates every record, values are
// read back with pread. See fs_format.h and fs_backend.cc.
//
// Both are durable when a write call returns and failure-atomic per call. A
// write that cannot be done (pool full, ENOSPC, I/O error) throws
// StorageError having changed nothing; reads keep working.
#ifndef NVOBJ_DSO_BACKEND_BASELINES_BASELINES_H_
#define NVOBJ_DSO_BACKEND_BASELINES_BASELINES_H_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dso-backend/backend.h"
#include "runtime/status.h"

namespace nvobj::dso {

// Thrown by a baseline's write call that could not be done. The call had no
// effect (its transaction aborted / its batch was not appended), so the
// server can reply with what() as an error and carry on.
class StorageError : public std::runtime_error {
 public:
  StorageError(StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  // kNoSpace for a full pool or file system, kIOError otherwise.
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

// libpmemobj layout name of a pmemobj-tx pool (pmemobj_create/open check it).
inline constexpr char kPmemobjLayout[] = "nvobj-dso-pmemobj";

// Opens the pmemobj-tx pool at `path`, or creates it with `size` bytes when
// the file does not exist (size 0 then is an error). On tmpfs, where
// libpmem's detection says "not pmem" and would msync every range, it sets
// PMEM_IS_PMEM_FORCE=1 (unless the environment already sets it) so that the
// baseline flushes with cache-line write-backs and fences exactly like
// nvobj's emulated mode: the comparison is then between algorithms, not
// between msync and clwb.
Result<std::unique_ptr<Backend>> make_pmemobj_backend(const std::string& path, uint64_t size);

// The fs store's data file inside its directory (tests tear it on purpose).
inline constexpr char kFsDataFileName[] = "dso.log";

struct FsOptions {
  // Compaction runs when dead bytes exceed half the file and the file is at
  // least this large (small files are not worth rewriting).
  uint64_t compact_min_bytes = 4 << 20;
};

// Opens the fs store in directory `dir`, creating the directory and an empty
// store if absent; replays the data file (dropping a torn batch at its tail)
// and rebuilds the DRAM index. The directory is locked while open.
Result<std::unique_ptr<Backend>> make_fs_backend(const std::string& dir,
                                                 const FsOptions& options = {});

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_BASELINES_BASELINES_H_
