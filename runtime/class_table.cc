#include "runtime/class_table.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

#include "runtime/checksum.h"
#include "runtime/close_snapshots.h"
#include "runtime/layout.h"
#include "runtime/object_header.h"
#include "runtime/root_table.h"

namespace nvobj {

namespace {

constexpr RefMap kNoRefs{};
constexpr RefMap kRootTableRefs =
    with_tail(ref_map<RootTableHeader>(), TailKind::kRefs, offsetof(RootTableHeader, capacity),
              sizeof(RootTableHeader));
constexpr RefMap kBytesRefs = with_tail(ref_map<BytesHeader>(), TailKind::kBytes,
                                        offsetof(BytesHeader, size), sizeof(BytesHeader));

constexpr RefMap kCloseSnapshotsRefs =
    with_tail(ref_map<CloseSnapshotsHeader>(), TailKind::kRefs,
              offsetof(CloseSnapshotsHeader, count), sizeof(CloseSnapshotsHeader));

uint32_t entry_crc(const ClassEntry& e) { return crc32c(&e, offsetof(ClassEntry, crc)); }

ClassEntry make_entry(uint32_t id, std::string_view name, const RefMap& refs) {
  ClassEntry e{};
  e.id = id;
  e.layout_size = refs.layout_size;
  e.tail_kind = static_cast<uint32_t>(refs.tail_kind);
  e.tail_count_offset = refs.tail_count_offset;
  e.tail_offset = refs.tail_offset;
  e.name_length = static_cast<uint16_t>(name.size());
  std::memcpy(e.ref_words, refs.ref_words, sizeof(e.ref_words));
  std::memcpy(e.name, name.data(), name.size());
  e.crc = entry_crc(e);
  return e;
}

RefMap entry_refs(const ClassEntry& e) {
  RefMap m;
  m.layout_size = e.layout_size;
  m.tail_kind = static_cast<TailKind>(e.tail_kind);
  m.tail_count_offset = e.tail_count_offset;
  m.tail_offset = e.tail_offset;
  std::memcpy(m.ref_words, e.ref_words, sizeof(m.ref_words));
  return m;
}

uint64_t table_bytes(uint64_t capacity) {
  return sizeof(ClassTableHeader) + capacity * sizeof(ClassEntry);
}

}  // namespace

const RefMap* builtin_ref_map(uint32_t class_id) {
  switch (class_id) {
    case kClassIdAllocSnapshot:
    case kClassIdClassTable:
    case kClassIdLogSegment: return &kNoRefs;
    case kClassIdRootTable: return &kRootTableRefs;
    case kClassIdBytes: return &kBytesRefs;
    case kClassIdCloseSnapshots: return &kCloseSnapshotsRefs;
    default: return nullptr;
  }
}

std::string_view builtin_class_name(uint32_t class_id) {
  switch (class_id) {
    case kClassIdAllocSnapshot: return "nvobj.AllocSnapshot";
    case kClassIdClassTable: return "nvobj.ClassTable";
    case kClassIdRootTable: return "nvobj.RootTable";
    case kClassIdLogSegment: return "nvobj.LogSegment";
    case kClassIdBytes: return "nvobj.Bytes";
    case kClassIdCloseSnapshots: return "nvobj.CloseSnapshots";
    default: return "";
  }
}

ClassTable::ClassTable(ClassTable&& o) noexcept { *this = std::move(o); }

ClassTable& ClassTable::operator=(ClassTable&& o) noexcept {
  table_off_ = o.table_off_;
  user_ = std::move(o.user_);
  by_name_ = std::move(o.by_name_);
  return *this;
}

Result<ClassTable> ClassTable::load(const Pool& pool) {
  ClassTable t;
  t.table_off_ = *pool.anchor(kAnchorClassTable);
  if (t.table_off_ == 0) return t;
  auto fail = [&](const std::string& what) {
    return Status(StatusCode::kCorrupt,
                  fmt::format("{}: class table at offset {}: {}", pool.path(), t.table_off_, what));
  };
  if (t.table_off_ % 8 != 0 || t.table_off_ < pool.data_offset() ||
      t.table_off_ + sizeof(ClassTableHeader) > pool.size())
    return fail("offset outside the pool's data area");
  auto* h = pool.at<ClassTableHeader>(t.table_off_);
  if (std::memcmp(h->magic, kClassTableMagic, sizeof(h->magic)) != 0) return fail("bad magic");
  auto* oh = pool.at<ObjectHeader>(t.table_off_ - kObjectHeaderSize);
  if (oh->class_id != kClassIdClassTable) return fail("object is not a class table");
  if (h->count > h->capacity || h->capacity > (pool.size() - t.table_off_) / sizeof(ClassEntry) ||
      t.table_off_ + table_bytes(h->capacity) > pool.size())
    return fail(fmt::format("count {} / capacity {} do not fit the pool", h->count, h->capacity));
  auto* entries = reinterpret_cast<const ClassEntry*>(h + 1);
  for (uint64_t i = 0; i < h->count; ++i) {
    const ClassEntry& e = entries[i];
    if (entry_crc(e) != e.crc) return fail(fmt::format("entry {} fails its checksum", i));
    if (e.id != kFirstUserClassId + i)
      return fail(fmt::format("entry {} has id {}, expected {}", i, e.id, kFirstUserClassId + i));
    if (e.name_length == 0 || e.name_length > kMaxClassNameLength)
      return fail(fmt::format("entry {} has a name of {} bytes", i, e.name_length));
    ClassRecord r{e.id, std::string(e.name, e.name_length), entry_refs(e)};
    if (std::string why = r.refs.validate(); !why.empty())
      return fail(fmt::format("class '{}': {}", r.name, why));
    if (!t.by_name_.emplace(r.name, r.id).second)
      return fail(fmt::format("class '{}' appears twice", r.name));
    t.user_.push_back(std::move(r));
  }
  return t;
}

const ClassRecord* ClassTable::find(uint32_t id) const {
  static const auto* builtins = [] {
    auto* v = new std::vector<ClassRecord>(kFirstUserClassId);
    for (uint32_t i = 1; i < kFirstUserClassId; ++i)
      if (const RefMap* m = builtin_ref_map(i))
        (*v)[i] = {i, std::string(builtin_class_name(i)), *m};
    return v;
  }();
  if (id < kFirstUserClassId) return (*builtins)[id].id == 0 ? nullptr : &(*builtins)[id];
  std::lock_guard lock(mu_);
  uint64_t i = id - kFirstUserClassId;
  return i < user_.size() ? &user_[i] : nullptr;
}

const ClassRecord* ClassTable::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &user_[it->second - kFirstUserClassId];
}

