// Backend conformance: the same checks, written against backend.h only, on
// every backend of nvobj-dso (volatile, nvobj, pmemobj-tx, fs). Types and
// kWrongType for every typed call on every other type, creation and
// deletion-when-empty, list indexes, sorted-set order and ranges, hscan,
// the key space, update(); for the persistent backends a random model test
// across reopen cycles; concurrency with the command layer's locking
// discipline (a per-key lock taken by the test). Then what only one backend
// has: fs torn tails, corruption, compaction and write errors; pmemobj-tx
// pool-full behaviour and open errors.
#include <libpmemobj.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dso-backend/backend.h"
#include "dso-backend/baselines/baselines.h"
#include "tests/testing/temp_dir.h"

// The volatile and nvobj backends are registered too. Switch this off only
// while backend.cc/nvobj_backend.cc/volatile_backend.cc do not build.
#ifndef NVOBJ_CONFORMANCE_CORE_BACKENDS
#define NVOBJ_CONFORMANCE_CORE_BACKENDS 1
#endif

#if NVOBJ_CONFORMANCE_CORE_BACKENDS
#include "recovery/store_open.h"
#endif

namespace nvobj::dso {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// Backends under test: each harness opens (and after a close, reopens) the
// same store.

class Harness {
 public:
  virtual ~Harness() = default;
  virtual std::unique_ptr<Backend> open() = 0;
  // After the backend is destroyed (the nvobj store closes here).
  virtual void close() {}
  virtual bool persistent() const { return true; }

 protected:
  testing::TempDir dir_;
};

class PmemobjHarness : public Harness {
 public:
  std::unique_ptr<Backend> open() override {
    auto b = make_pmemobj_backend(dir_.file("pmemobj.pool"), 256 << 20);
    if (!b) throw std::runtime_error(b.status().to_string());
    return std::move(*b);
  }
};

class FsHarness : public Harness {
 public:
  std::unique_ptr<Backend> open() override {
    auto b = make_fs_backend(dir_.file("fs"));
    if (!b) throw std::runtime_error(b.status().to_string());
    return std::move(*b);
  }
};

#if NVOBJ_CONFORMANCE_CORE_BACKENDS
class VolatileHarness : public Harness {
 public:
  std::unique_ptr<Backend> open() override { return make_volatile_backend(); }
  bool persistent() const override { return false; }
};

class NvobjHarness : public Harness {
 public:
  std::unique_ptr<Backend> open() override {
    std::string path = dir_.file("nvobj.pool");
    StoreOptions o;
    o.create.size = 256 << 20;
    o.create.mode = Mode::kEmulated;
    auto s = std::filesystem::exists(path) ? open_store(path, o) : create_store(path, o);
    if (!s) throw std::runtime_error(s.status().to_string());
    store_ = std::move(*s);
    return make_nvobj_backend(*store_);
  }
  void close() override { store_.reset(); }

 private:
  std::unique_ptr<Store> store_;
};
#endif

std::unique_ptr<Harness> make_harness(const std::string& name) {
  if (name == "pmemobj_tx") return std::make_unique<PmemobjHarness>();
  if (name == "fs") return std::make_unique<FsHarness>();
#if NVOBJ_CONFORMANCE_CORE_BACKENDS
  if (name == "volatile") return std::make_unique<VolatileHarness>();
  if (name == "nvobj") return std::make_unique<NvobjHarness>();
#endif
  throw std::invalid_argument("no backend " + name);
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names = {"pmemobj_tx", "fs"};
#if NVOBJ_CONFORMANCE_CORE_BACKENDS
  names.insert(names.begin(), {"volatile", "nvobj"});
#endif
  return names;
}

// ---------------------------------------------------------------------------
// A model of a whole key space, and reading one back from a backend.

struct Value {
  ValueType type = ValueType::kNone;
  std::string str;
  std::map<std::string, std::string> hash;
  std::deque<std::string> list;
  std::map<std::string, double> zset;
  bool operator==(const Value&) const = default;
};
using Model = std::map<std::string, Value>;

// (score, member) order, as every backend must return it.
std::vector<std::pair<std::string, double>> zset_order(const std::map<std::string, double>& z) {
  std::vector<std::pair<std::string, double>> v(z.begin(), z.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second < b.second : a.first < b.first;
  });
  return v;
}

std::vector<std::string> list_of(Backend& b, std::string_view key) {
  std::vector<std::string> out;
  uint64_t n = 0;
  if (b.llen(key, &n) != Found::kOk) return out;
  EXPECT_EQ(b.lrange(key, 0, n, [&](std::string_view v) { out.emplace_back(v); }), Found::kOk);
  return out;
}

std::map<std::string, std::string> hash_of(Backend& b, std::string_view key) {
  std::map<std::string, std::string> out;
  size_t calls = 0;
  b.hscan(key, [&](std::string_view f, std::string_view v) {
    ++calls;
    out.emplace(f, v);
  });
  EXPECT_EQ(calls, out.size()) << "hscan gave a field twice";
  return out;
}

std::vector<std::pair<std::string, double>> zrange_all(Backend& b, std::string_view key,
                                                       bool reverse = false) {
  std::vector<std::pair<std::string, double>> out;
  uint64_t n = 0;
  if (b.zcard(key, &n) != Found::kOk) return out;
  b.zrange(key, 0, n, reverse, [&](std::string_view m, double s) { out.emplace_back(m, s); });
  return out;
}

Model dump(Backend& b) {
  Model m;
  std::vector<std::pair<std::string, ValueType>> keys;
  b.for_each_key([&](std::string_view k, ValueType t) { keys.emplace_back(k, t); });
  EXPECT_EQ(keys.size(), b.size());
  for (const auto& [k, t] : keys) {
    Value& v = m[k];
    EXPECT_EQ(v.type, ValueType::kNone) << "for_each_key gave a key twice";
    v.type = t;
    EXPECT_EQ(b.type(k), t);
    switch (t) {
      case ValueType::kString: EXPECT_EQ(b.get(k, &v.str), Found::kOk); break;
      case ValueType::kHash: {
        v.hash = hash_of(b, k);
        uint64_t n = 0;
        EXPECT_EQ(b.hlen(k, &n), Found::kOk);
        EXPECT_EQ(n, v.hash.size());
        break;
      }
      case ValueType::kList:
        for (auto& e : list_of(b, k)) v.list.push_back(e);
        break;
      case ValueType::kZSet: {
        auto order = zrange_all(b, k);
        for (const auto& [mem, s] : order) v.zset[mem] = s;
        EXPECT_EQ(order, zset_order(v.zset)) << "zrange out of (score, member) order";
        break;
      }
      case ValueType::kObject:  // never made here (module objects: dso_module_test)
      case ValueType::kNone: ADD_FAILURE() << "for_each_key gave type " << type_name(t); break;
    }
  }
  return m;
}

std::string describe(const Model& m) {
  std::string s;
  for (const auto& [k, v] : m) {
    s += k + ":" + std::string(1, "nshlz"[static_cast<int>(v.type)]) + " ";
  }
  return s;
}

void expect_state(Backend& b, const Model& want) {
  Model got = dump(b);
  EXPECT_EQ(got.size(), want.size()) << "got " << describe(got) << "\nwant " << describe(want);
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) {
      ADD_FAILURE() << "missing key " << k;
      continue;
    }
    EXPECT_TRUE(it->second == v) << "key " << k << " differs";
  }
}

// One random call on both the backend and the model, with the Found and
// results checked. Keys and fields come from small sets so that types
// collide and containers empty and come back.
class RandomOps {
 public:
  RandomOps(std::vector<std::string> keys, uint64_t seed) : keys_(std::move(keys)), rng_(seed) {}

