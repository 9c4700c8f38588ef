// RESP layer: the reply writer byte for byte in both protocol versions, the
// request parser under every fragmentation, its errors and limits, and both
// against hiredis, a real client library.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "dso-backend/resp/resp_parser.h"
#include "dso-backend/resp/resp_writer.h"

namespace nvobj::dso {
namespace {

using namespace std::string_literals;
using Command = std::vector<std::string>;

// ---------------------------------------------------------------------------
// Helpers

// The multibulk encoding of a command, written independently of ReplyWriter
// so that a bug there cannot hide one in the parser.
std::string multibulk(const Command& cmd) {
  std::string out = "*" + std::to_string(cmd.size()) + "\r\n";
  for (const std::string& arg : cmd) {
    out += "$" + std::to_string(arg.size()) + "\r\n";
    out += arg;
    out += "\r\n";
  }
  return out;
}

struct Parsed {
  std::vector<Command> commands;
  bool failed = false;
  std::string error;
};

// Feeds input in pieces whose sizes come from next_size, draining commands
// after each feed as a server would.
template <typename NextSize>
Parsed parse_pieces(std::string_view input, NextSize next_size, const ParserLimits& limits) {
  RequestParser parser(limits);
  Parsed out;
  Command cmd;
  size_t at = 0;
  do {
    const size_t n = std::min(input.size() - at, next_size());
    parser.feed(input.substr(at, n));
    at += n;
    while (parser.next(&cmd)) out.commands.push_back(cmd);
  } while (at < input.size());
  out.failed = parser.failed();
  out.error = parser.error();
  return out;
}

Parsed parse_whole(std::string_view input, const ParserLimits& limits = {}) {
  return parse_pieces(
      input, [&] { return input.size(); }, limits);
}

Parsed parse_bytewise(std::string_view input, const ParserLimits& limits = {}) {
  return parse_pieces(
      input, [] { return size_t{1}; }, limits);
}

Parsed parse_random(std::string_view input, uint64_t seed, size_t max_piece,
                    const ParserLimits& limits = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> piece(1, max_piece);
  return parse_pieces(
      input, [&] { return piece(rng); }, limits);
}

// Asserts that every way of splitting input gives want.
void expect_parses_to(std::string_view input, const std::vector<Command>& want,
                      const ParserLimits& limits = {}) {
  for (const Parsed& got : {parse_whole(input, limits), parse_bytewise(input, limits),
                            parse_random(input, 7, 5, limits)}) {
    EXPECT_FALSE(got.failed) << got.error;
    EXPECT_EQ(got.commands, want);
  }
}

// Asserts that every way of splitting input delivers want_commands and then
// fails with want_error.
void expect_error(std::string_view input, std::string_view want_error,
                  const ParserLimits& limits = {}, size_t want_commands = 0) {
  for (const Parsed& got : {parse_whole(input, limits), parse_bytewise(input, limits),
                            parse_random(input, 11, 7, limits)}) {
    EXPECT_TRUE(got.failed) << "input: " << testing::PrintToString(std::string(input));
    EXPECT_EQ(got.error, want_error) << "input: " << testing::PrintToString(std::string(input));
    EXPECT_EQ(got.commands.size(), want_commands);
  }
}

// Random commands of binary arguments, CR and LF included.
std::vector<Command> random_commands(uint64_t seed, size_t count) {
  std::mt19937_64 rng(seed);
  std::vector<Command> cmds(count);
  for (Command& cmd : cmds) {
    cmd.resize(1 + rng() % 8);
    for (std::string& arg : cmd) {
      const size_t len = rng() % 10 == 0 ? rng() % 3000 : rng() % 24;
      for (size_t i = 0; i < len; ++i) {
        // Bias towards the protocol's own bytes.
        static constexpr char kSpecial[] = {'\r', '\n', '*', '$', '\0', ' ', '"'};
        arg.push_back(rng() % 4 == 0 ? kSpecial[rng() % sizeof(kSpecial)]
                                     : static_cast<char>(rng() % 256));
      }
    }
  }
  return cmds;
}

std::string encode(RespVersion version, void (*emit)(ReplyWriter&)) {
  std::string out;
  ReplyWriter w(&out, version);
  emit(w);
  return out;
}

// ---------------------------------------------------------------------------
// ReplyWriter, byte for byte

constexpr RespVersion kBoth[] = {RespVersion::kResp2, RespVersion::kResp3};

TEST(ReplyWriterTest, SimpleString) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.simple_string("OK"); }), "+OK\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.simple_string(""); }), "+\r\n");
  }
}

