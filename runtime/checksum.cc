#include "runtime/checksum.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace nvobj {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c_sw(const uint8_t* p, size_t len, uint32_t crc) {
  for (size_t i = 0; i < len; ++i) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint64_t crc32c_hw_serial(const uint8_t* p, size_t len,
                                                            uint64_t c) {
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (len-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The CRC register is linear in its starting value: running it over
// `kBlock` zero bytes from x is a 32x32 bit matrix times x, tabulated here
// a byte of x at a time. It joins three streams computed side by side:
// crc(c, A B C) = shift(shift(crc(c, A)) ^ crc(0, B)) ^ crc(0, C) for
// blocks of kBlock bytes. One crc32 instruction has a latency of 3 cycles
// and a throughput of 1: three independent chains run 3x as fast as one
// (a 1 KB record's checksum in about half the time).
template <size_t kBlock>
struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  ZeroShift() {
    static const std::array<uint8_t, kBlock> zeros{};
    for (int k = 0; k < 4; ++k)
      for (uint32_t i = 0; i < 256; ++i)
        t[k][i] =
            static_cast<uint32_t>(crc32c_hw_serial(zeros.data(), kBlock, uint64_t{i} << (8 * k)));
  }
  uint32_t operator()(uint32_t x) const {
    return t[0][x & 0xFF] ^ t[1][(x >> 8) & 0xFF] ^ t[2][(x >> 16) & 0xFF] ^ t[3][x >> 24];
  }
};

template <size_t kBlock>
__attribute__((target("sse4.2"))) uint64_t crc32c_hw_3way(const uint8_t*& p, size_t& len,
                                                          uint64_t c) {
  static const ZeroShift<kBlock> shift;
  while (len >= 3 * kBlock) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      uint64_t va, vb, vd;
      std::memcpy(&va, p + i, 8);
      std::memcpy(&vb, p + kBlock + i, 8);
      std::memcpy(&vd, p + 2 * kBlock + i, 8);
      a = _mm_crc32_u64(a, va);
      b = _mm_crc32_u64(b, vb);
      d = _mm_crc32_u64(d, vd);
    }
    c = shift(shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^
        static_cast<uint32_t>(d);
    p += 3 * kBlock;
    len -= 3 * kBlock;
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(const uint8_t* p, size_t len, uint32_t crc) {
  uint64_t c = crc;
  c = crc32c_hw_3way<256>(p, len, c);
  c = crc32c_hw_3way<64>(p, len, c);
  return static_cast<uint32_t>(crc32c_hw_serial(p, len, c));
}

bool detect_sse42() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & bit_SSE4_2) != 0;
}
const bool kHasSse42 = detect_sse42();
#else
const bool kHasSse42 = false;
#endif

// The CRC register run over 2^k zero bytes, for every k: a 32x32 bit matrix
// (linear in the register), tabulated a byte of the register at a time.
// Table k+1 is table k applied twice.
struct PowerShifts {
  std::array<std::array<std::array<uint32_t, 256>, 4>, 40> t{};  // records are < 2^33 bytes
  static uint32_t apply(const std::array<std::array<uint32_t, 256>, 4>& m, uint32_t x) {
    return m[0][x & 0xFF] ^ m[1][(x >> 8) & 0xFF] ^ m[2][(x >> 16) & 0xFF] ^ m[3][x >> 24];
  }
  PowerShifts() {
    for (int j = 0; j < 4; ++j)
      for (uint32_t i = 0; i < 256; ++i) {
        uint32_t r = i << (8 * j);
        t[0][j][i] = kTable[r & 0xFF] ^ (r >> 8);  // one zero byte
      }
    for (size_t k = 0; k + 1 < t.size(); ++k)
      for (int j = 0; j < 4; ++j)
        for (uint32_t i = 0; i < 256; ++i) t[k + 1][j][i] = apply(t[k], apply(t[k], i << (8 * j)));
  }
  uint32_t shift(uint32_t x, uint64_t zeros) const {
    for (size_t k = 0; zeros != 0; ++k, zeros >>= 1)
      if (zeros & 1) x = apply(t[k], x);
    return x;
  }
};

}  // namespace

uint32_t crc32c_patch(uint32_t crc, const uint8_t (&delta)[16], size_t len) {
  // crc(M ^ D) = crc(M) ^ r(D) for messages of one length, where r is the
  // register run from 0 without the inversions: over D's 16 bytes, then
  // over the zeros that follow them.
  static const PowerShifts shifts;
#if defined(__x86_64__)
  uint32_t r = kHasSse42 ? static_cast<uint32_t>(crc32c_hw_serial(delta, sizeof delta, 0))
                         : crc32c_sw(delta, sizeof delta, 0);
#else
  uint32_t r = crc32c_sw(delta, sizeof delta, 0);
#endif
  return crc ^ shifts.shift(r, len - sizeof delta);
}

uint32_t crc32c(const void* data, size_t len, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  if (kHasSse42) return ~crc32c_hw(p, len, crc);
#endif
  return ~crc32c_sw(p, len, crc);
}

uint32_t crc32c2(const void* a, size_t alen, const void* b, size_t blen, uint32_t crc) {
  const auto* pa = static_cast<const uint8_t*>(a);
  const auto* pb = static_cast<const uint8_t*>(b);
  crc = ~crc;
#if defined(__x86_64__)
  if (kHasSse42) return ~crc32c_hw(pb, blen, crc32c_hw(pa, alen, crc));
#endif
  return ~crc32c_sw(pb, blen, crc32c_sw(pa, alen, crc));
}

bool crc32c_is_hardware() { return kHasSse42; }

}  // namespace nvobj
