#include "dso-backend/baselines/fs_format.h"

#include <cstring>

#include "runtime/checksum.h"

namespace nvobj::dso::fs {

namespace {

void put32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }

uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr uint64_t kSignBit = uint64_t{1} << 63;

std::string encode_position(int64_t major, std::string_view fraction = {}) {
  uint64_t be = __builtin_bswap64(static_cast<uint64_t>(major) ^ kSignBit);
  std::string s(reinterpret_cast<const char*>(&be), 8);
  s.append(fraction);
  return s;
}

int64_t major_of(std::string_view pos) {
  uint64_t be;
  std::memcpy(&be, pos.data(), 8);
  return static_cast<int64_t>(__builtin_bswap64(be) ^ kSignBit);
}

// Base-256 digits strictly between fractions a and b (b empty: 1.0). The
// result never ends in a zero byte, so there is room below it later.
std::string fraction_between(std::string_view a, std::string_view b) {
  std::string r;
  bool upper_is_one = b.empty();
  for (size_t i = 0;; ++i) {
    int lo = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    int hi = upper_is_one ? 256 : (i < b.size() ? static_cast<unsigned char>(b[i]) : 0);
    if (hi - lo >= 2) {
      r.push_back(static_cast<char>(lo + (hi - lo) / 2));
      return r;
    }
    r.push_back(static_cast<char>(lo));
    if (hi - lo == 1) upper_is_one = true;  // below hi: the rest of a may grow freely
  }
}

}  // namespace

std::string file_header() {
  std::string h(kFileMagic);
  put32(&h, kFormatVersion);
  put32(&h, crc32c(h.data(), h.size()));
  return h;
}

bool parse_file_header(std::string_view bytes, uint32_t* version) {
  if (bytes.size() < kFileHeaderSize || bytes.substr(0, 8) != kFileMagic) return false;
  *version = get32(bytes.data() + 8);
  return get32(bytes.data() + 12) == crc32c(bytes.data(), 12) && *version == kFormatVersion;
}

void BatchWriter::clear() {
  buf_.assign(kBatchHeaderSize, '\0');
  count_ = 0;
}

uint64_t BatchWriter::add(RecordKind kind, std::string_view key, std::string_view prefix,
                          std::string_view value) {
  buf_.push_back(static_cast<char>(kind));
  put32(&buf_, static_cast<uint32_t>(key.size()));
  put32(&buf_, static_cast<uint32_t>(prefix.size() + value.size()));
  buf_.append(key);
  uint64_t at = buf_.size();
  buf_.append(prefix);
  buf_.append(value);
  ++count_;
  return at;
}

void BatchWriter::seal() {
  char* p = buf_.data();
  uint32_t magic = kBatchMagic;
  uint32_t len = static_cast<uint32_t>(buf_.size() - kBatchHeaderSize);
  std::memcpy(p, &magic, 4);
  std::memcpy(p + 8, &len, 4);
  std::memcpy(p + 12, &count_, 4);
  uint32_t crc = crc32c(p + 8, buf_.size() - 8);
  std::memcpy(p + 4, &crc, 4);
}

bool parse_batch_header(const char* p, BatchHeader* h) {
  if (get32(p) != kBatchMagic) return false;
  h->crc = get32(p + 4);
  h->len = get32(p + 8);
  h->count = get32(p + 12);
  return h->len <= kMaxBatchPayload;
}

bool batch_crc_ok(const char* batch, const BatchHeader& h) {
  return crc32c(batch + 8, 8 + size_t{h.len}) == h.crc;
}

std::string elem_key(uint64_t gen, std::string_view sub) {
  uint64_t be = __builtin_bswap64(gen);
  std::string k(reinterpret_cast<const char*>(&be), 8);
  k.append(sub);
  return k;
}

uint64_t elem_gen(std::string_view key) {
  uint64_t be;
  std::memcpy(&be, key.data(), 8);
  return __builtin_bswap64(be);
}

std::string key_prefix(uint8_t type, uint64_t gen) {
  std::string p(1, static_cast<char>(type));
  p.append(reinterpret_cast<const char*>(&gen), 8);
  return p;
}

std::string position_between(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return encode_position(0);
  if (b.empty()) return encode_position(major_of(a) + 1);
  if (a.empty()) return encode_position(major_of(b) - 1);
  int64_t ma = major_of(a), mb = major_of(b);
  if (mb - ma >= 2) return encode_position(ma + 1);
  if (mb == ma + 1) return encode_position(ma, fraction_between(a.substr(8), {}));
  return encode_position(ma, fraction_between(a.substr(8), b.substr(8)));
}

}  // namespace nvobj::dso::fs
