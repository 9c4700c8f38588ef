// Internal to the fs baseline: the bytes of its data file.
//
//   file   := header batch*
//   header := "NVOBJFS1" version:u32 crc32c(magic, version):u32        16 bytes
//   batch  := magic:u32 crc:u32 len:u32 count:u32 record{count}        16 + len
//             crc = crc32c of everything after it (len, count, records)
//   record := kind:u8 key_len:u32 val_len:u32 key value
//
// A batch holds every record of one Backend write call and is appended with
// one write() and made durable with one fdatasync(), so a call is
// failure-atomic: a batch cut by a crash fails its checksum at open and is
// dropped whole. Integers are little-endian (x86; see the static_assert).
//
// Records (what their key and value hold):
//   kKeyPut   key = the user key; value = type:u8 gen:u64 [string bytes].
//             Binds the key to a new value: a string, or an empty container
//             of generation `gen` (unique in the file, never reused).
//   kKeyDel   key = the user key: the key and its container are gone.
//   kElemPut  key = gen (8 bytes, big-endian) + sub-key; value = element.
//             hash: sub-key field, value its value; list: sub-key position,
//             value the element; zset: sub-key member, value its score (8
//             bytes, IEEE 754). Replaces an element with the same key.
//   kElemDel  key = gen + sub-key: the element is gone.
// Elements name their container by generation, so deleting or replacing a
// container is one record: elements of a generation no key holds are dead.
#ifndef NVOBJ_DSO_BACKEND_BASELINES_FS_FORMAT_H_
#define NVOBJ_DSO_BACKEND_BASELINES_FS_FORMAT_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace nvobj::dso::fs {

static_assert(std::endian::native == std::endian::little, "the fs format is little-endian");

inline constexpr std::string_view kFileMagic = "NVOBJFS1";
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 16;
inline constexpr uint32_t kBatchMagic = 0x42534644;  // "DFSB"
inline constexpr size_t kBatchHeaderSize = 16;
inline constexpr size_t kRecordHeaderSize = 9;
inline constexpr size_t kKeyValuePrefix = 9;  // type:u8 gen:u64
// No batch is larger: bounds what a corrupt length field can make us read.
inline constexpr uint32_t kMaxBatchPayload = 1u << 31;

enum class RecordKind : uint8_t { kKeyPut = 1, kKeyDel = 2, kElemPut = 3, kElemDel = 4 };

std::string file_header();
// True if the 16 bytes are a header of this format version; *version gets
// the version found when the magic matches.
bool parse_file_header(std::string_view bytes, uint32_t* version);

// One batch being built.
class BatchWriter {
 public:
  BatchWriter() { clear(); }
  // Appends a record whose value is prefix + value; returns the offset of
  // the value (its prefix) from the start of the batch.
  uint64_t add(RecordKind kind, std::string_view key, std::string_view prefix = {},
               std::string_view value = {});
  // Fills in the header; the batch is then data().
  void seal();
  std::string_view data() const { return buf_; }
  size_t size() const { return buf_.size(); }
  uint32_t count() const { return count_; }
  void clear();

 private:
  std::string buf_;
  uint32_t count_ = 0;
};

struct BatchHeader {
  uint32_t crc;
  uint32_t len;  // bytes of records after the header
  uint32_t count;
};

// Decodes a batch header; false if the magic is wrong or len too large.
bool parse_batch_header(const char* p, BatchHeader* h);
// True if the batch (header + len bytes) matches its checksum.
bool batch_crc_ok(const char* batch, const BatchHeader& h);

struct RecordView {
  RecordKind kind;
  std::string_view key;
  std::string_view value;
  uint64_t value_offset;  // from the start of the batch
  uint32_t size;          // the whole record
};

// fn(record) for every record of a checked batch; false if the records do
// not parse exactly (a bug or corruption that the checksum cannot explain).
template <typename Fn>
bool for_each_record(const char* batch, const BatchHeader& h, Fn&& fn);

// Element record keys.
std::string elem_key(uint64_t gen, std::string_view sub);
uint64_t elem_gen(std::string_view key);  // key.size() >= 8
inline std::string_view elem_sub(std::string_view key) { return key.substr(8); }

std::string key_prefix(uint8_t type, uint64_t gen);

// List positions: 8 bytes of big-endian "major" number (sign bit flipped so
// that byte order is numeric order) and an optional fraction, compared as
// bytes. Pushes take the next major at either end; an insertion takes a
// position strictly between its neighbours, so no other element is ever
// rewritten. "" stands for the open end on either side.
std::string position_between(std::string_view a, std::string_view b);

// --- implementation ---

template <typename Fn>
bool for_each_record(const char* batch, const BatchHeader& h, Fn&& fn) {
  const char* p = batch + kBatchHeaderSize;
  const char* end = p + h.len;
  for (uint32_t i = 0; i < h.count; ++i) {
    if (end - p < static_cast<ptrdiff_t>(kRecordHeaderSize)) return false;
    uint8_t kind = static_cast<uint8_t>(p[0]);
    uint32_t klen, vlen;
    std::memcpy(&klen, p + 1, 4);
    std::memcpy(&vlen, p + 5, 4);
    if (kind < 1 || kind > 4) return false;
    uint64_t size = kRecordHeaderSize + uint64_t{klen} + vlen;
    if (static_cast<uint64_t>(end - p) < size) return false;
    RecordView r;
    r.kind = static_cast<RecordKind>(kind);
    r.key = std::string_view(p + kRecordHeaderSize, klen);
    r.value = std::string_view(p + kRecordHeaderSize + klen, vlen);
    r.value_offset = static_cast<uint64_t>(r.value.data() - batch);
    r.size = static_cast<uint32_t>(size);
    if (!fn(r)) return false;
    p += size;
  }
  return p == end;
}

}  // namespace nvobj::dso::fs

#endif  // NVOBJ_DSO_BACKEND_BASELINES_FS_FORMAT_H_
