#include "dso-backend/resp/resp_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace nvobj::dso {

namespace {

// A recycled argument string bigger than this is released rather than kept,
// so one huge value does not pin its memory for the connection's lifetime.
constexpr size_t kMaxRecycledCapacity = size_t{64} << 10;
// A bulk header announces a length before any byte of it arrives; reserving
// all of it up front would let a client make us allocate max_bulk_len with a
// single line. Beyond this, the string grows as the bytes come.
constexpr size_t kMaxEagerReserve = size_t{1} << 20;
// Initial argv capacity for a multibulk count, for the same reason.
constexpr size_t kMaxEagerArgs = 1024;

// redis's string2ll: optional '-', no '+', no leading zeros, no "-0", no
// spaces. Being as strict keeps "*01" or "$ 3" protocol errors, as in redis.
bool parse_int64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  const bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (v > kMax + 1) return false;
    *out = v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v > kMax) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// isspace() in the C locale, which sdssplitargs uses between arguments.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits) : limits_(limits) {}

void RequestParser::feed(std::string_view data) {
  if (failed() || data.empty()) return;
  // Drop consumed bytes only once they are at least as many as the ones
  // kept: each byte is then moved O(1) times overall.
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ >= buf_.size() - pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  // The body of a large bulk goes straight into its argument: it would
  // otherwise be copied twice, and the buffer would grow to its size.
  if (state_ == State::kBulkData && pos_ == buf_.size()) {
    const size_t take = std::min(data.size(), bulk_left_);
    args_[argc_ - 1].append(data.data(), take);
    partial_bytes_ += take;
    bulk_left_ -= take;
    data.remove_prefix(take);
    if (bulk_left_ == 0) state_ = State::kBulkTrailer;
  }
  buf_.append(data);
}

bool RequestParser::next(std::vector<std::string>* args) {
  for (;;) {
    Step step = Step::kStop;
    switch (state_) {
      case State::kError: return false;
      case State::kCommandStart:
        if (pos_ == buf_.size()) return false;
        state_ = buf_[pos_] == '*' ? State::kMultibulkCount : State::kInline;
        scan_ = 0;
        argc_ = 0;
        partial_bytes_ = 0;
        step = Step::kProgress;
        break;
      case State::kInline: step = step_inline(); break;
      case State::kMultibulkCount: step = step_multibulk_count(); break;
      case State::kBulkHeader: step = step_bulk_header(); break;
      case State::kBulkData: step = step_bulk_data(); break;
      case State::kBulkTrailer: step = step_bulk_trailer(); break;
    }
    if (step == Step::kStop) return false;
    if (step == Step::kCommand) {
      args_.resize(argc_);
      args->swap(args_);
      argc_ = 0;
      partial_bytes_ = 0;
      state_ = State::kCommandStart;
      return true;
    }
  }
}

RequestParser::Step RequestParser::fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
  return Step::kStop;
}

std::string* RequestParser::new_arg() {
  if (argc_ == args_.size()) {
    args_.emplace_back();
  } else if (args_[argc_].capacity() > kMaxRecycledCapacity) {
    std::string().swap(args_[argc_]);
  } else {
    args_[argc_].clear();
  }
  return &args_[argc_++];
}

// Like redis, an inline line ends at '\n', optionally preceded by '\r'.
RequestParser::Step RequestParser::step_inline() {
  constexpr std::string_view kTooBig = "Protocol error: too big inline request";
  const char* begin = buf_.data() + pos_;
  const size_t avail = buf_.size() - pos_;
  const void* nl = std::memchr(begin + scan_, '\n', avail - scan_);
  if (nl == nullptr) {
    // The line is at least this long whatever comes next (a trailing '\r'
    // may still turn out to be part of the terminator). Checking the bound,
    // not the buffer size as redis does, keeps the verdict independent of
    // how the line was split.
    const size_t at_least = avail - (avail > 0 && begin[avail - 1] == '\r' ? 1 : 0);
    if (at_least > limits_.max_inline_len) return fail(std::string(kTooBig));
    scan_ = avail;
    return Step::kStop;
  }
  size_t len = static_cast<const char*>(nl) - begin;
  const size_t consumed = len + 1;
  if (len > 0 && begin[len - 1] == '\r') --len;
  if (len > limits_.max_inline_len) return fail(std::string(kTooBig));
  // begin stays valid: splitting writes to args_, never to buf_.
  if (!split_inline(std::string_view(begin, len))) {
    if (failed()) return Step::kStop;
    return fail("Protocol error: unbalanced quotes in request");
  }
  pos_ += consumed;
  scan_ = 0;
  // A blank line is no command; redis skips it too.
  if (argc_ == 0) {
    state_ = State::kCommandStart;
    return Step::kProgress;
  }
  return Step::kCommand;
}