TEST(ReplyWriterTest, SimpleStringBlanksLineBreaks) {
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.simple_string("a\r\nb\nc"); }),
            "+a  b c\r\n");
}

TEST(ReplyWriterTest, ErrorDefaultsToErrCode) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.error("unknown command 'FOO'"); }),
              "-ERR unknown command 'FOO'\r\n");
  }
}

TEST(ReplyWriterTest, ErrorWithCode) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v,
                     [](ReplyWriter& w) {
                       w.error("WRONGTYPE",
                               "Operation against a key holding the wrong kind of value");
                     }),
              "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.error("NOSCRIPT", "No matching script."); }),
              "-NOSCRIPT No matching script.\r\n");
  }
}

TEST(ReplyWriterTest, ErrorBlanksLineBreaks) {
  // A parser error message may quote client bytes; the reply must stay one line.
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.error("bad\r\nthing\n"); }),
            "-ERR bad  thing \r\n");
}

TEST(ReplyWriterTest, Integer) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.integer(0); }), ":0\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.integer(-1); }), ":-1\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.integer(1000); }), ":1000\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::max()); }),
              ":9223372036854775807\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.integer(std::numeric_limits<int64_t>::min()); }),
              ":-9223372036854775808\r\n");
  }
}

TEST(ReplyWriterTest, BulkStringIsBinarySafe) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.bulk_string("foobar"); }), "$6\r\nfoobar\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.bulk_string(""); }), "$0\r\n\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.bulk_string("a\r\nb\0c"s); }),
              "$6\r\na\r\nb\0c\r\n"s);
  }
  const std::string big(100000, 'x');
  std::string out;
  ReplyWriter(&out).bulk_string(big);
  EXPECT_EQ(out, "$100000\r\n" + big + "\r\n");
}

TEST(ReplyWriterTest, Null) {
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.null(); }), "$-1\r\n");
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.null(); }), "_\r\n");
}

TEST(ReplyWriterTest, NullArray) {
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.null_array(); }), "*-1\r\n");
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.null_array(); }), "_\r\n");
}

TEST(ReplyWriterTest, ArrayHeader) {
  for (RespVersion v : kBoth) {
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.array_header(0); }), "*0\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.array_header(3); }), "*3\r\n");
    EXPECT_EQ(encode(v, [](ReplyWriter& w) { w.array_header(1234567); }), "*1234567\r\n");
  }
}

TEST(ReplyWriterTest, MapHeader) {
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.map_header(2); }), "%2\r\n");
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.map_header(0); }), "%0\r\n");
  // RESP2: a flat array of keys and values.
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.map_header(2); }), "*4\r\n");
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.map_header(0); }), "*0\r\n");
}

TEST(ReplyWriterTest, SetHeader) {
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.set_header(3); }), "~3\r\n");
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.set_header(3); }), "*3\r\n");
}

TEST(ReplyWriterTest, Double) {
  struct Case {
    double value;
    const char* text;
  };
  const Case cases[] = {
      {3.14, "3.14"},
      {1.0, "1"},
      {-0.5, "-0.5"},
      {0.1, "0.1"},
      {1e300, "1e+300"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::numeric_limits<double>::quiet_NaN(), "nan"},
  };
  for (const Case& c : cases) {
    std::string r3, r2;
    ReplyWriter(&r3, RespVersion::kResp3).double_value(c.value);
    ReplyWriter(&r2, RespVersion::kResp2).double_value(c.value);
    EXPECT_EQ(r3, ","s + c.text + "\r\n");
    EXPECT_EQ(r2, "$" + std::to_string(std::strlen(c.text)) + "\r\n" + c.text + "\r\n");
  }
}

TEST(ReplyWriterTest, DoubleTextReadsBackExactly) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t bits = rng();
    double value;
    std::memcpy(&value, &bits, sizeof(value));
    if (!std::isfinite(value)) continue;
    std::string out;
    ReplyWriter(&out, RespVersion::kResp3).double_value(value);
    ASSERT_EQ(out.front(), ',');
    ASSERT_TRUE(out.ends_with("\r\n"));
    const std::string text = out.substr(1, out.size() - 3);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
  }
}

TEST(ReplyWriterTest, Boolean) {
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.boolean(true); }), "#t\r\n");
  EXPECT_EQ(encode(RespVersion::kResp3, [](ReplyWriter& w) { w.boolean(false); }), "#f\r\n");
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.boolean(true); }), ":1\r\n");
  EXPECT_EQ(encode(RespVersion::kResp2, [](ReplyWriter& w) { w.boolean(false); }), ":0\r\n");
}

