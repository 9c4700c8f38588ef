#include "runtime/pool.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

#include "runtime/log.h"
#include "runtime/prefault.h"

namespace nvobj {
namespace {

Status pmem2_error(std::string_view what, const std::string& path) {
  const char* msg = pmem2_errormsg();
  return Status(StatusCode::kIOError,
                fmt::format("{}: {}: {}", path, what, (msg && *msg) ? msg : "libpmem2 error"));
}

uint64_t round_up(uint64_t v, uint64_t align) { return (v + align - 1) / align * align; }

// msync mode's write-back. libpmem2 1.12's page-granularity flush loops
// forever on mappings it did not create (pmem2_map_from_existing), so nvobj
// does what it would: msync(MS_SYNC) the pages spanned. A failed msync means
// the data may not be durable and there is no caller to tell, so stop.
void msync_flush(const void* addr, size_t len) {
  if (len == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto start = reinterpret_cast<uintptr_t>(addr) & ~(page - 1);
  size_t span = reinterpret_cast<uintptr_t>(addr) + len - start;
  while (::msync(reinterpret_cast<void*>(start), span, MS_SYNC) != 0) {
    if (errno == EINTR) continue;
    std::fprintf(stderr, "nvobj: msync(%p, %zu) failed: %s; stopping to avoid losing data\n",
                 reinterpret_cast<void*>(start), span, std::strerror(errno));
    std::abort();
  }
}
void msync_drain() {}
void* msync_memcpy(void* dst, const void* src, size_t n, unsigned /*flags*/) {
  std::memcpy(dst, src, n);
  msync_flush(dst, n);
  return dst;
}

// Reserves `size` bytes of address space aligned to `align` (huge-page
// friendly, and what device DAX requires). nvobj keeps its own reservation:
// libpmem2 1.12's reservations leak their alignment padding on delete.
char* reserve_range(uint64_t size, uint64_t align) {
  uint64_t span = size + align;
  void* p = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<uintptr_t>(p);
  uintptr_t aligned = (start + align - 1) / align * align;
  if (aligned > start) ::munmap(p, aligned - start);
  uintptr_t end = aligned + size;
  if (start + span > end) ::munmap(reinterpret_cast<void*>(end), start + span - end);
  return reinterpret_cast<char*>(aligned);
}

bool on_tmpfs(int fd) {
  struct statfs sfs;
  return ::fstatfs(fd, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC;
}

Status read_exact(int fd, void* buf, size_t len, off_t off, const std::string& path) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return status_from_errno(errno, fmt::format("reading {}", path));
    }
    if (n == 0)
      return Status(StatusCode::kTruncated, fmt::format("{}: unexpected end of file", path));
    p += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return Status::ok();
}

struct FileFacts {
  bool is_device = false;
  uint64_t size = 0;
};

Result<FileFacts> file_facts(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return status_from_errno(errno, fmt::format("stat {}", path));
  FileFacts f;
  if (S_ISCHR(st.st_mode)) {
    f.is_device = true;
    pmem2_source* src = nullptr;
    if (pmem2_source_from_fd(&src, fd) != 0)
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("{} is a character device but not a device-DAX device", path));
    size_t size = 0;
    int rc = pmem2_source_size(src, &size);
    pmem2_source_delete(&src);
    if (rc != 0) return pmem2_error("reading device size", path);
    f.size = size;
  } else if (S_ISREG(st.st_mode)) {
    f.size = static_cast<uint64_t>(st.st_size);
  } else {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{} is neither a regular file nor a device-DAX device", path));
  }
  return f;
}

// Why a pool's header pair cannot be used, as the message open prints.
Status header_refusal(const HeaderChoice& c, const std::string& path) {
  bool blank = c.copy_state[0] == HeaderCheck::kBlank && c.copy_state[1] == HeaderCheck::kBlank;
  bool torn =
      c.copy_state[0] == HeaderCheck::kBadChecksum || c.copy_state[1] == HeaderCheck::kBadChecksum;
  if (blank)
    return Status(StatusCode::kNotAPool,
                  fmt::format("{} is not an nvobj pool (its header is blank: was creation "
                              "interrupted?)",
                              path));
  if (torn)
    return Status(
        StatusCode::kCorrupt,
        fmt::format("{}: pool header is corrupt (both copies fail their checksum)", path));
  return Status(StatusCode::kNotAPool, fmt::format("{} is not an nvobj pool (bad magic)", path));
}

Status validate_header(const PoolHeader& h, uint64_t file_size, const std::string& path) {
  if (h.layout_major > kLayoutMajor)
    return Status(StatusCode::kVersionMismatch,
                  fmt::format("{}: pool layout version {}.{} is newer than this build reads "
                              "({}.{}); upgrade nvobj",
                              path, h.layout_major, h.layout_minor, kLayoutMajor, kLayoutMinor));
  if (h.layout_major < kOldestLayoutMajor)
    return Status(StatusCode::kVersionMismatch,
                  fmt::format("{}: pool layout version {}.{} is older than this build reads "
                              "({}.{}) and there is no migration for it",
                              path, h.layout_major, h.layout_minor, kLayoutMajor, kLayoutMinor));
  if (h.size > file_size)
    return Status(StatusCode::kTruncated,
                  fmt::format("{} is truncated: the file has {} bytes but the pool header says {}",
                              path, file_size, h.size));
  if (h.size < kMinPoolSize || h.size % kHeaderCopySize != 0 ||
      h.data_offset < kAnchorOffset + kHeaderCopySize || h.data_offset >= h.size ||
      h.requested_mode > static_cast<uint32_t>(Mode::kMsync))
    return Status(StatusCode::kCorrupt,
                  fmt::format("{}: pool header is inconsistent (size {}, data offset {})", path,
                              h.size, h.data_offset));
  return Status::ok();
}

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Status lock_exclusive(int fd, const std::string& path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::ok();
  if (errno == EWOULDBLOCK)
    return Status(StatusCode::kBusy,
                  fmt::format("{} is already open (locked by another process or handle)", path));
  return status_from_errno(errno, fmt::format("locking {}", path));
}

Result<int> open_file(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd >= 0) return fd;
  int err = errno;
  if (err == ENOENT) return Status(StatusCode::kNotFound, fmt::format("no pool at {}", path));
  if (err == EEXIST)
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("{} already exists (pass overwrite / --force to replace it)", path));
  if (err == EACCES || err == EPERM)
    return Status(StatusCode::kPermissionDenied,
                  fmt::format("permission denied opening {}: {}", path, std::strerror(err)));
  return status_from_errno(err, fmt::format("opening {}", path));
}

