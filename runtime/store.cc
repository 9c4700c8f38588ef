#include "runtime/store.h"

#include <algorithm>

#include <fmt/format.h>

#include "runtime/checksum.h"
#include "runtime/close_snapshots.h"
#include "runtime/layout.h"
#include "runtime/log.h"
#include "runtime/root_table.h"

namespace nvobj {

// --- publishing ----------------------------------------------------------------------
//
// A reference must never become durable before the object it points to: on
// real hardware, written-back lines reach the media in any order until the
// next fence. Objects made inside a block are covered by the block's commit
// (verify-only log entries, redo_log.h). Objects made outside any block are
// remembered per thread, and written back only just before the thread's next
// fence (writing back right away would stall the next allocation, which
// usually stores into the same line): the thread's next block covers them
// like its own objects, and its next durable write outside a block writes
// them back and fences first. Either way allocation itself never fences.

namespace {

struct UnfencedMade {
  const Store* store = nullptr;
  uint64_t store_uid = 0;
  std::vector<std::pair<uint64_t, uint64_t>> objects;  // payload offset, bytes
};
thread_local UnfencedMade tls_unfenced;

// Live stores by uid, so a thread can tell whether the store its list names
// still exists (a closed store's unpublished objects need nothing).
std::mutex live_stores_mu;
std::unordered_map<uint64_t, const Store*> live_stores;
std::atomic<uint64_t> next_store_uid{1};
constexpr size_t kMaxUnfenced = 4096;  // then one fence for all of them

}  // namespace

void Store::made_outside_block(uint64_t off, uint64_t size) {
  UnfencedMade& u = tls_unfenced;
  if (u.store_uid != uid_) {
    if (u.store != nullptr && !u.objects.empty()) {
      std::lock_guard lock(live_stores_mu);
      if (live_stores.contains(u.store_uid)) u.store->durable_fence();
    }
    u.store = this;
    u.store_uid = uid_;
    u.objects.clear();
  }
  u.objects.emplace_back(off, size);
  if (u.objects.size() >= kMaxUnfenced) durable_fence();
}

void Store::forget_unfenced(uint64_t off) {
  UnfencedMade& u = tls_unfenced;
  if (u.store_uid == uid_)
    std::erase_if(u.objects,
                  [off](const std::pair<uint64_t, uint64_t>& o) { return o.first == off; });
}

// --- blocks ------------------------------------------------------------------------

namespace detail {

BlockState& block_state() {
  thread_local BlockState state;
  return state;
}

void block_enter() { ++block_state().depth; }

namespace {

void end_block(BlockState& b, bool committed) noexcept {
  for (auto& f : b.on_end) f(committed);
  b.clear();
}

}  // namespace

void block_leave_commit() {
  BlockState& b = block_state();
  if (--b.depth > 0) return;
  if (b.doomed) {
    if (b.store != nullptr) b.store->abort_block(b);
    end_block(b, false);
    throw Error(Status(StatusCode::kInternal,
                       "failure-atomic block aborted: an exception left a nested block"));
  }
  if (b.store == nullptr) {
    b.clear();
    return;
  }
  try {
    b.store->commit_block(b);
  } catch (...) {
    b.store->abort_block(b);
    end_block(b, false);
    throw;
  }
  end_block(b, true);
}

void block_leave_abort() noexcept {
  BlockState& b = block_state();
  if (--b.depth > 0) {
    b.doomed = true;
    return;
  }
  if (b.store != nullptr) b.store->abort_block(b);
  end_block(b, false);
}

}  // namespace detail

// --- construction and close -----------------------------------------------------------

Store::Store(std::unique_ptr<Pool> owned, Pool& pool, std::unique_ptr<Heap> heap,
             ClassTable classes, OpenReport report)
    : owned_pool_(std::move(owned)),
      pool_(&pool),
      heap_(std::move(heap)),
      classes_(std::move(classes)),
      report_(report),
      retire_(*pool_),
      class_cache_(kClassCacheSize),
      uid_(next_store_uid.fetch_add(1)) {
  std::lock_guard lock(live_stores_mu);
  live_stores[uid_] = this;
}

namespace {

Result<std::unique_ptr<Store>> loaded(std::unique_ptr<Store> s, Status roots) {
  if (!roots) return roots;
  return s;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::make(std::unique_ptr<Pool> pool, std::unique_ptr<Heap> heap,
                                           ClassTable classes, OpenReport report) {
  Pool& p = *pool;
  std::unique_ptr<Store> s(
      new Store(std::move(pool), p, std::move(heap), std::move(classes), report));
  Status roots = s->load_roots();
  s->closed_ = !roots;  // damaged roots: leave the pool as it is, no snapshot
  if (roots) s->load_close_snapshots();
  return loaded(std::move(s), roots);
}

Result<std::unique_ptr<Store>> Store::attach(Pool& pool, std::unique_ptr<Heap> heap,
                                             ClassTable classes, OpenReport report) {
  std::unique_ptr<Store> s(new Store(nullptr, pool, std::move(heap), std::move(classes), report));
  Status roots = s->load_roots();
  s->closed_ = !roots;
  if (roots) s->load_close_snapshots();
  return loaded(std::move(s), roots);
}

Store::~Store() {
  if (Status s = close(); !s) log().error("closing store {}: {}", pool_->path(), s.to_string());
}

Status Store::close() {
  if (closed_) return Status::ok();
  if (GroupCommit::pending(*this)) durable_fence();  // this thread's, at least
  closed_ = true;
  closing_.store(true, std::memory_order_relaxed);
  unregister_owner();  // no thread exit may hand a writer back from now on
  {
    std::lock_guard lock(live_stores_mu);
    live_stores.erase(uid_);
  }
  if (tls_unfenced.store_uid == uid_) tls_unfenced = {};
  // Proxies go before the snapshot: their destructors may free objects
  // they made and never published (a map's spare log chunk), so they run
  // outside the shard locks.
  for (ProxyShard& shard : proxies_) {
    std::unordered_map<uint64_t, std::unique_ptr<ProxyBase>> victims;
    {
      std::lock_guard lock(shard.mu);
      victims.swap(shard.map);
    }
  }
  {
    std::lock_guard lock(writers_mu_);
    for (auto& w : writers_) w->release();
    writers_.clear();
    idle_writers_.clear();
  }
  pool_->persister().pfence();
  save_close_snapshots();
  Status s = heap_->checkpoint();
  if (!s)
    log().warn("{}: could not save the heap snapshot ({}); the next open recovers", pool_->path(),
               s.to_string());
  return owned_pool_ != nullptr ? owned_pool_->close() : Status::ok();
}

// --- clean-close snapshots ----------------------------------------------------------------

void Store::load_close_snapshots() {
  uint64_t* anchor = pool_->anchor(kAnchorCloseSnapshots);
  uint64_t dir = *anchor;
  if (dir == 0) return;
  // Out of the pool before anything changes: a crash from here on must
  // find no snapshot (recovery clears the anchor too).
  pool_->persister().store_persist(anchor, uint64_t{0});
  // The heap is the one saved with the directory only if it came from the
  // clean close's snapshot; otherwise the directory may be garbage.
  if (!report_.snapshot_used) return;
  // And the snapshots describe the pool only if no program opened it in
  // between (this session's open counts one; a store attached to a pool
  // kept open, none).
  uint64_t opens = pool_->header().open_count;
  auto is_object = [&](uint64_t off, uint32_t class_id, uint64_t min_size) {
    return off >= pool_->data_offset() + kObjectHeaderSize && off < pool_->size() &&
           (off - kObjectHeaderSize) % kObjectGranule == 0 &&
           pool_->at<ObjectHeader>(off - kObjectHeaderSize)->class_id == class_id &&
           heap_->usable_size(off) >= min_size && off + heap_->usable_size(off) <= pool_->size();
  };
  const auto* h = pool_->at<CloseSnapshotsHeader>(dir);
  if (!is_object(dir, kClassIdCloseSnapshots, sizeof(CloseSnapshotsHeader)) ||
      std::memcmp(h->magic, kCloseSnapshotsMagic, sizeof(h->magic)) != 0 ||
      h->count > pool_->size() / 16 || close_snapshots_size(h->count) > heap_->usable_size(dir)) {
    log().warn("{}: ignoring a damaged clean-close snapshot directory at {}", pool_->path(), dir);
    return;
  }
  const bool current = h->open_count == opens || h->open_count + 1 == opens;
  if (!current)  // the snapshots are freed below, unused
    log().info("{}: the pool was opened since its snapshots were saved; rebuilding", pool_->path());
  const uint64_t count = h->count;
  const auto* refs = pool_->at<uint64_t>(dir + sizeof(CloseSnapshotsHeader));
  const uint64_t* owners = refs + count;
  // The open report counts the application's objects: not the snapshots,
  // which their owners free as they open.
  auto uncount = [&](uint64_t off) {
    uint64_t bytes = heap_->usable_size(off) + kObjectHeaderSize;
    report_.objects -= std::min<uint64_t>(report_.objects, 1);
    report_.live_bytes -= std::min(report_.live_bytes, bytes);
    report_.free_bytes += bytes;
  };
  uncount(dir);
  uint64_t bad = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t off = refs[i];
    constexpr uint64_t kMin = sizeof(BytesHeader) + sizeof(CloseSnapshotHeader);
    if (!is_object(off, kClassIdBytes, kMin)) {
      ++bad;  // not freed: it may not be an object
      continue;
    }
    uncount(off);
    const auto* b = pool_->at<BytesHeader>(off);
    const auto* sh = pool_->at<CloseSnapshotHeader>(off + sizeof(BytesHeader));
    if (!current || b->size < sizeof(CloseSnapshotHeader) ||
        b->size > heap_->usable_size(off) - sizeof(BytesHeader) || sh->owner != owners[i] ||
        sh->length != b->size - sizeof(CloseSnapshotHeader) ||
        !close_snapshots_.emplace(owners[i], off).second) {
      ++bad;
      heap_->deallocate(off);
    }
  }
  if (bad != 0 && current)
    log().warn("{}: ignored {} damaged clean-close snapshots", pool_->path(), bad);
  heap_->deallocate(dir);
}

void Store::save_close_snapshots() {
  std::lock_guard lock(close_snapshots_mu_);
  if (close_snapshots_.empty()) return;
  auto dir = heap_->allocate(close_snapshots_size(close_snapshots_.size()), kClassIdCloseSnapshots);
  if (!dir) {
    log().info("{}: no room for the clean-close snapshots ({}); the next open rebuilds",
               pool_->path(), dir.status().message());
    for (auto& [owner, off] : close_snapshots_) heap_->deallocate(off);
    close_snapshots_.clear();
    return;
  }
  auto* h = pool_->at<CloseSnapshotsHeader>(*dir);
  std::memcpy(h->magic, kCloseSnapshotsMagic, sizeof(h->magic));
  h->open_count = pool_->header().open_count;
  h->reserved = 0;
  h->count = close_snapshots_.size();
  auto* refs = pool_->at<uint64_t>(*dir + sizeof(CloseSnapshotsHeader));
  uint64_t i = 0;
  for (auto& [owner, off] : close_snapshots_) {
    refs[i] = off;
    refs[h->count + i] = owner;
    ++i;
  }
  const Persister& p = pool_->persister();
  p.pwb(pool_->at<char>(*dir) - kObjectHeaderSize,
        kObjectHeaderSize + close_snapshots_size(h->count));
  p.pfence();  // the snapshots (written back as saved) and the directory, before the anchor
  p.store_persist(pool_->anchor(kAnchorCloseSnapshots), *dir);
  close_snapshots_.clear();
}

bool Store::may_save_close_snapshot(uint64_t owner) const {
  if (!closing()) return false;
  std::lock_guard lock(close_snapshots_mu_);
  return !forgotten_owners_.contains(owner);
}

void Store::forget_close_snapshot(uint64_t owner) {
  release_close_snapshot(owner);
  std::lock_guard lock(close_snapshots_mu_);
  forgotten_owners_.insert(owner);
}

bool Store::save_close_snapshot(uint64_t owner, std::string_view bytes) {
  if (!may_save_close_snapshot(owner)) return false;
  auto off = heap_->allocate(sizeof(BytesHeader) + sizeof(CloseSnapshotHeader) + bytes.size(),
                             kClassIdBytes);
  if (!off) return false;
  auto* b = pool_->at<BytesHeader>(*off);
  *b = BytesHeader{sizeof(CloseSnapshotHeader) + bytes.size(), 0};
  auto* sh = pool_->at<CloseSnapshotHeader>(*off + sizeof(BytesHeader));
  *sh = CloseSnapshotHeader{owner, bytes.size(), crc32c(bytes.data(), bytes.size()), 0, 0};
  std::memcpy(sh + 1, bytes.data(), bytes.size());
  pool_->persister().pwb(pool_->at<char>(*off) - kObjectHeaderSize,
                         kObjectHeaderSize + b->size + sizeof(BytesHeader));
  std::lock_guard lock(close_snapshots_mu_);
  auto [it, fresh] = close_snapshots_.emplace(owner, *off);
  if (!fresh) {
    heap_->deallocate(it->second);
    it->second = *off;
  }
  return true;
}

std::string_view Store::close_snapshot(uint64_t owner) const {
  uint64_t off;
  {
    std::lock_guard lock(close_snapshots_mu_);
    auto it = close_snapshots_.find(owner);
    if (it == close_snapshots_.end()) return {};
    off = it->second;
  }
  const auto* sh = pool_->at<CloseSnapshotHeader>(off + sizeof(BytesHeader));
  std::string_view bytes(reinterpret_cast<const char*>(sh + 1), sh->length);
  if (crc32c(bytes.data(), bytes.size()) != sh->crc) {
    log().warn("{}: clean-close snapshot of {} fails its checksum; ignored", pool_->path(), owner);
    return {};
  }
  return bytes;
}

void Store::release_close_snapshot(uint64_t owner) {
  std::lock_guard lock(close_snapshots_mu_);
  auto it = close_snapshots_.find(owner);
  if (it == close_snapshots_.end()) return;
  heap_->deallocate(it->second);
  close_snapshots_.erase(it);
}

// --- log writers (one per thread) --------------------------------------------------------

void* Store::make_thread_state() {
  std::unique_lock lock(writers_mu_);
  writers_cv_.wait(lock, [&] { return !idle_writers_.empty() || writers_.size() < kLogSlotCount; });
  if (!idle_writers_.empty()) {
    LogWriter* w = idle_writers_.back();
    idle_writers_.pop_back();
    return w;
  }
  auto slot = static_cast<uint32_t>(writers_.size());
  writers_.push_back(std::make_unique<LogWriter>(*pool_, *heap_, retire_, slot));
  return writers_.back().get();
}

void Store::release_thread_state(void* state) {
  {
    std::lock_guard lock(writers_mu_);
    idle_writers_.push_back(static_cast<LogWriter*>(state));
  }
  writers_cv_.notify_one();
}

// --- objects ---------------------------------------------------------------------------

uint32_t Store::intern_class(const ClassInfo& info) {
  uint32_t id = value_or_throw(classes_.intern(*pool_, *heap_, info.name, info.refs));
  if (info.index < kClassCacheSize) class_cache_[info.index].store(id, std::memory_order_release);
  return id;
}

detail::BlockState* Store::bound_block() {
  detail::BlockState& b = detail::block_state();
  if (b.depth == 0) return nullptr;
  if (b.store == nullptr) {
    b.store = this;
  } else if (b.store != this) {
    throw Error(
        Status(StatusCode::kInvalidArgument, "a failure-atomic block can change only one store"));
  }
  return &b;
}

uint64_t Store::allocate(uint64_t size, uint32_t class_id) {
  detail::BlockState* b = bound_block();
  uint64_t off = value_or_throw(heap_->allocate(size, class_id));
  if (b != nullptr) b->new_objects.emplace(off, size);
  return off;
}

void Store::check_object(uint64_t off) const {
  if (off < pool_->data_offset() + kObjectHeaderSize || off >= pool_->size() ||
      (off - kObjectHeaderSize) % kObjectGranule != 0)
    throw Error(Status(StatusCode::kInvalidArgument,
                       fmt::format("offset {} is not an object of pool {}", off, pool_->path())));
}

uint32_t Store::class_id_of(uint64_t off) const {
  check_object(off);
  return pool_->at<ObjectHeader>(off - kObjectHeaderSize)->class_id;
}

void Store::free_object(uint64_t off) {
  check_object(off);
  if (detail::BlockState* b = bound_block()) {
    b->frees.push_back(off);
    return;
  }
  forget_unfenced(off);
  drop_proxy(off);
  heap_->deallocate(off);
}

void Store::free_detached(uint64_t off) {
  check_object(off);
  forget_unfenced(off);
  drop_proxy(off);
  heap_->deallocate(off);
}

namespace {
std::mutex destroyers_mu;
std::unordered_map<std::string, Store::DestroyFn>& destroyers() {
  static std::unordered_map<std::string, Store::DestroyFn> m;
  return m;
}
}  // namespace

void Store::register_destroyer(std::string_view class_name, DestroyFn fn) {
  std::lock_guard lock(destroyers_mu);
  destroyers()[std::string(class_name)] = fn;
}

void Store::destroy_object(uint64_t off) {
  check_object(off);
  const ClassRecord* r = classes_.find(pool_->at<ObjectHeader>(off - kObjectHeaderSize)->class_id);
  DestroyFn fn = nullptr;
  if (r != nullptr) {
    std::lock_guard lock(destroyers_mu);
    if (auto it = destroyers().find(r->name); it != destroyers().end()) fn = it->second;
  }
  if (fn != nullptr)
    fn(*this, off);
  else
    free_detached(off);
}

void Store::fence_new_objects() const {
  if (tls_unfenced.store_uid == uid_ && !tls_unfenced.objects.empty()) durable_fence();
}

ProxyBase& Store::proxy_slow(uint64_t off, uint32_t class_id, std::string_view class_name,
                             std::unique_ptr<ProxyBase> (*make)(Store&, uint64_t)) {
  check_object(off);
  uint32_t found = pool_->at<ObjectHeader>(off - kObjectHeaderSize)->class_id;
  if (found != class_id) {
    const ClassRecord* r = classes_.find(found);
    std::string actual =
        r != nullptr ? "'" + r->name + "'" : fmt::format("unknown class id {}", found);
    throw Error(
        Status(StatusCode::kInvalidArgument,
               fmt::format("object at offset {} is {}, not '{}'", off, actual, class_name)));
  }
  // One proxy is made at a time: a second one of the same object, made
  // while the first is in use, would read the object's persistent state
  // (a map's log) while it changes, and its constructor may write to it
  // (the record log clears stale records after its last valid one).
  // Recursive: a proxy's constructor may make others (a map's LogLanes).
  std::lock_guard making(proxy_making_mu_);
  ProxyShard& shard = proxies_[(off >> 4) % kProxyShards];
  {
    std::lock_guard lock(shard.mu);
    if (auto it = shard.map.find(off); it != shard.map.end()) return *it->second;
  }
  std::unique_ptr<ProxyBase> p = make(*this, off);
  std::lock_guard lock(shard.mu);
  auto [it, inserted] = shard.map.emplace(off, std::move(p));
  return *it->second;
}

void Store::drop_proxy(uint64_t off) {
  ProxyShard& shard = proxies_[(off >> 4) % kProxyShards];
  std::unique_ptr<ProxyBase> victim;  // destroyed outside the lock
  std::lock_guard lock(shard.mu);
  if (auto it = shard.map.find(off); it != shard.map.end()) {
    victim = std::move(it->second);
    shard.map.erase(it);
  }
}

// --- raw access ---------------------------------------------------------------------------

void Store::durable_fence() const {
  // Updates this thread deferred (group_commit.h) are made durable too.
  bool group = GroupCommit::drain(*this);
  if (tls_unfenced.store_uid == uid_) {
    for (auto [off, size] : tls_unfenced.objects)
      pool_->persister().pwb(pool_->at(off - kObjectHeaderSize), size + kObjectHeaderSize);
  }
  RetireTracker::Flushed flushed;
  retire_.writeback_pending(flushed);
  pool_->persister().pfence();
  retire_.settle(flushed);
  if (tls_unfenced.store_uid == uid_) tls_unfenced.objects.clear();
  if (group) GroupCommit::committed();
}

CommitTicket Store::commit_fence() const {
  CommitTicket t;
  if (!GroupCommit::defer(*this, &t)) durable_fence();
  return t;
}

void Store::write(void* dst, const void* src, size_t n) {
  if (n == 0) return;
  if (!pool_->contains(dst, n))
    throw Error(Status(StatusCode::kInvalidArgument, "write outside the pool"));
  detail::BlockState* b = bound_block();
  if (b == nullptr) {
    // Whatever this store may publish must be durable before it is.
    fence_new_objects();
    std::memcpy(dst, src, n);
    pool_->persister().pwb(dst, n);
    durable_fence();
    return;
  }
  uint64_t off = pool_->offset_of(dst);
  if (b->is_new(off, n)) {  // not reachable before commit: write in place
    std::memcpy(dst, src, n);
    return;
  }
  auto* in = static_cast<const char*>(src);
  for (uint64_t pos = off; pos < off + n;) {
    uint64_t line = pos & ~uint64_t{63};
    auto [it, inserted] = b->lines.try_emplace(line);
    detail::ShadowLine& sl = it->second;
    if (inserted) std::memcpy(sl.bytes, pool_->at(line), 64);
    uint64_t from = pos - line, to = std::min<uint64_t>(64, off + n - line);
    std::memcpy(sl.bytes + from, in + (pos - off), to - from);
    uint64_t bits = to - from == 64 ? ~uint64_t{0} : ((uint64_t{1} << (to - from)) - 1) << from;
    sl.dirty |= bits;
    pos = line + to;
  }
}

void Store::read(const void* src, void* dst, size_t n) const {
  std::memcpy(dst, src, n);
  const detail::BlockState& b = detail::block_state();
  if (b.depth == 0 || b.store != this || b.lines.empty() || n == 0) return;
  uint64_t off = pool_->offset_of(src);
  auto* out = static_cast<char*>(dst);
  for (uint64_t line = off & ~uint64_t{63}; line < off + n; line += 64) {
    auto it = b.lines.find(line);
    if (it == b.lines.end()) continue;
    uint64_t from = std::max(off, line) - line, to = std::min<uint64_t>(64, off + n - line);
    for (uint64_t i = from; i < to; ++i)
      if ((it->second.dirty >> i) & 1) out[line + i - off] = it->second.bytes[i];
  }
}

// --- commit ------------------------------------------------------------------------------

void Store::commit_block(detail::BlockState& b) {
  // A block comes after the updates this thread deferred: they are durable
  // before it can be.
  if (GroupCommit::pending(*this)) durable_fence();
  // Pending writes as contiguous ranges of dirty bytes, in address order.
  std::vector<uint64_t> keys;
  keys.reserve(b.lines.size());
  for (auto& [line, sl] : b.lines) keys.push_back(line);
  std::sort(keys.begin(), keys.end());
  std::vector<char> buf;
  buf.reserve(keys.size() * 64);
  struct Span {
    uint64_t offset, start, length;
  };
  std::vector<Span> spans;
  for (uint64_t line : keys) {
    const detail::ShadowLine& sl = b.lines[line];
    for (uint64_t i = 0; i < 64; ++i) {
      if (((sl.dirty >> i) & 1) == 0) continue;
      if (spans.empty() || spans.back().offset + spans.back().length != line + i)
        spans.push_back({line + i, buf.size(), 0});
      buf.push_back(sl.bytes[i]);
      ++spans.back().length;
    }
  }
  std::vector<RedoRange> ranges;
  ranges.reserve(spans.size());
  for (const Span& s : spans) ranges.push_back({s.offset, {buf.data() + s.start, s.length}});

  // Objects the block may publish: its own (unless it also frees them) and
  // those this thread made outside blocks since its last fence.
  for (uint64_t off : b.frees) {
    b.new_objects.erase(off);
    forget_unfenced(off);
  }
  std::vector<std::pair<uint64_t, uint64_t>> fresh(b.new_objects.begin(), b.new_objects.end());
  bool covers_unfenced = tls_unfenced.store_uid == uid_ && !ranges.empty();
  if (covers_unfenced)
    fresh.insert(fresh.end(), tls_unfenced.objects.begin(), tls_unfenced.objects.end());

  auto* writer = static_cast<LogWriter*>(thread_state());
  throw_if_error(writer->commit(ranges, fresh));
  if (covers_unfenced) tls_unfenced.objects.clear();  // F1 made them durable
  b.new_objects.clear();                              // committed: no longer the block's to free
  for (uint64_t off : b.frees) {
    drop_proxy(off);
    heap_->deallocate(off);
  }
}

void Store::abort_block(detail::BlockState& b) noexcept {
  for (auto& [off, size] : b.new_objects) {
    drop_proxy(off);
    heap_->deallocate(off);
  }
  b.new_objects.clear();
}

// --- roots ---------------------------------------------------------------------------------

Status Store::load_roots() {
  root_table_off_ = *pool_->anchor(kAnchorRoots);
  if (root_table_off_ == 0) return Status::ok();
  auto fail = [&](const std::string& what) {
    return Status(StatusCode::kCorrupt, fmt::format("{}: root directory at offset {}: {}",
                                                    pool_->path(), root_table_off_, what));
  };
  uint64_t off = root_table_off_;
  if (off < pool_->data_offset() + kObjectHeaderSize ||
      off + sizeof(RootTableHeader) > pool_->size() || off % 8 != 0)
    return fail("outside the pool's data area");
  if (pool_->at<ObjectHeader>(off - kObjectHeaderSize)->class_id != kClassIdRootTable)
    return fail("object is not a root directory");
  const auto* h = pool_->at<RootTableHeader>(off);
  if (std::memcmp(h->magic, kRootTableMagic, sizeof(h->magic)) != 0) return fail("bad magic");
  if (h->capacity > pool_->size() || off + root_table_size(h->capacity) > pool_->size())
    return fail(fmt::format("capacity {} does not fit the pool", h->capacity));
  for (uint64_t i = 0; i < h->capacity; ++i) {
    const auto* rn = pool_->at<RootName>(off + root_name_offset(h->capacity, i));
    if (rn->length == 0) continue;
    if (rn->length > kMaxRootNameLength) return fail(fmt::format("slot {} has a bad name", i));
    uint64_t ref = *pool_->at<uint64_t>(off + root_ref_offset(i));
    roots_[std::string(rn->name, rn->length)] = {i, ref};
  }
  return Status::ok();
}

uint64_t Store::root_offset(std::string_view name) const {
  std::string key(name);
  if (roots_owner_.load(std::memory_order_acquire) == std::this_thread::get_id()) {
    if (auto it = pending_roots_.find(key); it != pending_roots_.end()) return it->second.offset;
  }
  std::lock_guard lock(roots_mu_);
  auto it = roots_.find(key);
  return it == roots_.end() ? 0 : it->second.offset;
}

std::vector<std::pair<std::string, uint64_t>> Store::roots() const {
  std::lock_guard lock(roots_mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (auto& [name, e] : roots_) out.emplace_back(name, e.offset);
  std::sort(out.begin(), out.end());
  return out;
}

void Store::lock_roots_for_block(detail::BlockState& b) {
  if (b.holds_roots) return;
  roots_writer_mu_.lock();
  roots_owner_.store(std::this_thread::get_id(), std::memory_order_release);
  b.holds_roots = true;
  pending_table_off_ = 0;
  uint64_t cap = root_table_off_ == 0 ? 0 : pool_->at<RootTableHeader>(root_table_off_)->capacity;
  pending_claimed_.assign(cap, false);
  b.on_end.emplace_back([this](bool committed) { finish_root_changes(committed); });
}

void Store::finish_root_changes(bool committed) {
  if (committed) {
    std::lock_guard lock(roots_mu_);
    if (pending_table_off_ != 0) root_table_off_ = pending_table_off_;
    for (auto& [name, e] : pending_roots_) {
      if (e.offset == 0)
        roots_.erase(name);
      else
        roots_[name] = e;
    }
  }
  pending_roots_.clear();
  pending_claimed_.clear();
  pending_table_off_ = 0;
  roots_owner_.store(std::thread::id(), std::memory_order_release);
  roots_writer_mu_.unlock();
}

uint64_t Store::grow_root_table(uint64_t min_capacity) {
  uint64_t old = pending_table_off_ != 0 ? pending_table_off_ : root_table_off_;
  uint64_t old_cap = old == 0 ? 0 : pool_->at<RootTableHeader>(old)->capacity;
  uint64_t cap = std::max<uint64_t>({16, min_capacity, old_cap * 2});
  uint64_t off = allocate(root_table_size(cap), kClassIdRootTable);
  char* t = pool_->at<char>(off);
  std::memset(t, 0, root_table_size(cap));
  auto* h = reinterpret_cast<RootTableHeader*>(t);
  std::memcpy(h->magic, kRootTableMagic, sizeof(h->magic));
  h->capacity = cap;
  if (old != 0) {  // copy through read(): the block's own pending changes included
    const char* o = pool_->at<char>(old);
    read(o + root_ref_offset(0), t + root_ref_offset(0), old_cap * 8);
    read(o + root_name_offset(old_cap, 0), t + root_name_offset(cap, 0),
         old_cap * sizeof(RootName));
  }
  store(pool_->anchor(kAnchorRoots), off);
  if (old != 0) free_object(old);
  pending_table_off_ = off;
  pending_claimed_.resize(cap, false);
  return off;
}

void Store::set_root_offset(std::string_view name, uint64_t offset) {
  if (name.empty() || name.size() > kMaxRootNameLength)
    throw Error(
        Status(StatusCode::kInvalidArgument,
               fmt::format("root name '{}' must be 1 to {} bytes", name, kMaxRootNameLength)));
  if (offset != 0) check_object(offset);
  failure_atomic([&] {
    detail::BlockState& b = *bound_block();
    lock_roots_for_block(b);
    std::string key(name);
    uint64_t table = pending_table_off_ != 0 ? pending_table_off_ : root_table_off_;
    std::optional<uint64_t> slot;
    bool named = false;  // the slot holds this name now
    if (auto it = pending_roots_.find(key); it != pending_roots_.end()) {
      slot = it->second.slot;
      named = it->second.offset != 0;
    } else {
      std::lock_guard lock(roots_mu_);
      if (auto r = roots_.find(key); r != roots_.end()) slot = r->second.slot, named = true;
    }
    if (!slot) {
      if (offset == 0) return;  // removing a name that does not exist
      uint64_t cap = table == 0 ? 0 : pool_->at<RootTableHeader>(table)->capacity;
      for (uint64_t i = 0; i < cap && !slot; ++i) {
        if (pending_claimed_[i]) continue;
        if (load(&pool_->at<RootName>(table + root_name_offset(cap, i))->length) == 0) slot = i;
      }
      if (!slot) {
        table = grow_root_table(cap + 1);
        slot = cap;
      }
    }
    uint64_t cap = pool_->at<RootTableHeader>(table)->capacity;
    auto* rn_at = pool_->at<RootName>(table + root_name_offset(cap, *slot));
    if (offset == 0) {
      store(&rn_at->length, uint8_t{0});
    } else if (!named) {
      RootName rn{};
      rn.length = static_cast<uint8_t>(name.size());
      std::memcpy(rn.name, name.data(), name.size());
      write(rn_at, &rn, sizeof(rn));
    }
    pending_claimed_[*slot] = true;
    store(pool_->at<uint64_t>(table + root_ref_offset(*slot)), offset);
    pending_roots_[key] = {*slot, offset};
  });
}

bool Store::remove_root(std::string_view name) {
  bool existed = root_offset(name) != 0;
  if (existed) set_root_offset(name, 0);
  return existed;
}

}  // namespace nvobj