TEST(ReplyWriterTest, AppendsAndSwitchesVersion) {
  std::string out = "previous";
  ReplyWriter w(&out);
  EXPECT_EQ(w.version(), RespVersion::kResp2);
  EXPECT_EQ(w.buffer(), &out);
  w.null();
  w.set_version(RespVersion::kResp3);  // as after HELLO 3
  EXPECT_EQ(w.version(), RespVersion::kResp3);
  w.null();
  EXPECT_EQ(out, "previous$-1\r\n_\r\n");
}

// An HGETALL-like map holding an array, a set, a double and a boolean.
void nested_reply(ReplyWriter& w) {
  w.map_header(2);
  w.bulk_string("list");
  w.array_header(2);
  w.integer(1);
  w.null();
  w.bulk_string("meta");
  w.array_header(3);
  w.set_header(1);
  w.bulk_string("m");
  w.double_value(2.5);
  w.boolean(true);
}

TEST(ReplyWriterTest, NestedReply) {
  EXPECT_EQ(
      encode(RespVersion::kResp3, nested_reply),
      "%2\r\n$4\r\nlist\r\n*2\r\n:1\r\n_\r\n$4\r\nmeta\r\n*3\r\n~1\r\n$1\r\nm\r\n,2.5\r\n#t\r\n");
  EXPECT_EQ(encode(RespVersion::kResp2, nested_reply),
            "*4\r\n$4\r\nlist\r\n*2\r\n:1\r\n$-1\r\n$4\r\nmeta\r\n*3\r\n*1\r\n$1\r\nm\r\n"
            "$3\r\n2.5\r\n:1\r\n");
}

// ---------------------------------------------------------------------------
// RequestParser: well-formed input

