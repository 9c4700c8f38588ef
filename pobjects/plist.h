// PList: a durable linearizable list of byte strings: append/prepend,
// pop at both ends, get/set by index, range, insert before/after, remove
// the first occurrence of a value.
//
// A list is a map from positions to values over the same record log as the
// maps (one record and one fence per update, fence-free reads; see
// map_core.h). A position is 8 bytes of big-endian "major" number and an
// optional fraction: appends and prepends take the next major number, an
// insertion takes a position strictly between its neighbours (a fraction
// when their majors are adjacent), so no element ever moves and every
// update writes exactly one record. The volatile index (list_index.h)
// keeps the elements in position order in a BlockDeque: get(i) is O(1), ends
// grow in O(1), insertions in the middle are O(n) in DRAM.
//
// Updates that change the list's shape serialise on a per-list mutex (one
// fence each); reads take only the index's shared lock.
//
// Pops at the ends leave no tombstone. A removed element's record stays in
// the log until cleaned, so something must say it is gone: for a removal
// in the middle, a tombstone of its position (swept once the log holds no
// older record of it, map_core.h); for pops, the list's own record (under
// the empty key, which is no position) holding its *trims*: points (q, V)
// meaning "every element at a position <= q (front) or >= q (back) written
// before version V is gone". Popping the front at q when versions up to V
// exist makes such a point true: q was the smallest position left. A new
// point drops the older ones of its end that it covers (a position no
// further in), so a queue (push at one end, pop at the other) or a stack
// keeps one point per end; an end whose points would pass kMaxTrims pops
// with a tombstone instead. Each pop still writes one record and fences
// once; an open drops the elements the trims cover.
//
// Most pops write no record at all: the list's tail holds its *ends*
// (ListEnds), two points per end in one cache line and a word "every
// element written before version V is gone" set by the pop that empties
// the list. A pop at a whole position writes a point over an entry that
// the other entry (or that word) already implies, so a torn write loses
// nothing durable: three stores, one line written back, one fence, no
// checksummed record. Pops fall back to the trims record when neither
// entry may go (the end moved back past both points), at a fractional
// position, and in a group commit (whose updates of one list must become
// durable as a prefix: a point outside the log could outlive the records
// before it).
//
//   auto l = nvobj::PList::create(store);
//   store.set_root("queue", l);
//   l->append("a"); l->prepend("z");
//   std::optional<std::string> head = l->pop_front();
#ifndef NVOBJ_POBJECTS_PLIST_H_
#define NVOBJ_POBJECTS_PLIST_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <oneapi/tbb/mutex.h>

#include "pobjects/durable_map.h"
#include "pobjects/list_index.h"
#include "pobjects/map_core.h"

namespace nvobj {

// On media: a point (q, V) of an end, as in the trims.
struct ListEndPoint {
  uint64_t pos;      // an 8-byte position (no fraction), its bytes as stored
  uint64_t version;  // 0: no point
  uint64_t check;    // of pos and version: a torn write fails it and is no point
};
static_assert(sizeof(ListEndPoint) == 24 && alignof(ListEndPoint) == 8);

// On media, in a PList's tail at a 64-byte boundary: one line per end, so a
// pop writes back one line.
struct ListEnds {
  uint64_t all_before;  // every element written before this version is gone
  ListEndPoint front[2];
  uint64_t pad0;
  ListEndPoint back[2];
  uint64_t pad1[2];
};
static_assert(sizeof(ListEnds) == 128 && offsetof(ListEnds, back) == 64);

class PList : public PObject<PList, DurableMapData> {
  using Core = detail::MapCore<detail::ListIndex>;

 public:
  static constexpr std::string_view kClassName = "nvobj.PList";
  // DurableMapData::flags: the tail holds ListEnds (lists made before it
  // existed pop with the trims record only).
  static constexpr uint64_t kHasEnds = 1;
  // ListEnds and room to align it to a line (objects are 8-aligned).
  static constexpr uint64_t kTailBytes = sizeof(ListEnds) + 56;
  static constexpr RefMap kRefs = ref_map<DurableMapData>({offsetof(DurableMapData, lanes)});

  PList(Store& store, uint64_t offset);
  static Ref<PList> create(Store& s);

