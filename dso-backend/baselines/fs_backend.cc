// The fs baseline (see baselines.h and fs_format.h for the file).
//
// In DRAM: an index from each key to its key record and, for containers,
// to the records of its elements: field -> record (hashes), elements in
// position order (lists: a deque, so LINDEX is O(1), pushes and pops at the
// ends O(1), LINSERT/LREM in the middle O(n) moves of index entries),
// members in (score, member) order plus member -> entry (sorted sets; the
// scores are index data, kept in DRAM as J-PDT keeps its keys). Values are
// never cached: every read preads them from the file.
//
// Writes: one writer at a time (write_mu_) builds the call's batch from the
// index, appends it (one pwrite, one fdatasync), then updates the index
// under index_mu_. Readers hold index_mu_ shared while they look up and
// pread, so they run in parallel with each other and with a writer's
// fdatasync. Each write call is thus failure-atomic and durable on return.
//
// Compaction: when dead bytes (replaced or deleted records, batch headers)
// exceed half the file, the live records are rewritten into a new file
// (batches of about 1 MiB), which is fdatasync'ed, renamed over the data
// file, and the directory fsync'ed; a crash before the rename leaves the
// old file, which is complete. It runs inside a write call, after the
// call's own batch is durable, holding both locks (reads wait for it).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "dso-backend/baselines/baselines.h"
#include "dso-backend/baselines/fs_format.h"
#include "runtime/log.h"

namespace nvobj::dso {

namespace {

using fs::BatchWriter;
using fs::RecordKind;

constexpr size_t kCompactBatchBytes = 1 << 20;

// Where a live record's value is in the file.
struct Loc {
  uint64_t off = 0;  // first value byte (a key record's: after its type/gen prefix)
  uint32_t len = 0;
  uint32_t rec = 0;  // bytes of the whole record: what goes dead when it is replaced
};

Loc make_loc(uint64_t batch_at, uint64_t value_offset, size_t prefix, size_t len, size_t key) {
  return Loc{batch_at + value_offset + prefix, static_cast<uint32_t>(len),
             static_cast<uint32_t>(fs::kRecordHeaderSize + key + prefix + len)};
}

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
template <typename V>
using StrMap = std::unordered_map<std::string, V, StrHash, std::equal_to<>>;

struct HashC {
  StrMap<Loc> fields;
};

struct ListElem {
  std::string pos;
  Loc loc;
};
struct ListC {
  std::deque<ListElem> elems;
  // While replaying: elements by position, moved into elems at the end.
  std::unique_ptr<std::map<std::string, Loc>> replay;
};

struct ZItem {
  double score;
  std::string member;
};
struct ZLess {
  using is_transparent = void;
  bool operator()(const ZItem& a, const ZItem& b) const {
    return a.score != b.score ? a.score < b.score : a.member < b.member;
  }
  bool operator()(const ZItem& a, double s) const { return a.score < s; }
  bool operator()(double s, const ZItem& b) const { return s < b.score; }
};
struct ZSetC {
  using Order = std::set<ZItem, ZLess>;
  struct Member {
    Order::iterator it;
    Loc loc;
  };
  Order order;
  std::unordered_map<std::string_view, Member> members;  // keys view order's strings
};

struct Entry {
  ValueType type = ValueType::kNone;
  uint64_t gen = 0;
  Loc head;  // the key record; for a string, its value
  std::unique_ptr<HashC> hash;
  std::unique_ptr<ListC> list;
  std::unique_ptr<ZSetC> zset;
};

bool score_gte_min(double s, ScoreBound min) {
  return min.exclusive ? s > min.value : s >= min.value;
}
bool score_lte_max(double s, ScoreBound max) {
  return max.exclusive ? s < max.value : s <= max.value;
}

std::string_view score_bytes(const double& s) {
  return {reinterpret_cast<const char*>(&s), sizeof(double)};
}

[[noreturn]] void throw_io(int err, const std::string& what) {
  StatusCode code =
      err == ENOSPC || err == EDQUOT || err == EFBIG ? StatusCode::kNoSpace : StatusCode::kIOError;
  throw StorageError(code, "fs: " + what + ": " + std::strerror(err));
}

bool write_all(int fd, std::string_view data, uint64_t at, int* err) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = n < 0 ? errno : EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

int fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

class FsBackend final : public Backend {
 public:
  FsBackend(std::string dir, const FsOptions& options, int lock_fd)
      : dir_(std::move(dir)),
        path_(dir_ + "/" + kFsDataFileName),
        opts_(options),
        lock_fd_(lock_fd) {}
  ~FsBackend() override {
    if (fd_ >= 0) ::close(fd_);
    ::close(lock_fd_);  // releases the directory lock
  }

  Status open();

  std::string_view name() const override { return "fs"; }

