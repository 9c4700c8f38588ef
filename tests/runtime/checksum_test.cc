#include "runtime/checksum.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/record_chunk.h"

namespace nvobj {
namespace {

// xorshift64 bytes: the same data on every run.
void fill_pseudo_random(void* p, size_t n, uint64_t x) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b[i] = static_cast<unsigned char>(x);
  }
}

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) test vectors.
  EXPECT_EQ(crc32c("", 0), 0u);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  unsigned char zeros[32] = {};
  EXPECT_EQ(crc32c(zeros, sizeof zeros), 0x8A9136AAu);
  unsigned char ones[32];
  std::memset(ones, 0xFF, sizeof ones);
  EXPECT_EQ(crc32c(ones, sizeof ones), 0x62A8AB43u);
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::string s = "the quick brown fox jumps over the lazy dog, persistently";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t part = crc32c(s.data(), cut);
    EXPECT_EQ(crc32c(s.data() + cut, s.size() - cut, part), crc32c(s.data(), s.size()));
  }
}

TEST(Crc32cTest, TwoRangesInOneCallEqualTheChainedCalls) {
  std::string s(800, '\0');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 131 + 17);
  for (size_t a : {0u, 1u, 7u, 36u, 64u, 300u})
    for (size_t b : {0u, 3u, 8u, 100u, 399u}) {  // a + 5 + b stays within s
      uint32_t seed = static_cast<uint32_t>(a * 1000 + b);
      EXPECT_EQ(crc32c2(s.data(), a, s.data() + a + 5, b, seed),
                crc32c(s.data() + a + 5, b, crc32c(s.data(), a, seed)))
          << a << " " << b;
    }
}

// The hardware path splits long inputs into three streams and joins them
// (checksum.cc): it must give, for every length, alignment and starting
// value, what the one-bit-at-a-time definition gives.
uint32_t reference_crc32c(const unsigned char* p, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32cTest, MatchesTheDefinitionForEveryLengthAlignmentAndSeed) {
  std::string buf(4096 + 16, '\0');
  fill_pseudo_random(buf.data(), buf.size(), 0x9E3779B97F4A7C15u);
  const auto* base = reinterpret_cast<const unsigned char*>(buf.data());
  for (size_t len : {0,   1,   7,   8,    63,   64,   191,  192,  193,  200, 767,
                     768, 769, 960, 1000, 1040, 1100, 2047, 2304, 3000, 4096}) {
    for (size_t align = 0; align < 8; ++align) {
      for (uint32_t seed : {0u, 0xFFFFFFFFu, 0x12345678u}) {
        ASSERT_EQ(crc32c(base + align, len, seed), reference_crc32c(base + align, len, seed))
            << "len " << len << " align " << align << " seed " << seed;
      }
    }
  }
  for (size_t len = 0; len <= 1600; ++len)
    ASSERT_EQ(crc32c(base, len), reference_crc32c(base, len, 0)) << "len " << len;
}

TEST(Crc32cTest, DetectsSingleBitFlips) {
  unsigned char buf[512] = {};
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = static_cast<unsigned char>(i * 7);
  uint32_t good = crc32c(buf, sizeof buf);
  for (size_t bit = 0; bit < sizeof buf * 8; bit += 37) {
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
    EXPECT_NE(crc32c(buf, sizeof buf), good);
    buf[bit / 8] ^= static_cast<unsigned char>(1u << (bit % 8));
  }
}

// A record's checksum is defined on media as crc32c over the chunk's nonce,
// the header's bytes after crc, and the body, in that order: pools written
// by any build must keep verifying, however record_crc computes it.
TEST(RecordCrcTest, IsTheChecksumOfNonceHeaderAndBodyInOneRun) {
  std::string body(300, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 + 7);
  for (uint32_t len : {0u, 1u, 13u, 100u, 300u}) {
    RecordHeader h{};
    h.body_len = len;
    h.nonce_lo = 0x89ABCDEFu;
    h.kind = 3;
    h.ref = 0x1122334455667788ull;
    h.meta = 42 + len;
    const uint64_t nonce = 0x0123456789ABCDEFull;
    std::string all(reinterpret_cast<const char*>(&nonce), sizeof(nonce));
    all.append(reinterpret_cast<const char*>(&h) + 4, sizeof(RecordHeader) - 4);
    all.append(body.data(), len);
    EXPECT_EQ(record_crc(nonce, h, body.data()), crc32c(all.data(), all.size())) << len;
  }
}

