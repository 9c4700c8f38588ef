// RequestParser: turns the bytes a Redis client sends into commands.
//
// Understands what redis-server accepts from clients: RESP multibulk arrays
// of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline commands
// ("GET k\r\n", split like redis's sdssplitargs, with "..." and '...'
// quoting). Input may arrive in any fragmentation: a command split across
// many feeds, or many pipelined commands in one. The outcome depends only on
// the bytes, never on how they were split.
//
// A protocol error is final: the parser keeps reporting it and yields no more
// commands, because the stream can no longer be framed (the server replies
// with error() and closes the connection). Error texts are redis-server's.
//
//   RequestParser parser;
//   std::vector<std::string> argv;
//   parser.feed(bytes_from_socket);
//   while (parser.next(&argv)) execute(argv);
//   if (parser.failed()) reply_error_and_close(parser.error());
#ifndef NVOBJ_DSO_BACKEND_RESP_RESP_PARSER_H_
#define NVOBJ_DSO_BACKEND_RESP_RESP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nvobj::dso {

// Bounds on what one client may make the parser hold. The defaults are
// redis-server's: proto-max-bulk-len, its former multibulk cap and
// PROTO_INLINE_MAX_SIZE.
struct ParserLimits {
  // Longest bulk string argument, in bytes.
  size_t max_bulk_len = size_t{512} << 20;
  // Most arguments in one command (multibulk or inline).
  size_t max_args = size_t{1} << 20;
  // Longest inline command line, and longest "*N" / "$N" header line.
  size_t max_inline_len = size_t{64} << 10;
};

class RequestParser {
 public:
  explicit RequestParser(const ParserLimits& limits = ParserLimits());

  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;
  RequestParser(RequestParser&&) = default;
  RequestParser& operator=(RequestParser&&) = default;

  // Appends bytes received from the client. Ignored after an error.
  void feed(std::string_view data);

  // Moves the next complete command into *args (replacing its contents) and
  // returns true; returns false when more input is needed or after an error.
  // Pass the same vector each time: its strings are recycled for later
  // commands, so a steady pipeline parses without allocating.
  bool next(std::vector<std::string>* args);

  bool failed() const { return state_ == State::kError; }
  // The protocol error, e.g. "Protocol error: invalid bulk length"; empty
  // while !failed().
  const std::string& error() const { return error_; }

  // Bytes fed but not yet returned in a command (including the arguments of
  // a command still being received): what a server bounds per client.
  size_t pending_bytes() const { return (buf_.size() - pos_) + partial_bytes_; }

  const ParserLimits& limits() const { return limits_; }

 private:
  enum class State {
    kCommandStart,    // between commands
    kInline,          // inside an inline command line
    kMultibulkCount,  // on the "*N" line
    kBulkHeader,      // on a "$N" line
    kBulkData,        // inside a bulk string's bytes
    kBulkTrailer,     // on the CRLF after a bulk string
    kError,
  };
  // What one parsing step achieved.
  enum class Step { kStop, kProgress, kCommand };
  // Outcome of looking for the CRLF-terminated line at pos_.
  enum class Line { kComplete, kIncomplete, kTooLong, kBadTerminator };

  Step step_inline();
  Step step_multibulk_count();
  Step step_bulk_header();
  Step step_bulk_data();
  Step step_bulk_trailer();

  Line crlf_line(std::string_view* line);
  bool split_inline(std::string_view line);
  std::string* new_arg();
  Step fail(std::string message);

  ParserLimits limits_;
  State state_ = State::kCommandStart;
  std::string error_;

  // Received bytes; [pos_, size) is not parsed yet. Consumed bytes are
  // dropped lazily (see feed) so that each byte is moved O(1) times.
  std::string buf_;
  size_t pos_ = 0;
  // How far past pos_ the current line has been searched for its end, so a
  // line arriving byte by byte is scanned once, not once per feed.
  size_t scan_ = 0;

  // The command being built: its first argc_ entries are in use; the rest
  // are spare strings kept for their capacity.
  std::vector<std::string> args_;
  size_t argc_ = 0;
  size_t partial_bytes_ = 0;  // bytes in args_[0, argc_)
  int64_t args_left_ = 0;     // bulk strings still expected
  size_t bulk_left_ = 0;      // bytes of the current bulk still expected
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_RESP_RESP_PARSER_H_