Status check_persist_options(const PersistOptions& o) {
  if (o.backend == PersistBackend::kHook && o.hook == nullptr)
    return Status(StatusCode::kInvalidArgument, "persistence backend 'hook' needs a PersistHook");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Pool>> Pool::create(const std::string& path, const CreateOptions& opts) {
  NVOBJ_RETURN_IF_ERROR(check_persist_options(opts.persist));
  if (opts.size < kMinPoolSize)
    return Status(
        StatusCode::kInvalidArgument,
        fmt::format("pool size {} is below the minimum of {} bytes", opts.size, kMinPoolSize));

  struct stat st;
  bool exists = ::stat(path.c_str(), &st) == 0;
  bool device = exists && S_ISCHR(st.st_mode);
  if (exists && !device && !opts.overwrite)
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("{} already exists (pass overwrite / --force to replace it)", path));

  int flags = O_RDWR | (exists ? 0 : O_CREAT | O_EXCL);
  auto fd_or = open_file(path, flags, opts.file_mode);
  if (!fd_or) return fd_or.status();
  int fd = *fd_or;
  bool created_file = !exists;
  auto fail = [&](Status s) -> Result<std::unique_ptr<Pool>> {
    ::close(fd);
    if (created_file) ::unlink(path.c_str());
    return s;
  };

  if (Status s = lock_exclusive(fd, path); !s) {
    created_file = false;  // someone else's pool: leave it alone
    return fail(s);
  }

  uint64_t size = round_up(opts.size, kHeaderCopySize);
  if (device) {
    auto facts = file_facts(fd, path);
    if (!facts) return fail(facts.status());
    PoolHeader h0{}, h1{};
    if (facts->size >= 2 * kHeaderCopySize) {
      if (Status st = read_exact(fd, &h0, sizeof h0, 0, path); !st) return fail(st);
      if (Status st = read_exact(fd, &h1, sizeof h1, kHeaderCopySize, path); !st) return fail(st);
    }
    if (!opts.overwrite && choose_header(h0, h1).chosen >= 0)
      return fail(Status(StatusCode::kAlreadyExists,
                         fmt::format("{} already holds an nvobj pool (pass overwrite / --force "
                                     "to replace it)",
                                     path)));
    size = facts->size;  // a device pool always spans the whole device
  } else {
    if (exists && ::ftruncate(fd, 0) != 0)
      return fail(status_from_errno(errno, fmt::format("truncating {}", path)));
    int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (rc != 0)
      return fail(status_from_errno(rc, fmt::format("allocating {} bytes for {}", size, path)));
    if (::fsync(fd) != 0) return fail(status_from_errno(errno, fmt::format("fsync {}", path)));
  }

  auto pool_or = open_fd(fd, path, opts.mode, size, std::max(opts.max_size, size), opts.persist,
                         /*private_mapping=*/false);
  if (!pool_or) return fail(pool_or.status());
  std::unique_ptr<Pool> pool = std::move(pool_or).value();
  // From here the Pool owns fd; failures below must not close it twice.
  created_file = false;
  fd = -1;

  // Zero the metadata pages (a reused device may hold anything), then write
  // the header last: a crash before it leaves a blank header, which open
  // reports as an interrupted creation.
  std::memset(pool->base_, 0, kDefaultDataOffset);
  pool->persister_.persist(pool->base_, kDefaultDataOffset);

  PoolHeader& h = pool->header_;
  h = PoolHeader{};
  std::memcpy(h.magic, kPoolMagic, sizeof(kPoolMagic));
  h.layout_major = kLayoutMajor;
  h.layout_minor = kLayoutMinor;
  if (::getrandom(h.uuid, sizeof(h.uuid), 0) != static_cast<ssize_t>(sizeof(h.uuid)))
    return status_from_errno(errno, "getrandom");
  h.uuid[6] = static_cast<uint8_t>((h.uuid[6] & 0x0F) | 0x40);  // RFC 4122 version 4
  h.uuid[8] = static_cast<uint8_t>((h.uuid[8] & 0x3F) | 0x80);
  h.create_time_ns = now_ns();
  h.size = size;
  h.data_offset = kDefaultDataOffset;
  h.requested_mode = static_cast<uint32_t>(opts.mode);
  h.clean_shutdown = 0;
  h.open_count = 1;
  if (pool->device_.unsafe_shutdown_count) {
    h.flags |= kFlagDeviceUscValid;
    h.device_usc = *pool->device_.unsafe_shutdown_count;
    std::strncpy(h.device_id, pool->device_.device_id.c_str(), sizeof(h.device_id) - 1);
  }
  pool->size_.store(size, std::memory_order_release);
  NVOBJ_RETURN_IF_ERROR(pool->write_header());
  pool->live_ = true;
  pool->was_clean_ = true;
  log().info("created pool {} ({} MiB, mode {}, uuid {})", path, size >> 20, mode_name(pool->mode_),
             pool->uuid());
  return pool;
}