// The cleaner's copies patch their checksum for the new chunk's nonce
// (reseal_copy) instead of recomputing it: the result must be what sealing
// the copy afresh gives, for every body length (the patch shifts by each
// set bit of it) and any pair of nonces.
TEST(RecordCrcTest, APatchedCopyMatchesAFreshSeal) {
  std::string body(5000, '\0');
  uint64_t x = 0x9E3779B97F4A7C15u;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (char& c : body) c = static_cast<char>(next());
  std::string src(sizeof(RecordHeader) + body.size(), '\0'), fresh = src, patched = src;
  for (uint32_t len = 0; len <= body.size(); len += len < 300 ? 1 : 97) {
    const uint64_t from = next(), to = next();
    RecordHeader h{};
    h.body_len = len;
    h.kind = static_cast<uint32_t>(1 + next() % 3);
    h.ref = next();
    h.meta = next();
    std::memcpy(src.data() + sizeof(RecordHeader), body.data(), len);
    seal_record(from, h, src.data());
    ASSERT_EQ(valid_record_span(from, src.data(), src.size()), record_span(len));
    RecordHeader sealed;
    std::memcpy(&sealed, src.data(), sizeof sealed);
    std::memcpy(fresh.data() + sizeof(RecordHeader), body.data(), len);
    std::memcpy(patched.data() + sizeof(RecordHeader), body.data(), len);
    seal_record(to, h, fresh.data());
    reseal_copy(from, to, sealed, patched.data());
    ASSERT_EQ(std::memcmp(fresh.data(), patched.data(), sizeof(RecordHeader)), 0) << len;
    ASSERT_EQ(valid_record_span(to, patched.data(), patched.size()), record_span(len)) << len;
  }
}

// crc32c_patch against a pass over the whole message, for lengths that set
// every bit up to 2^22 (the shift is done a set bit of the length at a
// time), by the path this CPU takes and by the table path of CPUs
// without a carry-less multiply.
TEST(Crc32cPatchTest, MatchesARecomputationAtEveryBitOfTheLength) {
  std::vector<uint8_t> msg((size_t{1} << 22) + 64);
  fill_pseudo_random(msg.data(), msg.size(), 0x2545F4914F6CDD1Du);
  std::vector<size_t> lens = {16, 17, 23, 24, 31, 33, 63, 64, 65, 1000, 1056};
  for (int k = 5; k <= 22; ++k) {
    lens.push_back(size_t{1} << k);
    lens.push_back((size_t{1} << k) + 16 + static_cast<size_t>(k));
    lens.push_back((size_t{1} << k) - 1);
  }
  for (size_t len : lens) {
    ASSERT_LE(len, msg.size());
    uint8_t delta[16];
    for (int i = 0; i < 16; ++i) delta[i] = static_cast<uint8_t>(0x5A ^ (i * 37) ^ len);
    uint32_t before = crc32c(msg.data(), len);
    std::vector<uint8_t> changed(msg.begin(), msg.begin() + static_cast<std::ptrdiff_t>(len));
    for (int i = 0; i < 16; ++i) changed[static_cast<size_t>(i)] ^= delta[i];
    uint32_t after = crc32c(changed.data(), len);
    EXPECT_EQ(crc32c_patch(before, delta, len), after) << len;
    EXPECT_EQ(detail::crc32c_patch_tables(before, delta, len), after) << len;
  }
}

// ... and a body that changed after it was checked (a flipped bit in the
// source) gives a copy that does not check out: the copy keeps the
// original's checksum, adjusted, rather than vouching for what it copied.
TEST(RecordCrcTest, APatchedCopyOfACorruptedBodyIsRejected) {
  std::string rec(sizeof(RecordHeader) + 200, '\0');
  for (size_t i = 0; i < 200; ++i) rec[sizeof(RecordHeader) + i] = static_cast<char>(i * 7);
  RecordHeader h{};
  h.body_len = 200;
  h.kind = 1;
  seal_record(0x1111, h, rec.data());
  RecordHeader sealed;
  std::memcpy(&sealed, rec.data(), sizeof sealed);
  rec[sizeof(RecordHeader) + 123] ^= 0x10;  // after the check
  std::string copy = rec;
  reseal_copy(0x1111, 0x2222, sealed, copy.data());
  EXPECT_EQ(valid_record_span(0x2222, copy.data(), copy.size()), 0u);
}

}  // namespace
}  // namespace nvobj
