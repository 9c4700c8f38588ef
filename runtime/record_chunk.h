// Record chunks: the on-media framing of append-only logs of checksummed
// records inside one heap object (a class whose RefMap has a tail of kind
// TailKind::kRecords). The durable types of pobjects/ keep their entries in
// such logs: appending a record and making it durable costs one write-back
// run and one fence, and a record torn by a crash is recognised by its
// checksum, so no separate commit step (and no second fence) is needed.
//
// Layout of the tail (the chunk's fixed layout holds the tail's capacity in
// bytes, and a 64-bit nonce in the 8 bytes just before the tail):
//
//   [RecordHeader | body | pad to 8] [RecordHeader | body | pad] ... [zeros/garbage]
//
// A record is valid when its kind is non-zero, it fits the tail, its
// nonce_lo matches the chunk's nonce and its CRC (seeded with the full nonce)
// matches. Records are appended by one writer at a time, and a scan stops at
// the first invalid record: usually only the last one can be torn (each is
// durable before the next is written), but under a group commit several are
// made durable together, so valid records may follow a torn one. They are
// not part of the log, and the owner clears them before appending over the
// torn one (RecordLog::scrub_tail). A chunk gets a fresh random nonce whenever it
// is allocated, so records left in reused memory by an earlier chunk can never
// pass for this chunk's records.
//
// `ref` is an object the record keeps alive: recovery and `nvobj-pool check`
// follow the refs of valid records, and only those.
#ifndef NVOBJ_RUNTIME_RECORD_CHUNK_H_
#define NVOBJ_RUNTIME_RECORD_CHUNK_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/checksum.h"

namespace nvobj {

struct RecordHeader {
  uint32_t crc;       // crc32c(nonce, bytes 4..31 of the header, body)
  uint32_t body_len;  // bytes of body after the header
  uint32_t nonce_lo;  // low half of the chunk's nonce
  uint32_t kind;      // owner-defined, never 0
  uint64_t ref;       // payload offset of an object this record keeps alive, or 0
  uint64_t meta;      // owner-defined (the maps store a version here)
};
static_assert(sizeof(RecordHeader) == 32 && alignof(RecordHeader) == 8);

inline constexpr uint64_t kRecordAlign = 8;

// Bytes a record with `body_len` bytes of body occupies in a chunk.
inline constexpr uint64_t record_span(uint64_t body_len) {
  return (sizeof(RecordHeader) + body_len + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

// The checksum of a record (header fields other than crc, then the body).
inline uint32_t record_crc(uint64_t nonce, const RecordHeader& h, const void* body) {
  // The nonce and the header's bytes 4..31 (36 bytes), composed in
  // registers and stored as whole words: copied field by field, the crc's
  // 8-byte loads each spanned two narrower stores, which a load cannot
  // take its bytes from (a store-forwarding stall of ~15 cycles each).
  static_assert(offsetof(RecordHeader, body_len) == 4 && offsetof(RecordHeader, nonce_lo) == 8 &&
                offsetof(RecordHeader, kind) == 12 && offsetof(RecordHeader, ref) == 16 &&
                offsetof(RecordHeader, meta) == 24);
  uint64_t prefix[5] = {
      nonce,
      h.body_len | uint64_t{h.nonce_lo} << 32,
      h.kind | h.ref << 32,
      h.ref >> 32 | h.meta << 32,
      h.meta >> 32,
  };
  static_assert(std::endian::native == std::endian::little);
  return crc32c2(prefix, sizeof(nonce) + sizeof(RecordHeader) - 4, body, h.body_len);
}

// The span of the valid record at `p`, with `remaining` bytes of tail from p
// on; 0 when there is no valid record there (end of the log).
inline uint64_t valid_record_span(uint64_t nonce, const char* p, uint64_t remaining) {
  if (remaining < sizeof(RecordHeader)) return 0;
  RecordHeader h;
  std::memcpy(&h, p, sizeof(h));
  if (h.kind == 0 || h.nonce_lo != static_cast<uint32_t>(nonce)) return 0;
  uint64_t span = record_span(h.body_len);
  if (span > remaining) return 0;
  if (record_crc(nonce, h, p + sizeof(RecordHeader)) != h.crc) return 0;
  return span;
}

// Calls fn(const RecordHeader&, const char* body, uint64_t pos) for each valid
// record of a tail of `capacity` bytes at `tail`; returns the bytes the valid
// records occupy (where the next record would go).
template <typename Fn>
uint64_t for_each_record(uint64_t nonce, const char* tail, uint64_t capacity, Fn&& fn) {
  uint64_t pos = 0;
  while (uint64_t span = valid_record_span(nonce, tail + pos, capacity - pos)) {
    RecordHeader h;
    std::memcpy(&h, tail + pos, sizeof(h));
    fn(h, tail + pos + sizeof(RecordHeader), pos);
    pos += span;
  }
  return pos;
}

// Writes the header of a record whose body the caller has already copied to
// dst + sizeof(RecordHeader) (kind, body_len, ref and meta set in `h`). The
// caller then writes the record back and fences.
inline void seal_record(uint64_t nonce, RecordHeader h, char* dst) {
  h.nonce_lo = static_cast<uint32_t>(nonce);
  h.crc = record_crc(nonce, h, dst + sizeof(RecordHeader));
  std::memcpy(dst, &h, sizeof(h));
}

// Writes the header of a copy of a valid record (`h`, its header in a chunk
// of nonce `from_nonce`) whose body the caller has already copied to
// dst + sizeof(RecordHeader), for a chunk of nonce `to_nonce`. The checksum
// is patched for the new nonce, not recomputed (crc32c_patch: the nonce and
// nonce_lo are the only bytes that change, all in the first 16 it covers),
// so a copy costs no pass over its body, and a body that changed since it
// was checked does not check out in the copy either.
inline void reseal_copy(uint64_t from_nonce, uint64_t to_nonce, RecordHeader h, char* dst) {
  uint8_t delta[16] = {};
  uint64_t d = from_nonce ^ to_nonce;
  std::memcpy(delta, &d, sizeof d);  // the nonce, first in record_crc's message
  uint32_t d_lo = static_cast<uint32_t>(d);
  // nonce_lo: header bytes 8..11, after the nonce and the header's bytes 4..7.
  std::memcpy(delta + sizeof(uint64_t) + offsetof(RecordHeader, nonce_lo) - 4, &d_lo, sizeof d_lo);
  h.nonce_lo = static_cast<uint32_t>(to_nonce);
  h.crc = crc32c_patch(h.crc, delta, sizeof(uint64_t) + sizeof(RecordHeader) - 4 + h.body_len);
  std::memcpy(dst, &h, sizeof(h));
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_RECORD_CHUNK_H_
