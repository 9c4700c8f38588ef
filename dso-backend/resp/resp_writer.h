// ReplyWriter: encodes replies to a Redis client in RESP2 or RESP3.
//
// Appends to a caller-owned output buffer, so a connection batches the
// replies of a whole pipeline into one write. The protocol version is per
// connection (HELLO 3 switches it); types RESP2 lacks degrade the way
// redis-server degrades them: a map becomes a flat array of 2n elements, a
// set an array, a double a bulk string, a boolean the integer 1 or 0.
//
//   std::string out;
//   ReplyWriter w(&out, RespVersion::kResp3);
//   w.map_header(1);
//   w.bulk_string("hits");
//   w.integer(42);  // out == "%1\r\n$4\r\nhits\r\n:42\r\n"
//
// Aggregate headers only announce a count: the caller then writes exactly
// that many elements (2n for a map).
#ifndef NVOBJ_DSO_BACKEND_RESP_RESP_WRITER_H_
#define NVOBJ_DSO_BACKEND_RESP_RESP_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nvobj::dso {

// The protocol a connection speaks: RESP2 until the client sends HELLO 3.
enum class RespVersion { kResp2 = 2, kResp3 = 3 };

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string* out, RespVersion version = RespVersion::kResp2)
      : out_(out), version_(version) {}

  RespVersion version() const { return version_; }
  void set_version(RespVersion version) { version_ = version; }
  std::string* buffer() const { return out_; }

  // "+OK". CR and LF, which would end the reply early, become spaces.
  void simple_string(std::string_view s);
  // "-ERR message", the generic error code.
  void error(std::string_view message);
  // "-CODE message", e.g. error("WRONGTYPE", "Operation against a key ...").
  // CR and LF become spaces, as in redis's addReplyError.
  void error(std::string_view code, std::string_view message);
  void integer(int64_t value);
  // Binary safe.
  void bulk_string(std::string_view s);
  // The absent value (GET of a missing key): "$-1" in RESP2, "_" in RESP3.
  void null();
  // The absent aggregate (e.g. BLPOP timing out): "*-1" in RESP2, "_" in RESP3.
  void null_array();
  void array_header(size_t count);
  // count key-value pairs follow (2 * count elements).
  void map_header(size_t count);
  void set_header(size_t count);
  // Shortest text that reads back as the same double; inf, -inf, nan.
  void double_value(double value);
  void boolean(bool value);

 private:
  void header(char type, uint64_t count);
  void line(char type, std::string_view text);

  std::string* out_;
  RespVersion version_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_RESP_RESP_WRITER_H_
