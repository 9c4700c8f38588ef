// The record mapping, the same on every backend and both targets: a YCSB
// record (fieldcount named fields) is ONE string value holding its field
// values in field order, each as a 4-byte little-endian length and the bytes:
//
//   record := (len:u32le bytes[len]){fieldcount}
//
// Field names are not stored (they are field0..fieldN-1 by position), so a
// 10 x 100 B record is 1040 bytes. One value per record means a read is one
// GET and an update of one field can be one read-modify-write call.
#ifndef NVOBJ_BENCH_YCSB_RECORD_H_
#define NVOBJ_BENCH_YCSB_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nvobj::ycsb {

// Appends one field to a record under construction.
void append_field(std::string* record, std::string_view value);
// Every field, into out[0..n) (strings reused, so steady-state decoding
// copies bytes without allocating). False if the record is malformed.
bool decode_fields(std::string_view record, std::vector<std::string>* out);
// Field i alone. False if malformed or there is no field i.
bool decode_field(std::string_view record, size_t i, std::string* out);
// The record with field i replaced by `value`. False if malformed or there
// is no field i.
bool replace_field(std::string_view record, size_t i, std::string_view value, std::string* out);

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_RECORD_H_
