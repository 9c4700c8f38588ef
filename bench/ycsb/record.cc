#include "bench/ycsb/record.h"

#include <cstring>

namespace nvobj::ycsb {
namespace {

// Reads the field at *pos; advances *pos past it.
bool next_field(std::string_view record, size_t* pos, std::string_view* field) {
  if (record.size() - *pos < 4) return false;
  uint32_t len = 0;
  for (int b = 3; b >= 0; --b) len = (len << 8) | static_cast<unsigned char>(record[*pos + b]);
  *pos += 4;
  if (record.size() - *pos < len) return false;
  *field = record.substr(*pos, len);
  *pos += len;
  return true;
}

}  // namespace

void append_field(std::string* record, std::string_view value) {
  auto len = static_cast<uint32_t>(value.size());
  char hdr[4] = {static_cast<char>(len), static_cast<char>(len >> 8), static_cast<char>(len >> 16),
                 static_cast<char>(len >> 24)};
  record->append(hdr, 4);
  record->append(value);
}

bool decode_fields(std::string_view record, std::vector<std::string>* out) {
  size_t pos = 0, n = 0;
  std::string_view f;
  while (pos < record.size()) {
    if (!next_field(record, &pos, &f)) return false;
    if (n == out->size()) out->emplace_back();
    (*out)[n++].assign(f);
  }
  out->resize(n);
  return true;
}

bool decode_field(std::string_view record, size_t i, std::string* out) {
  size_t pos = 0;
  std::string_view f;
  for (size_t k = 0; k <= i; ++k) {
    if (!next_field(record, &pos, &f)) return false;
  }
  out->assign(f);
  return true;
}

bool replace_field(std::string_view record, size_t i, std::string_view value, std::string* out) {
  size_t pos = 0, start = 0;
  std::string_view f;
  for (size_t k = 0; k <= i; ++k) {
    start = pos;
    if (!next_field(record, &pos, &f)) return false;
  }
  out->clear();
  out->reserve(record.size() - f.size() + value.size());
  out->append(record.substr(0, start));
  append_field(out, value);
  out->append(record.substr(pos));
  return true;
}

}  // namespace nvobj::ycsb
