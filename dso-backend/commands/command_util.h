// What the command files share: the handler signature, the registration
// record, argument parsing with redis-server's error texts, and reply
// helpers. Internal to nvobj-dso's command layer.
#ifndef NVOBJ_DSO_BACKEND_COMMANDS_COMMAND_UTIL_H_
#define NVOBJ_DSO_BACKEND_COMMANDS_COMMAND_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dso-backend/commands.h"

namespace nvobj::dso::cmd {

using Args = std::vector<std::string>;

inline constexpr std::string_view kNotInteger = "value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "value is not a valid float";
inline constexpr std::string_view kSyntax = "syntax error";

std::string lower(std::string_view s);
// Redis's string2ll: decimal, no '+', no leading zeros, fits in int64.
bool parse_int64(std::string_view s, int64_t* v);
// Redis's float parsing for scores: strtod over the whole string, "inf",
// "+inf", "-inf" accepted; NaN, overflow and underflow to 0 refused.
bool parse_double(std::string_view s, double* v);

void wrong_type(ReplyWriter& out);
void wrong_args(std::string_view command, ReplyWriter& out);
// Replies WRONGTYPE and returns true when f is kWrongType.
bool wrong_type(Found f, ReplyWriter& out);

// Resolves a Redis index (negative counts from the end) against len;
// false when outside [0, len).
bool resolve_index(int64_t i, uint64_t len, uint64_t* out);
// Resolves LRANGE/ZRANGE-style [start, stop] (inclusive, negatives from the
// end) to [from, to); empty when from >= to.
void resolve_range(int64_t start, int64_t stop, uint64_t len, uint64_t* from, uint64_t* to);

// Registration, one per command file.
void add_string_commands(CommandTable::Map& m);
void add_hash_commands(CommandTable::Map& m);
void add_list_commands(CommandTable::Map& m);
void add_zset_commands(CommandTable::Map& m);
void add_keyspace_commands(CommandTable::Map& m);
void add_server_commands(CommandTable::Map& m);
// DSO.NEW (coordination objects), their calls, DSO.CAS, GETRANGE, SETRANGE
// (object_commands.cc).
void add_object_commands(CommandTable::Map& m);
// DSO.CALL, and DSO.NEW unless registered before (module_commands.cc).
void add_module_commands(CommandTable::Map& m);

// DSO.NEW <type> <key> ... when <type> is a module's type: creates the
// object (or finds it there) and replies; false, nothing replied, when
// <type> is no module's type. Whichever DSO.NEW is registered hands module
// types here.
bool new_module_object(ServerContext& s, Args& a, ReplyWriter& out);

}  // namespace nvobj::dso::cmd

#endif  // NVOBJ_DSO_BACKEND_COMMANDS_COMMAND_UTIL_H_
