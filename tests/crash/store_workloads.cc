// Crash workloads over the object layer: allocator publish and free,
// failure-atomic blocks (nested, and large enough for a multi-segment log),
// roots, the heap snapshot of a clean close, and recovery itself. Each
// checker recovers the image through the store's own open path and compares
// it with a model of the operations: every completed operation is there, the
// one in flight is all or nothing, and `nvobj-pool check` finds no damage
// and no leak.
#include "tests/crash/store_workloads.h"

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "examples/bank/bank.h"
#include "pobjects/log_cleaner.h"
#include "pobjects/pbytes.h"
#include "pobjects/pcounter.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "pobjects/psortedset.h"
#include "pobjects/ptreemap.h"
#include "recovery/check.h"
#include "recovery/store_open.h"
#include "runtime/group_commit.h"
#include "runtime/proxy.h"

namespace nvobj::crash {
namespace {

// Keeps one Store over the harness's pool between operations.
struct Session {
  std::unique_ptr<Store> store;
  Store& get(Pool& pool) {
    if (store == nullptr) {
      auto s = attach_store(pool);
      if (!s) throw std::runtime_error(s.status().to_string());
      store = std::move(*s);
    }
    return *store;
  }
  void close() {
    if (store != nullptr) {
      Status s = store->close();
      store.reset();
      if (!s) throw std::runtime_error(s.to_string());
    }
  }
};

// Runs fn(store) on a recovered image; heap problems and exceptions become
// the Status of the check.
StoreOptions quiet_open() {
  StoreOptions o;
  o.recovery_threads = 1;
  o.progress = false;
  return o;
}

template <typename Fn>
Status with_recovered(Pool& image, Fn fn) {
  recovery::HeapCheckReport heap = recovery::check_heap(image, 1);
  if (!heap.consistent()) return Status(StatusCode::kCorrupt, "heap check: " + heap.problems[0]);
  auto s = attach_store(image, quiet_open());
  if (!s) return s.status();
  try {
    return fn(**s);
  } catch (const std::exception& e) {
    return Status(StatusCode::kCorrupt, std::string("reading the recovered store: ") + e.what());
  }
}

// A workload's setup: fn on a store over the pool, closed cleanly. Throws
// (the harness reports it) if the store cannot be attached or closed.
void setup_store(Pool& pool, const std::function<void(Store&)>& fn) {
  // Appenders clean inline, unless with_background_cleaner says otherwise
  // after this setup.
  LogCleaner::set_mode(BackgroundCleaning::kOff);
  auto s = attach_store(pool);
  if (!s) throw std::runtime_error(s.status().to_string());
  fn(**s);
  if (Status st = (*s)->close(); !st) throw std::runtime_error(st.to_string());
}

// --- bank transfers ----------------------------------------------------------------------

constexpr uint64_t kBankAccounts = 4;
constexpr int64_t kBankInitial = 1000;

struct Transfer {
  uint64_t from, to;
  int64_t amount;
};
Transfer transfer_of(size_t i) {
  uint64_t from = i % kBankAccounts;
  return {from, (from + 1 + (i / kBankAccounts) % (kBankAccounts - 1)) % kBankAccounts,
          static_cast<int64_t>(10 + i % 7)};
}
std::array<int64_t, kBankAccounts> balances_after(size_t ops) {
  std::array<int64_t, kBankAccounts> b;
  b.fill(kBankInitial);
  for (size_t i = 0; i < ops; ++i) {
    Transfer t = transfer_of(i);
    b[t.from] -= t.amount;
    b[t.to] += t.amount;
  }
  return b;
}

Workload bank_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "fa-bank";
  w.pool_size = 4 << 20;
  w.ops = ops;
  w.setup = [](Pool& p) {
    setup_store(p, [](Store& st) { bank::Bank::create(st, "bank", kBankAccounts, kBankInitial); });
  };
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    Transfer t = transfer_of(i);
    s.root<bank::Bank>("bank")->transfer(t.from, t.to, t.amount);
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto b = s.root<bank::Bank>("bank");
      if (!b) return Status(StatusCode::kCorrupt, "the bank root is gone");
      std::array<int64_t, kBankAccounts> got;
      for (uint64_t a = 0; a < kBankAccounts; ++a) got[a] = b->account(a).balance();
      bool ok = got == balances_after(completed) ||
                (completed < ops && got == balances_after(completed + 1));
      if (!ok)
        return Status(StatusCode::kCorrupt,
                      fmt::format("balances {} match neither {} nor {} completed transfers",
                                  fmt::join(got, ","), completed, completed + 1));
      for (uint64_t a = 0; a < kBankAccounts; ++a) {
        bank::Account& acct = b->account(a);
        uint64_t n = 0;
        for (uint64_t r = acct.last(); r != 0; r = s.proxy<bank::Record>(r).prev()) ++n;
        if (n != acct.history() || n > bank::Account::kKeepRecords)
          return Status(StatusCode::kCorrupt, fmt::format("account {}: {} records, history says {}",
                                                          a, n, acct.history()));
      }
      return Status::ok();
    });
  };
  return w;
}