  std::string info() override {
    std::shared_lock lock(index_mu_);
    uint64_t size = file_size_.load();
    return fmt::format(
        "fs_dir:{}\r\nfs_file_bytes:{}\r\nfs_live_bytes:{}\r\nfs_dead_bytes:{}\r\nfs_records:{}\r\n"
        "fs_keys:{}\r\nfs_batches:{}\r\nfs_fsyncs:{}\r\nfs_compactions:{}\r\n",
        dir_, size, live_bytes_, size - fs::kFileHeaderSize - live_bytes_, records_, keys_.size(),
        batches_.load(), fsyncs_.load(), compactions_.load());
  }

  // --- key space ---

  ValueType type(std::string_view key) override {
    std::shared_lock lock(index_mu_);
    const Entry* e = find(key);
    return e == nullptr ? ValueType::kNone : e->type;
  }

  bool del(std::string_view key) override {
    std::lock_guard w(write_mu_);
    if (find(key) == nullptr) return false;
    BatchWriter b;
    b.add(RecordKind::kKeyDel, key);
    commit(b, [&](uint64_t) { erase_entry(key); });
    return true;
  }

  uint64_t size() override {
    std::shared_lock lock(index_mu_);
    return keys_.size();
  }

  void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) override {
    std::vector<std::pair<std::string, ValueType>> all;
    {
      std::shared_lock lock(index_mu_);
      all.reserve(keys_.size());
      for (const auto& [k, e] : keys_) all.emplace_back(k, e.type);
    }
    for (const auto& [k, t] : all) fn(k, t);
  }

  void flush_all() override {
    std::lock_guard w(write_mu_);
    std::unique_lock lock(index_mu_);
    rewrite(/*empty=*/true);
  }

  // --- strings ---

  Found get(std::string_view key, std::string* value) override {
    std::shared_lock lock(index_mu_);
    const Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kString) return Found::kWrongType;
    read(e->head, value);
    return Found::kOk;
  }

  void set(std::string_view key, std::string_view value) override {
    std::lock_guard w(write_mu_);
    put_string(key, value);
  }

  Found update(std::string_view key, const UpdateFn& fn) override {
    std::lock_guard w(write_mu_);
    const Entry* e = find(key);
    std::optional<std::string> next;
    if (e == nullptr) {
      next = fn(std::nullopt);
    } else {
      if (e->type != ValueType::kString) return Found::kWrongType;
      std::string current;
      read(e->head, &current);
      next = fn(current);
    }
    if (next) put_string(key, *next);
    return Found::kOk;
  }

  // --- hashes ---

  Found hget(std::string_view key, std::string_view field, std::string* value) override {
    std::shared_lock lock(index_mu_);
    const HashC* h = nullptr;
    if (Found f = container(key, ValueType::kHash, &h); f != Found::kOk) return f;
    auto it = h->fields.find(field);
    if (it == h->fields.end()) return Found::kMissing;
    read(it->second, value);
    return Found::kOk;
  }