TEST(RequestParserTest, Multibulk) {
  expect_parses_to("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {{"SET", "key", "value"}});
  expect_parses_to("*1\r\n$4\r\nPING\r\n", {{"PING"}});
}

TEST(RequestParserTest, EmptyBulkString) {
  expect_parses_to("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", {{"GET", ""}});
}

TEST(RequestParserTest, BulkStringsAreBinarySafe) {
  const Command cmd = {"SET", "k\r\n", "\r\n*1\r\n$3\r\nfoo\r\n"s, "a\0b\0"s, "\xff\x80"s};
  expect_parses_to(multibulk(cmd), {cmd});
}

TEST(RequestParserTest, Inline) {
  expect_parses_to("PING\r\n", {{"PING"}});
  expect_parses_to("SET a b\r\n", {{"SET", "a", "b"}});
  // A bare LF ends a line too (telnet, nc).
  expect_parses_to("GET a\n", {{"GET", "a"}});
  expect_parses_to("  SET \t a   b  \r\n", {{"SET", "a", "b"}});
  // A CR that does not precede the LF separates arguments, as in redis.
  expect_parses_to("GET\ra\r\r\n", {{"GET", "a"}});
}

TEST(RequestParserTest, InlineQuoting) {
  struct Case {
    std::string line;
    Command want;
  };
  const Case cases[] = {
      {R"(SET "a b" 'c d')", {"SET", "a b", "c d"}},
      {R"(SET k "")", {"SET", "k", ""}},
      {R"(SET k '')", {"SET", "k", ""}},
      {R"(ECHO "\x41\x7a\x00!")", {"ECHO", "Az\0!"s}},
      {R"(ECHO "\n\r\t\b\a")", {"ECHO", "\n\r\t\b\a"}},
      {R"(ECHO "say \"hi\" \\o/")", {"ECHO", R"(say "hi" \o/)"}},
      // \x without two hex digits is a plain escape of 'x'.
      {R"(ECHO "\xZZ")", {"ECHO", "xZZ"}},
      // Single quotes take only \' as an escape.
      {R"(ECHO 'it\'s \n')", {"ECHO", R"(it's \n)"}},
      // A quote inside a word opens a quoted part of the same argument.
      {R"(SET foo"bar baz" x)", {"SET", "foobar baz", "x"}},
      {R"(SET a'b c' d)", {"SET", "ab c", "d"}},
      // \v and \f separate leading whitespace but belong to a word.
      {"\v ECHO a\vb", {"ECHO", "a\vb"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    expect_parses_to(c.line + "\r\n", {c.want});
  }
}

TEST(RequestParserTest, InlineNulEndsTheLine) {
  // redis splits the line as a C string.
  expect_parses_to("SET a b\0c d\r\nPING\r\n"s, {{"SET", "a", "b"}, {"PING"}});
  expect_parses_to("\0SET a b\r\nPING\r\n"s, {{"PING"}});
}

TEST(RequestParserTest, SkipsEmptyCommands) {
  expect_parses_to("\r\n\n  \r\nPING\r\n", {{"PING"}});
  expect_parses_to("*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n", {{"PING"}});
  expect_parses_to("\r\n", {});
}

TEST(RequestParserTest, MixedPipeline) {
  const std::string input =
      "PING\r\n" + multibulk({"SET", "a", "1"}) + "GET a\r\n\r\n*0\r\n" + multibulk({"DEL", "a"});
  expect_parses_to(input, {{"PING"}, {"SET", "a", "1"}, {"GET", "a"}, {"DEL", "a"}});
}

TEST(RequestParserTest, PipelineOfThousandCommands) {
  std::string input;
  std::vector<Command> want;
  for (int i = 0; i < 1000; ++i) {
    Command cmd = {"SET", "key:" + std::to_string(i), "value:" + std::to_string(i * 7)};
    if (i % 3 == 0) {
      input += cmd[0] + " " + cmd[1] + " " + cmd[2] + "\r\n";
    } else {
      input += multibulk(cmd);
    }
    want.push_back(std::move(cmd));
  }
  expect_parses_to(input, want);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    EXPECT_EQ(parse_random(input, seed, 300).commands, want);
  }
}

TEST(RequestParserTest, FragmentationDoesNotMatter) {
  std::string input = "PING\r\nSET \"a b\" 'c'\r\n\r\n*0\r\n";
  std::vector<Command> want = {{"PING"}, {"SET", "a b", "c"}};
  for (const Command& cmd : random_commands(1, 200)) {
    input += multibulk(cmd);
    want.push_back(cmd);
  }
  const Parsed whole = parse_whole(input);
  ASSERT_FALSE(whole.failed) << whole.error;
  ASSERT_EQ(whole.commands, want);
  EXPECT_EQ(parse_bytewise(input).commands, want);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (size_t max_piece : {2, 17, 1000, 10000}) {
      const Parsed got = parse_random(input, seed, max_piece);
      EXPECT_FALSE(got.failed) << got.error;
      EXPECT_EQ(got.commands, want) << "seed " << seed << " max_piece " << max_piece;
    }
  }
}

TEST(RequestParserTest, YieldsCommandsAsTheyComplete) {
  RequestParser parser;
  Command cmd;
  parser.feed("*2\r\n$3\r\nGET\r\n$1\r");
  EXPECT_FALSE(parser.next(&cmd));
  EXPECT_FALSE(parser.failed());
  parser.feed("\nk\r");
  EXPECT_FALSE(parser.next(&cmd));
  parser.feed("\nPING\r\nECH");
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(cmd, (Command{"GET", "k"}));
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(cmd, (Command{"PING"}));
  EXPECT_FALSE(parser.next(&cmd));
  parser.feed("O x\n");
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(cmd, (Command{"ECHO", "x"}));
  EXPECT_FALSE(parser.next(&cmd));
}

TEST(RequestParserTest, RecycledArgumentsCarryNoStaleBytes) {
  // The vector passed back in is reused: longer and shorter commands must
  // not see each other's arguments.
  const std::vector<Command> cmds = {{"MSET", "aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"},
                                     {"GET", "x"},
                                     {"PING"},
                                     {"SET", std::string(100000, 'v'), ""},
                                     {"A", "B", "C", "D", "E", "F"},
                                     {"SET", "", "z"}};
  std::string input;
  for (const Command& c : cmds) input += multibulk(c);
  input += "ECHO 'q'\r\n";
  RequestParser parser;
  parser.feed(input);
  Command cmd = {"garbage", "left", "by", "the", "caller"};
  for (const Command& want : cmds) {
    ASSERT_TRUE(parser.next(&cmd));
    EXPECT_EQ(cmd, want);
    cmd[0] += "-modified by the caller";
  }
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(cmd, (Command{"ECHO", "q"}));
}

TEST(RequestParserTest, PendingBytes) {
  RequestParser parser;
  Command cmd;
  EXPECT_EQ(parser.pending_bytes(), 0u);
  parser.feed("*2\r\n$3\r\nGET\r\n$5\r\nab");
  EXPECT_FALSE(parser.next(&cmd));
  // "GET" and "ab" are held in arguments, the rest was framing.
  EXPECT_EQ(parser.pending_bytes(), 5u);
  parser.feed("cde\r\nPI");
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(parser.pending_bytes(), 2u);
  EXPECT_FALSE(parser.next(&cmd));
  EXPECT_EQ(parser.pending_bytes(), 2u);
}

// A 10 MiB value in 4 KiB pieces, then the same value with every piece
// left buffered until the end: both are linear work (a quadratic parser
// would take minutes here).
TEST(RequestParserTest, LargeBulkInSmallPieces) {
  std::string value(10 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>((i * 131) % 251);
  const Command want = {"SET", "big", value};
  const std::string input = multibulk(want) + "PING\r\n";

  RequestParser parser;
  Command cmd;
  std::vector<Command> got;
  for (size_t at = 0; at < input.size(); at += 4096) {
    parser.feed(std::string_view(input).substr(at, 4096));
    while (parser.next(&cmd)) got.push_back(cmd);
    EXPECT_LE(parser.pending_bytes(), value.size() + 4096);
  }
  ASSERT_FALSE(parser.failed()) << parser.error();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0] == want);
  EXPECT_EQ(got[1], (Command{"PING"}));

  RequestParser buffered;
  for (size_t at = 0; at < input.size(); at += 4096) {
    buffered.feed(std::string_view(input).substr(at, 4096));
  }
  EXPECT_EQ(buffered.pending_bytes(), input.size());
  ASSERT_TRUE(buffered.next(&cmd));
  EXPECT_TRUE(cmd == want);
  ASSERT_TRUE(buffered.next(&cmd));
  EXPECT_EQ(cmd, (Command{"PING"}));
}