// --- a large, nested block -----------------------------------------------------------------

struct SlabData {
  uint64_t count;  // 8-byte words in the tail
  uint64_t reserved;
};
class Slab : public PObject<Slab, SlabData> {
 public:
  static constexpr std::string_view kClassName = "crash.Slab";
  static constexpr RefMap kRefs =
      with_tail(ref_map<SlabData>(), TailKind::kBytes, offsetof(SlabData, count), sizeof(SlabData));
  using PObject::PObject;
  uint64_t word(uint64_t i) const {
    uint64_t v;
    read_tail(i * 8, &v, 8);
    return v;
  }
  void set_word(uint64_t i, uint64_t v) { write_tail(i * 8, &v, 8); }
};

struct TokenData {
  uint64_t value;
};
class Token : public PObject<Token, TokenData> {
 public:
  static constexpr std::string_view kClassName = "crash.Token";
  static constexpr RefMap kRefs = ref_map<TokenData>();
  using PObject::PObject;
  uint64_t value() const { return get(&Data::value); }
};

// 3000 words 64 bytes apart: 3000 log entries, more than one 64 KiB segment.
constexpr uint64_t kSlabStride = 8;  // words
constexpr uint64_t kSlabWrites = 3000;

Workload large_block_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "fa-large-nested";
  w.pool_size = 4 << 20;
  w.ops = ops;
  w.setup = [](Pool& p) {
    setup_store(p, [](Store& st) {
      failure_atomic([&] {
        uint64_t words = kSlabWrites * kSlabStride;
        st.set_root("slab", st.make_with_tail<Slab>(words * 8, words, uint64_t{0}));
        st.set_root("token", st.make<Token>(uint64_t{0}));
      });
    });
  };
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    auto slab = s.root<Slab>("slab");
    uint64_t v = i + 1;
    failure_atomic([&] {
      for (uint64_t k = 0; k < kSlabWrites; ++k) {
        if (k % 500 == 0) {  // nested blocks flatten into this one
          failure_atomic([&] { slab->set_word(k * kSlabStride, v); });
        } else {
          slab->set_word(k * kSlabStride, v);
        }
      }
      // Replace the token: allocation, publication and free in one block.
      auto old = s.root<Token>("token");
      s.set_root("token", s.make<Token>(v));
      s.free(old);
    });
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto slab = s.root<Slab>("slab");
      auto token = s.root<Token>("token");
      if (!slab || !token) return Status(StatusCode::kCorrupt, "a root is gone");
      uint64_t v = slab->word(0);
      if (v != completed && !(completed < ops && v == completed + 1))
        return Status(StatusCode::kCorrupt,
                      fmt::format("word 0 is {} after {} completed blocks", v, completed));
      for (uint64_t k = 0; k < kSlabWrites; ++k)
        if (slab->word(k * kSlabStride) != v)
          return Status(StatusCode::kCorrupt,
                        fmt::format("torn block: word {} is {}, word 0 is {}", k * kSlabStride,
                                    slab->word(k * kSlabStride), v));
      if (token->value() != v)
        return Status(StatusCode::kCorrupt,
                      fmt::format("token is {}, the slab says {}", token->value(), v));
      return Status::ok();
    });
  };
  return w;
}

// --- allocation, publication and free through roots -----------------------------------------

constexpr uint64_t kKeys = 6;

// Root name -> token value after `ops` operations.
std::map<std::string, uint64_t> roots_after(size_t ops) {
  std::map<std::string, uint64_t> m;
  for (size_t i = 0; i < ops; ++i) {
    std::string key = fmt::format("k{}", i % kKeys);
    if (m.contains(key))
      m.erase(key);
    else
      m[key] = i;
  }
  return m;
}

Workload publish_free_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "alloc-publish-free";
  w.pool_size = 4 << 20;
  w.ops = ops;
  w.setup = [](Pool& p) { setup_store(p, [](Store&) {}); };
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    std::string key = fmt::format("k{}", i % kKeys);
    if (auto old = s.root<Token>(key)) {
      failure_atomic([&] {  // unpublish and free together
        s.remove_root(key);
        s.free(old);
      });
    } else if (i % 4 == 1) {
      // Made outside a block (no fence), published by the root's block.
      s.set_root(key, s.make<Token>(uint64_t(i)));
    } else {
      failure_atomic([&] { s.set_root(key, s.make<Token>(uint64_t(i))); });
    }
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      std::map<std::string, uint64_t> got;
      for (auto& [name, off] : s.roots()) got[name] = s.proxy<Token>(off).value();
      if (got == roots_after(completed) || (completed < ops && got == roots_after(completed + 1)))
        return Status::ok();
      std::string shown;
      for (auto& [k, v] : got) shown += fmt::format(" {}={}", k, v);
      return Status(StatusCode::kCorrupt,
                    fmt::format("roots{} match neither {} nor {} completed operations", shown,
                                completed, completed + 1));
    });
  };
  return w;
}

