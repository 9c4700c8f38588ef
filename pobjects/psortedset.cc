#include "pobjects/psortedset.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

// The score index is libstdc++'s policy-based red-black tree with the
// order-statistics node update (each node keeps its subtree's size): rank of
// a key and element of a rank in O(log n), which std::map cannot do. It
// builds with GCC and with clang over libstdc++; it stays out of the header.
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "runtime/error.h"

namespace nvobj {

namespace {

using detail::MapValue;
using D = detail::MapCore<detail::TreeIndex>::Decision;

struct ScoreKey {
  double score;
  std::string member;
};

// Redis order: score, then member bytes (std::string compares as unsigned
// bytes, like memcmp). Scores are never NaN and -0.0 is stored as +0.0.
struct ScoreLess {
  bool operator()(const ScoreKey& a, const ScoreKey& b) const {
    if (a.score != b.score) return a.score < b.score;
    return a.member < b.member;
  }
};

using ScoreTree =
    __gnu_pbds::tree<ScoreKey, __gnu_pbds::null_type, ScoreLess, __gnu_pbds::rb_tree_tag,
                     __gnu_pbds::tree_order_statistics_node_update>;

// The record value: the score's IEEE 754 bits, little-endian.
std::array<char, 8> encode(double score) {
  auto u = std::bit_cast<uint64_t>(score);
  if constexpr (std::endian::native == std::endian::big) u = __builtin_bswap64(u);
  std::array<char, 8> b;
  std::memcpy(b.data(), &u, 8);
  return b;
}

std::optional<double> score_of(const MapValue& v) {
  if (!v.present || v.is_ref || v.bytes.size() != 8) return std::nullopt;
  uint64_t u;
  std::memcpy(&u, v.bytes.data(), 8);
  if constexpr (std::endian::native == std::endian::big) u = __builtin_bswap64(u);
  return std::bit_cast<double>(u);
}

// -0.0 and +0.0 are one score; +0.0 is the one stored and compared.
double normalise(double s) { return s == 0 ? 0.0 : s; }

// A search key without an allocation per lookup (its string keeps its
// capacity per thread). Used only for the duration of one tree call.
const ScoreKey& probe(double score, std::string_view member) {
  thread_local ScoreKey k;
  k.score = score;
  k.member.assign(member);
  return k;
}

// The rank of the first element whose score is >= s: "" is the least member.
uint64_t rank_of_score(const ScoreTree& t, double s) { return t.order_of_key(probe(s, {})); }

}  // namespace

struct PSortedSet::ScoreIndex {
  ScoreTree tree;
};

PSortedSet::PSortedSet(Store& store, uint64_t offset)
    : PObject(store, offset),
      core_(std::make_unique<Core>(store, raw().lanes)),
      scores_(std::make_unique<ScoreIndex>()) {
  // No other thread can see the proxy yet; the member index is complete.
  // Inserting in score order keeps the tree's insertion path in cache
  // (member order means random scores: a cache miss per level).
  std::vector<ScoreKey> all;
  all.reserve(core_->size());
  {
    detail::TreeIndex::SharedLock lock(core_->index());
    core_->index().scan_up("", true, [&](std::string_view member, const detail::MapEntry& e) {
      if (!e.present) return true;
      std::optional<double> s = score_of(core_->value_at(e));
      if (!s || std::isnan(*s))
        throw Error(Status(StatusCode::kCorrupt,
                           "PSortedSet: member '" + std::string(member) + "' has no valid score"));
      all.push_back(ScoreKey{*s, std::string(member)});
      return true;
    });
  }
  std::sort(all.begin(), all.end(), ScoreLess());
  for (const ScoreKey& k : all) scores_->tree.insert(k);
  size_.store(scores_->tree.size(), std::memory_order_release);
}

PSortedSet::~PSortedSet() = default;

Ref<PSortedSet> PSortedSet::create(Store& s) {
  uint64_t lanes = RecordLog::create(s);
  return s.make_detached<PSortedSet>(0, lanes);
}

// --- reads -------------------------------------------------------------------------

std::optional<double> PSortedSet::stored_score(std::string_view member) const {
  return core_->read(member, [](const MapValue& v) { return score_of(v); });
}

// An update changes the member index (after its fence) before it takes the
// shared lock exclusively to change the score index; in between it
// publishes the member and its old score in pending_, before its record. A
// reader reads the member index first and pending_ second: if it saw the
// new record, the pending_ store happened before (the member index's lock
// orders them), so it reports the old score, as the score index still does.
// The update's linearization point is its exclusive section.
std::optional<double> PSortedSet::visible_score(std::string_view member) const {
  std::optional<double> s = stored_score(member);
  const Pending* p = pending_.load(std::memory_order_acquire);
  if (p != nullptr && p->member == member) return p->old;
  return s;
}

std::optional<double> PSortedSet::score(std::string_view member) const {
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  return visible_score(member);
}

int64_t PSortedSet::rank(std::string_view member, bool reverse) const {
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  std::optional<double> s = visible_score(member);
  if (!s) return -1;
  const ScoreTree& t = scores_->tree;
  auto r = static_cast<int64_t>(t.order_of_key(probe(*s, member)));
  return reverse ? static_cast<int64_t>(t.size()) - 1 - r : r;
}

void PSortedSet::range_by_rank(uint64_t from, uint64_t to, bool reverse, const MemberFn& f) const {
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  const ScoreTree& t = scores_->tree;
  uint64_t n = t.size();
  to = std::min(to, n);
  if (from >= to) return;
  // Reverse rank r is ascending rank n - 1 - r.
  auto it = t.find_by_order(reverse ? n - 1 - from : from);
  for (uint64_t k = from; k < to; ++k) {
    f(it->member, it->score);
    if (k + 1 == to) break;
    if (reverse)
      --it;
    else
      ++it;
  }
}

void PSortedSet::range_by_score(double min, bool min_exclusive, double max, bool max_exclusive,
                                bool reverse, uint64_t offset, int64_t count,
                                const MemberFn& f) const {
  if (std::isnan(min) || std::isnan(max) || count == 0) return;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  const ScoreTree& t = scores_->tree;
  // Matches are the ascending ranks [lo, hi). A strict bound s is the
  // inclusive bound nextafter(s): no double lies between them.
  uint64_t lo, hi;
  if (!min_exclusive)
    lo = rank_of_score(t, min);
  else if (min == kInf)
    return;
  else
    lo = rank_of_score(t, std::nextafter(min, kInf));
  if (max_exclusive)
    hi = rank_of_score(t, max);
  else if (max == kInf)
    hi = t.size();
  else
    hi = rank_of_score(t, std::nextafter(max, kInf));
  if (lo >= hi || offset >= hi - lo) return;
  uint64_t take = hi - lo - offset;
  if (count > 0) take = std::min(take, static_cast<uint64_t>(count));
  auto it = t.find_by_order(reverse ? hi - 1 - offset : lo + offset);
  for (uint64_t k = 0; k < take; ++k) {
    f(it->member, it->score);
    if (k + 1 == take) break;
    if (reverse)
      --it;
    else
      ++it;
  }
}

void PSortedSet::for_each(const MemberFn& f) const {
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  // The score index is the consistent view (the member index may already
  // hold an update that is not yet visible); sort its elements by member.
  std::vector<const ScoreKey*> all;
  all.reserve(scores_->tree.size());
  for (const ScoreKey& k : scores_->tree) all.push_back(&k);
  std::sort(all.begin(), all.end(),
            [](const ScoreKey* a, const ScoreKey* b) { return a->member < b->member; });
  for (const ScoreKey* k : all) f(k->member, k->score);
}

MapStats PSortedSet::stats() const {
  MapStats s = core_->stats();
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/false);
  s.size = scores_->tree.size();
  // A tree node: the key, three links, the colour and the subtree size;
  // plus the member's own buffer when it is too long for the string's
  // inline storage (15 bytes in libstdc++).
  constexpr uint64_t kNode = sizeof(ScoreKey) + 4 * sizeof(void*) + sizeof(size_t);
  for (const ScoreKey& k : scores_->tree)
    s.dram_bytes += kNode + (k.member.size() > 15 ? k.member.capacity() + 1 : 0);
  return s;
}