  void step(Backend& b, Model& m) {
    std::string key = keys_[pick(keys_.size())];
    auto it = m.find(key);
    Value* v = it == m.end() ? nullptr : &it->second;
    auto expect_found = [&](ValueType want, Found got, const char* op) {
      Found exp =
          v == nullptr ? Found::kMissing : (v->type == want ? Found::kOk : Found::kWrongType);
      EXPECT_EQ(got, exp) << op << " on " << key;
      return got == Found::kOk;
    };
    auto erase_if_empty = [&] {
      if (v != nullptr && v->hash.empty() && v->list.empty() && v->zset.empty() &&
          v->type != ValueType::kString) {
        m.erase(key);
        v = nullptr;
      }
    };
    auto create = [&](ValueType t) -> bool {
      if (v != nullptr && v->type != t) return false;
      if (v == nullptr) {
        v = &m[key];
        v->type = t;
      }
      return true;
    };
    // Mostly calls of the key's own type (so containers grow and empty),
    // sometimes any call (kWrongType, creation of another type).
    static const std::vector<int> kByType[] = {
        {3},                        // none: del
        {0, 2, 3, 16},              // string: set, update, del, get
        {4, 5, 6, 6, 17},           // hash: hset, hdel, hget
        {7, 8, 9, 10, 11, 12, 18},  // list: push, pop, lset, linsert, lremove, lindex
        {13, 14, 15, 15, 19},       // zset: zadd, zrem, zscore
    };
    int op;
    if (pick(25) == 0) {
      op = 3;
    } else if (v != nullptr && pick(8) != 0) {
      const auto& ops = kByType[static_cast<int>(v->type)];
      op = ops[pick(ops.size())];
    } else {
      op = static_cast<int>(pick(20));
    }
    switch (op) {
      case 0:
      case 1: {
        std::string val = value();
        b.set(key, val);
        m[key] = Value{ValueType::kString, val, {}, {}, {}};
        break;
      }
      case 2: {
        bool write = pick(4) != 0;
        bool called = false;
        std::optional<std::string> seen;
        Found f = b.update(key, [&](std::optional<std::string_view> cur) {
          called = true;
          if (cur) seen = std::string(*cur);
          return write ? std::optional<std::string>(std::string(cur.value_or("")) + "+")
                       : std::nullopt;
        });
        if (v != nullptr && v->type != ValueType::kString) {
          EXPECT_EQ(f, Found::kWrongType);
          EXPECT_FALSE(called);
          break;
        }
        EXPECT_EQ(f, Found::kOk);
        EXPECT_TRUE(called);
        EXPECT_EQ(seen, v != nullptr ? std::optional<std::string>(v->str) : std::nullopt);
        if (write) m[key] = Value{ValueType::kString, seen.value_or("") + "+", {}, {}, {}};
        break;
      }
      case 3: {
        bool had = v != nullptr;
        EXPECT_EQ(b.del(key), had);
        m.erase(key);
        break;
      }
      case 4:
      case 5: {
        std::string f = field(), val = value();
        bool created = false;
        Found got = b.hset(key, f, val, &created);
        if (!create(ValueType::kHash)) {
          EXPECT_EQ(got, Found::kWrongType);
          break;
        }
        EXPECT_EQ(got, Found::kOk);
        EXPECT_EQ(created, !v->hash.contains(f));
        v->hash[f] = val;
        break;
      }
      case 6: {
        std::string f = field();
        Found got = b.hdel(key, f);
        if (v != nullptr && v->type == ValueType::kHash && !v->hash.contains(f)) {
          EXPECT_EQ(got, Found::kMissing);
          break;
        }
        if (expect_found(ValueType::kHash, got, "hdel")) {
          v->hash.erase(f);
          erase_if_empty();
        }
        break;
      }
      case 7:
      case 8: {
        bool front = pick(2) == 0;
        std::string val = value();
        uint64_t len = 0;
        Found got = b.push(key, front, val, &len);
        if (!create(ValueType::kList)) {
          EXPECT_EQ(got, Found::kWrongType);
          break;
        }
        EXPECT_EQ(got, Found::kOk);
        front ? v->list.push_front(val) : v->list.push_back(val);
        EXPECT_EQ(len, v->list.size());
        break;
      }
      case 9: {
        bool front = pick(2) == 0;
        std::string out;
        if (expect_found(ValueType::kList, b.pop(key, front, &out), "pop")) {
          EXPECT_EQ(out, front ? v->list.front() : v->list.back());
          front ? v->list.pop_front() : v->list.pop_back();
          erase_if_empty();
        }
        break;
      }
      case 10: {
        uint64_t n = v != nullptr ? v->list.size() : 0;
        uint64_t i = pick(n + 2);
        std::string val = value();
        Found got = b.lset(key, i, val);
        if (v != nullptr && v->type == ValueType::kList && i >= n) {
          EXPECT_EQ(got, Found::kMissing);
          break;
        }
        if (expect_found(ValueType::kList, got, "lset")) v->list[i] = val;
        break;
      }
      case 11: {
        uint64_t n = v != nullptr ? v->list.size() : 0;
        // Mostly next to the same few places, so positions get fractions.
        uint64_t i = pick(4) == 0 ? pick(n + 1) : std::min<uint64_t>(n, 1);
        bool after = pick(2) == 0;
        std::string val = value();
        Found got = b.linsert(key, i, after, val);
        if (v != nullptr && v->type == ValueType::kList && i >= n) {
          EXPECT_EQ(got, Found::kMissing);
          break;
        }
        if (expect_found(ValueType::kList, got, "linsert")) {
          v->list.insert(v->list.begin() + static_cast<ptrdiff_t>(i + (after ? 1 : 0)), val);
        }
        break;
      }
      case 12: {
        uint64_t n = v != nullptr ? v->list.size() : 0;
        uint64_t i = pick(n + 1);
        Found got = b.lremove(key, i);
        if (v != nullptr && v->type == ValueType::kList && i >= n) {
          EXPECT_EQ(got, Found::kMissing);
          break;
        }
        if (expect_found(ValueType::kList, got, "lremove")) {
          v->list.erase(v->list.begin() + static_cast<ptrdiff_t>(i));
          erase_if_empty();
        }
        break;
      }
      case 13:
      case 14: {
        std::string mem = field();
        double s = score();
        bool created = false;
        Found got = b.zadd(key, mem, s, &created);
        if (!create(ValueType::kZSet)) {
          EXPECT_EQ(got, Found::kWrongType);
          break;
        }
        EXPECT_EQ(got, Found::kOk);
        EXPECT_EQ(created, !v->zset.contains(mem));
        v->zset[mem] = s;
        break;
      }
      case 15: {
        std::string mem = field();
        Found got = b.zrem(key, mem);
        if (v != nullptr && v->type == ValueType::kZSet && !v->zset.contains(mem)) {
          EXPECT_EQ(got, Found::kMissing);
          break;
        }
        if (expect_found(ValueType::kZSet, got, "zrem")) {
          v->zset.erase(mem);
          erase_if_empty();
        }
        break;
      }
      case 16: {
        std::string out;
        if (expect_found(ValueType::kString, b.get(key, &out), "get")) {
          EXPECT_EQ(out, v->str);
        }
        break;
      }
      case 17: {
        std::string f = field(), out;
        Found got = b.hget(key, f, &out);
        if (v != nullptr && v->type == ValueType::kHash && !v->hash.contains(f)) {
          EXPECT_EQ(got, Found::kMissing);
        } else if (expect_found(ValueType::kHash, got, "hget")) {
          EXPECT_EQ(out, v->hash[f]);
        }
        break;
      }
      case 18: {
        uint64_t n = v != nullptr ? v->list.size() : 0;
        uint64_t i = pick(n + 1);
        std::string out;
        Found got = b.lindex(key, i, &out);
        if (v != nullptr && v->type == ValueType::kList && i >= n) {
          EXPECT_EQ(got, Found::kMissing);
        } else if (expect_found(ValueType::kList, got, "lindex")) {
          EXPECT_EQ(out, v->list[i]);
        }
        break;
      }
      case 19: {
        std::string mem = field();
        double s = 0;
        Found got = b.zscore(key, mem, &s);
        if (v != nullptr && v->type == ValueType::kZSet && !v->zset.contains(mem)) {
          EXPECT_EQ(got, Found::kMissing);
        } else if (expect_found(ValueType::kZSet, got, "zscore")) {
          EXPECT_EQ(s, v->zset[mem]);
        }
        break;
      }
    }
  }

