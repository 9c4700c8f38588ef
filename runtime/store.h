// Store: an open pool seen as a heap of persistent objects. It ties together
// the pool, the heap (allocator), the class table, the named roots, the
// volatile proxies and the per-thread redo logs of failure-atomic blocks.
//
// Applications get a Store from nvobj::open_store / nvobj::create_store
// (recovery/store_open.h), which run recovery when the pool needs it, and use
// it through typed references and proxies (proxy.h):
//
//   auto store = nvobj::open_store("/dev/shm/bank.pool", {});
//   nvobj::Ref<Account> a = (*store)->root<Account>("alice");
//   nvobj::failure_atomic([&] { a->withdraw(10); b->deposit(10); });
//
// Writes made through a Store are durable when they return (outside a
// block: store, write-back, one fence) or when the enclosing block commits
// (inside: two fences per block, see redo_log.h). Reads never fence.
#ifndef NVOBJ_RUNTIME_STORE_H_
#define NVOBJ_RUNTIME_STORE_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/block.h"
#include "runtime/class_registry.h"
#include "runtime/class_table.h"
#include "runtime/error.h"
#include "runtime/group_commit.h"
#include "runtime/heap.h"
#include "runtime/object_header.h"
#include "runtime/per_thread.h"
#include "runtime/pool.h"
#include "runtime/pptr.h"
#include "runtime/redo_log.h"
#include "runtime/zeroed_array.h"

namespace nvobj {

class Store;
template <typename T>
class Ref;

// Base of every proxy: a volatile object standing for one persistent
// object. The Store makes at most one proxy per object, on first use, and
// keeps it until the object is freed or the store closes; volatile state a
// proxy class adds (locks, caches) therefore lives as long as the object is
// in use and is rebuilt lazily after a restart.
class ProxyBase {
 public:
  ProxyBase(Store& store, uint64_t offset) : store_(&store), off_(offset) {}
  virtual ~ProxyBase() = default;
  ProxyBase(const ProxyBase&) = delete;
  ProxyBase& operator=(const ProxyBase&) = delete;

  Store& store() const { return *store_; }
  uint64_t offset() const { return off_; }

 private:
  Store* store_;
  uint64_t off_;
};

// What the last open found and did (filled in by recovery/).
struct OpenReport {
  bool clean = true;           // the pool was closed cleanly: no recovery ran
  bool snapshot_used = false;  // heap state came from the clean-close snapshot
  double seconds = 0;          // whole open, recovery included
  uint64_t logs_replayed = 0;  // committed blocks re-applied
  uint64_t logs_dropped = 0;   // uncommitted blocks discarded
  uint64_t objects = 0;        // live (reachable) objects after open
  // Objects the crash left allocated but unreachable, freed by recovery
  // (see Allocator::find_reclaimed: exact after a process crash).
  uint64_t reclaimed_objects = 0;
  uint64_t reclaimed_bytes = 0;
  uint64_t live_bytes = 0;
  uint64_t free_bytes = 0;
  unsigned threads = 1;  // marking/rebuild threads
};

class Store : private PerThreadOwner {
 public:
  // Used by recovery/: the pool after replay, a heap over it, its classes.
  // Fails if the root directory is damaged.
  static Result<std::unique_ptr<Store>> make(std::unique_ptr<Pool> pool, std::unique_ptr<Heap> heap,
                                             ClassTable classes, OpenReport report);
  // The same over a pool the caller keeps open (the crash harness): close()
  // then saves the heap snapshot but leaves the pool open.
  static Result<std::unique_ptr<Store>> attach(Pool& pool, std::unique_ptr<Heap> heap,
                                               ClassTable classes, OpenReport report);
  // Closes cleanly (errors are logged). No other thread may use the store.
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Releases the logs, saves the heap snapshot and closes the pool cleanly,
  // so the next open needs no recovery. No block may be open.
  Status close();

  Pool& pool() const { return *pool_; }
  Heap& heap() const { return *heap_; }

