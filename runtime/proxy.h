// PObject<Self, Data>: the base of user proxy classes (the J-NVM model).
// Fields live in the pool, in a standard-layout `Data` struct; methods (and
// any volatile state: locks, caches) live in the proxy.
//
//   struct AccountData {
//     int64_t balance;
//     nvobj::pptr<void> owner;
//   };
//   class Account : public nvobj::PObject<Account, AccountData> {
//    public:
//     static constexpr std::string_view kClassName = "bank.Account";
//     static constexpr nvobj::RefMap kRefs =
//         nvobj::ref_map<AccountData>({offsetof(AccountData, owner)});
//     using PObject::PObject;
//     int64_t balance() const { return get(&Data::balance); }
//     void deposit(int64_t v) { set(&Data::balance, balance() + v); }
//   };
//
// get/set/read/update see and join the calling thread's failure-atomic
// block; outside a block each set is durable on return (one fence).
#ifndef NVOBJ_RUNTIME_PROXY_H_
#define NVOBJ_RUNTIME_PROXY_H_

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "runtime/block.h"
#include "runtime/object_header.h"
#include "runtime/store.h"

namespace nvobj {

template <typename Self, typename DataT>
class PObject : public ProxyBase {
 public:
  using Data = DataT;
  static_assert(std::is_standard_layout_v<Data> && std::is_trivially_copyable_v<Data>,
                "a persistent layout must be a standard-layout, trivially copyable struct");
  static_assert(alignof(Data) <= kMaxObjectAlign, "persistent layouts are at most 8-aligned");

  PObject(Store& store, uint64_t offset) : ProxyBase(store, offset) {}

  Ref<Self> ref() const { return Ref<Self>(&store(), offset()); }
  pptr<Data> ptr() const { return pptr<Data>(offset()); }

  // A copy of the fields (sees this thread's block).
  Data read() const {
    Data d;
    store().read(raw_ptr(), &d, sizeof(Data));
    return d;
  }

 protected:
  template <typename F>
  F get(F Data::*field) const {
    return store().load(&(raw_ptr()->*field));
  }
  template <typename F>
  void set(F Data::*field, const F& value) {
    store().store(&(raw_ptr()->*field), value);
  }
  // Edits a copy of the fields with fn(Data&) and writes back the bytes it
  // changed, as one block.
  template <typename Fn>
  void update(Fn&& fn) {
    failure_atomic([&] {
      Data before = read();
      Data after = before;
      fn(after);
      write_diff(reinterpret_cast<const char*>(&before), reinterpret_cast<const char*>(&after), 0,
                 sizeof(Data));
    });
  }
  // The fields in place: fast, but blind to this thread's pending block
  // writes. Never write through it.
  const Data& raw() const { return *raw_ptr(); }

  // Bytes after the fixed layout (classes made with make_with_tail).
  void read_tail(uint64_t at, void* dst, size_t n) const { store().read(tail_ptr() + at, dst, n); }
  void write_tail(uint64_t at, const void* src, size_t n) {
    store().write(tail_ptr() + at, src, n);
  }
  char* tail_ptr() const { return reinterpret_cast<char*>(raw_ptr()) + sizeof(Data); }

 private:
  Data* raw_ptr() const { return store().pool().template at<Data>(offset()); }
  void write_diff(const char* before, const char* after, size_t from, size_t to) {
    char* base = reinterpret_cast<char*>(raw_ptr());
    for (size_t i = from; i < to;) {
      if (before[i] == after[i]) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < to && before[j] != after[j]) ++j;
      store().write(base + i, after + i, j - i);
      i = j;
    }
  }
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_PROXY_H_
