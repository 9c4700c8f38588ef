// libFuzzer harness for RequestParser (run by scripts/fuzz-resp).
//
// Any input must parse without a crash or sanitizer report, and the outcome
// (the commands, then possibly an error) must not depend on how the bytes
// were split across feed() calls: whole, byte by byte, and in pieces whose
// sizes derive from the input. Tight limits are tried as well as the
// defaults, so the limit paths get fuzzed without megabyte inputs. Every
// command must survive re-encoding as multibulk, and every error must be
// sendable as a one-line error reply.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/resp/resp_parser.h"
#include "dso-backend/resp/resp_writer.h"

namespace {

using nvobj::dso::ParserLimits;
using nvobj::dso::ReplyWriter;
using nvobj::dso::RequestParser;
using Command = std::vector<std::string>;

struct Outcome {
  std::vector<Command> commands;
  bool failed = false;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "resp_parser_fuzz: %s\n", what);
  std::abort();
}

// Feeds input in pieces of the sizes next_size returns, draining commands
// after each feed.
template <typename NextSize>
Outcome run(std::string_view input, const ParserLimits& limits, NextSize next_size) {
  RequestParser parser(limits);
  Outcome out;
  Command cmd;
  size_t at = 0;
  do {
    size_t n = next_size();
    if (n > input.size() - at) n = input.size() - at;
    parser.feed(input.substr(at, n));
    at += n;
    while (parser.next(&cmd)) out.commands.push_back(cmd);
  } while (at < input.size());
  out.failed = parser.failed();
  out.error = parser.error();
  return out;
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

void check_limits(std::string_view input, const ParserLimits& limits) {
  const Outcome whole = run(input, limits, [&] { return input.size(); });

  check(whole.failed == !whole.error.empty(), "error text disagrees with failed()");
  if (whole.failed) {
    check(whole.error.starts_with("Protocol error: "), "error lacks its prefix");
    check(whole.error.find_first_of("\r\n") == std::string::npos, "error spans lines");
  }
  for (const Command& cmd : whole.commands) {
    check(!cmd.empty(), "empty command yielded");
    check(cmd.size() <= limits.max_args, "too many arguments yielded");
  }

  if (input.size() <= 4096) {
    check(run(input, limits, [] { return size_t{1}; }) == whole, "byte-by-byte split disagrees");
  }
  uint64_t state = fnv1a(input) | 1;
  const size_t max_piece = 1 + state % 97;
  const Outcome pieces = run(input, limits, [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return 1 + state % max_piece;
  });
  check(pieces == whole, "data-derived split disagrees");
  const size_t cut = input.empty() ? 0 : fnv1a(input.substr(0, 8)) % input.size();
  bool first = true;
  const Outcome halves = run(input, limits, [&] {
    const size_t n = first ? cut : input.size();
    first = false;
    return n;
  });
  check(halves == whole, "two-piece split disagrees");

  // Whatever was parsed must read back identically as multibulk.
  for (const Command& cmd : whole.commands) {
    std::string encoded;
    ReplyWriter w(&encoded);
    w.array_header(cmd.size());
    for (const std::string& arg : cmd) w.bulk_string(arg);
    RequestParser again;
    again.feed(encoded);
    Command back;
    check(again.next(&back) && back == cmd, "re-encoded command parses differently");
    check(!again.next(&back) && !again.failed() && again.pending_bytes() == 0,
          "re-encoded command leaves residue");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_limits(input, ParserLimits());
  ParserLimits tight;
  tight.max_bulk_len = 40;
  tight.max_args = 5;
  tight.max_inline_len = 24;
  check_limits(input, tight);
  return 0;
}