  // --- volatile state saved at a clean close (runtime/close_snapshots.h) ----------------
  // A proxy whose volatile state costs a scan to rebuild (a map's index) may
  // save it as the store closes: while closing(), from its destructor, with
  // save_close_snapshot(owner key, bytes). If the next open finds the pool
  // closed cleanly, close_snapshot(owner) returns those bytes (in the pool,
  // valid until release_close_snapshot(owner) frees them: the owner calls it
  // once it has read them, or when it is destroyed). A crash drops every
  // snapshot. A snapshot not released in a session is kept for the next,
  // and an old program may have changed the pool meanwhile: an owner must
  // check that its snapshot still describes its persistent state.
  bool closing() const { return closing_.load(std::memory_order_relaxed); }
  // closing(), and owner has not been forgotten (its object destroyed).
  bool may_save_close_snapshot(uint64_t owner) const;
  // False (nothing saved) when the pool has no room.
  bool save_close_snapshot(uint64_t owner, std::string_view bytes);
  // Empty if there is none or it is damaged (its checksum).
  std::string_view close_snapshot(uint64_t owner) const;
  void release_close_snapshot(uint64_t owner);
  // The owner's object is being destroyed: releases its snapshot and
  // refuses one from it for the rest of this session (its proxy may still
  // be dropped during the close, after its state is gone).
  void forget_close_snapshot(uint64_t owner);
  const ClassTable& classes() const { return classes_; }
  const OpenReport& open_report() const { return report_; }
  HeapUsage usage() const { return heap_->usage(); }

  // --- objects ---------------------------------------------------------------

  // A new object of class T whose layout is T::Data{args...}, plus
  // `tail_bytes` zeroed bytes after it (for classes with a tail). It is not
  // reachable until a reference to it is stored somewhere reachable; in a
  // block, it is freed again if the block aborts. Throws Error (kNoSpace).
  template <typename T, typename... Args>
  Ref<T> make(Args&&... args);
  template <typename T, typename... Args>
  Ref<T> make_with_tail(uint64_t tail_bytes, Args&&... args);

  // For types that persist their own updates (pobjects/): a new object of
  // class T made outside any block even when one is open (it is never freed
  // by an abort), with `tail_bytes` after its layout left uninitialised and
  // not written back. Its layout is durable after this thread's next
  // durable_fence() or fence_new_objects(). Throws Error (kNoSpace).
  template <typename T, typename... Args>
  Ref<T> make_detached(uint64_t tail_bytes, Args&&... args);
  // Frees at once, even inside a block (the counterpart of make_detached):
  // the object must be unreachable durably already, or never published.
  void free_detached(uint64_t offset);
  // Frees an unreachable object and what it owns: classes that own other
  // objects (the maps own their log chunks) register how to free them with
  // register_destroyer(); other objects are freed alone. Immediate, like
  // free_detached.
  void destroy_object(uint64_t offset);
  using DestroyFn = void (*)(Store& store, uint64_t offset);
  static void register_destroyer(std::string_view class_name, DestroyFn fn);

  // Makes the objects this thread made outside a block durable, if any are
  // not yet (one fence; none when there are none). Code that publishes an
  // object with its own stores, write-backs and fence calls this first.
  void fence_new_objects() const;

  // Frees an object. Outside a block the caller must already have made it
  // unreachable (durably); inside a block the free happens when the block
  // commits, so unlinking and freeing in one block is atomic.
  template <typename T>
  void free(Ref<T> ref);
  void free_object(uint64_t offset);

  // A typed reference from an offset or a stored pptr (no check until used).
  template <typename T>
  Ref<T> ref(uint64_t offset);

  // The proxy of the object at `offset`, made on first use. Throws Error if
  // the object is not of class T (the message names both classes).
  template <typename T>
  T& proxy(uint64_t offset);

  // --- raw persistent access ---------------------------------------------------

  // Writes n bytes at pool address dst. Outside a block: durable on return
  // (one fence; failure-atomic only for an aligned 8-byte value). Inside a
  // block: applied when the block commits, all-or-nothing.
  void write(void* dst, const void* src, size_t n);
  // Reads n bytes at pool address src; inside a block it sees the block's
  // own pending writes.
  void read(const void* src, void* dst, size_t n) const;
  template <typename V>
  void store(V* dst, const V& value) {
    static_assert(std::is_trivially_copyable_v<V>);
    write(dst, &value, sizeof(V));
  }
  template <typename V>
  V load(const V* src) const {
    static_assert(std::is_trivially_copyable_v<V>);
    V v;
    read(src, &v, sizeof(V));
    return v;
  }
  // A fence that also makes pending log retire marks, and objects this
  // thread made outside a block, durable first (see redo_log.h and
  // "Publishing" in store.cc). Code that makes pool data durable with its own
  // stores must fence through this, not Persister::pfence. A thread that
  // made an object outside a block and hands it to another thread to publish
  // calls it before the hand-over.
  void durable_fence() const;
  // The fence that ends an update made outside a block: durable_fence()
  // now, or, on a thread with a GroupCommit scope open, at the scope's
  // commit (group_commit.h); the ticket tells which has happened.
  CommitTicket commit_fence() const;

