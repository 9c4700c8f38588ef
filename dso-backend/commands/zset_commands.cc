// Sorted sets: ZADD (NX, XX, GT, LT, CH, INCR), ZINCRBY, ZSCORE, ZREM, ZCARD,
// ZCOUNT, ZRANGE (by rank or BYSCORE, REV, LIMIT, WITHSCORES), ZREVRANGE,
// ZRANGEBYSCORE, ZREVRANGEBYSCORE.
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "dso-backend/commands/command_util.h"

namespace nvobj::dso::cmd {

namespace {

void reply_score(ReplyWriter& out, double score) { out.double_value(score); }

void cmd_zadd(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = false;
  size_t i = 2;
  for (; i < a.size(); ++i) {
    std::string opt = lower(a[i]);
    if (opt == "nx")
      nx = true;
    else if (opt == "xx")
      xx = true;
    else if (opt == "gt")
      gt = true;
    else if (opt == "lt")
      lt = true;
    else if (opt == "ch")
      ch = true;
    else if (opt == "incr")
      incr = true;
    else
      break;
  }
  size_t pairs = a.size() - i;
  if (pairs == 0 || pairs % 2 != 0) return out.error(kSyntax);
  if (nx && xx) return out.error("XX and NX options at the same time are not compatible");
  if ((gt && nx) || (lt && nx) || (gt && lt))
    return out.error("GT, LT, and/or NX options at the same time are not compatible");
  if (incr && pairs != 2) return out.error("INCR option supports a single increment-element pair");
  std::vector<double> scores;
  for (size_t k = i; k < a.size(); k += 2) {
    double d;
    if (!parse_double(a[k], &d)) return out.error(kNotFloat);
    scores.push_back(d);
  }
  ValueType t = s.backend->type(a[1]);
  if (t != ValueType::kNone && t != ValueType::kZSet) return wrong_type(out);

  int64_t added = 0, changed = 0;
  std::optional<double> incr_result;
  for (size_t k = 0; k < scores.size(); ++k) {
    const std::string& member = a[i + 2 * k + 1];
    double cur = 0, score = scores[k];
    bool exists = s.backend->zscore(a[1], member, &cur) == Found::kOk;
    if ((nx && exists) || (xx && !exists)) continue;
    if (incr) {
      score = (exists ? cur : 0) + score;
      if (std::isnan(score)) return out.error("resulting score is not a number (NaN)");
    }
    if (exists && ((gt && score <= cur) || (lt && score >= cur))) continue;
    if (incr) incr_result = score;
    if (exists && score == cur) continue;
    bool created = false;
    s.backend->zadd(a[1], member, score, &created);
    added += created ? 1 : 0;
    changed += 1;
  }
  if (incr) return incr_result ? reply_score(out, *incr_result) : out.null();
  out.integer(ch ? changed : added);
}

void cmd_zincrby(ServerContext& s, ClientState& c, Args& a, ReplyWriter& out) {
  Args b = {"zadd", a[1], "incr", a[2], a[3]};
  cmd_zadd(s, c, b, out);
}

void cmd_zscore(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  double score;
  Found f = s.backend->zscore(a[1], a[2], &score);
  if (wrong_type(f, out)) return;
  f == Found::kOk ? reply_score(out, score) : out.null();
}

void cmd_zrem(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  int64_t n = 0;
  for (size_t i = 2; i < a.size(); ++i) {
    Found f = s.backend->zrem(a[1], a[i]);
    if (wrong_type(f, out)) return;
    n += f == Found::kOk ? 1 : 0;
  }
  out.integer(n);
}

void cmd_zcard(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  uint64_t n = 0;
  if (wrong_type(s.backend->zcard(a[1], &n), out)) return;
  out.integer(static_cast<int64_t>(n));
}

// "1.5", "(1.5" (exclusive), "-inf", "+inf". As redis's zslParseRange:
// strtod over the whole text, only NaN refused (so "1e400" is inf).
bool parse_bound(std::string_view s, ScoreBound* b) {
  b->exclusive = !s.empty() && s[0] == '(';
  if (b->exclusive) s.remove_prefix(1);
  std::string z(s);  // strtod needs the terminator
  char* end = nullptr;
  b->value = std::strtod(z.c_str(), &end);
  return end == z.c_str() + z.size() && !std::isnan(b->value);
}

using Members = std::vector<std::pair<std::string, double>>;

void reply_members(const Members& m, bool with_scores, ReplyWriter& out) {
  bool pairs = with_scores && out.version() == RespVersion::kResp3;
  out.array_header(with_scores && !pairs ? 2 * m.size() : m.size());
  for (const auto& [member, score] : m) {
    if (pairs) out.array_header(2);
    out.bulk_string(member);
    if (with_scores) reply_score(out, score);
  }
}

struct RangeQuery {
  enum class By : uint8_t { kAuto, kRank, kScore };
  By by = By::kAuto;
  bool reverse = false;
  bool direction_given = false;  // REV, or a command that implies the direction
  bool with_scores = false;
  int64_t offset = 0;
  int64_t count = -1;
};

// ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES],
// with a[2], a[3] as given (for REV BYSCORE: max then min). Options are
// parsed as redis does: REV and BYSCORE only where the command does not
// imply them, LIMIT only with BYSCORE (count -1 is no limit).
void zrange(ServerContext& s, Args& a, RangeQuery q, ReplyWriter& out) {
  using By = RangeQuery::By;
  for (size_t i = 4; i < a.size(); ++i) {
    std::string opt = lower(a[i]);
    if (opt == "withscores") {
      q.with_scores = true;
    } else if (opt == "limit" && i + 2 < a.size()) {
      if (!parse_int64(a[i + 1], &q.offset) || !parse_int64(a[i + 2], &q.count))
        return out.error(kNotInteger);
      i += 2;
    } else if (opt == "rev" && !q.direction_given) {
      q.reverse = q.direction_given = true;
    } else if (opt == "byscore" && q.by == By::kAuto) {
      q.by = By::kScore;
    } else if (opt == "bylex" && q.by == By::kAuto) {
      return out.error("BYLEX is not supported by nvobj-dso");
    } else {
      return out.error(kSyntax);
    }
  }
  if (q.by == By::kAuto) q.by = By::kRank;
  if (q.count != -1 && q.by == By::kRank)
    return out.error(
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  Members m;
  auto collect = [&](std::string_view member, double score) { m.emplace_back(member, score); };
  Found f;
  if (q.by == By::kScore) {
    ScoreBound lo, hi;
    if (!parse_bound(a[q.reverse ? 3 : 2], &lo) || !parse_bound(a[q.reverse ? 2 : 3], &hi))
      return out.error("min or max is not a float");
    // A negative offset yields nothing (as in redis), after the type check.
    f = s.backend->zrange_by_score(a[1], lo, hi, q.reverse,
                                   q.offset < 0 ? 0 : static_cast<uint64_t>(q.offset),
                                   q.offset < 0 ? 0 : q.count, collect);
  } else {
    int64_t start, stop;
    if (!parse_int64(a[2], &start) || !parse_int64(a[3], &stop)) return out.error(kNotInteger);
    uint64_t card = 0, from, to;
    f = s.backend->zcard(a[1], &card);
    resolve_range(start, stop, card, &from, &to);
    if (f == Found::kOk && from < to) f = s.backend->zrange(a[1], from, to, q.reverse, collect);
  }
  if (wrong_type(f, out)) return;
  reply_members(m, q.with_scores, out);
}

void cmd_zrange(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  zrange(s, a, {}, out);
}
void cmd_zrevrange(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  zrange(s, a, {.by = RangeQuery::By::kRank, .reverse = true, .direction_given = true}, out);
}
void cmd_zrangebyscore(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  zrange(s, a, {.by = RangeQuery::By::kScore, .direction_given = true}, out);
}
void cmd_zrevrangebyscore(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  zrange(s, a, {.by = RangeQuery::By::kScore, .reverse = true, .direction_given = true}, out);
}

void cmd_zcount(ServerContext& s, ClientState&, Args& a, ReplyWriter& out) {
  ScoreBound lo, hi;
  if (!parse_bound(a[2], &lo) || !parse_bound(a[3], &hi))
    return out.error("min or max is not a float");
  int64_t n = 0;
  Found f = s.backend->zrange_by_score(a[1], lo, hi, false, 0, -1,
                                       [&](std::string_view, double) { ++n; });
  if (wrong_type(f, out)) return;
  out.integer(n);
}

}  // namespace

void add_zset_commands(CommandTable::Map& m) {
  using L = CommandTable::Lock;
  m.insert({
      {"zadd", {cmd_zadd, -4, L::kWrite}},
      {"zincrby", {cmd_zincrby, 4, L::kWrite}},
      {"zscore", {cmd_zscore, 3, L::kRead}},
      {"zrem", {cmd_zrem, -3, L::kWrite}},
      {"zcard", {cmd_zcard, 2, L::kRead}},
      {"zcount", {cmd_zcount, 4, L::kRead}},
      {"zrange", {cmd_zrange, -4, L::kRead}},
      {"zrevrange", {cmd_zrevrange, -4, L::kRead}},
      {"zrangebyscore", {cmd_zrangebyscore, -4, L::kRead}},
      {"zrevrangebyscore", {cmd_zrevrangebyscore, -4, L::kRead}},
  });
}

}  // namespace nvobj::dso::cmd
