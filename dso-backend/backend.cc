#include "dso-backend/backend.h"

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <fmt/format.h>

#include "pobjects/phashmap.h"
#include "pobjects/root_map.h"
#include "runtime/mode.h"
#include "runtime/persist_stats.h"
#include "runtime/store.h"

namespace nvobj::dso {

namespace {

class NvobjBackend final : public Backend {
 public:
  explicit NvobjBackend(Store& store) : store_(store), map_(root_map(store, "dso.keyspace")) {}

  std::string_view name() const override { return "nvobj"; }
  bool get(std::string_view key, std::string* value) override { return map_->get(key, value); }
  void set(std::string_view key, std::string_view value) override { map_->put(key, value); }
  bool del(std::string_view key) override { return map_->remove(key); }
  bool exists(std::string_view key) override { return map_->contains(key); }
  void update(std::string_view key, const UpdateFn& fn) override {
    map_->compute(key, [&](std::optional<std::string_view> old) -> std::optional<std::string> {
      std::optional<std::string> next = fn(old);
      if (next) return next;
      if (old) return std::string(*old);  // unchanged: compute writes nothing
      return std::nullopt;                // absent stays absent
    });
  }
  uint64_t size() override { return map_->size(); }
  void for_each_key(const std::function<void(std::string_view)>& fn) override {
    map_->for_each([&](std::string_view k, const MapValue&) { fn(k); });
  }
  void flush_all() override { map_->clear(); }
  std::string info() override {
    HeapUsage u = store_.usage();
    MapStats st = map_->stats();
    PersistCounters c = total_persist_counters();
    return fmt::format(
        "nvobj_pool:{}\r\nnvobj_mode:{}\r\nnvobj_pool_bytes:{}\r\nnvobj_live_bytes:{}\r\n"
        "nvobj_free_bytes:{}\r\nnvobj_keyspace_log_bytes:{}\r\nnvobj_keyspace_dead_bytes:{}\r\n"
        "nvobj_keyspace_dram_bytes:{}\r\nnvobj_fences:{}\r\nnvobj_writebacks:{}\r\n"
        "nvobj_recovery_clean:{}\r\nnvobj_recovery_seconds:{:.3f}\r\n",
        store_.pool().path(), mode_name(store_.pool().mode()), store_.pool().size(), u.live_bytes,
        u.free_bytes, st.record_bytes, st.dead_bytes, st.dram_bytes, c.fences, c.writebacks,
        store_.open_report().clean ? 1 : 0, store_.open_report().seconds);
  }

 private:
  Store& store_;
  Ref<PHashMap> map_;
};

class VolatileBackend final : public Backend {
 public:
  std::string_view name() const override { return "volatile"; }
  bool get(std::string_view key, std::string* value) override {
    std::shared_lock lock(mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return false;
    *value = it->second;
    return true;
  }
  void set(std::string_view key, std::string_view value) override {
    std::unique_lock lock(mu_);
    map_[std::string(key)] = value;
  }
  bool del(std::string_view key) override {
    std::unique_lock lock(mu_);
    return map_.erase(std::string(key)) == 1;
  }
  bool exists(std::string_view key) override {
    std::shared_lock lock(mu_);
    return map_.contains(std::string(key));
  }
  void update(std::string_view key, const UpdateFn& fn) override {
    std::unique_lock lock(mu_);
    auto it = map_.find(std::string(key));
    std::optional<std::string_view> old;
    if (it != map_.end()) old = it->second;
    if (std::optional<std::string> next = fn(old)) map_[std::string(key)] = std::move(*next);
  }
  uint64_t size() override {
    std::shared_lock lock(mu_);
    return map_.size();
  }
  void for_each_key(const std::function<void(std::string_view)>& fn) override {
    std::vector<std::string> keys;
    {
      std::shared_lock lock(mu_);
      for (const auto& [k, v] : map_) keys.push_back(k);
    }
    for (const std::string& k : keys) fn(k);
  }
  void flush_all() override {
    std::unique_lock lock(mu_);
    map_.clear();
  }
  std::string info() override { return ""; }

 private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::string> map_;
};

}  // namespace

std::unique_ptr<Backend> make_nvobj_backend(Store& store) {
  return std::make_unique<NvobjBackend>(store);
}
std::unique_ptr<Backend> make_volatile_backend() { return std::make_unique<VolatileBackend>(); }

}  // namespace nvobj::dso