TEST(RequestParserTest, LongLinesByteByByte) {
  // Each feed must not rescan the line from its start.
  const std::string word(60000, 'w');
  expect_parses_to("ECHO " + word + "\r\n", {{"ECHO", word}});
  const Command big = {"SET", "k", std::string(1 << 20, 'b')};
  EXPECT_EQ(parse_bytewise(multibulk(big)).commands, std::vector<Command>{big});
}

// Encode random commands, parse them under random splits, compare.
TEST(RequestParserTest, RoundTripProperty) {
  for (uint64_t seed = 100; seed < 120; ++seed) {
    const std::vector<Command> cmds = random_commands(seed, 50);
    std::string input;
    for (const Command& c : cmds) input += multibulk(c);
    const Parsed got = parse_random(input, seed, 1 + seed % 64);
    ASSERT_FALSE(got.failed) << got.error;
    ASSERT_EQ(got.commands, cmds) << "seed " << seed;
  }
}

TEST(RequestParserTest, ReplyWriterEncodesRequests) {
  // A request is an array of bulk strings: the writer can produce one.
  const Command want = {"HSET", "h", "f\r\n", ""};
  std::string input;
  ReplyWriter w(&input);
  w.array_header(want.size());
  for (const std::string& arg : want) w.bulk_string(arg);
  expect_parses_to(input, {want});
}

// ---------------------------------------------------------------------------
// RequestParser: errors and limits

constexpr char kBadMultibulk[] = "Protocol error: invalid multibulk length";
constexpr char kBadBulk[] = "Protocol error: invalid bulk length";
constexpr char kUnbalanced[] = "Protocol error: unbalanced quotes in request";
constexpr char kBigInline[] = "Protocol error: too big inline request";
constexpr char kBigCount[] = "Protocol error: too big mbulk count string";
constexpr char kBigBulkCount[] = "Protocol error: too big bulk count string";
constexpr char kNoCrlf[] = "Protocol error: bulk argument not terminated by CRLF";

TEST(RequestParserErrorTest, InvalidMultibulkLength) {
  expect_error("*abc\r\n", kBadMultibulk);
  expect_error("*\r\n", kBadMultibulk);
  expect_error("*20000000\r\n", kBadMultibulk);  // redis's protocol.tcl
  expect_error("*3000000000\r\n", kBadMultibulk);
  expect_error("*99999999999999999999999\r\n", kBadMultibulk);
  // string2ll's strictness.
  for (const char* bad : {"*01\r\n", "*+1\r\n", "* 1\r\n", "*1 \r\n", "*-0\r\n", "*1x\r\n"}) {
    expect_error(bad, kBadMultibulk);
  }
  // CR must be followed by LF.
  expect_error("*1\rX", kBadMultibulk);
}

TEST(RequestParserErrorTest, InvalidBulkLength) {
  expect_error("*1\r\n$abc\r\n", kBadBulk);
  expect_error("*1\r\n$\r\n", kBadBulk);
  // redis's protocol.tcl: negative and out of range payload lengths.
  expect_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", kBadBulk);
  expect_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", kBadBulk);
  expect_error("*1\r\n$-1\r\n", kBadBulk);
  for (const char* bad : {"*1\r\n$01\r\n", "*1\r\n$+1\r\n", "*1\r\n$-0\r\n", "*1\r\n$ 1\r\n",
                          "*1\r\n$99999999999999999999\r\n"}) {
    expect_error(bad, kBadBulk);
  }
  expect_error("*1\r\n$3\rX", kBadBulk);
}