  // --- named roots ---------------------------------------------------------------

  // The object named `name`, or a null Ref. Throws Error if it is not a T.
  template <typename T>
  Ref<T> root(std::string_view name);
  uint64_t root_offset(std::string_view name) const;  // 0 if absent
  // Binds `name` (1 to 63 bytes) to an object, failure-atomically (joins the
  // enclosing block if any). Root changes serialise: a block that changes a
  // root holds the root directory until it ends.
  template <typename T>
  void set_root(std::string_view name, Ref<T> ref) {
    set_root_offset(name, ref.offset());
  }
  void set_root_offset(std::string_view name, uint64_t offset);
  // Removes a name (not the object). Returns whether it existed.
  bool remove_root(std::string_view name);
  std::vector<std::pair<std::string, uint64_t>> roots() const;

  // --- classes ---------------------------------------------------------------------

  // The pool's id for class T (added to the pool's table on first use).
  template <typename T>
  uint32_t class_id() {
    const ClassInfo& info = class_info<T>();
    if (info.index < kClassCacheSize) {
      uint32_t id = class_cache_[info.index].load(std::memory_order_acquire);
      if (id != 0) return id;
    }
    return intern_class(info);
  }

  // The pool's class id of the object at `offset` (its header). Throws Error
  // if offset is not an object of this pool.
  uint32_t class_id_of(uint64_t offset) const;

  // --- failure-atomic blocks (internal: see block.h) ---------------------------

  // Commits the calling thread's block (outermost end). Throws Error when the
  // log cannot grow; the block then has no effect.
  void commit_block(detail::BlockState& b);
  // Discards a block (exception): frees its new objects.
  void abort_block(detail::BlockState& b) noexcept;

 private:
  struct ProxyShard {
    std::mutex mu;
    std::unordered_map<uint64_t, std::unique_ptr<ProxyBase>> map;
  };
  std::recursive_mutex proxy_making_mu_;  // see proxy_slow
  struct RootEntry {
    uint64_t slot;
    uint64_t offset;
  };
  static constexpr uint32_t kClassCacheSize = 4096;
  static constexpr size_t kProxyShards = 64;

  Store(std::unique_ptr<Pool> owned, Pool& pool, std::unique_ptr<Heap> heap, ClassTable classes,
        OpenReport report);

  uint32_t intern_class(const ClassInfo& info);
  uint64_t allocate(uint64_t size, uint32_t class_id);  // records it in the block, throws
  // An object initialised outside any block: written back now; the first
  // durable write or block of this thread makes it durable before anything
  // it publishes (see "Publishing" in store.cc).
  void made_outside_block(uint64_t off, uint64_t size);
  void forget_unfenced(uint64_t off);
  void check_object(uint64_t offset) const;  // throws unless a heap object
  ProxyBase& proxy_slow(uint64_t offset, uint32_t class_id, std::string_view class_name,
                        std::unique_ptr<ProxyBase> (*make)(Store&, uint64_t));
  void drop_proxy(uint64_t offset);
  detail::BlockState* bound_block();  // this thread's open block, bound to this store

  // Roots (see set_root_offset).
  Status load_roots();
  // Clean-close snapshots: the directory at open (taken out of the pool at
  // once), and written at close.
  void load_close_snapshots();
  void save_close_snapshots();
  void lock_roots_for_block(detail::BlockState& b);
  void finish_root_changes(bool committed);
  uint64_t grow_root_table(uint64_t min_capacity);

  void* make_thread_state() override;
  void release_thread_state(void* state) override;

  std::unique_ptr<Pool> owned_pool_;  // null when attached
  Pool* pool_;
  std::unique_ptr<Heap> heap_;
  ClassTable classes_;
  OpenReport report_;
  mutable RetireTracker retire_;
  ZeroedArray<std::atomic<uint32_t>> class_cache_;
  std::array<ProxyShard, kProxyShards> proxies_;

  // Log writers: one per thread that committed a block; kept for reuse.
  std::mutex writers_mu_;
  std::vector<std::unique_ptr<LogWriter>> writers_;
  std::vector<LogWriter*> idle_writers_;