// --- updates -----------------------------------------------------------------------

void PSortedSet::write(std::string_view member, std::optional<double> old,
                       std::optional<double> score) {
  Pending p{member, old};
  pending_.store(&p, std::memory_order_release);
  std::optional<double> now = score;
  try {
    if (score) {
      std::array<char, 8> b = encode(*score);
      core_->update<false>(member, [&](const MapValue&) {
        return D{D::kPutBytes, std::string_view(b.data(), b.size()), 0};
      });
    } else {
      core_->update<false>(member, [](const MapValue&) { return D{D::kRemoveKey, {}, 0}; });
    }
  } catch (...) {
    // The record may or may not be in (the cleaner that runs after it can
    // throw too): the member index says which, and the score index follows.
    now = stored_score(member);
    oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/true);
    if (now != old) {
      if (old) scores_->tree.erase(ScoreKey{*old, std::string(member)});
      if (now) scores_->tree.insert(ScoreKey{*now, std::string(member)});
      size_.store(scores_->tree.size(), std::memory_order_release);
    }
    pending_.store(nullptr, std::memory_order_relaxed);
    throw;
  }
  // The record is durable. Keys are built before the exclusive section so
  // that readers wait for the tree change only.
  std::optional<ScoreKey> gone, added;
  if (old) gone = ScoreKey{*old, std::string(member)};
  if (now) added = ScoreKey{*now, std::string(member)};
  oneapi::tbb::rw_mutex::scoped_lock lock(view_mu_, /*write=*/true);
  if (gone) scores_->tree.erase(*gone);
  if (added) scores_->tree.insert(*added);
  size_.store(scores_->tree.size(), std::memory_order_release);
  pending_.store(nullptr, std::memory_order_relaxed);
}

bool PSortedSet::add(std::string_view member, double score) {
  if (std::isnan(score)) throw std::invalid_argument("PSortedSet::add: the score is NaN");
  score = normalise(score);
  std::lock_guard lock(update_mu_);
  std::optional<double> old = stored_score(member);
  if (old && *old == score) return false;  // unchanged: nothing to write
  write(member, old, score);
  return !old;
}

double PSortedSet::increment(std::string_view member, double delta) {
  if (std::isnan(delta)) throw std::invalid_argument("PSortedSet::increment: the delta is NaN");
  std::lock_guard lock(update_mu_);
  std::optional<double> old = stored_score(member);
  double now = old.value_or(0.0) + delta;
  if (std::isnan(now))
    throw std::invalid_argument("PSortedSet::increment: the resulting score would be NaN");
  now = normalise(now);
  if (!old || *old != now) write(member, old, now);
  return now;
}

bool PSortedSet::remove(std::string_view member) {
  std::lock_guard lock(update_mu_);
  std::optional<double> old = stored_score(member);
  if (!old) return false;
  write(member, old, std::nullopt);
  return true;
}

}  // namespace nvobj
