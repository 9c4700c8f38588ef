// Embedded targets: a dso::Backend in this process (nvobj, volatile,
// pmemobj-tx, fs), driven with the same calls nvobj-dso's commands make.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <sstream>

#include <fmt/format.h>

#include "bench/ycsb/db.h"
#include "bench/ycsb/generators.h"
#include "bench/ycsb/record.h"
#include "dso-backend/backend.h"
#include "dso-backend/baselines/baselines.h"
#include "dso-backend/key_locks.h"
#include "recovery/store_open.h"
#include "runtime/mode.h"

namespace nvobj::ycsb {
namespace fs = std::filesystem;

double index_score(std::string_view key) { return java_string_hash(key); }

size_t DbClient::insert_batch(const std::vector<std::pair<std::string, std::string>>& records) {
  size_t ok = 0;
  for (const auto& [k, v] : records) ok += insert(k, v) ? 1 : 0;
  return ok;
}

std::optional<double> Target::store_bytes() {
  std::map<std::string, double> s = stats();
  for (const char* k : {"nvobj_live_bytes", "pmemobj_allocated_bytes", "fs_file_bytes"}) {
    auto it = s.find(k);
    if (it != s.end()) return it->second;
  }
  return std::nullopt;
}

std::map<std::string, double> parse_info(std::string_view info) {
  std::map<std::string, double> out;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string_view::npos) continue;
    std::string value(line.substr(colon + 1));
    char* e = nullptr;
    double v = std::strtod(value.c_str(), &e);
    if (!value.empty() && *e == '\0') out[std::string(line.substr(0, colon))] = v;
  }
  return out;
}

std::string file_system_of(const std::string& dir) {
  struct statfs st {};
  if (::statfs(dir.c_str(), &st) != 0) return "unknown";
  constexpr long kTmpfsMagic = 0x01021994;
  constexpr long kExt4Magic = 0xEF53;
  constexpr long kXfsMagic = 0x58465342;
  std::string name;
  switch (static_cast<long>(st.f_type)) {
    case kTmpfsMagic: return "tmpfs";
    case kExt4Magic: name = "ext4"; break;
    case kXfsMagic: name = "xfs"; break;
    default: return fmt::format("fs{:x}", static_cast<unsigned long>(st.f_type));
  }
  // DAX is a mount option: find the longest mount point holding `dir`.
  std::error_code ec;
  std::string canon = fs::weakly_canonical(dir, ec).string();
  std::ifstream mounts("/proc/mounts");
  std::string dev, mnt, type, opts, best_opts;
  size_t best = 0;
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream ls(line);
    ls >> dev >> mnt >> type >> opts;
    if (canon.rfind(mnt, 0) == 0 && mnt.size() >= best) {
      best = mnt.size();
      best_opts = opts;
    }
  }
  if (("," + best_opts + ",").find(",dax") != std::string::npos) name += "-dax";
  return name;
}

namespace {

class EmbeddedTarget;

class EmbeddedClient : public DbClient {
 public:
  explicit EmbeddedClient(EmbeddedTarget& t);
  bool read(std::string_view key, int64_t field, std::vector<std::string>* out) override;
  bool update(std::string_view key, int64_t field, std::string_view value) override;
  bool insert(std::string_view key, std::string_view record) override;
  bool scan(std::string_view start_key, int64_t count, int64_t field,
            std::vector<std::vector<std::string>>* out) override;

 private:
  dso::Backend& b_;
  dso::KeyLocks& locks_;
  std::string buf_;
  std::string next_;
  std::vector<std::string> keys_;
};

class EmbeddedTarget : public Target {
 public:
  static Result<std::unique_ptr<Target>> open(const std::string& spec, const EmbeddedOptions& o) {
    auto t = std::unique_ptr<EmbeddedTarget>(new EmbeddedTarget());
    NVOBJ_RETURN_IF_ERROR(t->init(spec, o));
    return std::unique_ptr<Target>(std::move(t));
  }
  ~EmbeddedTarget() override { (void)close(); }

  const std::string& label() const override { return label_; }
  const std::string& mode() const override { return mode_; }
  bool embedded() const override { return true; }
  bool counts_persistence() const override { return kind_ == "nvobj"; }
  Result<std::unique_ptr<DbClient>> connect() override {
    return std::unique_ptr<DbClient>(new EmbeddedClient(*this));
  }
  std::map<std::string, double> stats() override {
    auto s = parse_info(backend_->info());
    for (const auto& [k, v] : extra_stats_) s[k] = v;
    return s;
  }
  std::map<std::string, std::string> notes() const override { return notes_; }

