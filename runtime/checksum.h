// CRC-32C (Castagnoli) over byte ranges. Used to validate on-media metadata
// (pool header copies now; records and log entries later), where a torn or
// corrupt write must be recognisable after a crash. Uses the SSE4.2 crc32
// instruction when the CPU has it, a table otherwise; both give the same value.
#ifndef NVOBJ_RUNTIME_CHECKSUM_H_
#define NVOBJ_RUNTIME_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace nvobj {

// splitmix64's finaliser: a bijection of 64-bit words that spreads every
// input bit over the output (hashes of small keys, checks of small
// on-media entries mixed with a nonce).
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Extends `crc` (start with 0) over [data, data + len).
uint32_t crc32c(const void* data, size_t len, uint32_t crc = 0);

// crc32c(b, blen, crc32c(a, alen, crc)) in one call: a record's checksum
// covers a header prefix and a body that are not contiguous, and a call
// costs ~45 instructions before its first byte.
uint32_t crc32c2(const void* a, size_t alen, const void* b, size_t blen, uint32_t crc = 0);

// The crc32c of a message of `len` (>= 16) bytes that differs from one whose crc32c
// is `crc` only in its first 16 bytes, by `delta` (XORed into them). CRC-32C
// is affine in the message, so this costs a carry-less multiply (or, on CPUs
// without one, a few table lookups) per set bit of len, whatever len is,
// instead of a pass over the message.
uint32_t crc32c_patch(uint32_t crc, const uint8_t (&delta)[16], size_t len);

namespace detail {
// crc32c_patch without the carry-less multiply (CPUs without it), for tests.
uint32_t crc32c_patch_tables(uint32_t crc, const uint8_t (&delta)[16], size_t len);
}  // namespace detail

// True when crc32c uses the hardware instruction (reported by tools).
bool crc32c_is_hardware();

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_CHECKSUM_H_
