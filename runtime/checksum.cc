#include "runtime/checksum.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#include <wmmintrin.h>
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

bool has_cpu_feature(unsigned ecx_bit) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & ecx_bit) != 0;
}
const bool kHasSse42 = has_cpu_feature(bit_SSE4_2);
const bool kHasClmul = kHasSse42 && has_cpu_feature(bit_PCLMUL);
#else
const bool kHasSse42 = false;
#endif

#if defined(__x86_64__)
// Polynomials mod P in the CRC register's (reflected) form: bit i is the
// coefficient of x^(31-i). a * b mod P, bit by bit (constants only).
uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t p = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) p ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}
// x^e mod P.
uint32_t xpow_modp(uint64_t e) {
  uint32_t r = 1u << 31, x2 = 1u << 30;  // 1 and x^1
  for (; e != 0; e >>= 1) {
    if (e & 1) r = multmodp(r, x2);
    x2 = multmodp(x2, x2);
  }
  return r;
}

// The register run over n zero bytes is the register times x^(8n) mod P.
// A carry-less multiply of two registers a and b, fed to the crc32
// instruction from 0, gives a * b * x^33 mod P (the 63-bit product is one
// degree short of the 64 bits the instruction reads, which it then
// multiplies by x^32); so multiplying by x^(8 * 2^k - 33) shifts by 2^k
// bytes in a multiply and a crc32 (~10 cycles), from 37 constants that
// stay in the cache, where the tables take 4 loads from 4 KB per bit.
struct ClmulShifts {
  uint32_t k[40] = {};  // k[i] = x^(8 * 2^i - 33) mod P, for i >= 3
  ClmulShifts() {
    for (int i = 3; i < 40; ++i) k[i] = xpow_modp((uint64_t{8} << i) - 33);
  }
};
const ClmulShifts kClmulShifts;

__attribute__((target("sse4.2,pclmul"))) uint32_t shift_zeros_clmul(uint32_t c, uint64_t n) {
  if (n & 1) c = _mm_crc32_u8(c, 0);  // below 8 bytes the crc32 instruction itself
  if (n & 2) c = _mm_crc32_u16(c, 0);
  if (n & 4) c = _mm_crc32_u32(c, 0);
  n >>= 3;
  for (int i = 3; n != 0; ++i, n >>= 1) {
    if ((n & 1) == 0) continue;
    __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(c)),
                                     _mm_cvtsi32_si128(static_cast<int>(kClmulShifts.k[i])), 0);
    c = static_cast<uint32_t>(_mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(p))));
  }
  return c;
}
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

namespace detail {

uint32_t crc32c_patch_tables(uint32_t crc, const uint8_t (&delta)[16], size_t len) {
  static const PowerShifts shifts;
  return crc ^ shifts.shift(crc32c_sw(delta, sizeof delta, 0), len - sizeof delta);
}

}  // namespace detail

uint32_t crc32c_patch(uint32_t crc, const uint8_t (&delta)[16], size_t len) {
  // crc(M ^ D) = crc(M) ^ r(D) for messages of one length, where r is the
  // register run from 0 without the inversions: over D's 16 bytes, then
  // over the zeros that follow them.
#if defined(__x86_64__)
  if (kHasClmul) {
    auto r = static_cast<uint32_t>(crc32c_hw_serial(delta, sizeof delta, 0));
    return crc ^ shift_zeros_clmul(r, len - sizeof delta);
  }
#endif
  return detail::crc32c_patch_tables(crc, delta, len);
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
