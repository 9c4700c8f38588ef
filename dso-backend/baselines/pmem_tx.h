// Internal to the pmemobj-tx baseline: a transaction guard over libpmemobj's
// C API and the conversion between pool offsets and pointers.
//
// References inside the pool are 8-byte offsets from the pool base (0 =
// null) rather than 16-byte PMEMoids: the baseline uses one pool, so the
// pool uuid half of a PMEMoid would be the same everywhere.
#ifndef NVOBJ_DSO_BACKEND_BASELINES_PMEM_TX_H_
#define NVOBJ_DSO_BACKEND_BASELINES_PMEM_TX_H_

#include <libpmemobj.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nvobj::dso::pmemobj {

// Type numbers given to libpmemobj (only for its own statistics and tools).
enum TypeNum : uint64_t {
  kTypeTable = 1,
  kTypeSegment,
  kTypeHashNode,
  kTypeBlob,
  kTypeList,
  kTypeListNode,
  kTypeZSet,
  kTypeSkipNode,
};

// The mapped pool: offsets <-> pointers.
class PoolRef {
 public:
  PoolRef() = default;
  explicit PoolRef(PMEMobjpool* pop);
  PMEMobjpool* pop() const { return pop_; }
  uint64_t uuid_lo() const { return uuid_lo_; }

  template <typename T>
  T* at(uint64_t off) const {
    return off == 0 ? nullptr : reinterpret_cast<T*>(base() + off);
  }
  uint64_t off(const void* p) const {
    return p == nullptr ? 0 : static_cast<uint64_t>(static_cast<const char*>(p) - base());
  }

 private:
  char* base() const { return reinterpret_cast<char*>(pop_); }
  PMEMobjpool* pop_ = nullptr;
  uint64_t uuid_lo_ = 0;
};

// One libpmemobj transaction on the calling thread: undo-logged snapshots of
// what it changes in place, allocations and frees published at commit.
// Destroying it without commit() aborts it (every change rolled back), so an
// exception anywhere inside leaves the pool as it was. Failures of
// libpmemobj calls (pool full, log space exhausted) abort and throw
// StorageError.
class Tx {
 public:
  explicit Tx(const PoolRef& pool);
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

  // Snapshots [p, p + n) before it is modified.
  void add(const void* p, size_t n);
  // Snapshots *field, then sets it.
  template <typename T>
  void set(T* field, T value) {
    add(field, sizeof(T));
    *field = value;
  }
  // A new object (its contents need no snapshot: an abort frees it).
  uint64_t alloc(size_t n, TypeNum type, bool zero = false);
  void free(uint64_t off);
  void commit();

  const PoolRef& pool() const { return pool_; }
  template <typename T>
  T* at(uint64_t off) const {
    return pool_.template at<T>(off);
  }

 private:
  [[noreturn]] void fail(std::string_view what, int err);
  PoolRef pool_;
  bool ended_ = false;
};

// A hash of bytes that never changes between builds or runs (the persistent
// hash tables place nodes by it): FNV-1a, then a 64-bit finaliser so that
// the low bits, which pick the bucket, depend on every input bit.
uint64_t stable_hash(std::string_view s);

}  // namespace nvobj::dso::pmemobj

#endif  // NVOBJ_DSO_BACKEND_BASELINES_PMEM_TX_H_