 private:
  uint64_t pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  std::string value() {
    switch (pick(8)) {
      case 0: return "";
      case 1: return std::string(300 + pick(700), static_cast<char>('a' + pick(26)));
      case 2: return std::string("bin\0\xff", 5);
      default: return "v" + std::to_string(pick(100000));
    }
  }
  std::string field() { return pick(10) == 0 ? std::string() : "f" + std::to_string(pick(12)); }
  double score() {
    switch (pick(10)) {
      case 0: return kInf;
      case 1: return -kInf;
      case 2: return 0.5;  // ties, ordered by member
      default: return static_cast<double>(static_cast<int64_t>(pick(40)) - 20) / 4;
    }
  }

  std::vector<std::string> keys_;
  std::mt19937_64 rng_;
};

// ---------------------------------------------------------------------------

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    harness_ = make_harness(GetParam());
    b_ = harness_->open();
  }
  void TearDown() override {
    b_.reset();
    harness_->close();
  }
  void reopen() {
    b_.reset();
    harness_->close();
    b_ = harness_->open();
  }
  bool persistent() const { return harness_->persistent(); }
  Backend& b() { return *b_; }

  void make(std::string_view key, ValueType t) {
    bool created = false;
    uint64_t len = 0;
    switch (t) {
      case ValueType::kString: b().set(key, "s"); break;
      case ValueType::kHash: ASSERT_EQ(b().hset(key, "f", "v", &created), Found::kOk); break;
      case ValueType::kList: ASSERT_EQ(b().push(key, false, "e", &len), Found::kOk); break;
      case ValueType::kZSet: ASSERT_EQ(b().zadd(key, "m", 1, &created), Found::kOk); break;
      case ValueType::kObject:
      case ValueType::kNone: break;
    }
    ASSERT_EQ(b().type(key), t);
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Backend> b_;
};

TEST_P(BackendTest, NameAndInfo) {
  std::string n(b().name());
  std::string want = GetParam() == "pmemobj_tx" ? "pmemobj-tx" : GetParam();
  EXPECT_EQ(n, want);
  std::string info = b().info();
  // Zero or more "field:value\r\n" lines.
  for (size_t at = 0; at < info.size();) {
    size_t end = info.find("\r\n", at);
    ASSERT_NE(end, std::string::npos) << info;
    EXPECT_NE(info.substr(at, end - at).find(':'), std::string::npos) << info;
    at = end + 2;
  }
}

TEST_P(BackendTest, AbsentKeyIsMissingEverywhere) {
  std::string s;
  uint64_t n = 7;
  double d = 0;
  int calls = 0;
  auto count = [&](auto&&...) { ++calls; };
  EXPECT_EQ(b().size(), 0u);
  EXPECT_EQ(b().type("k"), ValueType::kNone);
  EXPECT_FALSE(b().del("k"));
  EXPECT_EQ(b().get("k", &s), Found::kMissing);
  EXPECT_EQ(b().hget("k", "f", &s), Found::kMissing);
  EXPECT_EQ(b().hdel("k", "f"), Found::kMissing);
  EXPECT_EQ(b().hlen("k", &n), Found::kMissing);
  EXPECT_EQ(b().hscan("k", count), Found::kMissing);
  EXPECT_EQ(b().llen("k", &n), Found::kMissing);
  EXPECT_EQ(b().lindex("k", 0, &s), Found::kMissing);
  EXPECT_EQ(b().lset("k", 0, "x"), Found::kMissing);
  EXPECT_EQ(b().pop("k", true, &s), Found::kMissing);
  EXPECT_EQ(b().pop("k", false, &s), Found::kMissing);
  EXPECT_EQ(b().lrange("k", 0, 10, count), Found::kMissing);
  EXPECT_EQ(b().linsert("k", 0, true, "x"), Found::kMissing);
  EXPECT_EQ(b().lremove("k", 0), Found::kMissing);
  EXPECT_EQ(b().zscore("k", "m", &d), Found::kMissing);
  EXPECT_EQ(b().zrem("k", "m"), Found::kMissing);
  EXPECT_EQ(b().zcard("k", &n), Found::kMissing);
  EXPECT_EQ(b().zrange("k", 0, 10, false, count), Found::kMissing);
  EXPECT_EQ(b().zrange_by_score("k", {-kInf}, {kInf}, false, 0, -1, count), Found::kMissing);
  EXPECT_EQ(calls, 0);
  // None of it created the key.
  EXPECT_EQ(b().size(), 0u);
  EXPECT_EQ(b().type("k"), ValueType::kNone);
}

// Every typed call on a key of every other type: kWrongType and no change.
TEST_P(BackendTest, WrongTypeForEveryTypedCall) {
  const ValueType kTypes[] = {ValueType::kString, ValueType::kHash, ValueType::kList,
                              ValueType::kZSet};
  for (ValueType t : kTypes) {
    SCOPED_TRACE(std::string(1, "nshlz"[static_cast<int>(t)]));
    b().flush_all();
    make("k", t);
    Model before = dump(b());
    std::string s;
    uint64_t n = 0;
    double d = 0;
    bool created = false;
    int calls = 0;
    auto count = [&](auto&&...) { ++calls; };
    auto expect = [&](ValueType call_type, Found f, const char* op) {
      if (call_type != t) {
        EXPECT_EQ(f, Found::kWrongType) << op;
      }
    };
    expect(ValueType::kString, b().get("k", &s), "get");
    expect(ValueType::kString,
           b().update("k",
                      [&](auto) {
                        ++calls;
                        return std::nullopt;
                      }),
           "update");
    expect(ValueType::kHash, b().hget("k", "f", &s), "hget");
    if (t != ValueType::kHash) expect(ValueType::kHash, b().hset("k", "g", "v", &created), "hset");
    if (t != ValueType::kHash) expect(ValueType::kHash, b().hdel("k", "f"), "hdel");
    expect(ValueType::kHash, b().hlen("k", &n), "hlen");
    if (t != ValueType::kHash) expect(ValueType::kHash, b().hscan("k", count), "hscan");
    expect(ValueType::kList, b().llen("k", &n), "llen");
    expect(ValueType::kList, b().lindex("k", 0, &s), "lindex");
    if (t != ValueType::kList) {
      expect(ValueType::kList, b().lset("k", 0, "x"), "lset");
      expect(ValueType::kList, b().push("k", true, "x", &n), "push front");
      expect(ValueType::kList, b().push("k", false, "x", &n), "push back");
      expect(ValueType::kList, b().pop("k", true, &s), "pop front");
      expect(ValueType::kList, b().pop("k", false, &s), "pop back");
      expect(ValueType::kList, b().lrange("k", 0, 10, count), "lrange");
      expect(ValueType::kList, b().linsert("k", 0, false, "x"), "linsert");
      expect(ValueType::kList, b().lremove("k", 0), "lremove");
    }
    expect(ValueType::kZSet, b().zscore("k", "m", &d), "zscore");
    if (t != ValueType::kZSet) {
      expect(ValueType::kZSet, b().zadd("k", "n", 2, &created), "zadd");
      expect(ValueType::kZSet, b().zrem("k", "m"), "zrem");
      expect(ValueType::kZSet, b().zrange("k", 0, 10, false, count), "zrange");
      expect(ValueType::kZSet, b().zrange_by_score("k", {-kInf}, {kInf}, true, 0, -1, count),
             "zrange_by_score");
    }
    expect(ValueType::kZSet, b().zcard("k", &n), "zcard");
    if (t != ValueType::kString) {
      EXPECT_EQ(calls, 0) << "a callback ran on a wrong type";
    }
    expect_state(b(), before);
    // set replaces a value of any type.
    b().set("k", "now a string");
    EXPECT_EQ(b().type("k"), ValueType::kString);
    EXPECT_EQ(b().get("k", &s), Found::kOk);
    EXPECT_EQ(s, "now a string");
    EXPECT_EQ(b().size(), 1u);
  }
}