  // --- reads (no fence); an index i < 0 counts from the end (-1: last) ---
  uint64_t size() const;  // the index's count (the list's own entry is no element)
  bool empty() const { return size() == 0; }
  std::optional<std::string> get(int64_t i) const;
  bool get(int64_t i, std::string* value) const;  // false when out of range
  std::optional<std::string> front() const { return get(0); }
  std::optional<std::string> back() const { return get(-1); }
  // Elements [from, to) after clamping to the list (negative: from the end).
  std::vector<std::string> range(int64_t from, int64_t to) const;
  // Index of the first element equal to value, or -1.
  int64_t index_of(std::string_view value) const;
  void for_each(const std::function<void(std::string_view)>& f) const;

  // --- updates (one fence each) ---
  void append(std::string_view value);
  void prepend(std::string_view value);
  std::optional<std::string> pop_front();
  std::optional<std::string> pop_back();
  // False when i is out of range.
  bool set(int64_t i, std::string_view value);
  bool insert_before(int64_t i, std::string_view value);
  bool insert_after(int64_t i, std::string_view value);
  // Removes the first element equal to value; false if there is none.
  bool remove(std::string_view value);
  // Removes element i; its value, or nullopt when out of range.
  std::optional<std::string> remove_at(int64_t i);

  MapStats stats() const;
  static void destroy_object(Store& s, uint64_t offset);

  // Position arithmetic (exposed for tests): a position strictly between a
  // and b, where an empty a means "before everything" and an empty b "after
  // everything".
  static std::string position_between(std::string_view a, std::string_view b);

 private:
  // Index of element i (negative from the end) under the index's lock, or -1.
  int64_t normalise(int64_t i, uint64_t n) const;
  std::optional<std::string> remove_locked(int64_t i);
  std::optional<std::string> pop_end(bool front);
  struct Trim {
    std::string pos;
    uint64_t version = 0;  // elements written before it (lower versions) are gone
  };
  struct Trims {
    std::vector<Trim> front, back;
  };
  static constexpr size_t kMaxTrims = 8;  // per end
  // A pop's new point, at the front or the back.
  struct NewTrim {
    bool front;
    std::string_view pos;
    uint64_t version;
  };
  // Whether a new point at pos of that end makes the point at `old` redundant
  // (no further in).
  static bool covers(bool front, std::string_view pos, std::string_view old) {
    return front ? old <= pos : old >= pos;
  }
  // The encoding of t with `added` applied (not changing t: the record
  // comes first).
  static void encode_trims(const Trims& t, std::string* out, const NewTrim& added);
  static bool decode_trims(std::string_view bytes, Trims* t);
  bool trimmed(std::string_view pos, uint64_t version) const;
  // The ends: loads the valid points (at an open).
  void load_ends();
  // A pop's point (or the emptying word) written and fenced, if an entry
  // may take it; false (nothing written) if the trims record must.
  bool pop_with_ends(bool front, std::string_view pos, bool last);
  // The entry of an end that the other one or all_before_ implies (the
  // older if both do), or -1.
  int free_entry(int end) const;
  // Inserts at a position between elements before-1 and before (kAtEnd:
  // after the last).
  bool insert_at(uint64_t before, std::string_view value);
  static constexpr uint64_t kAtEnd = UINT64_MAX;

  std::unique_ptr<Core> core_;
  // Serialises updates. Spins before it blocks: an update holds it across
  // its fence (~100-200 ns), far less than a futex sleep and wake-up cost
  // the waiter (std::mutex: a queue pair at 2 threads 1,559-2,344 ns
  // against 1,233-1,980 with this one, 3 rounds alternately).
  tbb::mutex shape_mu_;
  Trims trims_;  // as the list's own record holds them (under shape_mu_)
  // The ends in the pool (null for an older list) and what they hold
  // durably (under shape_mu_): points [end][entry], end 0 the front; a
  // point of version 0 is none.
  ListEnds* ends_ = nullptr;
  Trim end_points_[2][2];
  uint64_t all_before_ = 0;
  // A pop's encoded trims, kept so that its memory is reused (under shape_mu_).
  std::string encoded_trims_;
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_PLIST_H_
