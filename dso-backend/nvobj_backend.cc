// The nvobj backend: the key space is a PHashMap bound to the root
// "dso.keyspace". A string is stored in it as bytes; a hash, list or sorted
// set is a PHashMap, PList or PSortedSet object the key space owns (put_ref),
// told apart by the object's class. Every write is one durable update of one
// of these types (one fence), except where a container is created (its
// first element, then its binding: two); removing a container's last
// element unbinds the key (one). A user-defined object is a ModuleObject the key space owns
// too (modules/module_objects.h); its calls change it in failure-atomic
// blocks, not through this file.
#include <fmt/format.h>

#include "dso-backend/backend.h"
#include "dso-backend/modules/module_objects.h"
#include "pobjects/phashmap.h"
#include "pobjects/plist.h"
#include "pobjects/psortedset.h"
#include "pobjects/root_map.h"
#include "runtime/mode.h"
#include "runtime/persist_stats.h"
#include "runtime/store.h"

namespace nvobj::dso {

namespace {

template <typename T>
constexpr ValueType kTypeOf = ValueType::kNone;
template <>
constexpr ValueType kTypeOf<PHashMap> = ValueType::kHash;
template <>
constexpr ValueType kTypeOf<PList> = ValueType::kList;
template <>
constexpr ValueType kTypeOf<PSortedSet> = ValueType::kZSet;

class NvobjBackend final : public Backend, private UserObjects {
 public:
  explicit NvobjBackend(Store& store)
      : store_(store),
        keys_(root_map(store, "dso.keyspace")),
        hash_class_(store.class_id<PHashMap>()),
        list_class_(store.class_id<PList>()),
        zset_class_(store.class_id<PSortedSet>()),
        object_class_(store.class_id<ModuleObject>()) {
    register_module_object_classes();
  }

  std::string_view name() const override { return "nvobj"; }
  std::string info() override {
    HeapUsage u = store_.usage();
    MapStats st = keys_->stats();
    PersistCounters c = total_persist_counters();
    return fmt::format(
        "nvobj_pool:{}\r\nnvobj_mode:{}\r\nnvobj_pool_bytes:{}\r\nnvobj_live_bytes:{}\r\n"
        "nvobj_free_bytes:{}\r\nnvobj_keyspace_log_bytes:{}\r\nnvobj_keyspace_dead_bytes:{}\r\n"
        "nvobj_keyspace_dram_bytes:{}\r\nnvobj_fences:{}\r\nnvobj_writebacks:{}\r\n"
        "nvobj_recovery_clean:{}\r\nnvobj_recovery_seconds:{:.3f}\r\n"
        "nvobj_recovery_objects:{}\r\nnvobj_keyspace_index_from_snapshot:{}\r\n",
        store_.pool().path(), mode_name(store_.pool().mode()), store_.pool().size(), u.live_bytes,
        u.free_bytes, st.record_bytes, st.dead_bytes, st.dram_bytes, c.fences, c.writebacks,
        store_.open_report().clean ? 1 : 0, store_.open_report().seconds,
        store_.open_report().objects, st.index_from_snapshot ? 1 : 0);
  }

  void prefetch(std::string_view key) override { keys_->prefetch(key); }
  void prefetch_value(std::string_view key) override { keys_->prefetch_value(key); }

  // --- key space ---
  ValueType type(std::string_view key) override { return lookup(key).type; }
  bool del(std::string_view key) override { return keys_->remove(key); }
  uint64_t size() override { return keys_->size(); }
  void for_each_key(const std::function<void(std::string_view, ValueType)>& fn) override {
    keys_->for_each([&](std::string_view k, const MapValue& v) { fn(k, type_of(v)); });
  }
  void flush_all() override { keys_->clear(); }

  // --- strings ---
  Found get(std::string_view key, std::string* value) override {
    return keys_->read(key, [&](const MapValue& v) {
      if (!v.present) return Found::kMissing;
      if (v.is_ref) return Found::kWrongType;
      value->assign(v.bytes);
      return Found::kOk;
    });
  }
  void set(std::string_view key, std::string_view value) override { keys_->put(key, value); }
  Found update(std::string_view key, const UpdateFn& fn) override {
    bool object = false;
    keys_->compute_bytes(
        key,
        [&](std::optional<std::string_view> old) -> std::optional<std::string> {
          std::optional<std::string> next = fn(old);
          if (next) return next;
          if (old) return std::string(*old);  // unchanged: compute writes nothing
          return std::nullopt;                // absent stays absent
        },
        &object);
    return object ? Found::kWrongType : Found::kOk;
  }