TEST_P(BackendTest, Strings) {
  std::string s;
  b().set("a", "1");
  b().set("b", "");
  EXPECT_EQ(b().get("a", &s), Found::kOk);
  EXPECT_EQ(s, "1");
  EXPECT_EQ(b().get("b", &s), Found::kOk);
  EXPECT_EQ(s, "");
  b().set("a", "2");  // same size
  b().set("a", std::string(5000, 'x'));
  EXPECT_EQ(b().get("a", &s), Found::kOk);
  EXPECT_EQ(s, std::string(5000, 'x'));
  EXPECT_EQ(b().size(), 2u);
  EXPECT_TRUE(b().del("a"));
  EXPECT_FALSE(b().del("a"));
  EXPECT_EQ(b().size(), 1u);
  // Binary keys and values.
  std::string key("k\0\xff", 3), val("\0\0\x01", 3);
  b().set(key, val);
  EXPECT_EQ(b().get(key, &s), Found::kOk);
  EXPECT_EQ(s, val);
  EXPECT_EQ(b().get(std::string("k\0", 2), &s), Found::kMissing);
  b().set("", "empty key");
  EXPECT_EQ(b().get("", &s), Found::kOk);
  EXPECT_EQ(s, "empty key");
}

TEST_P(BackendTest, Update) {
  std::optional<std::string> seen = "unset";
  // Absent, fn declines: nothing is created.
  EXPECT_EQ(b().update("n",
                       [&](std::optional<std::string_view> cur) {
                         seen = cur ? std::optional<std::string>(std::string(*cur)) : std::nullopt;
                         return std::nullopt;
                       }),
            Found::kOk);
  EXPECT_EQ(seen, std::nullopt);
  EXPECT_EQ(b().type("n"), ValueType::kNone);
  // Absent, fn writes: created.
  EXPECT_EQ(b().update("n", [](auto) { return std::optional<std::string>("1"); }), Found::kOk);
  std::string s;
  EXPECT_EQ(b().get("n", &s), Found::kOk);
  EXPECT_EQ(s, "1");
  // Present: fn sees the value; a counter.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(b().update("n",
                         [](std::optional<std::string_view> cur) {
                           return std::optional<std::string>(
                               std::to_string(std::stoll(std::string(*cur)) + 1));
                         }),
              Found::kOk);
  }
  EXPECT_EQ(b().get("n", &s), Found::kOk);
  EXPECT_EQ(s, "21");
  // Present, fn declines: unchanged.
  EXPECT_EQ(b().update("n", [](auto) { return std::nullopt; }), Found::kOk);
  EXPECT_EQ(b().get("n", &s), Found::kOk);
  EXPECT_EQ(s, "21");
}

TEST_P(BackendTest, Hashes) {
  bool created = false;
  uint64_t n = 0;
  std::string s;
  EXPECT_EQ(b().hset("h", "a", "1", &created), Found::kOk);
  EXPECT_TRUE(created);
  EXPECT_EQ(b().type("h"), ValueType::kHash);
  EXPECT_EQ(b().hset("h", "a", "2", &created), Found::kOk);  // same size
  EXPECT_FALSE(created);
  EXPECT_EQ(b().hset("h", "a", "longer value", &created), Found::kOk);
  EXPECT_FALSE(created);
  EXPECT_EQ(b().hset("h", "", "", &created), Found::kOk);  // empty field and value
  EXPECT_TRUE(created);
  EXPECT_EQ(b().hget("h", "a", &s), Found::kOk);
  EXPECT_EQ(s, "longer value");
  EXPECT_EQ(b().hget("h", "", &s), Found::kOk);
  EXPECT_EQ(s, "");
  EXPECT_EQ(b().hget("h", "zz", &s), Found::kMissing);
  EXPECT_EQ(b().hlen("h", &n), Found::kOk);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(b().hdel("h", "zz"), Found::kMissing);
  EXPECT_EQ(b().hdel("h", "a"), Found::kOk);
  EXPECT_EQ(b().hdel("h", "a"), Found::kMissing);
  EXPECT_EQ(b().type("h"), ValueType::kHash);
  EXPECT_EQ(b().hdel("h", ""), Found::kOk);
  // Empty: deleted.
  EXPECT_EQ(b().type("h"), ValueType::kNone);
  EXPECT_EQ(b().size(), 0u);
  EXPECT_EQ(b().hlen("h", &n), Found::kMissing);
  // Comes back as a new hash.
  EXPECT_EQ(b().hset("h", "x", "y", &created), Found::kOk);
  EXPECT_TRUE(created);
  EXPECT_EQ(hash_of(b(), "h"), (std::map<std::string, std::string>{{"x", "y"}}));
}

// hscan gives every field once, while the hash grows past many splits.
TEST_P(BackendTest, HscanIsComplete) {
  std::map<std::string, std::string> want;
  bool created = false;
  for (int i = 0; i < 3000; ++i) {
    std::string f = "field:" + std::to_string(i * 7919 % 3001);
    std::string v = std::string(static_cast<size_t>(i % 50), 'v') + std::to_string(i);
    ASSERT_EQ(b().hset("h", f, v, &created), Found::kOk);
    EXPECT_EQ(created, !want.contains(f));
    want[f] = v;
    if (i % 500 == 0) {
      EXPECT_EQ(hash_of(b(), "h"), want);
    }
  }
  EXPECT_EQ(hash_of(b(), "h"), want);
  for (int i = 0; i < 3000; i += 3) {
    std::string f = "field:" + std::to_string(i);
    Found got = b().hdel("h", f);
    EXPECT_EQ(got, want.erase(f) == 1 ? Found::kOk : Found::kMissing);
  }
  EXPECT_EQ(hash_of(b(), "h"), want);
  uint64_t n = 0;
  EXPECT_EQ(b().hlen("h", &n), Found::kOk);
  EXPECT_EQ(n, want.size());
}

TEST_P(BackendTest, Lists) {
  uint64_t len = 0;
  std::string s;
  using V = std::vector<std::string>;
  EXPECT_EQ(b().push("l", false, "b", &len), Found::kOk);
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(b().type("l"), ValueType::kList);
  EXPECT_EQ(b().push("l", false, "c", &len), Found::kOk);
  EXPECT_EQ(b().push("l", true, "a", &len), Found::kOk);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(list_of(b(), "l"), (V{"a", "b", "c"}));
  EXPECT_EQ(b().lindex("l", 0, &s), Found::kOk);
  EXPECT_EQ(s, "a");
  EXPECT_EQ(b().lindex("l", 2, &s), Found::kOk);
  EXPECT_EQ(s, "c");
  EXPECT_EQ(b().lindex("l", 3, &s), Found::kMissing);
  EXPECT_EQ(b().lset("l", 1, "B"), Found::kOk);
  EXPECT_EQ(b().lset("l", 1, "BBBBBBBB"), Found::kOk);  // another size
  EXPECT_EQ(b().lset("l", 3, "x"), Found::kMissing);
  // linsert before/after, at both ends and in the middle.
  EXPECT_EQ(b().linsert("l", 0, false, "first"), Found::kOk);
  EXPECT_EQ(b().linsert("l", 3, true, "last"), Found::kOk);
  EXPECT_EQ(b().linsert("l", 1, true, "a2"), Found::kOk);
  EXPECT_EQ(b().linsert("l", 4, false, "c0"), Found::kOk);
  EXPECT_EQ(b().linsert("l", 7, false, "x"), Found::kMissing);
  EXPECT_EQ(list_of(b(), "l"), (V{"first", "a", "a2", "BBBBBBBB", "c0", "c", "last"}));
  // lrange bounds.
  V got;
  auto collect = [&](std::string_view v) { got.emplace_back(v); };
  EXPECT_EQ(b().lrange("l", 2, 4, collect), Found::kOk);
  EXPECT_EQ(got, (V{"a2", "BBBBBBBB"}));
  got.clear();
  EXPECT_EQ(b().lrange("l", 3, 3, collect), Found::kOk);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(b().lrange("l", 5, 7, collect), Found::kOk);
  EXPECT_EQ(got, (V{"c", "last"}));
  got.clear();
  EXPECT_EQ(b().lrange("l", 6, 2, collect), Found::kOk);
  EXPECT_TRUE(got.empty());
  // lremove and pop.
  EXPECT_EQ(b().lremove("l", 7), Found::kMissing);
  EXPECT_EQ(b().lremove("l", 3), Found::kOk);
  EXPECT_EQ(b().lremove("l", 0), Found::kOk);
  EXPECT_EQ(b().pop("l", false, &s), Found::kOk);
  EXPECT_EQ(s, "last");
  EXPECT_EQ(b().pop("l", true, &s), Found::kOk);
  EXPECT_EQ(s, "a");
  EXPECT_EQ(list_of(b(), "l"), (V{"a2", "c0", "c"}));
  EXPECT_EQ(b().llen("l", &len), Found::kOk);
  EXPECT_EQ(len, 3u);
  // Emptied by pop and by lremove: deleted.
  EXPECT_EQ(b().pop("l", true, &s), Found::kOk);
  EXPECT_EQ(b().lremove("l", 1), Found::kOk);
  EXPECT_EQ(b().type("l"), ValueType::kList);
  EXPECT_EQ(b().pop("l", false, &s), Found::kOk);
  EXPECT_EQ(s, "c0");
  EXPECT_EQ(b().type("l"), ValueType::kNone);
  EXPECT_EQ(b().push("m", true, "only", &len), Found::kOk);
  EXPECT_EQ(b().lremove("m", 0), Found::kOk);
  EXPECT_EQ(b().type("m"), ValueType::kNone);
  EXPECT_EQ(b().size(), 0u);
}