// sdssplitargs, quirks included, so that what works against redis-server in
// telnet works here: arguments are separated by whitespace; "..." takes the
// escapes \n \r \t \b \a \xHH and \<any>; '...' takes only \'; a closing
// quote must be followed by whitespace or the end; a quote inside a bare word
// starts a quoted part of the same argument. redis reads the line as a C
// string, so a NUL ends it. Returns false for unbalanced quotes.
bool RequestParser::split_inline(std::string_view line) {
  line = line.substr(0, line.find('\0'));
  const size_t n = line.size();
  // The byte at i, or NUL past the end (the C string's terminator).
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };
  size_t i = 0;
  for (;;) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) return true;
    if (argc_ == limits_.max_args) {
      fail("Protocol error: too many arguments in inline request");
      return false;
    }
    std::string* arg = new_arg();
    bool in_double = false;
    bool in_single = false;
    for (bool done = false; !done;) {
      const char c = at(i);
      if (in_double) {
        if (c == '\\' && at(i + 1) == 'x' && is_hex(at(i + 2)) && is_hex(at(i + 3))) {
          arg->push_back(static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
          i += 3;
        } else if (c == '\\' && at(i + 1) != '\0') {
          ++i;
          switch (at(i)) {
            case 'n': arg->push_back('\n'); break;
            case 'r': arg->push_back('\r'); break;
            case 't': arg->push_back('\t'); break;
            case 'b': arg->push_back('\b'); break;
            case 'a': arg->push_back('\a'); break;
            default: arg->push_back(at(i)); break;
          }
        } else if (c == '"') {
          if (at(i + 1) != '\0' && !is_space(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          arg->push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(i + 1) == '\'') {
          ++i;
          arg->push_back('\'');
        } else if (c == '\'') {
          if (at(i + 1) != '\0' && !is_space(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          arg->push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0': done = true; break;
          case '"': in_double = true; break;
          case '\'': in_single = true; break;
          default: arg->push_back(c); break;
        }
      }
      // Steps past the byte the branch ended on (an escape's last byte, a
      // closing quote, a separator), but never past the end.
      if (at(i) != '\0') ++i;
    }
    partial_bytes_ += arg->size();
  }
}

// Finds the line at pos_ ending in "\r\n". *line is set for kComplete and
// kBadTerminator ('\r' followed by anything else).
RequestParser::Line RequestParser::crlf_line(std::string_view* line) {
  const char* begin = buf_.data() + pos_;
  const size_t avail = buf_.size() - pos_;
  const void* cr = std::memchr(begin + scan_, '\r', avail - scan_);
  if (cr == nullptr) {
    if (avail > limits_.max_inline_len) return Line::kTooLong;
    scan_ = avail;
    return Line::kIncomplete;
  }
  const size_t len = static_cast<const char*>(cr) - begin;
  if (len > limits_.max_inline_len) return Line::kTooLong;
  if (len + 1 == avail) {
    scan_ = len;  // find this '\r' again once its '\n' may have arrived
    return Line::kIncomplete;
  }
  *line = std::string_view(begin, len);
  if (begin[len + 1] != '\n') return Line::kBadTerminator;
  pos_ += len + 2;
  scan_ = 0;
  return Line::kComplete;
}

RequestParser::Step RequestParser::step_multibulk_count() {
  std::string_view line;
  const Line got = crlf_line(&line);
  if (got == Line::kIncomplete) return Step::kStop;
  if (got == Line::kTooLong) return fail("Protocol error: too big mbulk count string");
  int64_t count = 0;
  if (got == Line::kBadTerminator || !parse_int64(line.substr(1), &count) ||
      (count > 0 && static_cast<uint64_t>(count) > limits_.max_args)) {
    return fail("Protocol error: invalid multibulk length");
  }
  // "*0" and "*-1" are no command; redis skips them.
  if (count <= 0) {
    state_ = State::kCommandStart;
    return Step::kProgress;
  }
  args_left_ = count;
  if (args_.capacity() < kMaxEagerArgs) {
    args_.reserve(std::min(static_cast<size_t>(count), kMaxEagerArgs));
  }
  state_ = State::kBulkHeader;
  return Step::kProgress;
}

RequestParser::Step RequestParser::step_bulk_header() {
  std::string_view line;
  const Line got = crlf_line(&line);
  if (got == Line::kIncomplete) return Step::kStop;
  if (got == Line::kTooLong) return fail("Protocol error: too big bulk count string");
  if (line.empty() || line[0] != '$') {
    // redis prints the byte found, blanking CR and LF so that the error
    // reply stays one line; an empty line has '\r' there.
    char found = line.empty() ? '\r' : line[0];
    if (found == '\r' || found == '\n') found = ' ';
    std::string message = "Protocol error: expected '$', got ' '";
    message[message.size() - 2] = found;
    return fail(std::move(message));
  }
  int64_t len = 0;
  if (got == Line::kBadTerminator || !parse_int64(line.substr(1), &len) || len < 0 ||
      static_cast<uint64_t>(len) > limits_.max_bulk_len) {
    return fail("Protocol error: invalid bulk length");
  }
  std::string* arg = new_arg();
  bulk_left_ = static_cast<size_t>(len);
  arg->reserve(std::min(bulk_left_, kMaxEagerReserve));
  state_ = bulk_left_ > 0 ? State::kBulkData : State::kBulkTrailer;
  return Step::kProgress;
}

RequestParser::Step RequestParser::step_bulk_data() {
  const size_t take = std::min(buf_.size() - pos_, bulk_left_);
  if (take == 0) return Step::kStop;
  args_[argc_ - 1].append(buf_, pos_, take);
  partial_bytes_ += take;
  pos_ += take;
  bulk_left_ -= take;
  if (bulk_left_ > 0) return Step::kStop;
  state_ = State::kBulkTrailer;
  return Step::kProgress;
}

RequestParser::Step RequestParser::step_bulk_trailer() {
  if (buf_.size() - pos_ < 2) return Step::kStop;
  // redis skips these two bytes unchecked; checking them catches a client
  // whose bulk lengths are off before it desynchronises silently.
  if (buf_[pos_] != '\r' || buf_[pos_ + 1] != '\n') {
    return fail("Protocol error: bulk argument not terminated by CRLF");
  }
  pos_ += 2;
  if (--args_left_ > 0) {
    state_ = State::kBulkHeader;
    return Step::kProgress;
  }
  return Step::kCommand;
}

}  // namespace nvobj::dso
