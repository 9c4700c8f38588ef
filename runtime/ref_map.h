// RefMap: where the references are in an object of a class. It is declared by
// the class (see proxy.h) and stored in the pool's class table, so recovery
// and `nvobj-pool check` can walk a pool without the application's code.
//
// An object is a fixed layout (`layout_size` bytes, references at the 8-byte
// words set in `ref_words`) optionally followed by a tail whose length is a
// uint64_t count stored in the fixed layout:
//   kTailRefs   `count` references starting at tail_offset
//   kTailBytes  `count` bytes starting at tail_offset (no references; bounds
//               are still checked)
//   kRecords    `count` bytes of checksummed records (record_chunk.h) starting
//               at tail_offset, with the chunk's nonce in the 8 bytes before
//               it; the ref of each valid record is a reference
#ifndef NVOBJ_RUNTIME_REF_MAP_H_
#define NVOBJ_RUNTIME_REF_MAP_H_

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#include "runtime/record_chunk.h"

namespace nvobj {

enum class TailKind : uint32_t { kNone = 0, kRefs = 1, kBytes = 2, kRecords = 3 };

struct RefMap {
  static constexpr uint32_t kMaxFixedWords = 256;  // references within the first 2 KiB

  uint32_t layout_size = 0;
  TailKind tail_kind = TailKind::kNone;
  uint32_t tail_count_offset = 0;  // offset of the uint64_t element count
  uint32_t tail_offset = 0;        // offset of the first tail element
  uint64_t ref_words[kMaxFixedWords / 64] = {};

  bool is_ref_word(uint32_t word) const {
    return word < kMaxFixedWords && ((ref_words[word / 64] >> (word % 64)) & 1);
  }
  bool has_refs() const {
    for (uint64_t w : ref_words)
      if (w != 0) return true;
    return tail_kind == TailKind::kRefs;
  }
  friend bool operator==(const RefMap& a, const RefMap& b) {
    return a.layout_size == b.layout_size && a.tail_kind == b.tail_kind &&
           a.tail_count_offset == b.tail_count_offset && a.tail_offset == b.tail_offset &&
           std::memcmp(a.ref_words, b.ref_words, sizeof(a.ref_words)) == 0;
  }
  // "24 bytes, refs at {8, 16}, tail of refs at 24 (count at 0)".
  std::string describe() const;
  // Empty when the map is self-consistent, else what is wrong with it.
  std::string validate() const;
};

// Builds a RefMap at compile time: ref_map<Data>({offsetof(Data, next), ...}).
template <typename Data>
constexpr RefMap ref_map(std::initializer_list<uint32_t> ref_offsets = {}) {
  RefMap m;
  m.layout_size = sizeof(Data);
  for (uint32_t off : ref_offsets) {
    if (off % 8 != 0 || off + 8 > sizeof(Data) || off / 8 >= RefMap::kMaxFixedWords)
      throw "reference offset must be 8-byte aligned, inside the layout and below 2 KiB";
    m.ref_words[off / 64 / 8] |= uint64_t{1} << (off / 8 % 64);
  }
  return m;
}

// Adds a tail to a fixed map: `count_offset` holds the element count.
constexpr RefMap with_tail(RefMap m, TailKind kind, uint32_t count_offset, uint32_t tail_offset) {
  if (count_offset % 8 != 0 || count_offset + 8 > m.layout_size)
    throw "tail count must be an aligned uint64_t inside the fixed layout";
  if (tail_offset < m.layout_size || (kind != TailKind::kBytes && tail_offset % 8 != 0))
    throw "tail must start after the fixed layout (8-byte aligned for references and records)";
  if (kind == TailKind::kRecords && (tail_offset < 16 || tail_offset - 8 == count_offset))
    throw "a record tail needs its nonce in the 8 bytes before it";
  m.tail_kind = kind;
  m.tail_count_offset = count_offset;
  m.tail_offset = tail_offset;
  return m;
}

// What an object of `map` occupies given its stored tail count: fixed layout
// plus tail. Returns false when the count overflows `usable` bytes.
inline bool object_extent(const RefMap& map, const char* payload, uint64_t usable,
                          uint64_t* count_out) {
  uint64_t count = 0;
  if (map.tail_kind != TailKind::kNone) {
    std::memcpy(&count, payload + map.tail_count_offset, sizeof(count));
    uint64_t elem = map.tail_kind == TailKind::kRefs ? 8 : 1;
    if (count > (usable - map.tail_offset) / elem || usable < map.tail_offset) return false;
  }
  *count_out = count;
  return map.layout_size <= usable;
}

// Calls fn(uint64_t ref_value, uint64_t field_offset_in_payload) for every
// reference of the object at `payload` (usable bytes). The caller checks the
// extent first (object_extent).
template <typename Fn>
void for_each_ref(const RefMap& map, const char* payload, uint64_t tail_count, Fn&& fn) {
  for (uint32_t w = 0; w < RefMap::kMaxFixedWords / 64; ++w) {
    uint64_t bits = map.ref_words[w];
    while (bits != 0) {
      uint32_t word = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      uint64_t v;
      std::memcpy(&v, payload + word * 8, 8);
      fn(v, uint64_t{word} * 8);
    }
  }
  if (map.tail_kind == TailKind::kRecords) {
    uint64_t nonce;
    std::memcpy(&nonce, payload + map.tail_offset - 8, 8);
    for_each_record(nonce, payload + map.tail_offset, tail_count,
                    [&](const RecordHeader& h, const char*, uint64_t pos) {
                      fn(h.ref, map.tail_offset + pos + offsetof(RecordHeader, ref));
                    });
  }
  if (map.tail_kind == TailKind::kRefs) {
    for (uint64_t i = 0; i < tail_count; ++i) {
      uint64_t v;
      std::memcpy(&v, payload + map.tail_offset + i * 8, 8);
      fn(v, map.tail_offset + i * 8);
    }
  }
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_REF_MAP_H_