// Many insertions next to the same element (positions with long fractions
// where a backend uses them) mixed with pushes at both ends, against a deque.
TEST_P(BackendTest, ListInsertionsAtOnePlace) {
  std::deque<std::string> model;
  uint64_t len = 0;
  std::mt19937 rng(11);
  for (int i = 0; i < 800; ++i) {
    std::string v = "j" + std::to_string(i);
    if (model.empty() || rng() % 5 == 0) {
      bool front = rng() % 2 == 0;
      ASSERT_EQ(b().push("l", front, v, &len), Found::kOk);
      front ? model.push_front(v) : model.push_back(v);
      continue;
    }
    uint64_t k = rng() % 3 == 0 ? rng() % model.size() : std::min<uint64_t>(1, model.size() - 1);
    bool after = rng() % 2 == 0;
    ASSERT_EQ(b().linsert("l", k, after, v), Found::kOk);
    model.insert(model.begin() + static_cast<ptrdiff_t>(k + (after ? 1 : 0)), v);
  }
  std::vector<std::string> want(model.begin(), model.end());
  EXPECT_EQ(list_of(b(), "l"), want);
  for (uint64_t i = 0; i < model.size(); i += 37) {
    std::string s;
    ASSERT_EQ(b().lindex("l", i, &s), Found::kOk);
    EXPECT_EQ(s, model[i]);
  }
  if (persistent()) {
    reopen();
    EXPECT_EQ(list_of(b(), "l"), want);
  }
}

TEST_P(BackendTest, SortedSetOrder) {
  bool created = false;
  using Z = std::vector<std::pair<std::string, double>>;
  ASSERT_EQ(b().zadd("z", "b", 1, &created), Found::kOk);
  EXPECT_TRUE(created);
  EXPECT_EQ(b().type("z"), ValueType::kZSet);
  b().zadd("z", "a", 1, &created);  // tie: by member bytes
  b().zadd("z", "c", 1, &created);
  b().zadd("z", std::string("\xff", 1), 1, &created);  // bytes compare unsigned
  b().zadd("z", std::string("a\0", 2), 1, &created);
  b().zadd("z", "top", kInf, &created);
  b().zadd("z", "bottom", -kInf, &created);
  b().zadd("z", "neg", -2.5, &created);
  b().zadd("z", "zero", 0, &created);
  Z want = {{"bottom", -kInf},
            {"neg", -2.5},
            {"zero", 0},
            {"a", 1},
            {std::string("a\0", 2), 1},
            {"b", 1},
            {"c", 1},
            {std::string("\xff", 1), 1},
            {"top", kInf}};
  EXPECT_EQ(zrange_all(b(), "z"), want);
  Z rev(want.rbegin(), want.rend());
  EXPECT_EQ(zrange_all(b(), "z", true), rev);
  uint64_t n = 0;
  EXPECT_EQ(b().zcard("z", &n), Found::kOk);
  EXPECT_EQ(n, want.size());
  // Re-adding: same score changes nothing; a new score moves the member.
  EXPECT_EQ(b().zadd("z", "b", 1, &created), Found::kOk);
  EXPECT_FALSE(created);
  EXPECT_EQ(zrange_all(b(), "z"), want);
  EXPECT_EQ(b().zadd("z", "b", -3, &created), Found::kOk);
  EXPECT_FALSE(created);
  double s = 0;
  EXPECT_EQ(b().zscore("z", "b", &s), Found::kOk);
  EXPECT_EQ(s, -3);
  EXPECT_EQ(b().zscore("z", "top", &s), Found::kOk);
  EXPECT_EQ(s, kInf);
  EXPECT_EQ(b().zscore("z", "nope", &s), Found::kMissing);
  want.erase(want.begin() + 5);
  want.insert(want.begin() + 1, {"b", -3});
  EXPECT_EQ(zrange_all(b(), "z"), want);
  // A score change that keeps the member's place.
  EXPECT_EQ(b().zadd("z", "zero", 0.25, &created), Found::kOk);
  want[3].second = 0.25;
  EXPECT_EQ(zrange_all(b(), "z"), want);

  // zrange bounds, both directions.
  Z got;
  auto collect = [&](std::string_view m, double sc) { got.emplace_back(m, sc); };
  EXPECT_EQ(b().zrange("z", 2, 5, false, collect), Found::kOk);
  EXPECT_EQ(got, Z(want.begin() + 2, want.begin() + 5));
  got.clear();
  EXPECT_EQ(b().zrange("z", 2, 5, true, collect), Found::kOk);
  rev.assign(want.rbegin(), want.rend());
  EXPECT_EQ(got, Z(rev.begin() + 2, rev.begin() + 5));
  got.clear();
  EXPECT_EQ(b().zrange("z", 4, 4, false, collect), Found::kOk);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(b().zrange("z", 8, want.size(), false, collect), Found::kOk);
  EXPECT_EQ(got, Z(want.begin() + 8, want.end()));
  got.clear();
  EXPECT_EQ(b().zrange("z", 0, 1, true, collect), Found::kOk);
  EXPECT_EQ(got, Z{want.back()});

  // zrem, and deletion when empty.
  EXPECT_EQ(b().zrem("z", "nope"), Found::kMissing);
  for (const auto& [m, sc] : want) EXPECT_EQ(b().zrem("z", m), Found::kOk) << m;
  EXPECT_EQ(b().type("z"), ValueType::kNone);
  EXPECT_EQ(b().size(), 0u);
}

TEST_P(BackendTest, SortedSetScoreRanges) {
  using Z = std::vector<std::pair<std::string, double>>;
  bool created = false;
  std::map<std::string, double> model;
  for (int i = 0; i < 40; ++i) {
    std::string m = "m" + std::to_string(i);
    double s = (i % 10) * 0.5;  // ten scores, four members each
    if (i == 38) s = kInf;
    if (i == 39) s = -kInf;
    ASSERT_EQ(b().zadd("z", m, s, &created), Found::kOk);
    model[m] = s;
  }
  Z all = zset_order(model);
  auto range = [&](ScoreBound min, ScoreBound max, bool reverse, uint64_t offset, int64_t count) {
    Z got;
    EXPECT_EQ(b().zrange_by_score("z", min, max, reverse, offset, count,
                                  [&](std::string_view m, double s) { got.emplace_back(m, s); }),
              Found::kOk);
    return got;
  };
  auto expected = [&](ScoreBound min, ScoreBound max, bool reverse, uint64_t offset,
                      int64_t count) {
    Z in;
    for (const auto& e : all) {
      bool lo = min.exclusive ? e.second > min.value : e.second >= min.value;
      bool hi = max.exclusive ? e.second < max.value : e.second <= max.value;
      if (lo && hi) in.push_back(e);
    }
    if (reverse) std::reverse(in.begin(), in.end());
    Z out;
    for (uint64_t i = offset; i < in.size() && (count < 0 || out.size() < uint64_t(count)); ++i) {
      out.push_back(in[i]);
    }
    return out;
  };
  const ScoreBound kBounds[] = {{-kInf},     {-kInf, true}, {0},    {0, true},
                                {1.5},       {1.5, true},   {1.75}, {4.5},
                                {4.5, true}, {kInf, true},  {kInf}};
  for (ScoreBound lo : kBounds) {
    for (ScoreBound hi : kBounds) {
      for (bool reverse : {false, true}) {
        for (auto [offset, count] :
             {std::pair<uint64_t, int64_t>{0, -1}, {0, 0}, {0, 3}, {2, -1}, {5, 2}, {100, -1}}) {
          EXPECT_EQ(range(lo, hi, reverse, offset, count), expected(lo, hi, reverse, offset, count))
              << (lo.exclusive ? "(" : "[") << lo.value << " " << hi.value
              << (hi.exclusive ? ")" : "]") << " reverse " << reverse << " offset " << offset
              << " count " << count;
        }
      }
    }
  }
  // Ranks against the model on a bigger set with random scores and ties.
  std::mt19937 rng(3);
  for (int i = 0; i < 1500; ++i) {
    std::string m = "r" + std::to_string(rng() % 1000);
    double s = static_cast<double>(rng() % 200) / 8;
    b().zadd("z", m, s, &created);
    model[m] = s;
    if (rng() % 7 == 0) {
      std::string gone = "r" + std::to_string(rng() % 1000);
      Found f = b().zrem("z", gone);
      EXPECT_EQ(f, model.erase(gone) == 1 ? Found::kOk : Found::kMissing);
    }
  }
  all = zset_order(model);
  EXPECT_EQ(zrange_all(b(), "z"), all);
  for (uint64_t from = 0; from < all.size(); from += 97) {
    Z got;
    uint64_t to = std::min<uint64_t>(all.size(), from + 5);
    b().zrange("z", from, to, true, [&](std::string_view m, double s) { got.emplace_back(m, s); });
    Z want;
    for (uint64_t r = from; r < to; ++r) want.push_back(all[all.size() - 1 - r]);
    EXPECT_EQ(got, want) << "reverse from " << from;
  }
}