// --- PCounter and PStripedCounter ------------------------------------------------------

int64_t counter_after(size_t ops) {
  int64_t v = 0;
  for (size_t i = 0; i < ops; ++i) {
    switch (i % 4) {
      case 0: v += static_cast<int64_t>(i) + 1; break;
      case 1: v = static_cast<int64_t>(i) * 10; break;
      case 2: v += 1; break;  // compare_and_set(v, v + 1) succeeds
      case 3: v -= 3; break;
    }
  }
  return v;
}

Workload counter_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "pcounter";
  w.pool_size = 4 << 20;
  w.ops = ops;
  w.setup = [](Pool& p) {
    setup_store(p, [](Store& st) {
      st.set_root("c", PCounter::create(st));
      st.set_root("s", PStripedCounter::create(st, 4));
    });
  };
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    auto counter = s.root<PCounter>("c");
    switch (i % 4) {
      case 0: counter->add_and_get(static_cast<int64_t>(i) + 1); break;
      case 1: counter->set(static_cast<int64_t>(i) * 10); break;
      case 2: {
        int64_t expected = counter->get();
        if (!counter->compare_and_set(expected, expected + 1))
          throw std::runtime_error("compare_and_set failed with no contention");
        break;
      }
      case 3: counter->get_and_add(-3); break;
    }
    s.root<PStripedCounter>("s")->increment();
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      int64_t v = s.root<PCounter>("c")->get();
      uint64_t striped = s.root<PStripedCounter>("s")->get();
      // The counter update of op `completed` may be in; its striped
      // increment only if the counter's is (it comes second).
      bool counter_old = v == counter_after(completed);
      bool counter_new = completed < ops && v == counter_after(completed + 1);
      if (!counter_old && !counter_new)
        return Status(StatusCode::kCorrupt,
                      fmt::format("counter is {} after {} operations", v, completed));
      if (striped != completed && !(counter_new && striped == completed + 1))
        return Status(StatusCode::kCorrupt,
                      fmt::format("striped counter is {} after {} increments", striped, completed));
      return Status::ok();
    });
  };
  return w;
}

// --- PBytes: values replaced (made, published, old one freed) in blocks ------------------

constexpr size_t kByteKeys = 4;

std::string bytes_value(size_t op) {
  size_t n = (op * 977) % 6000;  // 0 .. ~6 KB: inline-size to multi-line to page-sized
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + op * 7) & 0xff);
  return s;
}

// Key -> op index of its current value after `ops` operations.
std::map<std::string, size_t> bytes_after(size_t ops) {
  std::map<std::string, size_t> m;
  for (size_t i = 0; i < ops; ++i) m[fmt::format("b{}", i % kByteKeys)] = i;
  return m;
}

Workload bytes_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "pbytes";
  w.pool_size = 4 << 20;
  w.ops = ops;
  w.setup = [](Pool& p) { setup_store(p, [](Store&) {}); };
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    std::string key = fmt::format("b{}", i % kByteKeys);
    failure_atomic([&] {
      auto old = s.root<PBytes>(key);
      s.set_root(key, PBytes::create(s, bytes_value(i)));
      if (old) s.free(old);
    });
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto matches = [&](size_t n) {
        std::map<std::string, size_t> want = bytes_after(n);
        if (s.roots().size() != want.size()) return false;
        for (auto& [key, op] : want) {
          auto b = s.root<PBytes>(key);
          if (!b || !b->equals(bytes_value(op))) return false;
        }
        return true;
      };
      if (matches(completed) || (completed < ops && matches(completed + 1))) return Status::ok();
      return Status(StatusCode::kCorrupt,
                    fmt::format("byte values match neither {} nor {} completed replacements",
                                completed, completed + 1));
    });
  };
  return w;
}

// --- PHashMap: every update operation, chunk switches, oversized records,
// cleaning and owned object values -----------------------------------------------------

constexpr size_t kMapKeys = 6;

std::string map_key(size_t op) { return fmt::format("k{}", op * 7 % kMapKeys); }

std::string map_value(size_t op) {
  // Mostly small; every 25th is larger than any regular chunk (own chunk).
  size_t n = op % 25 == 24 ? 70000 : (op * 389) % 2500;
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 13 + op) % 26);
  return s;
}

