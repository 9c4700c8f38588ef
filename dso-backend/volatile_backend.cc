// The volatile backend: the key space in DRAM, as a volatile baseline for
// the durable ones. Keys are spread over shards, each an unordered_map under
// a reader-writer lock that guards only the shard's structure; a value's
// contents are guarded by the command layer's key locks (backend.h).
#include <array>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <variant>

#include "dso-backend/backend.h"

namespace nvobj::dso {

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct ZSet {
  StringMap<double> scores;
  std::set<std::pair<double, std::string>> order;  // (score, member): Redis order
};
using Hash = StringMap<std::string>;
using List = std::deque<std::string>;
using Value = std::variant<std::string, Hash, List, ZSet>;

ValueType type_of(const Value& v) {
  static constexpr ValueType kTypes[] = {ValueType::kString, ValueType::kHash, ValueType::kList,
                                         ValueType::kZSet};
  return kTypes[v.index()];
}

class VolatileBackend final : public Backend {
 public:
  std::string_view name() const override { return "volatile"; }
  std::string info() override { return ""; }

  ValueType type(std::string_view key) override {
    const Value* v = find(key);
    return v ? type_of(*v) : ValueType::kNone;
  }
  bool del(std::string_view key) override {
    Shard& s = shard(key);
    std::unique_lock lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    s.map.erase(it);
    return true;
  }
  uint64_t size() override {
    uint64_t n = 0;
    for (Shard& s : shards_) {
      std::shared_lock lock(s.mu);
      n += s.map.size();
    }
    return n;
  }
  void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) override {
    for (Shard& s : shards_) {
      std::shared_lock lock(s.mu);
      for (const auto& [k, v] : s.map) fn(k, type_of(*v));
    }
  }
  void flush_all() override {
    for (Shard& s : shards_) {
      std::unique_lock lock(s.mu);
      s.map.clear();
    }
  }