  Found hset(std::string_view key, std::string_view field, std::string_view value,
             bool* created) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e != nullptr && e->type != ValueType::kHash) return Found::kWrongType;
    BatchWriter b;
    NewKey nk = maybe_new_key(b, e, key, ValueType::kHash);
    std::string rk = fs::elem_key(nk.gen, field);
    uint64_t voff = b.add(RecordKind::kElemPut, rk, {}, value);
    commit(b, [&](uint64_t at) {
      if (e == nullptr) e = &new_container(key, ValueType::kHash, nk, at);
      Loc l = make_loc(at, voff, 0, value.size(), rk.size());
      auto& fields = e->hash->fields;
      auto it = fields.find(field);
      *created = it == fields.end();
      if (it == fields.end()) {
        fields.emplace(std::string(field), l);
      } else {
        retire(it->second);
        it->second = l;
      }
      adopt(l);
    });
    return Found::kOk;
  }

  Found hdel(std::string_view key, std::string_view field) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kHash) return Found::kWrongType;
    auto& fields = e->hash->fields;
    auto it = fields.find(field);
    if (it == fields.end()) return Found::kMissing;
    BatchWriter b;
    if (fields.size() == 1) {
      b.add(RecordKind::kKeyDel, key);
      commit(b, [&](uint64_t) { erase_entry(key); });
    } else {
      b.add(RecordKind::kElemDel, fs::elem_key(e->gen, field));
      commit(b, [&](uint64_t) {
        retire(it->second);
        fields.erase(it);
      });
    }
    return Found::kOk;
  }

  Found hlen(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(index_mu_);
    const HashC* h = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kHash, &h); f != Found::kOk) return f;
    *n = h->fields.size();
    return Found::kOk;
  }

  Found hscan(std::string_view key,
              const std::function<void(std::string_view, std::string_view)>& fn) override {
    std::shared_lock lock(index_mu_);
    const HashC* h = nullptr;
    if (Found f = container(key, ValueType::kHash, &h); f != Found::kOk) return f;
    std::string v;
    for (const auto& [field, loc] : h->fields) {
      read(loc, &v);
      fn(field, v);
    }
    return Found::kOk;
  }

  // --- lists ---

  Found llen(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(index_mu_);
    const ListC* l = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    *n = l->elems.size();
    return Found::kOk;
  }

  Found lindex(std::string_view key, uint64_t i, std::string* value) override {
    std::shared_lock lock(index_mu_);
    const ListC* l = nullptr;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    if (i >= l->elems.size()) return Found::kMissing;
    read(l->elems[i].loc, value);
    return Found::kOk;
  }

  Found lset(std::string_view key, uint64_t i, std::string_view value) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kList) return Found::kWrongType;
    auto& elems = e->list->elems;
    if (i >= elems.size()) return Found::kMissing;
    BatchWriter b;
    std::string rk = fs::elem_key(e->gen, elems[i].pos);
    uint64_t voff = b.add(RecordKind::kElemPut, rk, {}, value);
    commit(b, [&](uint64_t at) {
      retire(elems[i].loc);
      elems[i].loc = make_loc(at, voff, 0, value.size(), rk.size());
      adopt(elems[i].loc);
    });
    return Found::kOk;
  }

  Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e != nullptr && e->type != ValueType::kList) return Found::kWrongType;
    BatchWriter b;
    NewKey nk = maybe_new_key(b, e, key, ValueType::kList);
    std::string pos;
    if (e == nullptr) {
      pos = fs::position_between({}, {});
    } else if (front) {
      pos = fs::position_between({}, e->list->elems.front().pos);
    } else {
      pos = fs::position_between(e->list->elems.back().pos, {});
    }
    std::string rk = fs::elem_key(nk.gen, pos);
    uint64_t voff = b.add(RecordKind::kElemPut, rk, {}, value);
    commit(b, [&](uint64_t at) {
      if (e == nullptr) e = &new_container(key, ValueType::kList, nk, at);
      ListElem el{std::move(pos), make_loc(at, voff, 0, value.size(), rk.size())};
      adopt(el.loc);
      if (front) {
        e->list->elems.push_front(std::move(el));
      } else {
        e->list->elems.push_back(std::move(el));
      }
      *len = e->list->elems.size();
    });
    return Found::kOk;
  }

  Found pop(std::string_view key, bool front, std::string* value) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kList) return Found::kWrongType;
    std::string out;
    read(front ? e->list->elems.front().loc : e->list->elems.back().loc, &out);
    remove_element(key, e, front ? 0 : e->list->elems.size() - 1);
    *value = std::move(out);
    return Found::kOk;
  }

  Found lrange(std::string_view key, uint64_t from, uint64_t to,
               const std::function<void(std::string_view)>& fn) override {
    std::shared_lock lock(index_mu_);
    const ListC* l = nullptr;
    if (Found f = container(key, ValueType::kList, &l); f != Found::kOk) return f;
    to = std::min<uint64_t>(to, l->elems.size());
    std::string v;
    for (uint64_t k = from; k < to; ++k) {
      read(l->elems[k].loc, &v);
      fn(v);
    }
    return Found::kOk;
  }

  Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kList) return Found::kWrongType;
    auto& elems = e->list->elems;
    if (i >= elems.size()) return Found::kMissing;
    uint64_t at_index = after ? i + 1 : i;  // where the new element goes
    std::string_view lo = at_index > 0 ? std::string_view(elems[at_index - 1].pos) : "";
    std::string_view hi = at_index < elems.size() ? std::string_view(elems[at_index].pos) : "";
    std::string pos = fs::position_between(lo, hi);
    BatchWriter b;
    std::string rk = fs::elem_key(e->gen, pos);
    uint64_t voff = b.add(RecordKind::kElemPut, rk, {}, value);
    commit(b, [&](uint64_t at) {
      ListElem el{std::move(pos), make_loc(at, voff, 0, value.size(), rk.size())};
      adopt(el.loc);
      elems.insert(elems.begin() + static_cast<ptrdiff_t>(at_index), std::move(el));
    });
    return Found::kOk;
  }

  Found lremove(std::string_view key, uint64_t i) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kList) return Found::kWrongType;
    if (i >= e->list->elems.size()) return Found::kMissing;
    remove_element(key, e, i);
    return Found::kOk;
  }

  // --- sorted sets ---

  Found zscore(std::string_view key, std::string_view member, double* score) override {
    std::shared_lock lock(index_mu_);
    const ZSetC* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    auto it = z->members.find(member);
    if (it == z->members.end()) return Found::kMissing;
    *score = it->second.it->score;
    return Found::kOk;
  }

  Found zadd(std::string_view key, std::string_view member, double score, bool* created) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e != nullptr && e->type != ValueType::kZSet) return Found::kWrongType;
    if (e != nullptr) {
      auto it = e->zset->members.find(member);
      // Same score: nothing to write (ZADD of an unchanged member).
      if (it != e->zset->members.end() && it->second.it->score == score) {
        *created = false;
        return Found::kOk;
      }
    }
    BatchWriter b;
    NewKey nk = maybe_new_key(b, e, key, ValueType::kZSet);
    std::string rk = fs::elem_key(nk.gen, member);
    uint64_t voff = b.add(RecordKind::kElemPut, rk, {}, score_bytes(score));
    commit(b, [&](uint64_t at) {
      if (e == nullptr) e = &new_container(key, ValueType::kZSet, nk, at);
      Loc l = make_loc(at, voff, 0, sizeof(double), rk.size());
      *created = zset_put(*e->zset, member, score, l);
    });
    return Found::kOk;
  }

  Found zrem(std::string_view key, std::string_view member) override {
    std::lock_guard w(write_mu_);
    Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != ValueType::kZSet) return Found::kWrongType;
    ZSetC& z = *e->zset;
    auto it = z.members.find(member);
    if (it == z.members.end()) return Found::kMissing;
    BatchWriter b;
    if (z.members.size() == 1) {
      b.add(RecordKind::kKeyDel, key);
      commit(b, [&](uint64_t) { erase_entry(key); });
    } else {
      b.add(RecordKind::kElemDel, fs::elem_key(e->gen, member));
      commit(b, [&](uint64_t) { zset_erase(z, it); });
    }
    return Found::kOk;
  }

  Found zcard(std::string_view key, uint64_t* n) override {
    std::shared_lock lock(index_mu_);
    const ZSetC* z = nullptr;
    *n = 0;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    *n = z->order.size();
    return Found::kOk;
  }

  Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
               const ZFn& fn) override {
    std::shared_lock lock(index_mu_);
    const ZSetC* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    uint64_t n = z->order.size();
    to = std::min(to, n);
    if (from >= to) return Found::kOk;
    // std::set has no ranks: walk to the first one from the nearer end.
    uint64_t first = reverse ? n - 1 - from : from;
    auto it = first <= n / 2 ? std::next(z->order.begin(), static_cast<ptrdiff_t>(first))
                             : std::prev(z->order.end(), static_cast<ptrdiff_t>(n - first));
    for (uint64_t k = from; k < to; ++k) {
      fn(it->member, it->score);
      if (k + 1 == to) break;
      if (reverse) {
        --it;
      } else {
        ++it;
      }
    }
    return Found::kOk;
  }

  Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                        uint64_t offset, int64_t count, const ZFn& fn) override {
    std::shared_lock lock(index_mu_);
    const ZSetC* z = nullptr;
    if (Found f = container(key, ValueType::kZSet, &z); f != Found::kOk) return f;
    const auto& order = z->order;
    auto emit = [&](const ZItem& item) {
      if (offset > 0) {
        --offset;
        return true;
      }
      if (count == 0) return false;
      fn(item.member, item.score);
      if (count > 0) --count;
      return true;
    };
    if (!reverse) {
      auto it = min.exclusive ? order.upper_bound(min.value) : order.lower_bound(min.value);
      for (; it != order.end() && score_lte_max(it->score, max); ++it) {
        if (!emit(*it)) break;
      }
    } else {
      auto it = max.exclusive ? order.lower_bound(max.value) : order.upper_bound(max.value);
      while (it != order.begin()) {
        --it;
        if (!score_gte_min(it->score, min) || !emit(*it)) break;
      }
    }
    return Found::kOk;
  }

 private:
  // A key record a write call adds when the key is new.
  struct NewKey {
    uint64_t gen = 0;
    uint64_t voff = 0;  // its value in the batch, if added
    size_t key_len = 0;
    bool added = false;
  };

  Entry* find(std::string_view key) {
    auto it = keys_.find(key);
    return it == keys_.end() ? nullptr : &it->second;
  }
  const Entry* find(std::string_view key) const {
    auto it = keys_.find(key);
    return it == keys_.end() ? nullptr : &it->second;
  }

  template <typename C>
  Found container(std::string_view key, ValueType want, const C** out) const {
    const Entry* e = find(key);
    if (e == nullptr) return Found::kMissing;
    if (e->type != want) return Found::kWrongType;
    if constexpr (std::is_same_v<C, HashC>) *out = e->hash.get();
    if constexpr (std::is_same_v<C, ListC>) *out = e->list.get();
    if constexpr (std::is_same_v<C, ZSetC>) *out = e->zset.get();
    return Found::kOk;
  }

  void adopt(const Loc& l) {
    live_bytes_ += l.rec;
    ++records_;
  }
  void retire(const Loc& l) {
    live_bytes_ -= l.rec;
    --records_;
  }

  // Reads a value (readers hold index_mu_; writers write_mu_).
  void read(const Loc& l, std::string* out) const {
    out->resize(l.len);
    for (size_t done = 0; done < l.len;) {
      ssize_t n = ::pread(fd_, out->data() + done, l.len - done, static_cast<off_t>(l.off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw_io(n < 0 ? errno : EIO, "read of " + path_);
      done += static_cast<size_t>(n);
    }
  }

  // Appends one sealed batch and makes it durable; on failure the file is
  // cut back to where it was and StorageError thrown: nothing happened.
  uint64_t append(std::string_view batch) {
    uint64_t at = file_size_.load();
    int err = 0;
    bool ok = write_all(fd_, batch, at, &err);
    if (ok && ::fdatasync(fd_) != 0) {
      ok = false;
      err = errno;
    }
    if (!ok) {
      if (::ftruncate(fd_, static_cast<off_t>(at)) != 0) {
        log().error("fs: cannot cut {} back to {} bytes after a failed write: {}", path_, at,
                    std::strerror(errno));
      }
      throw_io(err, "append to " + path_ + " failed, nothing was stored");
    }
    fsyncs_.fetch_add(1, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    file_size_.store(at + batch.size());
    return at;
  }

  // Appends the call's batch, then apply(batch offset) updates the index.
  template <typename Apply>
  void commit(BatchWriter& b, Apply&& apply) {
    b.seal();
    uint64_t at = append(b.data());
    {
      std::unique_lock lock(index_mu_);
      apply(at);
    }
    maybe_compact();
  }

  NewKey maybe_new_key(BatchWriter& b, const Entry* e, std::string_view key, ValueType t) {
    NewKey nk;
    if (e != nullptr) {
      nk.gen = e->gen;
      return nk;
    }
    nk.gen = next_gen_++;
    nk.voff = b.add(RecordKind::kKeyPut, key, fs::key_prefix(static_cast<uint8_t>(t), nk.gen));
    nk.key_len = key.size();
    nk.added = true;
    return nk;
  }

  // Index side of a key record that binds key to an empty container.
  Entry& new_container(std::string_view key, ValueType t, const NewKey& nk, uint64_t at) {
    Entry& e = keys_.emplace(std::string(key), Entry{}).first->second;
    init_container(e, t, nk.gen, make_loc(at, nk.voff, fs::kKeyValuePrefix, 0, nk.key_len));
    return e;
  }

  void init_container(Entry& e, ValueType t, uint64_t gen, const Loc& head) {
    e.type = t;
    e.gen = gen;
    e.head = head;
    adopt(head);
    if (t == ValueType::kHash) e.hash = std::make_unique<HashC>();
    if (t == ValueType::kList) e.list = std::make_unique<ListC>();
    if (t == ValueType::kZSet) e.zset = std::make_unique<ZSetC>();
  }

  // Retires the entry's records and empties it.
  void clear_entry(Entry& e) {
    retire(e.head);
    if (e.hash) {
      for (const auto& [f, l] : e.hash->fields) retire(l);
    }
    if (e.list) {
      for (const auto& el : e.list->elems) retire(el.loc);
      if (e.list->replay) {
        for (const auto& [p, l] : *e.list->replay) retire(l);
      }
    }
    if (e.zset) {
      for (const auto& [m, zm] : e.zset->members) retire(zm.loc);
    }
    e = Entry{};
  }

  void erase_entry(std::string_view key) {
    auto it = keys_.find(key);
    clear_entry(it->second);
    keys_.erase(it);
  }

  void put_string(std::string_view key, std::string_view value) {
    BatchWriter b;
    std::string prefix = fs::key_prefix(static_cast<uint8_t>(ValueType::kString), 0);
    uint64_t voff = b.add(RecordKind::kKeyPut, key, prefix, value);
    commit(b, [&](uint64_t at) {
      auto it = keys_.find(key);
      if (it == keys_.end()) {
        it = keys_.emplace(std::string(key), Entry{}).first;
      } else {
        clear_entry(it->second);
      }
      it->second.type = ValueType::kString;
      it->second.head = make_loc(at, voff, prefix.size(), value.size(), key.size());
      adopt(it->second.head);
    });
  }

  // Removes list element i, and the key when it is the last.
  void remove_element(std::string_view key, Entry* e, uint64_t i) {
    auto& elems = e->list->elems;
    BatchWriter b;
    if (elems.size() == 1) {
      b.add(RecordKind::kKeyDel, key);
      commit(b, [&](uint64_t) { erase_entry(key); });
      return;
    }
    b.add(RecordKind::kElemDel, fs::elem_key(e->gen, elems[i].pos));
    commit(b, [&](uint64_t) {
      retire(elems[i].loc);
      if (i == 0) {
        elems.pop_front();
      } else if (i + 1 == elems.size()) {
        elems.pop_back();
      } else {
        elems.erase(elems.begin() + static_cast<ptrdiff_t>(i));
      }
    });
  }

  // Sets member's score and record; true if the member is new.
  bool zset_put(ZSetC& z, std::string_view member, double score, const Loc& l) {
    adopt(l);
    auto it = z.members.find(member);
    if (it == z.members.end()) {
      auto pos = z.order.insert(ZItem{score, std::string(member)}).first;
      z.members.emplace(std::string_view(pos->member), ZSetC::Member{pos, l});
      return true;
    }
    retire(it->second.loc);
    it->second.loc = l;
    // The node (and the member string the map's key views) stays put.
    auto node = z.order.extract(it->second.it);
    node.value().score = score;
    it->second.it = z.order.insert(std::move(node)).position;
    return false;
  }

  void zset_erase(ZSetC& z, std::unordered_map<std::string_view, ZSetC::Member>::iterator it) {
    retire(it->second.loc);
    auto pos = it->second.it;
    z.members.erase(it);  // before the string its key views
    z.order.erase(pos);
  }

  void maybe_compact() {
    uint64_t size = file_size_.load();
    uint64_t dead = size - fs::kFileHeaderSize - live_bytes_;
    if (size < opts_.compact_min_bytes || dead * 2 <= size || size < next_compact_at_) return;
    std::unique_lock lock(index_mu_);
    try {
      rewrite(/*empty=*/false);
      next_compact_at_ = 0;
    } catch (const StorageError& e) {
      // The call that got here is durable already; compaction is retried
      // once the file has grown by half.
      next_compact_at_ = size + size / 2;
      log().warn("fs: compaction of {} failed, keeping the old file: {}", path_, e.what());
    }
  }

  void rewrite(bool empty);
  Status replay(const char* base, uint64_t size, uint64_t* valid_end);
  bool apply_record(const fs::RecordView& r, uint64_t batch_at,
                    std::unordered_map<uint64_t, Entry*>* by_gen);

  std::string dir_;
  std::string path_;
  FsOptions opts_;
  int lock_fd_;
  int fd_ = -1;
  std::mutex write_mu_;                 // one write call at a time
  mutable std::shared_mutex index_mu_;  // the index and fd_, against readers
  StrMap<Entry> keys_;
  uint64_t next_gen_ = 1;
  uint64_t live_bytes_ = 0;  // bytes of live records
  uint64_t records_ = 0;     // live records
  uint64_t next_compact_at_ = 0;
  std::atomic<uint64_t> file_size_{0};
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> compactions_{0};
};

// Writes the live records (none if `empty`) into a new file and renames it
// over the data file. Both locks held. Throws StorageError, leaving the old
// file and the index as they were, if anything before the rename fails.
void FsBackend::rewrite(bool empty) {
  std::string tmp = path_ + ".compact";
  int nfd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (nfd < 0) throw_io(errno, "create " + tmp);
  std::vector<std::pair<Loc*, Loc>> moved;
  uint64_t at = 0;
  int err = 0;
  auto fail = [&](const std::string& what) {
    ::close(nfd);
    ::unlink(tmp.c_str());
    throw_io(err, what);
  };
  std::string header = fs::file_header();
  if (!write_all(nfd, header, 0, &err)) fail("write " + tmp);
  at = header.size();
  uint64_t written_batches = 0;
  BatchWriter b;
  auto flush = [&] {
    if (b.count() == 0) return;
    b.seal();
    if (!write_all(nfd, b.data(), at, &err)) fail("write " + tmp);
    at += b.size();
    ++written_batches;
    b.clear();
  };
  auto put = [&](RecordKind kind, std::string_view key, std::string_view prefix,
                 std::string_view value, Loc* loc) {
    uint64_t voff = b.add(kind, key, prefix, value);
    moved.emplace_back(loc, make_loc(at, voff, prefix.size(), value.size(), key.size()));
    if (b.size() >= kCompactBatchBytes) flush();
  };
  std::string v;
  if (!empty) {
    moved.reserve(records_);
    for (auto& [key, e] : keys_) {
      std::string prefix = fs::key_prefix(static_cast<uint8_t>(e.type), e.gen);
      if (e.type == ValueType::kString) {
        read(e.head, &v);
        put(RecordKind::kKeyPut, key, prefix, v, &e.head);
        continue;
      }
      put(RecordKind::kKeyPut, key, prefix, {}, &e.head);
      if (e.hash) {
        for (auto& [field, loc] : e.hash->fields) {
          read(loc, &v);
          put(RecordKind::kElemPut, fs::elem_key(e.gen, field), {}, v, &loc);
        }
      }
      if (e.list) {
        for (auto& el : e.list->elems) {
          read(el.loc, &v);
          put(RecordKind::kElemPut, fs::elem_key(e.gen, el.pos), {}, v, &el.loc);
        }
      }
      if (e.zset) {
        for (auto& [member, zm] : e.zset->members) {
          put(RecordKind::kElemPut, fs::elem_key(e.gen, member), {}, score_bytes(zm.it->score),
              &zm.loc);
        }
      }
    }
    flush();
  }
  if (::fdatasync(nfd) != 0) {
    err = errno;
    fail("fdatasync " + tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    err = errno;
    fail("rename " + tmp);
  }
  // From here the new file is the data file, whatever happens next.
  ::close(fd_);
  fd_ = nfd;
  file_size_.store(at);
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  batches_.fetch_add(written_batches, std::memory_order_relaxed);
  if (empty) {
    keys_.clear();
    live_bytes_ = 0;
    records_ = 0;
  } else {
    for (auto& [loc, l] : moved) *loc = l;
    compactions_.fetch_add(1, std::memory_order_relaxed);
  }
  if (int e = fsync_dir(dir_); e != 0) throw_io(e, "fsync of directory " + dir_);
}

bool FsBackend::apply_record(const fs::RecordView& r, uint64_t batch_at,
                             std::unordered_map<uint64_t, Entry*>* by_gen) {
  Loc l{batch_at + r.value_offset, static_cast<uint32_t>(r.value.size()), r.size};
  switch (r.kind) {
    case RecordKind::kKeyPut: {
      if (r.value.size() < fs::kKeyValuePrefix) return false;
      auto t = static_cast<ValueType>(r.value[0]);
      uint64_t gen;
      std::memcpy(&gen, r.value.data() + 1, 8);
      if (t == ValueType::kNone || t > ValueType::kZSet) return false;
      auto it = keys_.find(r.key);
      if (it == keys_.end()) {
        it = keys_.emplace(std::string(r.key), Entry{}).first;
      } else {
        if (it->second.type != ValueType::kString) by_gen->erase(it->second.gen);
        clear_entry(it->second);
      }
      Entry& e = it->second;
      Loc head{l.off + fs::kKeyValuePrefix, l.len - static_cast<uint32_t>(fs::kKeyValuePrefix),
               l.rec};
      if (t == ValueType::kString) {
        e.type = t;
        e.head = head;
        adopt(head);
      } else {
        init_container(e, t, gen, head);
        if (t == ValueType::kList) e.list->replay = std::make_unique<std::map<std::string, Loc>>();
        (*by_gen)[gen] = &e;
        next_gen_ = std::max(next_gen_, gen + 1);
      }
      return true;
    }
    case RecordKind::kKeyDel: {
      auto it = keys_.find(r.key);
      if (it != keys_.end()) {
        if (it->second.type != ValueType::kString) by_gen->erase(it->second.gen);
        clear_entry(it->second);
        keys_.erase(it);
      }
      return true;
    }
    case RecordKind::kElemPut:
    case RecordKind::kElemDel: {
      if (r.key.size() < 8) return false;
      uint64_t gen = fs::elem_gen(r.key);
      next_gen_ = std::max(next_gen_, gen + 1);
      auto g = by_gen->find(gen);
      if (g == by_gen->end()) return true;  // its container is gone: dead
      Entry& e = *g->second;
      std::string_view sub = fs::elem_sub(r.key);
      bool put = r.kind == RecordKind::kElemPut;
      if (e.hash) {
        auto it = e.hash->fields.find(sub);
        if (it != e.hash->fields.end()) {
          retire(it->second);
          if (!put) e.hash->fields.erase(it);
        }
        if (put) {
          e.hash->fields.insert_or_assign(std::string(sub), l);
          adopt(l);
        }
      } else if (e.list) {
        if (sub.size() < 8) return false;
        auto& m = *e.list->replay;
        auto it = m.find(std::string(sub));
        if (it != m.end()) {
          retire(it->second);
          if (!put) m.erase(it);
        }
        if (put) {
          m.insert_or_assign(std::string(sub), l);
          adopt(l);
        }
      } else if (e.zset) {
        if (put) {
          if (r.value.size() != sizeof(double)) return false;
          double score;
          std::memcpy(&score, r.value.data(), sizeof score);
          zset_put(*e.zset, sub, score, l);
        } else if (auto it = e.zset->members.find(sub); it != e.zset->members.end()) {
          zset_erase(*e.zset, it);
        }
      }
      return true;
    }
  }
  return false;
}

// Replays the batches of the mapped file; *valid_end: where the last whole
// batch ends. A bad batch with nothing valid after it is a torn tail (the
// caller cuts it off); one followed by a valid batch is corruption.
Status FsBackend::replay(const char* base, uint64_t size, uint64_t* valid_end) {
  std::unordered_map<uint64_t, Entry*> by_gen;
  uint64_t pos = fs::kFileHeaderSize;
  while (pos < size) {
    fs::BatchHeader h;
    bool whole = size - pos >= fs::kBatchHeaderSize && fs::parse_batch_header(base + pos, &h) &&
                 size - pos - fs::kBatchHeaderSize >= h.len && fs::batch_crc_ok(base + pos, h);
    if (!whole) break;
    bool parsed = fs::for_each_record(
        base + pos, h, [&](const fs::RecordView& r) { return apply_record(r, pos, &by_gen); });
    if (!parsed) {
      return Status(StatusCode::kCorrupt,
                    fmt::format("fs store {}: the batch at offset {} passes its checksum but its "
                                "records do not parse",
                                path_, pos));
    }
    pos += fs::kBatchHeaderSize + h.len;
  }
  *valid_end = pos;
  if (pos < size) {
    // Is there a whole batch further on? Then this is no torn tail.
    std::string_view rest(base, size);
    uint32_t magic = fs::kBatchMagic;
    std::string_view m(reinterpret_cast<const char*>(&magic), 4);
    for (size_t at = rest.find(m, pos + 1); at != std::string_view::npos;
         at = rest.find(m, at + 1)) {
      fs::BatchHeader h;
      if (size - at >= fs::kBatchHeaderSize && fs::parse_batch_header(base + at, &h) &&
          size - at - fs::kBatchHeaderSize >= h.len && fs::batch_crc_ok(base + at, h)) {
        return Status(StatusCode::kCorrupt,
                      fmt::format("fs store {}: bad batch at offset {} followed by a valid one at "
                                  "{}; refusing to drop acknowledged writes",
                                  path_, pos, at));
      }
    }
  }
  // Lists: from position order to their deques.
  for (auto it = keys_.begin(); it != keys_.end();) {
    Entry& e = it->second;
    if (e.list && e.list->replay) {
      for (auto& [p, l] : *e.list->replay) e.list->elems.push_back(ListElem{p, l});
      e.list->replay.reset();
    }
    bool empty = (e.hash && e.hash->fields.empty()) || (e.list && e.list->elems.empty()) ||
                 (e.zset && e.zset->members.empty());
    if (empty) {  // never written so; dropped rather than served as an empty container
      clear_entry(e);
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
  return Status::ok();
}

Status FsBackend::open() {
  std::error_code ec;
  std::filesystem::remove(path_ + ".compact", ec);  // an interrupted compaction
  if (!std::filesystem::exists(path_, ec)) {
    // Created under a temporary name and renamed: never seen half-written.
    std::string tmp = path_ + ".new";
    int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return status_from_errno(errno, "create " + tmp);
    int err = 0;
    bool ok = write_all(fd, fs::file_header(), 0, &err);
    if (ok && ::fdatasync(fd) != 0) {
      ok = false;
      err = errno;
    }
    ::close(fd);
    if (!ok) return status_from_errno(err, "write " + tmp);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return status_from_errno(errno, "rename " + tmp);
    if (int e = fsync_dir(dir_); e != 0) return status_from_errno(e, "fsync " + dir_);
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) return status_from_errno(errno, "open " + path_);
  struct stat st;
  if (::fstat(fd_, &st) != 0) return status_from_errno(errno, "stat " + path_);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < fs::kFileHeaderSize) {
    return Status(StatusCode::kTruncated,
                  fmt::format("fs store {}: file of {} bytes has no header", path_, size));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (map == MAP_FAILED) return status_from_errno(errno, "mmap " + path_);
  const char* base = static_cast<const char*>(map);
  uint32_t version = 0;
  Status s;
  uint64_t valid_end = size;
  if (std::string_view(base, 8) != fs::kFileMagic) {
    s = Status(StatusCode::kNotAPool, "not an fs store data file: " + path_);
  } else if (!fs::parse_file_header(std::string_view(base, fs::kFileHeaderSize), &version)) {
    s = version != fs::kFormatVersion
            ? Status(StatusCode::kVersionMismatch,
                     fmt::format("fs store {} has format version {}, this build reads {}", path_,
                                 version, fs::kFormatVersion))
            : Status(StatusCode::kCorrupt, "fs store " + path_ + ": header checksum mismatch");
  } else {
    s = replay(base, size, &valid_end);
  }
  ::munmap(map, size);
  NVOBJ_RETURN_IF_ERROR(s);
  if (valid_end < size) {
    log().warn("fs store {}: dropping a torn batch at its tail ({} bytes at offset {})", path_,
               size - valid_end, valid_end);
    if (::ftruncate(fd_, static_cast<off_t>(valid_end)) != 0 || ::fdatasync(fd_) != 0) {
      return status_from_errno(errno, "cut the torn tail of " + path_);
    }
  }
  file_size_.store(valid_end);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<Backend>> make_fs_backend(const std::string& dir, const FsOptions& options) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return status_from_errno(ec.value(), "create directory " + dir);
  if (created) {
    // The new directory's own entry must be durable before anything in it.
    std::filesystem::path p = std::filesystem::absolute(dir, ec).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();  // "a/b/" names "a/b"
    std::filesystem::path parent = p.parent_path();
    if (int e = fsync_dir(parent.string()); e != 0) return status_from_errno(e, "fsync " + dir);
  }
  std::string lock_path = dir + "/LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return status_from_errno(errno, "open " + lock_path);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    if (err == EWOULDBLOCK) {
      return Status(StatusCode::kBusy, "fs store " + dir + " is already open");
    }
    return status_from_errno(err, "lock " + lock_path);
  }
  auto backend = std::make_unique<FsBackend>(dir, options, lock_fd);
  NVOBJ_RETURN_IF_ERROR(backend->open());
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace nvobj::dso