std::vector<ClassRecord> ClassTable::user_classes() const {
  std::lock_guard lock(mu_);
  return {user_.begin(), user_.end()};
}

Result<uint32_t> ClassTable::intern(Pool& pool, Heap& heap, std::string_view name,
                                    const RefMap& refs) {
  if (name.empty() || name.size() > kMaxClassNameLength)
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("class name '{}' must be 1 to {} bytes", name, kMaxClassNameLength));
  if (std::string why = refs.validate(); !why.empty())
    return Status(StatusCode::kInvalidArgument, fmt::format("class '{}': {}", name, why));
  std::lock_guard lock(mu_);
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) {
    const ClassRecord& r = user_[it->second - kFirstUserClassId];
    if (!(r.refs == refs))
      return Status(StatusCode::kInvalidArgument,
                    fmt::format("class '{}' changed its persistent layout: the pool has {}, this "
                                "program declares {} (give a new layout a new class name)",
                                name, r.refs.describe(), refs.describe()));
    return r.id;
  }
  uint64_t capacity = table_off_ == 0 ? 0 : pool.at<ClassTableHeader>(table_off_)->capacity;
  if (user_.size() == capacity) NVOBJ_RETURN_IF_ERROR(grow(pool, heap));
  auto* h = pool.at<ClassTableHeader>(table_off_);
  auto* entries = reinterpret_cast<ClassEntry*>(h + 1);
  uint32_t id = static_cast<uint32_t>(kFirstUserClassId + user_.size());
  ClassEntry& e = entries[user_.size()];
  e = make_entry(id, name, refs);
  pool.persister().persist(&e, sizeof(e));
  pool.persister().store_persist(&h->count, uint64_t{user_.size() + 1});
  user_.push_back(ClassRecord{id, std::string(name), refs});
  by_name_.emplace(std::string(name), id);
  return id;
}

// Moves the table to a new object with twice the room. The new table is
// complete and durable before the anchor points at it; a crash in between
// leaves an unreachable object that recovery reclaims.
Status ClassTable::grow(Pool& pool, Heap& heap) {
  uint64_t old_cap = table_off_ == 0 ? 0 : pool.at<ClassTableHeader>(table_off_)->capacity;
  uint64_t cap = std::max<uint64_t>(16, old_cap * 2);
  NVOBJ_ASSIGN_OR_RETURN(uint64_t off, heap.allocate(table_bytes(cap), kClassIdClassTable));
  auto* h = pool.at<ClassTableHeader>(off);
  std::memset(h, 0, table_bytes(cap));
  std::memcpy(h->magic, kClassTableMagic, sizeof(h->magic));
  h->capacity = cap;
  if (table_off_ != 0) {
    const auto* old = pool.at<ClassTableHeader>(table_off_);
    h->count = old->count;
    std::memcpy(h + 1, old + 1, old->count * sizeof(ClassEntry));
  }
  pool.persister().persist(pool.at(off - kObjectHeaderSize), kObjectHeaderSize + table_bytes(cap));
  pool.persister().store_persist(pool.anchor(kAnchorClassTable), off);
  if (table_off_ != 0) heap.deallocate(table_off_);
  table_off_ = off;
  return Status::ok();
}

}  // namespace nvobj
