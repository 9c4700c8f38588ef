// The pool's class table: class name -> class id, plus each class's RefMap.
//
// Ids are assigned per pool, in the order classes are first used with it, and
// never change, so programs that register classes in different orders (or
// different builds of one program) agree on what every object is. There is
// no limit on the number of classes: the table grows.
//
// On media (an object of class kClassIdClassTable, reached from anchor
// kAnchorClassTable): a 64-byte header and 128-byte entries. An entry is
// written and made durable before the count that covers it (2 fences, once
// per class per pool), so a crash never exposes a half-written entry; each
// entry also carries a checksum so that damage is reported, not trusted.
#ifndef NVOBJ_RUNTIME_CLASS_TABLE_H_
#define NVOBJ_RUNTIME_CLASS_TABLE_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/heap.h"
#include "runtime/pool.h"
#include "runtime/ref_map.h"
#include "runtime/status.h"

namespace nvobj {

inline constexpr char kClassTableMagic[8] = {'N', 'V', 'O', 'B', 'J', 'C', 'T', '1'};
inline constexpr size_t kMaxClassNameLength = 64;

struct ClassTableHeader {
  char magic[8];
  uint64_t capacity;  // entries the object has room for
  uint64_t count;     // entries in use (ids kFirstUserClassId ... + count - 1)
  uint64_t reserved[5];
};
static_assert(sizeof(ClassTableHeader) == 64 && alignof(ClassTableHeader) == 8);

struct ClassEntry {
  uint32_t id;
  uint32_t layout_size;
  uint32_t tail_kind;
  uint32_t tail_count_offset;
  uint32_t tail_offset;
  uint16_t name_length;
  uint16_t reserved;
  uint64_t ref_words[RefMap::kMaxFixedWords / 64];
  char name[kMaxClassNameLength];
  uint32_t crc;  // crc32c of the bytes above
  uint32_t reserved2;
};
static_assert(sizeof(ClassEntry) == 128 && alignof(ClassEntry) == 8);

// RefMaps of nvobj's own classes (ids below kFirstUserClassId), or nullptr.
const RefMap* builtin_ref_map(uint32_t class_id);
// "nvobj.RootTable" etc. for builtin ids; empty for others.
std::string_view builtin_class_name(uint32_t class_id);

struct ClassRecord {
  uint32_t id = 0;
  std::string name;
  RefMap refs;
};

class ClassTable {
 public:
  // Reads and verifies the table of `pool` (an empty table if the anchor is
  // 0). Errors name the damaged entry.
  static Result<ClassTable> load(const Pool& pool);

  ClassTable() = default;  // empty: a pool with no user class yet
  ClassTable(ClassTable&&) noexcept;
  ClassTable& operator=(ClassTable&&) noexcept;

  // The id of class `name`, adding it (durably) if the pool has never seen
  // it. Fails if the pool knows the class with a different RefMap.
  Result<uint32_t> intern(Pool& pool, Heap& heap, std::string_view name, const RefMap& refs);

  // The class with this id (builtin or user), or nullptr.
  const ClassRecord* find(uint32_t id) const;
  const ClassRecord* find(std::string_view name) const;
  // Every user class, by id.
  std::vector<ClassRecord> user_classes() const;
  // Offset of the table object (0 when the pool has no user class yet).
  uint64_t table_offset() const { return table_off_; }

 private:
  Status grow(Pool& pool, Heap& heap);

  mutable std::mutex mu_;
  uint64_t table_off_ = 0;
  std::deque<ClassRecord> user_;  // index = id - kFirstUserClassId; stable addresses
  std::unordered_map<std::string, uint32_t> by_name_;
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_CLASS_TABLE_H_