// A key's state in the model: bytes, or an owned PCounter holding `counter`.
struct MapSlot {
  bool is_ref = false;
  std::string bytes;
  int64_t counter = 0;
  friend bool operator==(const MapSlot&, const MapSlot&) = default;
};
using MapModel = std::map<std::string, MapSlot>;

// Applies op i to `m` exactly as map_op does to the real map.
void map_model_apply(MapModel& m, size_t i) {
  std::string key = map_key(i), v = map_value(i);
  auto it = m.find(key);
  bool bytes_present = it != m.end() && !it->second.is_ref;
  switch (i % 10) {
    case 0:
    case 1: m[key] = {false, v, 0}; break;  // put, exchange
    case 2:
      if (it == m.end()) m[key] = {false, v, 0};
      break;
    case 3:
      if (it != m.end()) it->second = {false, v, 0};
      break;
    case 4:
      if (bytes_present) it->second = {false, v, 0};  // CAS with the current value
      break;
    case 5:
      if (it != m.end()) m.erase(it);
      break;
    case 6:  // compute: append "c", or create "c"
      if (bytes_present)
        it->second.bytes += "c";
      else
        m[key] = {false, "c", 0};
      break;
    case 7:  // merge: like compute with the value
      if (it == m.end())
        m[key] = {false, v, 0};
      else if (!it->second.is_ref)
        it->second.bytes += v.substr(0, 10);
      else
        m[key] = {false, v, 0};
      break;
    case 8:
      if (bytes_present) m.erase(it);  // remove_if with the current value
      break;
    case 9: m[key] = {true, "", static_cast<int64_t>(i)}; break;  // put_ref
  }
}

MapModel map_after(size_t ops) {
  MapModel m;
  for (size_t i = 0; i < ops; ++i) map_model_apply(m, i);
  return m;
}

template <typename MapT>
void map_op(Store& s, size_t i) {
  auto map = s.root<MapT>("map");
  std::string key = map_key(i), v = map_value(i);
  switch (i % 10) {
    case 0: map->put(key, v); break;
    case 1: map->exchange(key, v); break;
    case 2: map->put_if_absent(key, v); break;
    case 3: map->replace(key, v); break;
    case 4: map->compare_and_set(key, map->get(key).value_or("\x01none"), v); break;
    case 5: map->remove(key); break;
    case 6:
      map->compute(key, [](std::optional<std::string_view> old) {
        return std::optional<std::string>(old ? std::string(*old) + "c" : "c");
      });
      break;
    case 7:
      map->compute(key, [&](std::optional<std::string_view> old) {
        return std::optional<std::string>(old ? std::string(*old) + v.substr(0, 10) : v);
      });
      break;
    case 8: map->remove_if(key, map->get(key).value_or("\x01none")); break;
    case 9: map->put_ref(key, PCounter::create(s, static_cast<int64_t>(i))); break;
  }
}

// An empty map; cleaning and sweeping from the first byte (the workloads
// are small).
template <typename MapT>
void map_setup(Pool& p) {
  RecordLog::set_min_clean_bytes(0);
  detail::min_tombstone_sweep = 0;
  setup_store(p, [](Store& st) { st.set_root("map", MapT::create(st)); });
}

template <typename MapT>
Workload map_workload(const std::string& name, size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = name;
  w.pool_size = 8 << 20;
  w.ops = ops;
  w.setup = map_setup<MapT>;
  w.op = [session](Context& c, size_t i) { map_op<MapT>(session->get(c.pool()), i); };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto map = s.root<MapT>("map");
      if (!map) return Status(StatusCode::kCorrupt, "the map root is gone");
      MapModel got;
      map->for_each([&](std::string_view k, const MapValue& v) {
        MapSlot slot;
        slot.is_ref = v.is_ref;
        if (v.is_ref)
          slot.counter = s.ref<PCounter>(v.ref)->get();
        else
          slot.bytes = std::string(v.bytes);
        got[std::string(k)] = slot;
      });
      if (got.size() != map->size())
        return Status(StatusCode::kCorrupt,
                      fmt::format("size() {} but {} keys iterated", map->size(), got.size()));
      if (got == map_after(completed) || (completed < ops && got == map_after(completed + 1)))
        return Status::ok();
      std::string shown;
      for (auto& [k, v] : got)
        shown += v.is_ref ? fmt::format(" {}=ref:{}", k, v.counter)
                          : fmt::format(" {}={}B", k, v.bytes.size());
      return Status(StatusCode::kCorrupt,
                    fmt::format("map{} matches neither {} nor {} completed operations", shown,
                                completed, completed + 1));
    });
  };
  return w;
}

// --- PList: every update operation ------------------------------------------------------

std::string list_value(size_t op) { return fmt::format("v{}:{}", op, std::string(op % 300, 'l')); }