Result<std::unique_ptr<Pool>> Pool::open(const std::string& path, const OpenOptions& opts) {
  NVOBJ_RETURN_IF_ERROR(check_persist_options(opts.persist));
  auto fd_or = open_file(path, O_RDWR, 0);
  if (!fd_or) return fd_or.status();
  int fd = *fd_or;
  auto fail = [&](Status s) -> Result<std::unique_ptr<Pool>> {
    ::close(fd);
    return s;
  };

  auto facts = file_facts(fd, path);
  if (!facts) return fail(facts.status());
  if (Status s = lock_exclusive(fd, path); !s) return fail(s);
  if (facts->size < 2 * kHeaderCopySize)
    return fail(Status(StatusCode::kNotAPool,
                       fmt::format("{} is not an nvobj pool (only {} bytes)", path, facts->size)));

  PoolHeader copies[2];
  for (int i = 0; i < 2; ++i)
    if (Status s = read_exact(fd, &copies[i], sizeof(PoolHeader),
                              static_cast<off_t>(kHeaderCopyOffset[i]), path);
        !s)
      return fail(s);
  HeaderChoice choice = choose_header(copies[0], copies[1]);
  if (choice.chosen < 0) return fail(header_refusal(choice, path));
  const PoolHeader& h = copies[choice.chosen];
  if (Status s = validate_header(h, facts->size, path); !s) return fail(s);

  auto pool_or = open_fd(fd, path, opts.mode, h.size, std::max(opts.max_size, h.size), opts.persist,
                         opts.private_mapping);
  if (!pool_or) return fail(pool_or.status());
  std::unique_ptr<Pool> pool = std::move(pool_or).value();
  pool->header_ = h;
  pool->size_.store(h.size, std::memory_order_release);
  pool->was_clean_ = h.clean_shutdown != 0;

  if (pool->mode_ == Mode::kDax) {
    if (Status s = check_unsafe_shutdown(h, pool->device_, opts.allow_unsafe_shutdown); !s) {
      pool->unmap_all();  // leave the header untouched: nothing was opened
      return s;
    }
  }
  if (choice.needs_repair) {
    pool->header_repaired_ = true;
    log().warn("{}: header copy {} was {} and has been repaired from copy {}", path,
               1 - choice.chosen,
               choice.copy_state[1 - choice.chosen] == HeaderCheck::kValid ? "stale" : "torn",
               choice.chosen);
  }

  PoolHeader& nh = pool->header_;
  nh.clean_shutdown = 0;
  nh.open_count++;
  if (nh.layout_major < kLayoutMajor) {
    log().info(
        "{}: layout {}.{} upgraded to {}.{} (builds older than the pool's new layout will "
        "refuse it)",
        path, nh.layout_major, nh.layout_minor, kLayoutMajor, kLayoutMinor);
    nh.layout_major = kLayoutMajor;
    nh.layout_minor = kLayoutMinor;
  }
  if (pool->device_.unsafe_shutdown_count) {
    nh.flags |= kFlagDeviceUscValid;
    nh.device_usc = *pool->device_.unsafe_shutdown_count;
    std::memset(nh.device_id, 0, sizeof(nh.device_id));
    std::strncpy(nh.device_id, pool->device_.device_id.c_str(), sizeof(nh.device_id) - 1);
  }
  NVOBJ_RETURN_IF_ERROR(pool->write_header());
  pool->live_ = true;
  log().info("opened pool {} ({} MiB, mode {}, {})", path, nh.size >> 20, mode_name(pool->mode_),
             pool->was_clean_ ? "clean shutdown" : "NOT shut down cleanly: recovery needed");
  return pool;
}