  // --- hashes ---
  Found hget(std::string_view key, std::string_view field, std::string* value) override {
    PHashMap* h;
    if (Found f = open(key, &h); f != Found::kOk) return f;
    return h->get(field, value) ? Found::kOk : Found::kMissing;
  }
  Found hset(std::string_view key, std::string_view field, std::string_view value,
             bool* created) override {
    return write_container<PHashMap>(key, [&](PHashMap& h) { *created = h.put(field, value); });
  }
  Found hdel(std::string_view key, std::string_view field) override {
    PHashMap* h;
    if (Found f = open(key, &h); f != Found::kOk) return f;
    if (h->size() == 1 && h->contains(field)) return unbind_last(key);
    return h->remove(field) ? Found::kOk : Found::kMissing;
  }
  Found hlen(std::string_view key, uint64_t* n) override {
    PHashMap* h;
    if (Found f = open(key, &h); f != Found::kOk) return f;
    *n = h->size();
    return Found::kOk;
  }
  Found hscan(std::string_view key,
              const std::function<void(std::string_view, std::string_view)>& fn) override {
    PHashMap* h;
    if (Found f = open(key, &h); f != Found::kOk) return f;
    h->for_each([&](std::string_view k, const MapValue& v) { fn(k, v.bytes); });
    return Found::kOk;
  }