// Applies op i to `l` (the model, or the real list through `real`).
template <typename L>
void list_apply(L& l, size_t i) {
  size_t n = l.size();
  size_t at = n == 0 ? 0 : (i * 31) % n;
  std::string v = list_value(i);
  switch (i % 7) {
    case 0: l.append(v); break;
    case 1: l.prepend(v); break;
    case 2: l.pop_front(); break;
    case 3: l.pop_back(); break;
    case 4: l.set(at, v); break;
    case 5: l.insert_after(at, v); break;
    case 6: l.remove_at(at); break;
  }
}

struct ListModel {
  std::deque<std::string> d;
  size_t size() const { return d.size(); }
  void append(const std::string& v) { d.push_back(v); }
  void prepend(const std::string& v) { d.push_front(v); }
  void pop_front() {
    if (!d.empty()) d.pop_front();
  }
  void pop_back() {
    if (!d.empty()) d.pop_back();
  }
  void set(size_t at, const std::string& v) {
    if (at < d.size()) d[at] = v;
  }
  void insert_after(size_t at, const std::string& v) {
    if (at < d.size()) d.insert(d.begin() + static_cast<ptrdiff_t>(at) + 1, v);
  }
  void remove_at(size_t at) {
    if (at < d.size()) d.erase(d.begin() + static_cast<ptrdiff_t>(at));
  }
};

struct RealList {
  PList& l;
  size_t size() const { return l.size(); }
  void append(const std::string& v) { l.append(v); }
  void prepend(const std::string& v) { l.prepend(v); }
  void pop_front() { l.pop_front(); }
  void pop_back() { l.pop_back(); }
  void set(size_t at, const std::string& v) { l.set(static_cast<int64_t>(at), v); }
  void insert_after(size_t at, const std::string& v) {
    l.insert_after(static_cast<int64_t>(at), v);
  }
  void remove_at(size_t at) { l.remove_at(static_cast<int64_t>(at)); }
};

constexpr int kListInitial = 8;  // so that pops and sets have elements to work on

// The list after `ops` operations of a workload (apply(model, i)).
template <typename Apply>
std::vector<std::string> model_after(size_t ops, Apply apply) {
  ListModel m;
  for (int i = 0; i < kListInitial; ++i) m.append(fmt::format("init{}", i));
  for (size_t i = 0; i < ops; ++i) apply(m, i);
  return {m.d.begin(), m.d.end()};
}
std::vector<std::string> list_after(size_t ops) {
  return model_after(ops, [](ListModel& m, size_t i) { list_apply(m, i); });
}

// The list with kListInitial elements; cleaning and sweeping from the
// first byte (the workloads are small).
void list_setup(Pool& p) {
  RecordLog::set_min_clean_bytes(0);
  detail::min_tombstone_sweep = 0;
  setup_store(p, [](Store& st) {
    auto l = PList::create(st);
    st.set_root("list", l);
    for (int i = 0; i < kListInitial; ++i) l->append(fmt::format("init{}", i));
  });
}

// A workload over the list of list_setup: run(list, i) is operation i;
// the caller adds the check.
template <typename Run>
Workload plist_workload(std::string name, size_t ops, Run run) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = std::move(name);
  w.pool_size = 8 << 20;
  w.ops = ops;
  w.setup = list_setup;
  w.op = [session, run](Context& c, size_t i) {
    run(*session->get(c.pool()).root<PList>("list"), i);
  };
  w.finish = [session](Context&) { session->close(); };
  return w;
}

Workload list_workload(size_t ops) {
  Workload w = plist_workload("plist", ops, [](PList& l, size_t i) {
    RealList real{l};
    list_apply(real, i);
  });
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto list = s.root<PList>("list");
      if (!list) return Status(StatusCode::kCorrupt, "the list root is gone");
      std::vector<std::string> got = list->range(0, INT64_MAX);
      if (got.size() != list->size())
        return Status(StatusCode::kCorrupt, "size() disagrees with the elements");
      if (got == list_after(completed) || (completed < ops && got == list_after(completed + 1)))
        return Status::ok();
      return Status(
          StatusCode::kCorrupt,
          fmt::format("list of {} elements matches neither {} nor {} completed operations",
                      got.size(), completed, completed + 1));
    });
  };
  return w;
}

// After one more update of the recovered list: closes `s`, reopens the
// image, and compares.
Status reopened_list_is(Store& s, Pool& image, const std::vector<std::string>& want) {
  if (Status st = s.close(); !st) return st;
  auto again = attach_store(image, quiet_open());
  if (!again) return again.status();
  std::vector<std::string> reread = (*again)->root<PList>("list")->range(0, INT64_MAX);
  if (Status st = (*again)->close(); !st) return st;
  if (reread != want)
    return Status(
        StatusCode::kCorrupt,
        fmt::format("after one more update and a reopen, the list has {} elements, not {}",
                    reread.size(), want.size()));
  return Status::ok();
}