Result<std::unique_ptr<Pool>> Pool::open_fd(int fd, const std::string& path, Mode mode,
                                            uint64_t size, uint64_t max_size,
                                            const PersistOptions& persist, bool private_mapping) {
  std::unique_ptr<Pool> pool(new Pool());
  pool->path_ = path;
  pool->fd_ = fd;
  pool->private_ = private_mapping;
  // On failure below the caller still owns fd; Pool must not close it.
  auto disown = [&](Status s) -> Result<std::unique_ptr<Pool>> {
    pool->unmap_all();
    pool->fd_ = -1;
    return s;
  };

  auto facts = file_facts(fd, path);
  if (!facts) return disown(facts.status());
  pool->devdax_ = facts->is_device;
  pool->device_ = probe_device(fd, /*dax=*/false);
  if (pmem2_source_from_fd(&pool->source_, fd) != 0)
    return disown(pmem2_error("reading mapping source", path));
  size_t align = 0;
  if (pmem2_source_alignment(pool->source_, &align) != 0)
    return disown(pmem2_error("reading mapping alignment", path));
  pool->alignment_ = std::max<uint64_t>(align, kHeaderCopySize);

  if (size % pool->alignment_ != 0)
    return disown(Status(StatusCode::kInvalidArgument,
                         fmt::format("{}: pool size {} is not a multiple of the mapping "
                                     "alignment {}",
                                     path, size, pool->alignment_)));

  // A smaller reservation only limits growth, so under an address-space
  // limit (ulimit -v, valgrind) settle for less, down to the pool itself.
  uint64_t map_align = std::max<uint64_t>(pool->alignment_, uint64_t{2} << 20);
  uint64_t want = pool->devdax_ ? size : round_up(max_size, pool->alignment_);
  uint64_t tried = want;
  while ((pool->base_ = reserve_range(tried, map_align)) == nullptr) {
    if (tried == size)
      return disown(status_from_errno(
          errno, fmt::format("{}: reserving {} bytes of address space", path, size)));
    tried = std::max(size, round_up(tried / 2, pool->alignment_));
  }
  if (tried < want)
    log().warn(
        "{}: reserved {} MiB of address space instead of {} MiB; the pool can grow to "
        "that size until reopened",
        path, tried >> 20, want >> 20);
  pool->reservation_size_ = tried;
  pool->prefaulted_.reset(static_cast<std::atomic<uint64_t>*>(
      std::calloc(tried / 4096 / 64 + 1, sizeof(std::atomic<uint64_t>))));

  // Resolve the mode: try what was asked (auto: dax first), fall back as
  // DESIGN.md says, and say which one it is.
  Mode resolved = mode;
  if (mode == Mode::kAuto) {
    pool->mode_ = Mode::kDax;
    Status dax = pool->map_range(0, size);
    if (dax.is_ok()) {
      resolved = Mode::kDax;
    } else if (pool->devdax_) {
      return disown(dax);
    } else {
      resolved = on_tmpfs(fd) ? Mode::kEmulated : Mode::kMsync;
      pool->mode_ = resolved;
      if (Status s = pool->map_range(0, size); !s) return disown(s);
    }
    log().info("{}: mode auto resolved to {}", path, mode_name(resolved));
  } else {
    pool->mode_ = mode;
    if (Status s = pool->map_range(0, size); !s) {
      if (mode == Mode::kDax)
        return disown(Status(StatusCode::kNotSupported,
                             fmt::format("{}: dax mode needs a device-DAX device or a file on a "
                                         "DAX file system (mount -o dax); use mode emulated or "
                                         "msync ({})",
                                         path, s.message())));
      return disown(s);
    }
  }
  pool->mode_ = resolved;
  if (resolved == Mode::kEmulated)
    log().warn("{}: emulated mode: {}", path, mode_durability(Mode::kEmulated));
  pool->size_.store(size, std::memory_order_release);

  pmem2_map* m = pool->maps_[0];
  pool->pmem2_persister_ =
      resolved == Mode::kMsync
          ? Persister::pmem2(msync_flush, msync_drain, msync_memcpy)
          : Persister::pmem2(pmem2_get_flush_fn(m), pmem2_get_drain_fn(m), pmem2_get_memcpy_fn(m),
                             /*nontemporal=*/pool->flushes_lines_);
  if (Status s = pool->set_persist_backend(persist); !s) return disown(s);
  if (resolved == Mode::kDax) pool->device_ = probe_device(fd, /*dax=*/true);
  return pool;
}