  Status finish_load() override {
    if (stage_.empty()) return Status::ok();
    // Move the fs store loaded on tmpfs into its real directory: close it,
    // copy the data file, make it durable, and reopen from there (which
    // replays the file, as after a restart; its time is reported).
    backend_.reset();
    std::error_code ec;
    fs::create_directories(path_, ec);
    fs::copy_file(fs::path(stage_) / dso::kFsDataFileName, fs::path(path_) / dso::kFsDataFileName,
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return Status(StatusCode::kIOError, fmt::format("copy to {}: {}", path_, ec.message()));
    for (const std::string& p : {(fs::path(path_) / dso::kFsDataFileName).string(), path_}) {
      int fd = ::open(p.c_str(), O_RDONLY);
      if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
      }
    }
    fs::remove_all(stage_, ec);
    stage_.clear();
    auto t0 = std::chrono::steady_clock::now();
    NVOBJ_ASSIGN_OR_RETURN(backend_, dso::make_fs_backend(path_));
    extra_stats_["fs_reopen_seconds"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return Status::ok();
  }

  Status close() override {
    backend_.reset();
    Status st;
    if (store_) {
      st = store_->close();
      store_.reset();
    }
    std::error_code ec;
    if (!keep_ && !owned_.empty()) fs::remove_all(owned_, ec);
    if (!stage_.empty()) fs::remove_all(stage_, ec);
    owned_.clear();
    stage_.clear();
    return st;
  }

  dso::Backend& backend() { return *backend_; }
  dso::KeyLocks& locks() { return locks_; }
  Store* store() { return store_.get(); }

 private:
  EmbeddedTarget() = default;

  Status init(const std::string& spec, const EmbeddedOptions& o) {
    size_t colon = spec.find(':');
    kind_ = spec.substr(0, colon);
    std::string dir = colon == std::string::npos ? o.base_dir : spec.substr(colon + 1);
    keep_ = o.keep;
    if (kind_ == "volatile") {
      label_ = "volatile";
      mode_ = "none";
      backend_ = dso::make_volatile_backend();
      return Status::ok();
    }
    if (kind_ != "nvobj" && kind_ != "pmemobj-tx" && kind_ != "fs") {
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("unknown backend '{}' (nvobj, volatile, pmemobj-tx, fs)", kind_));
    }
    std::error_code ec;
    if (o.path.empty()) {
      fs::create_directories(dir, ec);
      // One fresh directory per target, removed by close().
      owned_ = (fs::path(dir) / fmt::format("nvobj-bench-{}-{}", ::getpid(), kind_)).string();
      fs::remove_all(owned_, ec);
      fs::create_directories(owned_, ec);
      if (ec) return Status(StatusCode::kIOError, fmt::format("cannot create {}", owned_));
      path_ = (fs::path(owned_) / (kind_ == "fs" ? "store" : "pool")).string();
    } else {
      path_ = o.path;
      dir = fs::path(path_).parent_path().string();
      owned_ = path_;  // removed by close() unless keep
    }
    const std::string medium = file_system_of(dir);
    notes_["medium"] = medium;
    notes_["store_path"] = path_;
    label_ = medium == "tmpfs" ? kind_ : fmt::format("{}-{}", kind_, medium);
    uint64_t size = std::max<uint64_t>(o.pool_bytes, uint64_t{64} << 20);
    if (kind_ == "nvobj") {
      StoreOptions so;
      // The pool grows on demand; posix_fallocate reserves its initial size
      // on tmpfs at once, so a big run starts at a few GiB, not its estimate.
      so.create.size = std::min<uint64_t>(size, uint64_t{2} << 30);
      so.create.max_size = uint64_t{256} << 30;
      so.open.max_size = so.create.max_size;
      so.progress = false;
      auto s = o.reopen ? open_store(path_, so) : create_store(path_, so);
      if (!s) return s.status();
      store_ = std::move(*s);
      backend_ = dso::make_nvobj_backend(*store_);
      mode_ = std::string(mode_name(store_->pool().mode()));
      return Status::ok();
    }
    if (kind_ == "pmemobj-tx") {
      auto b = dso::make_pmemobj_backend(path_, o.reopen ? 0 : size);
      if (!b) return b.status();
      backend_ = std::move(*b);
      mode_ = medium == "tmpfs" || medium.ends_with("-dax") ? "emulated" : "msync";
      if (medium.ends_with("-dax")) mode_ = "dax";
      return Status::ok();
    }
    // fs: durable by fdatasync. On tmpfs that survives process crashes only
    // (like emulated mode); on a disk it is page-granularity durability
    // through the kernel, recorded as msync.
    label_ = fmt::format("fs-{}", medium);
    mode_ = medium == "tmpfs" ? "emulated" : medium.ends_with("-dax") ? "dax" : "msync";
    notes_["durability"] = "write + fdatasync per write call";
    std::string load_dir = path_;
    if (!o.stage_dir.empty() && medium != "tmpfs" && !o.reopen) {
      stage_ =
          (fs::path(o.stage_dir) / fmt::format("nvobj-bench-{}-fs-stage", ::getpid())).string();
      fs::remove_all(stage_, ec);
      load_dir = stage_;
      notes_["load_note"] = "loaded on tmpfs (" + o.stage_dir + ") and copied into place";
    }
    auto b = dso::make_fs_backend(load_dir);
    if (!b) return b.status();
    backend_ = std::move(*b);
    return Status::ok();
  }