// --- PList as a queue and a stack that drain: the ends --------------------------------
//
// Cycles of 5 pushes at both ends and 7 pops at both, which drain the
// list (its 8 first elements within 4 cycles, then every cycle): the pops write the list's ends
// (plist.h), their points overwrite each other, the last pop of a drain sets the emptying word, and
// positions start again from 0 after it, behind the points. After the check, one more append and a
// reopen: the new element must stay (the versions an open hands out must be above every point's,
// even when the records that had those versions were cleaned away).

void queue_apply(ListModel& m, PList* l, size_t i) {
  size_t phase = i % 12;
  std::string v = list_value(i);
  if (phase < 5) {
    bool back = i % 2 == 0;
    if (l != nullptr) back ? l->append(v) : l->prepend(v);
    back ? m.append(v) : m.prepend(v);
    return;
  }
  bool front = i % 3 != 0;
  if (l != nullptr) front ? (void)l->pop_front() : (void)l->pop_back();
  front ? m.pop_front() : m.pop_back();
}

std::vector<std::string> queue_after(size_t ops) {
  return model_after(ops, [](ListModel& m, size_t i) { queue_apply(m, nullptr, i); });
}

Workload queue_workload(size_t ops) {
  Workload w = plist_workload("plist-queue", ops, [](PList& l, size_t i) {
    ListModel ignored;
    queue_apply(ignored, &l, i);
  });
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto list = s.root<PList>("list");
      if (!list) return Status(StatusCode::kCorrupt, "the list root is gone");
      std::vector<std::string> got = list->range(0, INT64_MAX);
      if (got != queue_after(completed) && (completed == ops || got != queue_after(completed + 1)))
        return Status(
            StatusCode::kCorrupt,
            fmt::format("queue of {} elements matches neither {} nor {} completed operations",
                        got.size(), completed, completed + 1));
      list->append("extra");
      got.push_back("extra");
      return reopened_list_is(s, image, got);
    });
  };
  return w;
}

// --- Group commit: batches of map and list updates sharing one fence ---------------------
//
// Each harness operation is a batch of kBatch updates in a GroupCommit scope
// (runtime/group_commit.h). Completed batches must all be there; of the
// batch in flight, a prefix in the order of its updates (one object, one
// log: its records become durable in order; the list's inserts and sets
// address elements earlier updates of the batch made). Small chunks (512 B)
// make batches cross chunks, and cleaning runs from the first byte. After
// the check, one more update and a reopen: appends resume over a torn
// record, and the records a crash left after it must not come back.

constexpr size_t kBatch = 5;

// The number of updates after which the model (from `initial`) equals
// `got`: all of `completed` batches and a prefix of the next, if any.
template <typename Model, typename Apply>
std::optional<size_t> matching_prefix(const Model& got, size_t completed, size_t ops, Model initial,
                                      Apply apply_to) {
  Model m = apply_to(std::move(initial), 0, completed * kBatch);
  size_t last = completed < ops ? kBatch : 0;
  for (size_t j = 0;; ++j) {
    if (got == m) return completed * kBatch + j;
    if (j == last) return std::nullopt;
    m = apply_to(std::move(m), completed * kBatch + j, completed * kBatch + j + 1);
  }
}

Workload map_group_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "phashmap-group";
  w.pool_size = 8 << 20;
  w.ops = ops;
  w.setup = map_setup<PHashMap>;
  w.op = [session](Context& c, size_t i) {
    Store& s = session->get(c.pool());
    GroupCommit batch;
    for (size_t j = i * kBatch; j < (i + 1) * kBatch; ++j) map_op<PHashMap>(s, j);
  };
  w.finish = [session](Context&) { session->close(); };
  auto read = [](Store& s) {
    MapModel got;
    s.root<PHashMap>("map")->for_each([&](std::string_view k, const MapValue& v) {
      got[std::string(k)] = v.is_ref ? MapSlot{true, "", s.ref<PCounter>(v.ref)->get()}
                                     : MapSlot{false, std::string(v.bytes), 0};
    });
    return got;
  };
  auto apply = [](MapModel m, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) map_model_apply(m, i);
    return m;
  };
  w.check = [ops, read, apply](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      if (!s.root<PHashMap>("map")) return Status(StatusCode::kCorrupt, "the map root is gone");
      MapModel got = read(s);
      std::optional<size_t> n = matching_prefix(got, completed, ops, MapModel{}, apply);
      if (!n)
        return Status(StatusCode::kCorrupt,
                      fmt::format("map of {} keys is no prefix of batch {} ({} updates each)",
                                  got.size(), completed, kBatch));
      // One more update (not one of the lost ones: another size), reopened.
      size_t extra = 7 * kBatch * ops + 1;
      map_op<PHashMap>(s, extra);
      MapModel want = apply(std::move(got), extra, extra + 1);
      if (Status st = s.close(); !st) return st;
      auto again = attach_store(image, quiet_open());
      if (!again) return again.status();
      MapModel reread = read(**again);
      if (Status st = (*again)->close(); !st) return st;
      if (reread != want) {
        std::string diff;
        for (auto& [k, v] : reread)
          if (!want.contains(k) || want[k] != v) diff += " " + k + (want.contains(k) ? "~" : "+");
        for (auto& [k, v] : want)
          if (!reread.contains(k)) diff += " " + k + "-";
        return Status(StatusCode::kCorrupt,
                      "after one more update and a reopen, the map differs:" + diff);
      }
      return Status::ok();
    });
  };
  return w;
}

