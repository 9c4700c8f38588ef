// A small bank kept in a pool: the example of the object model used by the
// programming guide, the example program, the kill tests and the benchmarks.
//
//   Bank     fixed layout {count}, then `count` references to accounts (a tail)
//   Account  {balance, id, last record, history length} + a volatile mutex
//   Record   one transfer: {amount, peer, previous record}
//
// A transfer moves money between two accounts and appends a Record to the
// payer's history, dropping (freeing) the oldest record beyond kKeepRecords,
// all in one failure-atomic block: a crash leaves either all of it or none.
#ifndef NVOBJ_EXAMPLES_BANK_BANK_H_
#define NVOBJ_EXAMPLES_BANK_BANK_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "runtime/proxy.h"
#include "runtime/store.h"

namespace bank {

struct RecordData {
  int64_t amount;  // negative: paid out
  uint64_t peer;   // the other account's id
  nvobj::pptr<RecordData> prev;
};

class Record : public nvobj::PObject<Record, RecordData> {
 public:
  static constexpr std::string_view kClassName = "bank.Record";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<RecordData>({offsetof(RecordData, prev)});
  using PObject::PObject;

  int64_t amount() const { return get(&Data::amount); }
  uint64_t prev() const { return get(&Data::prev).offset(); }
  void set_prev(uint64_t off) { set(&Data::prev, nvobj::pptr<RecordData>(off)); }
};

struct AccountData {
  int64_t balance;
  uint64_t id;
  nvobj::pptr<RecordData> last;  // newest record
  uint64_t history;              // records in the chain
};

class Account : public nvobj::PObject<Account, AccountData> {
 public:
  static constexpr std::string_view kClassName = "bank.Account";
  static constexpr nvobj::RefMap kRefs = nvobj::ref_map<AccountData>({offsetof(AccountData, last)});
  static constexpr uint64_t kKeepRecords = 4;
  using PObject::PObject;

  int64_t balance() const { return get(&Data::balance); }
  uint64_t id() const { return get(&Data::id); }
  uint64_t history() const { return get(&Data::history); }
  uint64_t last() const { return get(&Data::last).offset(); }

  // Volatile state: lives in the proxy, made again after a restart.
  std::mutex& mutex() { return mu_; }

  // Adds `amount` and records it (inside the caller's block).
  void post(int64_t amount, uint64_t peer) {
    nvobj::Store& s = store();
    auto rec = s.make<Record>(amount, peer, nvobj::pptr<RecordData>(last()));
    set(&Data::balance, balance() + amount);
    set(&Data::last, rec.ptr());
    uint64_t n = history() + 1;
    if (n > kKeepRecords) {  // unlink and free the oldest record
      uint64_t keep = rec.offset();
      for (uint64_t i = 1; i < kKeepRecords; ++i) keep = s.proxy<Record>(keep).prev();
      Record& newest_kept = s.proxy<Record>(keep);
      uint64_t oldest = newest_kept.prev();
      newest_kept.set_prev(0);
      s.free_object(oldest);
      n = kKeepRecords;
    }
    set(&Data::history, n);
  }

 private:
  std::mutex mu_;
};

struct BankData {
  uint64_t count;  // accounts in the tail
  uint64_t reserved;
};

class Bank : public nvobj::PObject<Bank, BankData> {
 public:
  static constexpr std::string_view kClassName = "bank.Bank";
  static constexpr nvobj::RefMap kRefs =
      nvobj::with_tail(nvobj::ref_map<BankData>(), nvobj::TailKind::kRefs,
                       offsetof(BankData, count), sizeof(BankData));
  using PObject::PObject;

  // A bank of `n` accounts holding `initial` each, published as root `name`.
  static nvobj::Ref<Bank> create(nvobj::Store& s, std::string_view name, uint64_t n,
                                 int64_t initial) {
    return nvobj::failure_atomic([&] {
      auto b = s.make_with_tail<Bank>(n * 8, n, uint64_t{0});
      for (uint64_t i = 0; i < n; ++i) {
        auto a = s.make<Account>(initial, i, nvobj::pptr<RecordData>(), uint64_t{0});
        uint64_t off = a.offset();
        b->write_tail(i * 8, &off, sizeof(off));
      }
      s.set_root(name, b);
      return b;
    });
  }

  uint64_t size() const { return get(&Data::count); }
  Account& account(uint64_t i) {
    uint64_t off;
    read_tail(i * 8, &off, sizeof(off));
    return store().proxy<Account>(off);
  }

  // Moves `amount` from account i to account j (i != j), failure-atomically.
  // Locks both accounts for isolation between threads.
  void transfer(uint64_t i, uint64_t j, int64_t amount) {
    Account& a = account(i);
    Account& b = account(j);
    std::scoped_lock lock(a.mutex(), b.mutex());
    nvobj::failure_atomic([&] {
      a.post(-amount, j);
      b.post(amount, i);
    });
  }

  int64_t total() {
    int64_t sum = 0;
    for (uint64_t i = 0; i < size(); ++i) sum += account(i).balance();
    return sum;
  }
};

}  // namespace bank

#endif  // NVOBJ_EXAMPLES_BANK_BANK_H_