Status Pool::map_range(uint64_t offset, uint64_t length) {
  // dax on a file system needs MAP_SYNC so that the file's metadata is
  // durable whenever data is; device DAX is always synchronous.
  bool sync = mode_ == Mode::kDax && !devdax_ && !private_;
  int flags =
      MAP_FIXED | (private_ ? MAP_PRIVATE : (sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED));
  char* at = base_ + offset;
  void* p = ::mmap(at, length, PROT_READ | PROT_WRITE, flags, fd_, static_cast<off_t>(offset));
  if (p == MAP_FAILED) {
    int err = errno;
    // Keep the range reserved whatever the failed mmap left there.
    ::mmap(at, length, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sync && (err == EOPNOTSUPP || err == EINVAL))
      return Status(StatusCode::kNotSupported,
                    fmt::format("{}: the file system does not support MAP_SYNC", path_));
    return status_from_errno(
        err, fmt::format("mapping {} bytes of {} at offset {}", length, path_, offset));
  }
  // libpmem2 supplies the flush/drain/copy functions for the granularity:
  // eADR needs no flush, ADR (and emulation) flushes cache lines, msync pages.
  pmem2_granularity gran = PMEM2_GRANULARITY_PAGE;
  if (mode_ == Mode::kDax)
    gran = device_.persistence_domain == "cpu_cache" ? PMEM2_GRANULARITY_BYTE
                                                     : PMEM2_GRANULARITY_CACHE_LINE;
  else if (mode_ == Mode::kEmulated)
    gran = PMEM2_GRANULARITY_CACHE_LINE;
  flushes_lines_ = gran == PMEM2_GRANULARITY_CACHE_LINE;
  pmem2_map* map = nullptr;
  if (pmem2_map_from_existing(&map, source_, at, length, gran) != 0)
    return pmem2_error(fmt::format("registering {} bytes at offset {}", length, offset), path_);
  maps_.push_back(map);
  return Status::ok();
}