TEST(RequestParserErrorTest, ExpectedDollar) {
  // redis's protocol.tcl: "Wrong multibulk payload header".
  expect_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'");
  expect_error("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'");
  // An empty line has CR there, which redis blanks in the reply.
  expect_error("*1\r\n\r\n", "Protocol error: expected '$', got ' '");
  expect_error("*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'");
}

TEST(RequestParserErrorTest, UnbalancedQuotes) {
  for (const char* bad : {"SET \"a b\r\n", "SET 'a\r\n", "SET \"foo\"bar\r\n", "SET 'foo'bar\r\n",
                          "ECHO \"ends in a backslash\\\r\n", "\"\r\n"}) {
    expect_error(bad, kUnbalanced);
  }
}

TEST(RequestParserErrorTest, BulkNotTerminatedByCrlf) {
  expect_error("*1\r\n$3\r\nfooXY", kNoCrlf);
  expect_error("*1\r\n$3\r\nfoo\rX", kNoCrlf);
  expect_error("*1\r\n$3\r\nfoo\n\r", kNoCrlf);
  expect_error("*2\r\n$3\r\nfoo\r\n$0\r\nab", kNoCrlf);
}

TEST(RequestParserErrorTest, TooBigInlineRequest) {
  ParserLimits limits;
  limits.max_inline_len = 16;
  const std::string at_limit = "ECHO " + std::string(11, 'x');  // 16 bytes
  expect_parses_to(at_limit + "\r\n", {{"ECHO", std::string(11, 'x')}}, limits);
  expect_parses_to(at_limit + "\n", {{"ECHO", std::string(11, 'x')}}, limits);
  // Still incomplete, not yet too big: the CR may be the terminator's.
  const Parsed waiting = parse_bytewise(at_limit + "\r", limits);
  EXPECT_FALSE(waiting.failed);
  // One byte over, with or without the line's end having arrived.
  expect_error(at_limit + "y\r\n", kBigInline, limits);
  expect_error(at_limit + "y", kBigInline, limits);
  expect_error(at_limit + "\ry", kBigInline, limits);
  // Commands before the long line are still delivered.
  expect_error("PING\r\n" + at_limit + "yy", kBigInline, limits, 1);
}

TEST(RequestParserErrorTest, TooBigCountStrings) {
  ParserLimits limits;
  limits.max_inline_len = 16;
  expect_error("*" + std::string(16, '1'), kBigCount, limits);
  expect_error("*" + std::string(16, '1') + "\r\n", kBigCount, limits);
  expect_error("*1\r\n$" + std::string(16, '1'), kBigBulkCount, limits);
  // Within the limit, the number itself is judged.
  expect_error("*" + std::string(15, '1') + "\r\n", kBadMultibulk, limits);
  expect_error("*1\r\n$" + std::string(15, '1') + "\r\n", kBadBulk, limits);
}

TEST(RequestParserErrorTest, MaxArgs) {
  ParserLimits limits;
  limits.max_args = 3;
  expect_parses_to(multibulk({"a", "b", "c"}), {{"a", "b", "c"}}, limits);
  expect_error(multibulk({"a", "b", "c", "d"}), kBadMultibulk, limits);
  expect_parses_to("a b c\r\n", {{"a", "b", "c"}}, limits);
  expect_error("a b c d\r\n", "Protocol error: too many arguments in inline request", limits);
}

TEST(RequestParserErrorTest, MaxBulkLen) {
  ParserLimits limits;
  limits.max_bulk_len = 10;
  const std::string ten(10, 't');
  expect_parses_to(multibulk({"SET", "k", ten}), {{"SET", "k", ten}}, limits);
  expect_error("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\n", kBadBulk, limits);
}