Workload list_group_workload(size_t ops) {
  Workload w = plist_workload("plist-group", ops, [](PList& l, size_t i) {
    RealList real{l};
    GroupCommit batch;
    for (size_t j = i * kBatch; j < (i + 1) * kBatch; ++j) list_apply(real, j);
  });
  auto apply = [](std::vector<std::string> v, size_t from, size_t to) {
    ListModel m;
    m.d.assign(v.begin(), v.end());
    for (size_t i = from; i < to; ++i) list_apply(m, i);
    return std::vector<std::string>(m.d.begin(), m.d.end());
  };
  w.check = [ops, apply](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto list = s.root<PList>("list");
      if (!list) return Status(StatusCode::kCorrupt, "the list root is gone");
      std::vector<std::string> got = list->range(0, INT64_MAX);
      std::optional<size_t> n = matching_prefix(got, completed, ops, list_after(0), apply);
      if (!n)
        return Status(StatusCode::kCorrupt,
                      fmt::format("list of {} elements is no prefix of batch {} ({} updates each)",
                                  got.size(), completed, kBatch));
      size_t extra = 7 * kBatch * ops + 1;
      RealList real{*list};
      list_apply(real, extra);
      return reopened_list_is(s, image, apply(std::move(got), extra, extra + 1));
    });
  };
  return w;
}

// --- PSortedSet: adds (new, moved, tied, infinite, unchanged), increments,
// removes, members large enough for a chunk of their own ---------------------------------

std::string zset_member(size_t op) {
  if (op % 25 == 24) return std::string(70000, 'M') + std::to_string(op % 2);
  return fmt::format("z{}", op * 7 % 9);
}

using ZsetModel = std::map<std::string, double>;

// Applies op i to the model, or (set != nullptr) to the set, exactly alike.
void zset_apply(ZsetModel* model, PSortedSet* set, size_t i) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::string m = zset_member(i);
  double delta = 0.25 * static_cast<double>(i % 5) - 0.5;  // finite: never a NaN sum
  std::optional<double> cur;
  if (model != nullptr) {
    if (auto it = model->find(m); it != model->end()) cur = it->second;
  } else {
    cur = set->score(m);
  }
  std::optional<double> next = cur;
  switch (i % 6) {
    case 0: next = static_cast<double>(i); break;
    case 1: next = static_cast<double>(i % 3); break;  // ties, ordered by member
    case 2: next = cur.value_or(0.0) + delta; break;
    case 3: next.reset(); break;
    case 4: next = i % 12 == 4 ? kInf : -kInf; break;
    case 5: next = cur.value_or(static_cast<double>(i)); break;  // usually unchanged: no write
  }
  if (next && *next == 0) next = 0.0;  // the set stores -0.0 as +0.0
  if (model != nullptr) {
    if (next)
      (*model)[m] = *next;
    else
      model->erase(m);
    return;
  }
  switch (i % 6) {
    case 2: set->increment(m, delta); break;
    case 3: set->remove(m); break;
    default: set->add(m, *next); break;
  }
}

ZsetModel zset_after(size_t ops) {
  ZsetModel m;
  for (size_t i = 0; i < ops; ++i) zset_apply(&m, nullptr, i);
  return m;
}

// Operations that leave the set as it was (unchanged scores, removes of
// absent members): they write nothing, so no fence.
size_t zset_noop_ops(size_t ops) {
  ZsetModel m;
  size_t noops = 0;
  for (size_t i = 0; i < ops; ++i) {
    ZsetModel before = m;
    zset_apply(&m, nullptr, i);
    noops += m == before ? 1 : 0;
  }
  return noops;
}