std::vector<std::pair<uint64_t, uint64_t>> Pool::data_ranges(uint64_t from, uint64_t to) const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (devdax_ || fd_ < 0) {
    out.emplace_back(from, to);
    return out;
  }
  for (uint64_t at = from; at < to;) {
    off_t data = ::lseek(fd_, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) out.assign(1, {from, to});  // cannot tell: everything
      break;
    }
    auto d = static_cast<uint64_t>(data);
    if (d >= to) break;
    off_t hole = ::lseek(fd_, data, SEEK_HOLE);
    uint64_t h = hole < 0 ? to : std::min<uint64_t>(static_cast<uint64_t>(hole), to);
    out.emplace_back(d, h);
    at = h;
  }
  return out;
}

Status Pool::set_persist_backend(const PersistOptions& opts) {
  NVOBJ_RETURN_IF_ERROR(check_persist_options(opts));
  switch (opts.backend) {
    case PersistBackend::kPmem2: persister_ = pmem2_persister_; break;
    case PersistBackend::kNoop: persister_ = Persister::noop(); break;
    case PersistBackend::kHook:
      opts.hook->on_attach(base_);
      persister_ = Persister::hook(opts.hook);
      break;
  }
  return Status::ok();
}

Status Pool::write_header() {
  std::lock_guard lock(header_mu_);
  header_.generation++;
  seal_header(header_);
  // Copy 1 first: while it is being written copy 0 still holds the previous
  // valid header, and once it is durable it is itself a valid newer header.
  for (int copy : {1, 0})
    persister_.memcpy_persist(at<PoolHeader>(kHeaderCopyOffset[copy]), &header_, sizeof header_);
  return Status::ok();
}

void Pool::prefault(uint64_t offset, uint64_t length) const {
  if (mode_ == Mode::kMsync || !contains(base_ + offset, length)) return;
  // The whole pages inside the range (what prefault_pages maps; base_ is
  // page-aligned).
  constexpr uint64_t kPage = 4096;
  uint64_t first = (offset + kPage - 1) / kPage, end = (offset + length) / kPage;
  if (end <= first) return;
  if (prefaulted_ != nullptr) {
    bool all = true;
    for (uint64_t p = first; p < end && all; ++p)
      all = (prefaulted_[p / 64].load(std::memory_order_relaxed) >> (p % 64)) & 1;
    if (all) return;
  }
  prefault_pages(base_ + offset, length);
  if (prefaulted_ == nullptr) return;
  for (uint64_t p = first; p < end; ++p)
    prefaulted_[p / 64].fetch_or(uint64_t{1} << (p % 64), std::memory_order_relaxed);
}