  // --- strings ---
  Found get(std::string_view key, std::string* value) override {
    Shard& s = shard(key);
    std::shared_lock lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) return Found::kMissing;
    auto* str = std::get_if<std::string>(it->second.get());
    if (str == nullptr) return Found::kWrongType;
    *value = *str;
    return Found::kOk;
  }
  void set(std::string_view key, std::string_view value) override {
    Shard& s = shard(key);
    std::unique_lock lock(s.mu);
    auto it = s.map.find(key);
    if (it == s.map.end()) {
      s.map.emplace(std::string(key), std::make_unique<Value>(std::string(value)));
    } else if (auto* str = std::get_if<std::string>(it->second.get())) {
      str->assign(value);
    } else {
      *it->second = std::string(value);
    }
  }
  Found update(std::string_view key, const UpdateFn& fn) override {
    Value* v = find(key);
    if (v == nullptr) {
      if (std::optional<std::string> next = fn(std::nullopt)) set(key, *next);
      return Found::kOk;
    }
    auto* str = std::get_if<std::string>(v);
    if (str == nullptr) return Found::kWrongType;
    if (std::optional<std::string> next = fn(*str)) *str = std::move(*next);
    return Found::kOk;
  }

  // --- hashes ---
  Found hget(std::string_view key, std::string_view field, std::string* value) override {
    Hash* h;
    if (Found f = lookup(key, &h); f != Found::kOk) return f;
    auto it = h->find(field);
    if (it == h->end()) return Found::kMissing;
    *value = it->second;
    return Found::kOk;
  }
  Found hset(std::string_view key, std::string_view field, std::string_view value,
             bool* created) override {
    Hash* h;
    if (Found f = lookup_or_create(key, &h); f != Found::kOk) return f;
    auto [it, fresh] = h->try_emplace(std::string(field));
    it->second.assign(value);
    *created = fresh;
    return Found::kOk;
  }
  Found hdel(std::string_view key, std::string_view field) override {
    Hash* h;
    if (Found f = lookup(key, &h); f != Found::kOk) return f;
    auto it = h->find(field);
    if (it == h->end()) return Found::kMissing;
    h->erase(it);
    if (h->empty()) del(key);
    return Found::kOk;
  }
  Found hlen(std::string_view key, uint64_t* n) override {
    Hash* h;
    if (Found f = lookup(key, &h); f != Found::kOk) return f;
    *n = h->size();
    return Found::kOk;
  }
  Found hscan(std::string_view key,
              const std::function<void(std::string_view, std::string_view)>& fn) override {
    Hash* h;
    if (Found f = lookup(key, &h); f != Found::kOk) return f;
    for (const auto& [k, v] : *h) fn(k, v);
    return Found::kOk;
  }

  // --- lists ---
  Found llen(std::string_view key, uint64_t* n) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    *n = l->size();
    return Found::kOk;
  }
  Found lindex(std::string_view key, uint64_t i, std::string* value) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    if (i >= l->size()) return Found::kMissing;
    *value = (*l)[i];
    return Found::kOk;
  }
  Found lset(std::string_view key, uint64_t i, std::string_view value) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    if (i >= l->size()) return Found::kMissing;
    (*l)[i].assign(value);
    return Found::kOk;
  }
  Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) override {
    List* l;
    if (Found f = lookup_or_create(key, &l); f != Found::kOk) return f;
    front ? l->emplace_front(value) : l->emplace_back(value);
    *len = l->size();
    return Found::kOk;
  }
  Found pop(std::string_view key, bool front, std::string* value) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    if (front) {
      *value = std::move(l->front());
      l->pop_front();
    } else {
      *value = std::move(l->back());
      l->pop_back();
    }
    if (l->empty()) del(key);
    return Found::kOk;
  }
  Found lrange(std::string_view key, uint64_t from, uint64_t to,
               const std::function<void(std::string_view)>& fn) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    for (uint64_t i = from; i < to && i < l->size(); ++i) fn((*l)[i]);
    return Found::kOk;
  }
  Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    if (i >= l->size()) return Found::kMissing;
    l->emplace(l->begin() + static_cast<ptrdiff_t>(i + (after ? 1 : 0)), value);
    return Found::kOk;
  }
  Found lremove(std::string_view key, uint64_t i) override {
    List* l;
    if (Found f = lookup(key, &l); f != Found::kOk) return f;
    if (i >= l->size()) return Found::kMissing;
    l->erase(l->begin() + static_cast<ptrdiff_t>(i));
    if (l->empty()) del(key);
    return Found::kOk;
  }

  // --- sorted sets ---
  Found zscore(std::string_view key, std::string_view member, double* score) override {
    ZSet* z;
    if (Found f = lookup(key, &z); f != Found::kOk) return f;
    auto it = z->scores.find(member);
    if (it == z->scores.end()) return Found::kMissing;
    *score = it->second;
    return Found::kOk;
  }
  Found zadd(std::string_view key, std::string_view member, double score, bool* created) override {
    ZSet* z;
    if (Found f = lookup_or_create(key, &z); f != Found::kOk) return f;
    if (score == 0) score = 0.0;  // -0 and +0 are one score
    auto [it, fresh] = z->scores.try_emplace(std::string(member), score);
    if (!fresh) {
      z->order.erase({it->second, it->first});
      it->second = score;
    }
    z->order.emplace(score, it->first);
    *created = fresh;
    return Found::kOk;
  }
  Found zrem(std::string_view key, std::string_view member) override {
    ZSet* z;
    if (Found f = lookup(key, &z); f != Found::kOk) return f;
    auto it = z->scores.find(member);
    if (it == z->scores.end()) return Found::kMissing;
    z->order.erase({it->second, it->first});
    z->scores.erase(it);
    if (z->scores.empty()) del(key);
    return Found::kOk;
  }
  Found zcard(std::string_view key, uint64_t* n) override {
    ZSet* z;
    if (Found f = lookup(key, &z); f != Found::kOk) return f;
    *n = z->scores.size();
    return Found::kOk;
  }
  Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
               const ZFn& fn) override {
    ZSet* z;
    if (Found f = lookup(key, &z); f != Found::kOk) return f;
    to = std::min<uint64_t>(to, z->order.size());
    if (from >= to) return Found::kOk;
    auto walk = [&](auto begin) {
      std::advance(begin, from);
      for (uint64_t i = from; i < to; ++i, ++begin) fn(begin->second, begin->first);
    };
    reverse ? walk(z->order.rbegin()) : walk(z->order.begin());
    return Found::kOk;
  }
  Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                        uint64_t offset, int64_t count, const ZFn& fn) override {
    ZSet* z;
    if (Found f = lookup(key, &z); f != Found::kOk) return f;
    auto above_min = [&](double s) { return min.exclusive ? s > min.value : s >= min.value; };
    auto below_max = [&](double s) { return max.exclusive ? s < max.value : s <= max.value; };
    auto emit = [&](const std::pair<double, std::string>& e) {
      if (offset > 0) {
        --offset;
        return true;
      }
      if (count == 0) return false;
      fn(e.second, e.first);
      if (count > 0) --count;
      return true;
    };
    if (!reverse) {
      for (auto it = z->order.lower_bound({min.value, std::string()});
           it != z->order.end() && below_max(it->first); ++it)
        if (above_min(it->first) && !emit(*it)) break;
    } else {
      for (auto it = z->order.rbegin(); it != z->order.rend() && above_min(it->first); ++it)
        if (below_max(it->first) && !emit(*it)) break;
    }
    return Found::kOk;
  }

 private:
  static constexpr size_t kShards = 64;
  struct alignas(64) Shard {
    std::shared_mutex mu;
    StringMap<std::unique_ptr<Value>> map;
  };

  Shard& shard(std::string_view key) { return shards_[StringHash{}(key) % kShards]; }
  // The key's value; stable until the key is deleted, which the caller's key
  // lock rules out while it uses it.
  Value* find(std::string_view key) {
    Shard& s = shard(key);
    std::shared_lock lock(s.mu);
    auto it = s.map.find(key);
    return it == s.map.end() ? nullptr : it->second.get();
  }
  template <typename T>
  Found lookup(std::string_view key, T** out) {
    Value* v = find(key);
    if (v == nullptr) return Found::kMissing;
    *out = std::get_if<T>(v);
    return *out ? Found::kOk : Found::kWrongType;
  }
  template <typename T>
  Found lookup_or_create(std::string_view key, T** out) {
    Found f = lookup(key, out);
    if (f != Found::kMissing) return f;
    Shard& s = shard(key);
    std::unique_lock lock(s.mu);
    auto [it, fresh] = s.map.try_emplace(std::string(key), std::make_unique<Value>(T{}));
    *out = std::get_if<T>(it->second.get());
    return Found::kOk;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace

std::unique_ptr<Backend> make_volatile_backend() { return std::make_unique<VolatileBackend>(); }

}  // namespace nvobj::dso