  // --- lists ---
  Found llen(std::string_view key, uint64_t* n) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    *n = l->size();
    return Found::kOk;
  }
  Found lindex(std::string_view key, uint64_t i, std::string* value) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    return l->get(static_cast<int64_t>(i), value) ? Found::kOk : Found::kMissing;
  }
  Found lset(std::string_view key, uint64_t i, std::string_view value) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    return l->set(static_cast<int64_t>(i), value) ? Found::kOk : Found::kMissing;
  }
  Found push(std::string_view key, bool front, std::string_view value, uint64_t* len) override {
    return write_container<PList>(key, [&](PList& l) {
      front ? l.prepend(value) : l.append(value);
      *len = l.size();
    });
  }
  Found pop(std::string_view key, bool front, std::string* value) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    if (l->size() == 1) {
      if (!l->get(0, value)) return Found::kMissing;
      return unbind_last(key);
    }
    std::optional<std::string> v = front ? l->pop_front() : l->pop_back();
    if (!v) return Found::kMissing;
    *value = std::move(*v);
    return Found::kOk;
  }
  Found lrange(std::string_view key, uint64_t from, uint64_t to,
               const std::function<void(std::string_view)>& fn) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    for (const std::string& v : l->range(static_cast<int64_t>(from), static_cast<int64_t>(to)))
      fn(v);
    return Found::kOk;
  }
  Found linsert(std::string_view key, uint64_t i, bool after, std::string_view value) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    auto at = static_cast<int64_t>(i);
    bool ok = after ? l->insert_after(at, value) : l->insert_before(at, value);
    return ok ? Found::kOk : Found::kMissing;
  }
  Found lremove(std::string_view key, uint64_t i) override {
    PList* l;
    if (Found f = open(key, &l); f != Found::kOk) return f;
    if (l->size() == 1 && i == 0) return unbind_last(key);
    return l->remove_at(static_cast<int64_t>(i)) ? Found::kOk : Found::kMissing;
  }

  // --- sorted sets ---
  Found zscore(std::string_view key, std::string_view member, double* score) override {
    PSortedSet* z;
    if (Found f = open(key, &z); f != Found::kOk) return f;
    std::optional<double> s = z->score(member);
    if (!s) return Found::kMissing;
    *score = *s;
    return Found::kOk;
  }
  Found zadd(std::string_view key, std::string_view member, double score, bool* created) override {
    return write_container<PSortedSet>(key,
                                       [&](PSortedSet& z) { *created = z.add(member, score); });
  }
  Found zrem(std::string_view key, std::string_view member) override {
    PSortedSet* z;
    if (Found f = open(key, &z); f != Found::kOk) return f;
    if (z->size() == 1 && z->score(member)) return unbind_last(key);
    return z->remove(member) ? Found::kOk : Found::kMissing;
  }
  Found zcard(std::string_view key, uint64_t* n) override {
    PSortedSet* z;
    if (Found f = open(key, &z); f != Found::kOk) return f;
    *n = z->size();
    return Found::kOk;
  }
  Found zrange(std::string_view key, uint64_t from, uint64_t to, bool reverse,
               const ZFn& fn) override {
    PSortedSet* z;
    if (Found f = open(key, &z); f != Found::kOk) return f;
    z->range_by_rank(from, to, reverse, fn);
    return Found::kOk;
  }
  Found zrange_by_score(std::string_view key, ScoreBound min, ScoreBound max, bool reverse,
                        uint64_t offset, int64_t count, const ZFn& fn) override {
    PSortedSet* z;
    if (Found f = open(key, &z); f != Found::kOk) return f;
    z->range_by_score(min.value, min.exclusive, max.value, max.exclusive, reverse, offset, count,
                      fn);
    return Found::kOk;
  }

  // --- user-defined objects ---
  UserObjects* user_objects() override { return this; }
  Store& store() override { return store_; }
  Found find(std::string_view key, uint64_t* object) override {
    Slot s = lookup(key);
    if (s.type == ValueType::kNone) return Found::kMissing;
    if (s.type != ValueType::kObject) return Found::kWrongType;
    *object = s.ref;
    return Found::kOk;
  }
  void bind(std::string_view key, uint64_t object) override { keys_->put_ref(key, object); }
  std::string module_type(std::string_view key) override {
    Slot s = lookup(key);
    return s.type == ValueType::kObject ? module_type_of(store_, s.ref)
                                        : std::string(type_name(s.type));
  }

 private:
  struct Slot {
    ValueType type;
    uint64_t ref;
  };

  ValueType type_of(const MapValue& v) const {
    if (!v.present) return ValueType::kNone;
    if (!v.is_ref) return ValueType::kString;
    uint32_t cls = store_.class_id_of(v.ref);
    if (cls == hash_class_) return ValueType::kHash;
    if (cls == list_class_) return ValueType::kList;
    if (cls == zset_class_) return ValueType::kZSet;
    if (cls == object_class_) return ValueType::kObject;
    // Another program bound something else here: not a type this server
    // serves, so no command may use it as one.
    return ValueType::kString;
  }
  Slot lookup(std::string_view key) {
    return keys_->read(key, [&](const MapValue& v) { return Slot{type_of(v), v.ref}; });
  }
  // Removing a container's last element removes the key instead: one
  // durable update, so no crash can leave the key bound to an empty
  // container (taking the element out first and unbinding after would need
  // two). The container, with its element, is destroyed once unreachable.
  Found unbind_last(std::string_view key) {
    keys_->remove(key);
    return Found::kOk;
  }
  // The container under key. Its proxy lives until the object is destroyed,
  // which needs the key removed first: the caller's key lock rules that out.
  template <typename T>
  Found open(std::string_view key, T** out) {
    Slot s = lookup(key);
    if (s.type == ValueType::kNone) return Found::kMissing;
    if (s.type != kTypeOf<T>) return Found::kWrongType;
    *out = &store_.proxy<T>(s.ref);
    return Found::kOk;
  }
  // Runs write(T&) on the container under key, creating it if the key is
  // absent. A new container gets its first element before the key is bound
  // to it: binding first would leave an empty container under the key if
  // the write then failed (a full pool) or the process died in between.
  template <typename T, typename Write>
  Found write_container(std::string_view key, const Write& write) {
    T* t;
    Found f = open(key, &t);
    if (f == Found::kOk) write(*t);
    if (f != Found::kMissing) return f;
    Ref<T> fresh = T::create(store_);
    try {
      write(*fresh);
      keys_->put_ref(key, fresh);
    } catch (...) {
      store_.destroy_object(fresh.offset());  // never reachable
      throw;
    }
    return Found::kOk;
  }

  Store& store_;
  Ref<PHashMap> keys_;
  uint32_t hash_class_;
  uint32_t list_class_;
  uint32_t zset_class_;
  uint32_t object_class_;
};

}  // namespace

std::unique_ptr<Backend> make_nvobj_backend(Store& store) {
  return std::make_unique<NvobjBackend>(store);
}

}  // namespace nvobj::dso