TEST(RequestParserErrorTest, DefaultLimitsAreRedis) {
  const ParserLimits defaults;
  EXPECT_EQ(defaults.max_bulk_len, 512u << 20);
  EXPECT_EQ(defaults.max_args, 1u << 20);
  EXPECT_EQ(defaults.max_inline_len, 64u << 10);

  expect_error("*1048577\r\n", kBadMultibulk);
  expect_error("*1\r\n$536870913\r\n", kBadBulk);
  expect_error(std::string(65537, 'x'), kBigInline);
  expect_error(std::string(65537, 'x') + "\r\n", kBigInline);
  expect_parses_to(std::string(65536, 'x') + "\r\n", {{std::string(65536, 'x')}});
  // At the limits: accepted, waiting for the rest.
  for (const char* ok : {"*1048576\r\n", "*1\r\n$536870912\r\n"}) {
    const Parsed got = parse_whole(ok);
    EXPECT_FALSE(got.failed) << ok << ": " << got.error;
    EXPECT_TRUE(got.commands.empty());
  }
}

TEST(RequestParserErrorTest, ErrorIsFinal) {
  RequestParser parser;
  Command cmd;
  parser.feed("PING\r\n*x\r\nPING\r\n");
  ASSERT_TRUE(parser.next(&cmd));
  EXPECT_EQ(cmd, (Command{"PING"}));
  EXPECT_FALSE(parser.next(&cmd));
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.error(), kBadMultibulk);
  parser.feed("PING\r\n");
  EXPECT_FALSE(parser.next(&cmd));
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.error(), kBadMultibulk);
}

TEST(RequestParserErrorTest, NoErrorBeforeFailure) {
  RequestParser parser;
  EXPECT_FALSE(parser.failed());
  EXPECT_EQ(parser.error(), "");
}

// ---------------------------------------------------------------------------
// Against hiredis

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Every reply hiredis reads from bytes fed in pieces of piece bytes; fails
// the test on a hiredis protocol error.
std::vector<Reply> hiredis_read(std::string_view bytes, size_t piece) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  std::vector<Reply> replies;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    const std::string_view chunk = bytes.substr(at, piece);
    EXPECT_EQ(redisReaderFeed(reader.get(), chunk.data(), chunk.size()), REDIS_OK);
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
        ADD_FAILURE() << "hiredis: " << reader->errstr;
        return replies;
      }
      if (reply == nullptr) break;
      replies.emplace_back(static_cast<redisReply*>(reply));
    }
  }
  return replies;
}

std::string_view str(const redisReply* r) { return std::string_view(r->str, r->len); }

void every_resp2_type(ReplyWriter& w) {
  w.simple_string("OK");
  w.error("unknown command 'FOO'");
  w.error("WRONGTYPE", "Operation against a key holding the wrong kind of value");
  w.integer(std::numeric_limits<int64_t>::min());
  w.bulk_string("a\r\nb\0c"s);
  w.bulk_string("");
  w.null();
  w.null_array();
  w.array_header(3);
  w.integer(1);
  w.bulk_string("two");
  w.array_header(0);
  w.map_header(2);
  w.bulk_string("k1");
  w.integer(1);
  w.bulk_string("k2");
  w.null();
  w.set_header(2);
  w.bulk_string("a");
  w.bulk_string("b");
  w.double_value(3.5);
  w.double_value(-std::numeric_limits<double>::infinity());
  w.boolean(true);
  w.boolean(false);
}

