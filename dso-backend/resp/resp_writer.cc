#include "dso-backend/resp/resp_writer.h"

#include <charconv>
#include <cmath>

namespace nvobj::dso {

namespace {

// Enough for a type byte, any 64-bit integer and CRLF.
constexpr size_t kMaxIntegerLine = 1 + 20 + 2;
// Enough for std::to_chars's shortest form of any double.
constexpr size_t kMaxDoubleText = 32;

// Replaces CR and LF in (*out)[from, end) by spaces.
void blank_line_breaks(std::string* out, size_t from) {
  for (size_t i = from; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
}

// The text of a double as RESP3 spells it: shortest round-trip decimal,
// "inf", "-inf" or "nan". Returns its length.
size_t format_double(double value, char* buf) {
  if (std::isnan(value)) {
    std::char_traits<char>::copy(buf, "nan", 3);
    return 3;
  }
  if (std::isinf(value)) {
    const std::string_view text = value > 0 ? "inf" : "-inf";
    std::char_traits<char>::copy(buf, text.data(), text.size());
    return text.size();
  }
  return std::to_chars(buf, buf + kMaxDoubleText, value).ptr - buf;
}

}  // namespace

// Formats into a stack buffer and appends once: no temporary strings.
void ReplyWriter::header(char type, uint64_t count) {
  char buf[kMaxIntegerLine];
  buf[0] = type;
  char* end = std::to_chars(buf + 1, buf + sizeof(buf), count).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, end - buf);
}

void ReplyWriter::line(char type, std::string_view text) {
  out_->push_back(type);
  const size_t start = out_->size();
  out_->append(text);
  blank_line_breaks(out_, start);
  out_->append("\r\n", 2);
}

void ReplyWriter::simple_string(std::string_view s) { line('+', s); }

void ReplyWriter::error(std::string_view message) { error("ERR", message); }

void ReplyWriter::error(std::string_view code, std::string_view message) {
  out_->push_back('-');
  const size_t start = out_->size();
  out_->append(code);
  out_->push_back(' ');
  out_->append(message);
  blank_line_breaks(out_, start);
  out_->append("\r\n", 2);
}

void ReplyWriter::integer(int64_t value) {
  char buf[kMaxIntegerLine];
  buf[0] = ':';
  char* end = std::to_chars(buf + 1, buf + sizeof(buf), value).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, end - buf);
}

void ReplyWriter::bulk_string(std::string_view s) {
  header('$', s.size());
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyWriter::null() {
  if (version_ == RespVersion::kResp3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void ReplyWriter::null_array() {
  if (version_ == RespVersion::kResp3) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void ReplyWriter::array_header(size_t count) { header('*', count); }

void ReplyWriter::map_header(size_t count) {
  if (version_ == RespVersion::kResp3) {
    header('%', count);
  } else {
    header('*', uint64_t{count} * 2);
  }
}

void ReplyWriter::set_header(size_t count) {
  header(version_ == RespVersion::kResp3 ? '~' : '*', count);
}

void ReplyWriter::double_value(double value) {
  char buf[kMaxDoubleText];
  const std::string_view text(buf, format_double(value, buf));
  if (version_ == RespVersion::kResp3) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n", 2);
  } else {
    bulk_string(text);
  }
}

void ReplyWriter::boolean(bool value) {
  if (version_ == RespVersion::kResp3) {
    out_->append(value ? "#t\r\n" : "#f\r\n", 4);
  } else {
    out_->append(value ? ":1\r\n" : ":0\r\n", 4);
  }
}

}  // namespace nvobj::dso