  // Roots: the committed index, and the changes of the one block that holds
  // roots_writer_mu_ (owner roots_owner_).
  mutable std::mutex roots_mu_;
  std::unordered_map<std::string, RootEntry> roots_;
  uint64_t root_table_off_ = 0;
  std::mutex roots_writer_mu_;
  std::atomic<std::thread::id> roots_owner_{};
  std::unordered_map<std::string, RootEntry> pending_roots_;  // offset 0 = removed
  std::vector<bool> pending_claimed_;                         // slots taken by the block
  uint64_t pending_table_off_ = 0;

  std::condition_variable writers_cv_;

  uint64_t uid_;
  bool closed_ = false;
  std::atomic<bool> closing_{false};
  mutable std::mutex close_snapshots_mu_;
  std::unordered_map<uint64_t, uint64_t> close_snapshots_;  // owner key -> snapshot object
  std::unordered_set<uint64_t> forgotten_owners_;
};

// A typed reference to a persistent object of proxy class T: a store, an
// offset and (once used) its proxy, so that only the first `->` looks the
// proxy up. Volatile; like any reference, not to be used after a free. One
// Ref may be shared by threads (the cached proxy is an atomic: every thread
// would cache the same one).
template <typename T>
class Ref {
 public:
  Ref() = default;
  Ref(Store* store, uint64_t offset) : store_(store), off_(offset) {}
  Ref(const Ref& o)
      : store_(o.store_), off_(o.off_), proxy_(o.proxy_.load(std::memory_order_acquire)) {}
  Ref& operator=(const Ref& o) {
    store_ = o.store_;
    off_ = o.off_;
    proxy_.store(o.proxy_.load(std::memory_order_acquire), std::memory_order_release);
    return *this;
  }

  T* operator->() const { return &**this; }
  T& operator*() const {
    T* p = proxy_.load(std::memory_order_acquire);
    if (p == nullptr) {
      p = &store_->proxy<T>(off_);
      proxy_.store(p, std::memory_order_release);
    }
    return *p;
  }
  explicit operator bool() const { return off_ != 0; }
  uint64_t offset() const { return off_; }
  Store* store() const { return store_; }
  pptr<typename T::Data> ptr() const { return pptr<typename T::Data>(off_); }

  friend bool operator==(const Ref& a, const Ref& b) { return a.off_ == b.off_; }

 private:
  Store* store_ = nullptr;
  uint64_t off_ = 0;
  mutable std::atomic<T*> proxy_{nullptr};
};

// --- template definitions ----------------------------------------------------------

template <typename T, typename... Args>
Ref<T> Store::make(Args&&... args) {
  return make_with_tail<T>(0, std::forward<Args>(args)...);
}

template <typename T, typename... Args>
Ref<T> Store::make_with_tail(uint64_t tail_bytes, Args&&... args) {
  using Data = typename T::Data;
  uint64_t size = sizeof(Data) + tail_bytes;
  uint64_t off = allocate(size, class_id<T>());
  char* p = pool_->at<char>(off);
  new (p) Data{std::forward<Args>(args)...};
  if (tail_bytes != 0) std::memset(p + sizeof(Data), 0, tail_bytes);
  if (!detail::in_block()) made_outside_block(off, size);
  return Ref<T>(this, off);
}

template <typename T, typename... Args>
Ref<T> Store::make_detached(uint64_t tail_bytes, Args&&... args) {
  using Data = typename T::Data;
  uint64_t off = value_or_throw(heap_->allocate(sizeof(Data) + tail_bytes, class_id<T>()));
  new (pool_->at<char>(off)) Data{std::forward<Args>(args)...};
  made_outside_block(off, sizeof(Data));
  return Ref<T>(this, off);
}

template <typename T>
void Store::free(Ref<T> ref) {
  free_object(ref.offset());
}

template <typename T>
Ref<T> Store::ref(uint64_t offset) {
  return Ref<T>(this, offset);
}

template <typename T>
T& Store::proxy(uint64_t offset) {
  ProxyShard& shard = proxies_[(offset >> 4) % kProxyShards];
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.map.find(offset);
    // A proxy of another class: proxy_slow reports the mismatch.
    if (it != shard.map.end())
      if (auto* p = dynamic_cast<T*>(it->second.get())) return *p;
  }
  return static_cast<T&>(proxy_slow(offset, class_id<T>(), class_info<T>().name,
                                    [](Store& s, uint64_t off) -> std::unique_ptr<ProxyBase> {
                                      return std::make_unique<T>(s, off);
                                    }));
}

template <typename T>
Ref<T> Store::root(std::string_view name) {
  uint64_t off = root_offset(name);
  if (off != 0) (void)proxy<T>(off);  // type check now, not at first use
  return Ref<T>(this, off);
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_STORE_H_