void check_resp2_replies(const std::vector<Reply>& r) {
  ASSERT_EQ(r.size(), 16u);
  EXPECT_EQ(r[0]->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(str(r[0].get()), "OK");
  EXPECT_EQ(r[1]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(str(r[1].get()), "ERR unknown command 'FOO'");
  EXPECT_EQ(r[2]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(str(r[2].get()), "WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(r[3]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r[3]->integer, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r[4]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(str(r[4].get()), "a\r\nb\0c"s);
  EXPECT_EQ(r[5]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(str(r[5].get()), "");
  EXPECT_EQ(r[6]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(r[7]->type, REDIS_REPLY_NIL);

  ASSERT_EQ(r[8]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r[8]->elements, 3u);
  EXPECT_EQ(r[8]->element[0]->integer, 1);
  EXPECT_EQ(str(r[8]->element[1]), "two");
  EXPECT_EQ(r[8]->element[2]->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(r[8]->element[2]->elements, 0u);

  // The map, flattened.
  ASSERT_EQ(r[9]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r[9]->elements, 4u);
  EXPECT_EQ(str(r[9]->element[0]), "k1");
  EXPECT_EQ(r[9]->element[1]->integer, 1);
  EXPECT_EQ(str(r[9]->element[2]), "k2");
  EXPECT_EQ(r[9]->element[3]->type, REDIS_REPLY_NIL);

  ASSERT_EQ(r[10]->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r[10]->elements, 2u);
  EXPECT_EQ(str(r[10]->element[1]), "b");

  EXPECT_EQ(r[11]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(str(r[11].get()), "3.5");
  EXPECT_EQ(r[12]->type, REDIS_REPLY_STRING);
  EXPECT_EQ(str(r[12].get()), "-inf");
  EXPECT_EQ(r[13]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r[13]->integer, 1);
  EXPECT_EQ(r[14]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(r[14]->integer, 0);
}

TEST(HiredisTest, ReadsEveryResp2Reply) {
  std::string out;
  ReplyWriter w(&out, RespVersion::kResp2);
  every_resp2_type(w);
  // A last reply marks that hiredis consumed exactly what was written.
  w.simple_string("END");
  for (size_t piece : {out.size(), size_t{1}, size_t{7}}) {
    SCOPED_TRACE(piece);
    const std::vector<Reply> replies = hiredis_read(out, piece);
    check_resp2_replies(replies);
    if (replies.size() == 16) {
      EXPECT_EQ(str(replies[15].get()), "END");
    }
  }
}

TEST(HiredisTest, ReadsLargeAndManyReplies) {
  std::string out;
  ReplyWriter w(&out);
  const std::string big(1 << 20, 'z');
  w.bulk_string(big);
  w.array_header(1000);
  for (int i = 0; i < 1000; ++i) w.integer(i * 1000003LL);
  const std::vector<Reply> r = hiredis_read(out, 4096);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(str(r[0].get()), big);
  ASSERT_EQ(r[1]->elements, 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(r[1]->element[i]->integer, i * 1000003LL);
}

TEST(HiredisTest, ReadsResp3Replies) {
#if HIREDIS_MAJOR >= 1
  std::string out;
  ReplyWriter w(&out, RespVersion::kResp3);
  w.null();
  w.null_array();
  w.map_header(1);
  w.bulk_string("k");
  w.set_header(2);
  w.bulk_string("a");
  w.bulk_string("b");
  w.double_value(2.5);
  w.double_value(std::numeric_limits<double>::infinity());
  w.boolean(true);
  w.boolean(false);
  const std::vector<Reply> r = hiredis_read(out, 3);
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(r[0]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(r[1]->type, REDIS_REPLY_NIL);
  ASSERT_EQ(r[2]->type, REDIS_REPLY_MAP);
  ASSERT_EQ(r[2]->elements, 2u);
  EXPECT_EQ(str(r[2]->element[0]), "k");
  ASSERT_EQ(r[2]->element[1]->type, REDIS_REPLY_SET);
  EXPECT_EQ(r[2]->element[1]->elements, 2u);
  EXPECT_EQ(r[3]->type, REDIS_REPLY_DOUBLE);
  EXPECT_EQ(r[3]->dval, 2.5);
  EXPECT_EQ(r[4]->type, REDIS_REPLY_DOUBLE);
  EXPECT_TRUE(std::isinf(r[4]->dval));
  EXPECT_EQ(r[5]->type, REDIS_REPLY_BOOL);
  EXPECT_EQ(r[5]->integer, 1);
  EXPECT_EQ(r[6]->type, REDIS_REPLY_BOOL);
  EXPECT_EQ(r[6]->integer, 0);
#else
  GTEST_SKIP() << "hiredis " << HIREDIS_MAJOR << "." << HIREDIS_MINOR
               << " predates RESP3 (needs 1.0); the RESP3 bytes are checked by ReplyWriterTest";
#endif
}

// The requests hiredis sends parse to the arguments it was given.
TEST(HiredisTest, ParserReadsHiredisRequests) {
  const std::vector<Command> cmds = random_commands(42, 300);
  std::string input;
  for (const Command& c : cmds) {
    std::vector<const char*> argv;
    std::vector<size_t> argvlen;
    for (const std::string& a : c) {
      argv.push_back(a.data());
      argvlen.push_back(a.size());
    }
    char* encoded = nullptr;
    const int len =
        redisFormatCommandArgv(&encoded, static_cast<int>(c.size()), argv.data(), argvlen.data());
    ASSERT_GT(len, 0);
    input.append(encoded, static_cast<size_t>(len));
    redisFreeCommand(encoded);
  }
  char* formatted = nullptr;
  const int len = redisFormatCommand(&formatted, "SET %s %b", "key", "v\0\r\n", size_t{4});
  ASSERT_GT(len, 0);
  input.append(formatted, static_cast<size_t>(len));
  redisFreeCommand(formatted);

  std::vector<Command> want = cmds;
  want.push_back({"SET", "key", "v\0\r\n"s});
  EXPECT_EQ(parse_whole(input).commands, want);
  EXPECT_EQ(parse_random(input, 5, 100).commands, want);
}

}  // namespace
}  // namespace nvobj::dso