  std::string kind_, label_, mode_, path_, owned_, stage_;
  bool keep_ = false;
  std::unique_ptr<Store> store_;
  std::unique_ptr<dso::Backend> backend_;
  dso::KeyLocks locks_;
  std::map<std::string, std::string> notes_;
  std::map<std::string, double> extra_stats_;
};

EmbeddedClient::EmbeddedClient(EmbeddedTarget& t) : b_(t.backend()), locks_(t.locks()) {}

bool EmbeddedClient::read(std::string_view key, int64_t field, std::vector<std::string>* out) {
  {
    std::shared_lock lock(locks_.at(locks_.stripe(key)));
    if (b_.get(key, &buf_) != dso::Found::kOk) return false;
  }
  if (field < 0) return decode_fields(buf_, out);
  if (out->empty()) out->emplace_back();
  out->resize(1);
  return decode_field(buf_, static_cast<size_t>(field), &(*out)[0]);
}

bool EmbeddedClient::update(std::string_view key, int64_t field, std::string_view value) {
  bool found = false;
  std::unique_lock lock(locks_.at(locks_.stripe(key)));
  b_.update(key, [&](std::optional<std::string_view> old) -> std::optional<std::string> {
    if (!old) return std::nullopt;
    found = true;
    if (field < 0) return std::string(value);
    if (!replace_field(*old, static_cast<size_t>(field), value, &next_)) return std::nullopt;
    return std::move(next_);
  });
  return found;
}

bool EmbeddedClient::insert(std::string_view key, std::string_view record) {
  {
    std::unique_lock lock(locks_.at(locks_.stripe(key)));
    b_.set(key, record);
  }
  bool created = false;
  std::unique_lock lock(locks_.at(locks_.stripe(kIndexKey)));
  return b_.zadd(kIndexKey, key, index_score(key), &created) == dso::Found::kOk;
}

bool EmbeddedClient::scan(std::string_view start_key, int64_t count, int64_t field,
                          std::vector<std::vector<std::string>>* out) {
  size_t n = 0;
  {
    std::shared_lock lock(locks_.at(locks_.stripe(kIndexKey)));
    b_.zrange_by_score(kIndexKey, {index_score(start_key)},
                       {std::numeric_limits<double>::infinity()}, false, 0, count,
                       [&](std::string_view member, double) {
                         if (n == keys_.size()) keys_.emplace_back();
                         keys_[n++].assign(member);
                       });
  }
  if (out->size() < n) out->resize(n);
  size_t found = 0;
  for (size_t i = 0; i < n; ++i) found += read(keys_[i], field, &(*out)[i]) ? 1 : 0;
  return found > 0;
}

}  // namespace

Result<std::unique_ptr<Target>> open_embedded_target(const std::string& spec,
                                                     const EmbeddedOptions& options) {
  return EmbeddedTarget::open(spec, options);
}

}  // namespace nvobj::ycsb