Workload sorted_set_workload(size_t ops) {
  auto session = std::make_shared<Session>();
  Workload w;
  w.name = "psortedset";
  w.pool_size = 8 << 20;
  w.ops = ops;
  w.noop_ops = zset_noop_ops(ops);
  w.setup = [](Pool& p) {
    RecordLog::set_min_clean_bytes(0);
    detail::min_tombstone_sweep = 0;
    setup_store(p, [](Store& st) { st.set_root("zset", PSortedSet::create(st)); });
  };
  w.op = [session](Context& c, size_t i) {
    zset_apply(nullptr, &*session->get(c.pool()).root<PSortedSet>("zset"), i);
  };
  w.finish = [session](Context&) { session->close(); };
  w.check = [ops](Pool& image, size_t completed) {
    return with_recovered(image, [&](Store& s) -> Status {
      auto set = s.root<PSortedSet>("zset");
      if (!set) return Status(StatusCode::kCorrupt, "the sorted set root is gone");
      ZsetModel got;
      set->for_each([&](std::string_view m, double v) { got[std::string(m)] = v; });
      if (got != zset_after(completed) && !(completed < ops && got == zset_after(completed + 1))) {
        std::string shown;
        for (auto& [m, v] : got) shown += fmt::format(" {}={}", m.size() > 10 ? "<long>" : m, v);
        return Status(StatusCode::kCorrupt,
                      fmt::format("set{} matches neither {} nor {} completed operations", shown,
                                  completed, completed + 1));
      }
      // The score index, rebuilt at open: Redis order, ranks, size.
      std::vector<std::pair<double, std::string>> want;
      for (auto& [m, v] : got) want.emplace_back(v, m);
      std::sort(want.begin(), want.end());
      std::vector<std::pair<double, std::string>> ranked;
      set->range_by_rank(0, UINT64_MAX, false,
                         [&](std::string_view m, double v) { ranked.emplace_back(v, m); });
      if (ranked != want || set->size() != want.size())
        return Status(StatusCode::kCorrupt, "the score index disagrees with the members");
      for (size_t r = 0; r < want.size(); ++r)
        if (set->rank(want[r].second) != static_cast<int64_t>(r))
          return Status(StatusCode::kCorrupt, fmt::format("rank of member {} is wrong", r));
      return Status::ok();
    });
  };
  return w;
}

// --- the background cleaner ------------------------------------------------------------

// The same workload with background cleaning (pobjects/log_cleaner.h),
// driven by the workload's thread after every operation: appenders hand
// their logs to the cleaner instead of cleaning, and its steps, each with a
// fence of its own, are crashed in as well.
Workload with_background_cleaner(Workload w) {
  w.name += "-bg";
  w.setup = [setup = w.setup](Pool& p) {
    setup(p);
    LogCleaner::set_mode(BackgroundCleaning::kManual);
  };
  w.op = [op = w.op](Context& c, size_t i) {
    op(c, i);
    LogCleaner::instance().run_queued();
  };
  return w;
}

// --- clean closes between operations ----------------------------------------------------

// The same workload with a clean close after every `every`th operation, so
// that the next one reopens the store: the maps load the indexes they saved
// at the close (pobjects/index_snapshot.h) instead of scanning their logs.
// Crashes fall inside those closes (the cleaner's last unlink, the
// snapshots, the directory) and after reopens that used them.
Workload with_reopens(Workload w, size_t every) {
  w.name += "-reopen";
  w.op = [op = w.op, finish = w.finish, every](Context& c, size_t i) {
    detail::min_snapshot_log_bytes = 0;  // the workloads' maps are small
    op(c, i);
    if (i % every == every - 1) finish(c);
  };
  return w;
}

}  // namespace

std::vector<Workload> store_workloads(int scale) {
  auto s = static_cast<size_t>(scale);
  return {bank_workload(30 * s),
          large_block_workload(4 * s),
          publish_free_workload(40 * s),
          counter_workload(60 * s),
          bytes_workload(30 * s),
          map_workload<PHashMap>("phashmap", 60 * s),
          map_workload<PTreeMap>("ptreemap", 60 * s),
          list_workload(60 * s),
          queue_workload(66 * s),
          map_group_workload(36 * s),
          list_group_workload(36 * s),
          sorted_set_workload(60 * s),
          with_reopens(map_workload<PHashMap>("phashmap", 60 * s), 7),
          with_reopens(map_workload<PTreeMap>("ptreemap", 60 * s), 7),
          with_reopens(list_workload(60 * s), 7),
          with_reopens(queue_workload(66 * s), 7),
          with_reopens(sorted_set_workload(60 * s), 7),
          with_background_cleaner(map_workload<PHashMap>("phashmap", 60 * s)),
          with_background_cleaner(list_workload(60 * s)),
          with_background_cleaner(queue_workload(66 * s)),
          with_background_cleaner(map_group_workload(36 * s))};
}

}  // namespace nvobj::crash
