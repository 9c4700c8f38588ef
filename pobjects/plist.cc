#include "pobjects/plist.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>

#include "pobjects/map_ops.h"
#include "runtime/checksum.h"
#include "runtime/error.h"
#include "runtime/group_commit.h"

namespace nvobj {

namespace {

using Ops = detail::MapOps<detail::MapCore<detail::ListIndex>>;
using detail::ListIndex;
using detail::MapValue;

constexpr uint64_t kBias = uint64_t{1} << 63;

std::string encode(int64_t major, std::string_view fraction = {}) {
  uint64_t u = __builtin_bswap64(static_cast<uint64_t>(major) ^ kBias);  // big-endian, sign-ordered
  std::string s(reinterpret_cast<const char*>(&u), 8);
  s.append(fraction);
  return s;
}

int64_t major_of(std::string_view pos) {
  uint64_t u;
  std::memcpy(&u, pos.data(), 8);
  return static_cast<int64_t>(__builtin_bswap64(u) ^ kBias);
}

// A fraction strictly between a and b (digits base 256; b empty = 1.0),
// never ending in a zero byte, so there is always room below it too.
std::string fraction_between(std::string_view a, std::string_view b) {
  std::string r;
  bool b_open = b.empty();  // the upper bound is 1.0 from here on
  for (size_t i = 0;; ++i) {
    int da = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    int db = b_open ? 256 : (i < b.size() ? static_cast<unsigned char>(b[i]) : 0);
    if (db - da >= 2) {
      r.push_back(static_cast<char>(da + (db - da) / 2));
      return r;
    }
    r.push_back(static_cast<char>(da));
    if (db - da == 1) b_open = true;
  }
}

std::string value_string(const MapValue& v) { return std::string(v.bytes); }

// The list's own key (no position is empty).
constexpr std::string_view kOwnKey = "";

bool get_bytes(std::string_view* in, size_t n, std::string_view* out) {
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}
template <typename T>
bool get_int(std::string_view* in, T* v) {
  std::string_view b;
  if (!get_bytes(in, sizeof(T), &b)) return false;
  std::memcpy(v, b.data(), sizeof(T));
  return true;
}

// A point's check: (pos, version) mixed (splitmix64's finaliser, twice).
// A torn write leaves words of two points; only a pair that was written
// together passes (but for a 2^-64 collision).
uint64_t point_check(uint64_t pos, uint64_t version) {
  return mix64(mix64(pos ^ 0x6e766f626a2d656eULL) + version);
}

// Single 8-byte loads (a power failure does not tear an 8-byte word).
uint64_t load_word(uint64_t& w) { return std::atomic_ref(w).load(std::memory_order_relaxed); }

}  // namespace

// Trims on media: u16 front count, u16 back count, then each point as u16
// position length, the position, u64 version (little-endian).
void PList::encode_trims(const Trims& t, std::string* out, const NewTrim& added) {
  // The points of each end, with `added` applied to its end: the points it
  // covers dropped, itself last. Sized first, then filled in place (an
  // append per field cost more than the rest of the pop's bookkeeping).
  auto kept = [&](bool front, const Trim& p) {
    return front != added.front || !covers(added.front, added.pos, p.pos);
  };
  size_t bytes = 4, count[2] = {0, 0};
  for (bool front : {true, false}) {
    for (const Trim& p : front ? t.front : t.back)
      if (kept(front, p)) {
        ++count[front ? 0 : 1];
        bytes += 2 + p.pos.size() + 8;
      }
  }
  ++count[added.front ? 0 : 1];
  bytes += 2 + added.pos.size() + 8;
  out->resize(bytes);
  char* at = out->data();
  auto put = [&](const void* p, size_t n) {
    std::memcpy(at, p, n);
    at += n;
  };
  auto put_point = [&](std::string_view pos, uint64_t version) {
    auto len = static_cast<uint16_t>(pos.size());
    put(&len, 2);
    put(pos.data(), pos.size());
    put(&version, 8);
  };
  auto front_count = static_cast<uint16_t>(count[0]), back_count = static_cast<uint16_t>(count[1]);
  put(&front_count, 2);
  put(&back_count, 2);
  for (bool front : {true, false}) {
    for (const Trim& p : front ? t.front : t.back)
      if (kept(front, p)) put_point(p.pos, p.version);
    if (front == added.front) put_point(added.pos, added.version);
  }
}

bool PList::decode_trims(std::string_view in, Trims* t) {
  uint16_t nf = 0, nb = 0;
  if (!get_int(&in, &nf) || !get_int(&in, &nb)) return false;
  t->front.clear();
  t->back.clear();
  for (int side = 0; side < 2; ++side)
    for (uint16_t i = 0; i < (side == 0 ? nf : nb); ++i) {
      uint16_t len = 0;
      std::string_view pos;
      Trim p;
      if (!get_int(&in, &len) || !get_bytes(&in, len, &pos) || !get_int(&in, &p.version))
        return false;
      p.pos.assign(pos);
      (side == 0 ? t->front : t->back).push_back(std::move(p));
    }
  return in.empty();
}

bool PList::trimmed(std::string_view pos, uint64_t version) const {
  auto any = [&](bool front, const auto& points) {
    return std::ranges::any_of(
        points, [&](const Trim& t) { return covers(front, t.pos, pos) && version < t.version; });
  };
  return version < all_before_ || any(true, end_points_[0]) || any(false, end_points_[1]) ||
         any(true, trims_.front) || any(false, trims_.back);
}

std::string PList::position_between(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return encode(0);
  if (b.empty()) return encode(major_of(a) + 1);
  if (a.empty()) return encode(major_of(b) - 1);
  int64_t ma = major_of(a), mb = major_of(b);
  if (mb - ma >= 2) return encode(ma + 1);
  if (mb == ma + 1) return encode(ma, fraction_between(a.substr(8), {}));
  return encode(ma, fraction_between(a.substr(8), b.substr(8)));
}

PList::PList(Store& store, uint64_t offset)
    : PObject(store, offset), core_(std::make_unique<Core>(store, raw().lanes)) {
  core_->make_own_key_hot();
  core_->order_versions_across_keys();  // trims compare versions of different keys
  core_->owner_serialises_updates();    // every update holds shape_mu_
  bool found = false;
  std::string own;
  core_->read(kOwnKey, [&](const MapValue& v) {
    found = v.present && !v.is_ref;
    if (found) own.assign(v.bytes);
  });
  if (found && !decode_trims(own, &trims_))
    throw Error(Status(StatusCode::kCorrupt, "PList: its trims record is malformed"));
  load_ends();
  bool ends_trim = all_before_ != 0;
  for (const auto& end : end_points_)
    for (const Trim& p : end) ends_trim = ends_trim || p.version != 0;
  if (!found && !ends_trim) return;
  // A scan found every record of the log, the popped elements' too (an
  // index saved at a clean close holds none of them).
  core_->forget_if([&](std::string_view pos, const detail::MapEntry& e) {
    return !pos.empty() && trimmed(pos, e.version);
  });
}

void PList::load_ends() {
  if ((raw().flags & kHasEnds) == 0) return;
  ends_ = first_line_at<ListEnds>(tail_ptr());
  all_before_ = load_word(ends_->all_before);
  uint64_t newest = all_before_;
  for (int end = 0; end < 2; ++end)
    for (int x = 0; x < 2; ++x) {
      ListEndPoint& p = (end == 0 ? ends_->front : ends_->back)[x];
      uint64_t pos = load_word(p.pos), version = load_word(p.version);
      if (version == 0 || load_word(p.check) != point_check(pos, version))
        continue;  // none, or torn
      end_points_[end][x] = Trim{std::string(reinterpret_cast<const char*>(&pos), 8), version};
      newest = std::max(newest, version);
    }
  // A version handed out again would put a new element under an old point.
  // Recovery starts above the log's newest record, which each lane's head
  // chunk (never cleaned) keeps, and every point is at most one above the
  // record before it; that is the log's policy, not its promise, so the
  // points say so themselves.
  core_->versions_at_least(newest);
}

int PList::free_entry(int end) const {
  const Trim* e = end_points_[end];
  auto implied = [&](int x) {
    const Trim& p = e[x];
    const Trim& other = e[1 - x];
    return p.version <= all_before_ ||
           (other.version >= p.version && covers(end == 0, other.pos, p.pos));
  };
  bool a = implied(0), b = implied(1);
  if (a && b) return e[0].version <= e[1].version ? 0 : 1;
  return a ? 0 : (b ? 1 : -1);
}

bool PList::pop_with_ends(bool front, std::string_view pos, bool last) {
  // Every element written so far has a version below v (updates serialise
  // on shape_mu_), and none is beyond pos at this end: (pos, v) is true,
  // and so is "everything before v is gone" when pos held the last element.
  uint64_t v = core_->next_version();
  const Persister& persister = store().pool().persister();
  // Streamed (Persister::write_nt): the ends are read back only at an open.
  if (last) {
    persister.write_nt(&ends_->all_before, &v, sizeof(uint64_t));
    store().durable_fence();
    all_before_ = v;
    return true;
  }
  int end = front ? 0 : 1;
  int x = free_entry(end);
  if (x < 0) return false;
  ListEndPoint& p = (front ? ends_->front : ends_->back)[x];
  ListEndPoint point{};
  std::memcpy(&point.pos, pos.data(), 8);
  point.version = v;
  point.check = point_check(point.pos, v);
  persister.write_nt(&p, &point, sizeof(point));  // whole words: a torn point fails its check
  store().durable_fence();
  end_points_[end][x].pos.assign(pos);
  end_points_[end][x].version = v;
  return true;
}

uint64_t PList::size() const {
  ListIndex::SharedLock lock(core_->index());
  return core_->index().size();
}

Ref<PList> PList::create(Store& s) {
  uint64_t lanes = RecordLog::create(s);
  Ref<PList> l = s.make_detached<PList>(kTailBytes, lanes, kHasEnds);
  // The ends start empty, durable with the object at this thread's next
  // fence (before the proxy, which reads them, is made).
  char* tail = s.pool().at<char>(l.offset()) + sizeof(DurableMapData);
  std::memset(tail, 0, kTailBytes);
  s.pool().persister().pwb(tail, kTailBytes);
  return l;
}

int64_t PList::normalise(int64_t i, uint64_t n) const {
  if (i < 0) i += static_cast<int64_t>(n);
  return i < 0 || static_cast<uint64_t>(i) >= n ? -1 : i;
}

std::optional<std::string> PList::get(int64_t i) const {
  std::string v;
  if (!get(i, &v)) return std::nullopt;
  return v;
}

bool PList::get(int64_t i, std::string* value) const {
  ListIndex::SharedLock lock(core_->index());
  const ListIndex& ix = core_->index();
  int64_t k = normalise(i, ix.size());
  if (k < 0) return false;
  value->assign(core_->value_at(ix.entry(k)).bytes);
  return true;
}

std::vector<std::string> PList::range(int64_t from, int64_t to) const {
  std::vector<std::string> out;
  ListIndex::SharedLock lock(core_->index());
  const ListIndex& ix = core_->index();
  auto n = static_cast<int64_t>(ix.size());
  if (from < 0) from = std::max<int64_t>(0, from + n);
  if (to < 0) to = std::max<int64_t>(0, to + n);
  to = std::min(to, n);
  for (int64_t k = from; k < to; ++k) out.push_back(value_string(core_->value_at(ix.entry(k))));
  return out;
}

int64_t PList::index_of(std::string_view value) const {
  ListIndex::SharedLock lock(core_->index());
  const ListIndex& ix = core_->index();
  for (size_t k = 0; k < ix.size(); ++k)
    if (core_->value_at(ix.entry(k)).bytes == value) return static_cast<int64_t>(k);
  return -1;
}

void PList::for_each(const std::function<void(std::string_view)>& f) const {
  for (const std::string& v : range(0, static_cast<int64_t>(size()))) f(v);
}

void PList::append(std::string_view value) {
  std::lock_guard lock(shape_mu_);
  insert_at(kAtEnd, value);
}

void PList::prepend(std::string_view value) {
  std::lock_guard lock(shape_mu_);
  insert_at(0, value);
}

bool PList::insert_before(int64_t i, std::string_view value) {
  std::lock_guard lock(shape_mu_);
  int64_t k = normalise(i, size());
  return k >= 0 && insert_at(static_cast<uint64_t>(k), value);
}

bool PList::insert_after(int64_t i, std::string_view value) {
  std::lock_guard lock(shape_mu_);
  int64_t k = normalise(i, size());
  return k >= 0 && insert_at(static_cast<uint64_t>(k) + 1, value);
}

bool PList::insert_at(uint64_t before, std::string_view value) {
  std::string pos;
  {
    ListIndex::SharedLock lock(core_->index());
    const ListIndex& ix = core_->index();
    if (before == kAtEnd) before = ix.size();
    // At an end the new position is the end's major number, one further
    // out (position_between's result, without building the neighbours'
    // strings: an append or prepend's own bookkeeping).
    if (before == ix.size() && before != 0) {
      pos = encode(ix.major(before - 1) + 1);
    } else if (before == 0 && ix.size() != 0) {
      pos = encode(ix.major(0) - 1);
    } else {
      std::string a = before == 0 ? std::string() : ix.pos(before - 1);
      std::string b = before >= ix.size() ? std::string() : ix.pos(before);
      pos = position_between(a, b);
    }
  }
  // shape_mu_ keeps the neighbours in place until the element is in.
  Ops::put(*core_, pos, value);
  return true;
}

bool PList::set(int64_t i, std::string_view value) {
  std::lock_guard lock(shape_mu_);
  std::string pos;
  {
    ListIndex::SharedLock lock(core_->index());
    const ListIndex& ix = core_->index();
    int64_t k = normalise(i, ix.size());
    if (k < 0) return false;
    pos = ix.pos(k);
  }
  Ops::put(*core_, pos, value);
  return true;
}

std::optional<std::string> PList::remove_locked(int64_t i) {
  std::string pos, value;
  {
    ListIndex::SharedLock lock(core_->index());
    const ListIndex& ix = core_->index();
    int64_t k = normalise(i, ix.size());
    if (k < 0) return std::nullopt;
    pos = ix.pos(k);
    value = value_string(core_->value_at(ix.entry(k)));
  }
  Ops::remove(*core_, pos);
  return value;
}

std::optional<std::string> PList::pop_end(bool front) {
  std::string pos, value;
  size_t k;
  bool last;
  {
    ListIndex::SharedLock lock(core_->index());
    const ListIndex& ix = core_->index();
    if (ix.size() == 0) return std::nullopt;
    k = front ? 0 : ix.size() - 1;
    pos = ix.pos(k);
    value = value_string(core_->value_at(ix.entry(k)));
    last = ix.size() == 1;
  }
  if (ends_ != nullptr && pos.size() == 8 && !GroupCommit::deferring() &&
      pop_with_ends(front, pos, last)) {
    core_->forget_at(k);  // still element k: updates hold shape_mu_
    return value;
  }
  // Every element written so far has a version below v (updates serialise
  // on shape_mu_), and none is beyond pos at this end: (pos, v) is true.
  NewTrim added{front, pos, core_->next_version()};
  std::vector<Trim>& side = front ? trims_.front : trims_.back;
  auto covered = [&](const Trim& t) { return covers(front, pos, t.pos); };
  size_t points =
      side.size() + 1 - static_cast<size_t>(std::count_if(side.begin(), side.end(), covered));
  if (points > kMaxTrims || pos.size() > UINT16_MAX) return remove_locked(front ? 0 : -1);
  // Whatever may throw comes before the record: once it is durable, trims_
  // must say what it says (the next pop's record is built from trims_).
  side.reserve(side.size() + 1);
  Trim point{pos, added.version};
  encode_trims(trims_, &encoded_trims_, added);
  Ops::put(*core_, kOwnKey, encoded_trims_);  // durable: the pop is done
  std::erase_if(side, covered);
  side.push_back(std::move(point));
  core_->forget_at(k);  // the list's own record is no element: k is still pos
  return value;
}

std::optional<std::string> PList::pop_front() {
  std::lock_guard lock(shape_mu_);
  return pop_end(true);
}

std::optional<std::string> PList::pop_back() {
  std::lock_guard lock(shape_mu_);
  return pop_end(false);
}

std::optional<std::string> PList::remove_at(int64_t i) {
  std::lock_guard lock(shape_mu_);
  return remove_locked(i);
}

bool PList::remove(std::string_view value) {
  std::lock_guard lock(shape_mu_);
  int64_t k = index_of(value);
  return k >= 0 && remove_locked(k).has_value();
}

MapStats PList::stats() const {
  MapStats s = core_->stats();
  s.size = size();  // the list's own entry is no element
  return s;
}

void PList::destroy_object(Store& s, uint64_t offset) { destroy_log_object(s, offset); }

}  // namespace nvobj