TEST_P(BackendTest, KeySpace) {
  make("s", ValueType::kString);
  make("h", ValueType::kHash);
  make("l", ValueType::kList);
  make("z", ValueType::kZSet);
  EXPECT_EQ(b().size(), 4u);
  std::map<std::string, ValueType> seen;
  b().for_each_key([&](std::string_view k, ValueType t) {
    EXPECT_TRUE(seen.emplace(k, t).second) << "twice: " << k;
  });
  EXPECT_EQ(seen, (std::map<std::string, ValueType>{{"s", ValueType::kString},
                                                    {"h", ValueType::kHash},
                                                    {"l", ValueType::kList},
                                                    {"z", ValueType::kZSet}}));
  for (const char* k : {"s", "h", "l", "z"}) EXPECT_TRUE(b().del(k));
  EXPECT_EQ(b().size(), 0u);
  for (int i = 0; i < 2000; ++i) b().set("k" + std::to_string(i), std::to_string(i));
  EXPECT_EQ(b().size(), 2000u);
  size_t n = 0;
  b().for_each_key([&](std::string_view, ValueType t) {
    ++n;
    EXPECT_EQ(t, ValueType::kString);
  });
  EXPECT_EQ(n, 2000u);
  make("h", ValueType::kHash);
  b().flush_all();
  EXPECT_EQ(b().size(), 0u);
  EXPECT_EQ(b().type("k5"), ValueType::kNone);
  EXPECT_EQ(b().type("h"), ValueType::kNone);
  // Works on after a flush.
  make("h", ValueType::kHash);
  b().set("k5", "again");
  EXPECT_EQ(b().size(), 2u);
  if (persistent()) {
    reopen();
    EXPECT_EQ(b().size(), 2u);
    std::string s;
    EXPECT_EQ(b().get("k5", &s), Found::kOk);
    EXPECT_EQ(s, "again");
  }
}

// Containers the size redis-benchmark makes: O(1)-ish ends, deletion whole.
TEST_P(BackendTest, LargeContainers) {
  uint64_t len = 0;
  bool created = false;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(b().push("list", i % 2 == 0, std::to_string(i), &len), Found::kOk);
    ASSERT_EQ(b().hset("hash", "f" + std::to_string(i), std::to_string(i), &created), Found::kOk);
    ASSERT_EQ(b().zadd("zset", "m" + std::to_string(i), i % 100, &created), Found::kOk);
  }
  EXPECT_EQ(len, 20000u);
  std::string s;
  EXPECT_EQ(b().lindex("list", 10000, &s), Found::kOk);
  EXPECT_EQ(s, "1");  // odd values appended, even ones prepended
  uint64_t n = 0;
  EXPECT_EQ(b().hlen("hash", &n), Found::kOk);
  EXPECT_EQ(n, 20000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(b().pop("list", i % 3 == 0, &s), Found::kOk);
  EXPECT_EQ(b().llen("list", &n), Found::kOk);
  EXPECT_EQ(n, 15000u);
  if (persistent()) reopen();
  EXPECT_EQ(b().zcard("zset", &n), Found::kOk);
  EXPECT_EQ(n, 20000u);
  EXPECT_TRUE(b().del("list"));
  EXPECT_TRUE(b().del("hash"));
  b().set("zset", "replaced whole");
  EXPECT_EQ(b().size(), 1u);
}

// Random calls against the model; full state compared regularly and, on
// the persistent backends, across several close/reopen cycles.
TEST_P(BackendTest, RandomOpsAgainstModelAcrossReopen) {
  std::vector<std::string> keys;
  for (int i = 0; i < 24; ++i) keys.push_back("key" + std::to_string(i));
  RandomOps ops(keys, 42);
  Model model;
  const int kCycles = persistent() ? 5 : 1;
  std::set<ValueType> seen;  // the run must exercise every type
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    for (int i = 0; i < 1500; ++i) {
      ops.step(b(), model);
      if (HasFailure()) return;
      if (i % 50 == 0) {
        for (const auto& [k, v] : model) seen.insert(v.type);
      }
    }
    EXPECT_EQ(seen.size(), 4u);
    expect_state(b(), model);
    if (persistent()) {
      reopen();
      expect_state(b(), model);
    }
  }
}