Status Pool::grow(uint64_t new_size) {
  std::lock_guard grow_lock(grow_mu_);
  uint64_t old_size = size();
  new_size = round_up(new_size, alignment_);
  if (new_size == old_size) return Status::ok();
  if (new_size < old_size)
    return Status(
        StatusCode::kInvalidArgument,
        fmt::format("{}: cannot shrink a pool ({} -> {} bytes)", path_, old_size, new_size));
  if (devdax_)
    return Status(
        StatusCode::kNotSupported,
        fmt::format("{}: a device-DAX pool spans its whole device and cannot grow", path_));
  if (new_size > reservation_size_)
    return Status(
        StatusCode::kNoSpace,
        fmt::format("{}: cannot grow to {} bytes: beyond the reserved address range of {} "
                    "bytes (reopen with a larger max size)",
                    path_, new_size, reservation_size_));
  // 1. file space, durable; 2. mapping; 3. header. A crash before 3 leaves a
  // file longer than the pool, which open ignores and the next grow reuses.
  int rc =
      ::posix_fallocate(fd_, static_cast<off_t>(old_size), static_cast<off_t>(new_size - old_size));
  if (rc != 0) return status_from_errno(rc, fmt::format("growing {} to {} bytes", path_, new_size));
  if (::fsync(fd_) != 0) return status_from_errno(errno, fmt::format("fsync {}", path_));
  NVOBJ_RETURN_IF_ERROR(map_range(old_size, new_size - old_size));
  {
    std::lock_guard lock(header_mu_);
    header_.size = new_size;
  }
  NVOBJ_RETURN_IF_ERROR(write_header());
  size_.store(new_size, std::memory_order_release);
  log().info("{}: grew from {} to {} MiB", path_, old_size >> 20, new_size >> 20);
  return Status::ok();
}

Status Pool::close() {
  if (fd_ < 0) return Status::ok();
  Status s = Status::ok();
  if (live_ && !maps_.empty()) {
    {
      std::lock_guard lock(header_mu_);
      header_.clean_shutdown = 1;
    }
    s = write_header();
  }
  live_ = false;
  unmap_all();
  ::close(fd_);  // releases the flock
  fd_ = -1;
  if (s) log().debug("closed pool {} cleanly", path_);
  return s;
}

void Pool::unmap_all() {
  for (pmem2_map* m : maps_) pmem2_map_delete(&m);  // objects only: nvobj owns the mappings
  maps_.clear();
  if (base_ != nullptr) ::munmap(base_, reservation_size_);
  base_ = nullptr;
  if (source_ != nullptr) pmem2_source_delete(&source_);
  source_ = nullptr;
}

Pool::~Pool() {
  if (Status s = close(); !s) log().error("closing pool {}: {}", path_, s.to_string());
  unmap_all();  // a pool that failed to open has mappings but no fd of its own
}

Result<PoolInspection> inspect_pool(const std::string& path) {
  auto fd_or = open_file(path, O_RDONLY, 0);
  if (!fd_or) return fd_or.status();
  int fd = *fd_or;
  PoolInspection out;
  auto facts = file_facts(fd, path);
  if (!facts) {
    ::close(fd);
    return facts.status();
  }
  out.file_size = facts->size;
  out.is_device = facts->is_device;
  if (out.file_size < 2 * kHeaderCopySize) {
    ::close(fd);
    return Status(StatusCode::kNotAPool,
                  fmt::format("{} is not an nvobj pool (only {} bytes)", path, out.file_size));
  }
  PoolHeader copies[2];
  for (int i = 0; i < 2; ++i) {
    if (Status s = read_exact(fd, &copies[i], sizeof(PoolHeader),
                              static_cast<off_t>(kHeaderCopyOffset[i]), path);
        !s) {
      ::close(fd);
      return s;
    }
  }
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0)
    out.locked = errno == EWOULDBLOCK;
  else
    ::flock(fd, LOCK_UN);
  ::close(fd);
  out.choice = choose_header(copies[0], copies[1]);
  if (out.choice.chosen < 0) return header_refusal(out.choice, path);
  out.header = copies[out.choice.chosen];
  return out;
}

}  // namespace nvobj