// Threads on their own keys, and on shared keys under a per-key lock the
// test takes as the command layer does (shared for reads, exclusive for
// writes). Final state checked, then again after a reopen.
TEST_P(BackendTest, Concurrency) {
  constexpr int kThreads = 4;
  constexpr int kOps = 1500;
  const std::vector<std::string> shared = {"shared:list", "shared:hash", "shared:zset",
                                           "shared:counter"};
  std::vector<std::shared_mutex> locks(shared.size());
  std::vector<Model> models(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::string> mine;
      for (int i = 0; i < 8; ++i) mine.push_back("t" + std::to_string(t) + ":" + std::to_string(i));
      RandomOps ops(mine, 1000 + t);
      std::mt19937 rng(t);
      for (int i = 0; i < kOps; ++i) {
        ops.step(b(), models[t]);
        std::string tag = std::to_string(t) + ":" + std::to_string(i);
        size_t k = rng() % shared.size();
        bool read = rng() % 3 == 0;
        if (read) {
          std::shared_lock lock(locks[k]);
          uint64_t n = 0;
          std::string s;
          switch (k) {
            case 0: b().llen(shared[k], &n); break;
            case 1: hash_of(b(), shared[k]); break;
            case 2: zrange_all(b(), shared[k]); break;
            default: b().get(shared[k], &s); break;
          }
          continue;
        }
        std::unique_lock lock(locks[k]);
        uint64_t len = 0;
        bool created = false;
        switch (k) {
          case 0: EXPECT_EQ(b().push(shared[k], i % 2 == 0, tag, &len), Found::kOk); break;
          case 1: EXPECT_EQ(b().hset(shared[k], tag, tag, &created), Found::kOk); break;
          case 2: EXPECT_EQ(b().zadd(shared[k], tag, i, &created), Found::kOk); break;
          default:
            EXPECT_EQ(b().update(shared[k],
                                 [](std::optional<std::string_view> cur) {
                                   int64_t v = cur ? std::stoll(std::string(*cur)) : 0;
                                   return std::optional<std::string>(std::to_string(v + 1));
                                 }),
                      Found::kOk);
            break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  // What the shared keys must hold: replay the same choices.
  std::vector<std::string> list_items, fields, members;
  int64_t counter = 0;
  for (int t = 0; t < kThreads; ++t) {
    std::mt19937 rng(t);
    for (int i = 0; i < kOps; ++i) {
      std::string tag = std::to_string(t) + ":" + std::to_string(i);
      size_t k = rng() % shared.size();
      if (rng() % 3 == 0) continue;
      if (k == 0) list_items.push_back(tag);
      if (k == 1) fields.push_back(tag);
      if (k == 2) members.push_back(tag);
      if (k == 3) ++counter;
    }
  }
  auto check = [&] {
    Model all;
    for (const Model& m : models) all.insert(m.begin(), m.end());
    Model got = dump(b());
    for (const auto& k : shared) got.erase(k);
    EXPECT_EQ(got.size(), all.size());
    for (const auto& [k, v] : all) EXPECT_TRUE(got.contains(k) && got[k] == v) << k;
    std::vector<std::string> l = list_of(b(), "shared:list");
    std::sort(l.begin(), l.end());
    std::sort(list_items.begin(), list_items.end());
    EXPECT_EQ(l, list_items);
    std::map<std::string, std::string> h = hash_of(b(), "shared:hash");
    EXPECT_EQ(h.size(), fields.size());
    for (const auto& f : fields) EXPECT_EQ(h[f], f);
    uint64_t n = 0;
    EXPECT_EQ(b().zcard("shared:zset", &n), Found::kOk);
    EXPECT_EQ(n, members.size());
    std::string s;
    EXPECT_EQ(b().get("shared:counter", &s), Found::kOk);
    EXPECT_EQ(s, std::to_string(counter));
  };
  check();
  if (persistent()) {
    reopen();
    check();
  }
}

// Operation i of the kill test, on a backend or on the model. Deterministic
// in i, whatever the state, so the parent can replay what the child did.
void kill_op(Backend& b, uint64_t i) {
  uint64_t len = 0;
  bool created = false;
  std::string out;
  std::string v = "v" + std::to_string(i);
  switch (i % 6) {
    case 0: b.set("s" + std::to_string(i % 7), v); break;
    case 1: b.push("L", i % 4 == 1, v, &len); break;
    case 2: b.hset("H", "f" + std::to_string(i % 13), v, &created); break;
    case 3: b.zadd("Z", "m" + std::to_string(i % 11), static_cast<double>(i % 17), &created); break;
    case 4: b.pop("L", i % 8 == 4, &out); break;
    default: b.hdel("H", "f" + std::to_string(i / 6 % 13)); break;
  }
}

void kill_op(Model& m, uint64_t i) {
  std::string v = "v" + std::to_string(i);
  auto drop_empty = [&](const std::string& k) {
    const Value& x = m[k];
    if (x.list.empty() && x.hash.empty() && x.zset.empty()) m.erase(k);
  };
  switch (i % 6) {
    case 0: m["s" + std::to_string(i % 7)] = Value{ValueType::kString, v, {}, {}, {}}; break;
    case 1:
      m["L"].type = ValueType::kList;
      i % 4 == 1 ? m["L"].list.push_front(v) : m["L"].list.push_back(v);
      break;
    case 2:
      m["H"].type = ValueType::kHash;
      m["H"].hash["f" + std::to_string(i % 13)] = v;
      break;
    case 3:
      m["Z"].type = ValueType::kZSet;
      m["Z"].zset["m" + std::to_string(i % 11)] = static_cast<double>(i % 17);
      break;
    case 4:
      if (!m.contains("L")) break;
      i % 8 == 4 ? m["L"].list.pop_front() : m["L"].list.pop_back();
      drop_empty("L");
      break;
    default:
      if (!m.contains("H")) break;
      m["H"].hash.erase("f" + std::to_string(i / 6 % 13));
      drop_empty("H");
      break;
  }
}

// A writer killed with SIGKILL at a random point: after reopening, every
// acknowledged call is there, and the one in flight is all there or absent.
TEST_P(BackendTest, KilledWriterLosesNothingAcknowledged) {
  if (!persistent()) GTEST_SKIP() << "not a persistent backend";
  b_.reset();
  harness_->close();
  Model model;
  uint64_t done = 0;  // calls known to be in the store
  for (int after : {150, 600, 1700}) {
    SCOPED_TRACE("kill after " + std::to_string(after));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      try {
        std::unique_ptr<Backend> child = harness_->open();
        for (uint64_t i = done;; ++i) {
          kill_op(*child, i);
          if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
        }
      } catch (...) {
        ::_exit(3);
      }
    }
    ::close(fds[1]);
    int64_t acked = -1, v;
    for (int i = 0; i < after && ::read(fds[0], &v, sizeof v) == sizeof v; ++i) acked = v;
    ::kill(pid, SIGKILL);
    while (::read(fds[0], &v, sizeof v) == sizeof v) acked = v;
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself: " << status;
    ASSERT_GE(acked, static_cast<int64_t>(done));
    // Every acknowledged call, then maybe the one in flight.
    for (uint64_t i = done; i <= static_cast<uint64_t>(acked); ++i) kill_op(model, i);
    done = static_cast<uint64_t>(acked) + 1;
    Model with_next = model;
    kill_op(with_next, done);
    b_ = harness_->open();
    Model got = dump(*b_);
    if (got == with_next) {
      model = with_next;
      ++done;
    } else {
      expect_state(*b_, model);
    }
    b_.reset();
    harness_->close();
  }
  b_ = harness_->open();
  expect_state(*b_, model);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest, ::testing::ValuesIn(backend_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// ---------------------------------------------------------------------------
// fs: torn tails, corruption, compaction, write errors.

class FsTest : public ::testing::Test {
 protected:
  std::string store_dir() const { return dir_.file("fs"); }
  std::string data_file() const { return store_dir() + "/" + kFsDataFileName; }
  std::unique_ptr<Backend> open(FsOptions o = {}) {
    auto b = make_fs_backend(store_dir(), o);
    EXPECT_TRUE(b) << b.status().to_string();
    return b ? std::move(*b) : nullptr;
  }
  uint64_t file_size() const { return std::filesystem::file_size(data_file()); }
  // A mix of every type, as a model.
  Model fill(Backend& b) {
    std::vector<std::string> keys;
    for (int i = 0; i < 10; ++i) keys.push_back("k" + std::to_string(i));
    RandomOps ops(keys, 5);
    Model m;
    for (int i = 0; i < 400; ++i) ops.step(b, m);
    return m;
  }
  static uint64_t info_field(Backend& b, const std::string& name) {
    std::string info = b.info();
    size_t at = info.find(name + ":");
    if (at == std::string::npos) return UINT64_MAX;
    return std::stoull(info.substr(at + name.size() + 1));
  }
  testing::TempDir dir_;
};

TEST_F(FsTest, TornTailIsDroppedAndEarlierWritesKept) {
  Model model;
  uint64_t last_start = 0;
  {
    auto b = open();
    model = fill(*b);
    last_start = file_size();
    b->set("last", std::string(1000, 'y'));  // one batch of 1000+ bytes
  }
  // Cut the last batch in the middle of its record, as a crash during its
  // write() may leave it.
  std::filesystem::resize_file(data_file(), last_start + 100);
  {
    auto b = open();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->type("last"), ValueType::kNone);
    EXPECT_EQ(file_size(), last_start);  // the torn bytes are gone from the file
    expect_state(*b, model);
    // The store goes on from the cut.
    b->set("after", "cut");
  }
  {
    auto b = open();
    std::string s;
    EXPECT_EQ(b->get("after", &s), Found::kOk);
    EXPECT_EQ(s, "cut");
  }
}

TEST_F(FsTest, FlippedByteInLastBatchDropsOnlyIt) {
  Model model;
  uint64_t before_last = 0;
  {
    auto b = open();
    model = fill(*b);
    before_last = file_size();
    bool created = false;
    b->hset("newhash", "f", std::string(64, 'z'), &created);
  }
  for (uint64_t flip : {before_last + 2, before_last + 9, file_size() - 1}) {
    SCOPED_TRACE(flip);
    std::string bytes;
    {
      std::ifstream in(data_file(), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::string damaged = bytes;
    damaged[flip] = static_cast<char>(damaged[flip] ^ 0x40);
    {
      std::ofstream out(data_file(), std::ios::binary | std::ios::trunc);
      out << damaged;
    }
    {
      auto b = open();
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(b->type("newhash"), ValueType::kNone);
      expect_state(*b, model);
    }
    EXPECT_EQ(file_size(), before_last);
    std::ofstream out(data_file(), std::ios::binary | std::ios::trunc);
    out << bytes;  // put the intact file back for the next flip
  }
}

TEST_F(FsTest, CorruptionBeforeValidDataIsRefused) {
  {
    auto b = open();
    for (int i = 0; i < 10; ++i) b->set("k" + std::to_string(i), "value" + std::to_string(i));
  }
  std::string bytes;
  {
    std::ifstream in(data_file(), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[40] = static_cast<char>(bytes[40] ^ 1);  // inside the first batch
  {
    std::ofstream out(data_file(), std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto b = make_fs_backend(store_dir());
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kCorrupt) << b.status().to_string();
  EXPECT_EQ(std::filesystem::file_size(data_file()), bytes.size()) << "nothing was cut";
}

TEST_F(FsTest, OpenErrors) {
  {
    auto b = open();
    auto second = make_fs_backend(store_dir());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  }
  {
    std::ofstream out(data_file(), std::ios::binary | std::ios::trunc);
    out << "this is not an fs store file at all";
  }
  auto b = make_fs_backend(store_dir());
  ASSERT_FALSE(b);
  EXPECT_EQ(b.status().code(), StatusCode::kNotAPool) << b.status().to_string();
}

TEST_F(FsTest, CompactionKeepsEverything) {
  FsOptions o;
  o.compact_min_bytes = 64 << 10;
  Model model;
  {
    auto b = open(o);
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i) keys.push_back("k" + std::to_string(i));
    RandomOps ops(keys, 9);
    for (int i = 0; i < 6000; ++i) ops.step(*b, model);
    EXPECT_GT(info_field(*b, "fs_compactions"), 0u);
    expect_state(*b, model);
    // Dead bytes stay bounded by the live ones (plus the slack before the minimum).
    EXPECT_LE(info_field(*b, "fs_dead_bytes"),
              std::max<uint64_t>(info_field(*b, "fs_file_bytes") / 2 + 4096, 64 << 10));
  }
  auto b = open(o);
  expect_state(*b, model);
  EXPECT_FALSE(std::filesystem::exists(data_file() + ".compact"));
}

// A failed append (here EFBIG from RLIMIT_FSIZE, as ENOSPC would be) throws
// StorageError and changes nothing; the store works on afterwards.
TEST_F(FsTest, WriteErrorThrowsAndLeavesStoreConsistent) {
  auto b = open();
  b->set("a", "before");
  uint64_t len = 0;
  b->push("l", false, "one", &len);
  uint64_t size = file_size();
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old), 0);
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit tight = saved;
  tight.rlim_cur = size + 50;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  bool threw = false;
  try {
    b->set("a", std::string(4000, 'x'));
  } catch (const StorageError& e) {
    threw = true;
    EXPECT_EQ(e.code(), StatusCode::kNoSpace) << e.what();
  }
  bool threw2 = false;
  try {
    b->push("l", true, std::string(4000, 'x'), &len);
  } catch (const StorageError&) {
    threw2 = true;
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &saved), 0);
  ::sigaction(SIGXFSZ, &old, nullptr);
  EXPECT_TRUE(threw);
  EXPECT_TRUE(threw2);
  EXPECT_EQ(file_size(), size);
  std::string s;
  EXPECT_EQ(b->get("a", &s), Found::kOk);
  EXPECT_EQ(s, "before");
  EXPECT_EQ(list_of(*b, "l"), std::vector<std::string>{"one"});
  b->set("a", "after");
  b.reset();
  b = open();
  EXPECT_EQ(b->get("a", &s), Found::kOk);
  EXPECT_EQ(s, "after");
  EXPECT_EQ(list_of(*b, "l"), std::vector<std::string>{"one"});
}

// ---------------------------------------------------------------------------
// pmemobj-tx: a full pool, open errors.

class PmemobjTest : public ::testing::Test {
 protected:
  std::string pool() const { return dir_.file("p.pool"); }
  testing::TempDir dir_;
};

TEST_F(PmemobjTest, FullPoolThrowsAndKeepsEarlierData) {
  auto r = make_pmemobj_backend(pool(), PMEMOBJ_MIN_POOL);
  ASSERT_TRUE(r) << r.status().to_string();
  std::unique_ptr<Backend> b = std::move(*r);
  std::string big(4096, 'v');
  int stored = 0;
  std::string error;
  for (;; ++stored) {
    try {
      b->set("k" + std::to_string(stored), big + std::to_string(stored));
    } catch (const StorageError& e) {
      EXPECT_EQ(e.code(), StatusCode::kNoSpace);
      error = e.what();
      break;
    }
    ASSERT_LT(stored, 100000) << "the pool never filled";
  }
  EXPECT_NE(error.find("pool full"), std::string::npos) << error;
  EXPECT_GT(stored, 100);
  // Reads keep working; the failed key was not half-created.
  EXPECT_EQ(b->size(), static_cast<uint64_t>(stored));
  EXPECT_EQ(b->type("k" + std::to_string(stored)), ValueType::kNone);
  std::string s;
  for (int i = 0; i < stored; i += 17) {
    ASSERT_EQ(b->get("k" + std::to_string(i), &s), Found::kOk);
    EXPECT_EQ(s, big + std::to_string(i));
  }
  // A container write that does not fit either: its list stays as it was.
  uint64_t len = 0;
  bool threw = false;
  try {
    b->push("k0", false, "x", &len);  // wrong type: no allocation, no error
    ASSERT_EQ(b->type("k0"), ValueType::kString);
    for (int i = 0; i < 1000; ++i) b->push("biglist", false, big, &len);
  } catch (const StorageError&) {
    threw = true;
  }
  EXPECT_TRUE(threw);
  uint64_t n = 0;
  Found f = b->llen("biglist", &n);
  EXPECT_TRUE(f == Found::kMissing || (f == Found::kOk && n == len)) << n << " vs " << len;
  // Deleting makes room again.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(b->del("k" + std::to_string(i)));
  b->set("fits", "now");
  b.reset();
  r = make_pmemobj_backend(pool(), 0);
  ASSERT_TRUE(r) << r.status().to_string();
  b = std::move(*r);
  EXPECT_EQ(b->get("fits", &s), Found::kOk);
  EXPECT_EQ(b->get("k20", &s), Found::kOk);
  EXPECT_EQ(s, big + "20");
  EXPECT_EQ(b->size(), static_cast<uint64_t>(stored - 20 + 1 + (f == Found::kOk ? 1 : 0)));
}

TEST_F(PmemobjTest, OpenErrors) {
  auto none = make_pmemobj_backend(pool(), 0);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  auto tiny = make_pmemobj_backend(pool(), 1 << 20);
  ASSERT_FALSE(tiny);
  EXPECT_EQ(tiny.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(tiny.status().message().find("8 MiB"), std::string::npos) << tiny.status().message();
  EXPECT_FALSE(std::filesystem::exists(pool()));
  {
    std::ofstream out(pool(), std::ios::binary);
    out << std::string(PMEMOBJ_MIN_POOL, 'g');
  }
  auto garbage = make_pmemobj_backend(pool(), 0);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.status().code(), StatusCode::kNotAPool) << garbage.status().to_string();
  std::filesystem::remove(pool());
  PMEMobjpool* other = pmemobj_create(pool().c_str(), "another-layout", PMEMOBJ_MIN_POOL, 0600);
  ASSERT_NE(other, nullptr) << pmemobj_errormsg();
  pmemobj_close(other);
  auto wrong = make_pmemobj_backend(pool(), 0);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.status().code(), StatusCode::kNotAPool) << wrong.status().to_string();
  std::filesystem::remove(pool());
  auto first = make_pmemobj_backend(pool(), PMEMOBJ_MIN_POOL);
  ASSERT_TRUE(first) << first.status().to_string();
  auto second = make_pmemobj_backend(pool(), 0);
  EXPECT_FALSE(second);
}

}  // namespace
}  // namespace nvobj::dso
