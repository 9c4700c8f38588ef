#include "runtime/redo_log.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "runtime/checksum.h"
#include "runtime/object_header.h"

namespace nvobj {

namespace {

// Entries never straddle segments: where fewer than kMinEntry bytes remain in
// a segment, the next entry starts at the next segment. Writer and reader
// both follow this one rule, so the reader needs no other framing.
constexpr uint64_t kMinEntry = sizeof(LogEntryHeader) + 8;
constexpr uint64_t kMinSegmentBytes = 64 * 1024;

uint64_t round8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

LogSlot* slot_at(const Pool& pool, uint32_t i) {
  return pool.at<LogSlot>(kLogSlotOffset + uint64_t{i} * kLogSlotSize);
}

// Where a log may write: the anchors page and the data area.
bool redo_target_ok(const Pool& pool, uint64_t off, uint64_t len) {
  if (off >= kAnchorOffset && len <= kHeaderCopySize &&
      off - kAnchorOffset <= kHeaderCopySize - len)
    return true;
  return off >= pool.data_offset() && len <= pool.size() && off <= pool.size() - len;
}

}  // namespace

// --- RetireTracker ---------------------------------------------------------------

void RetireTracker::add(uint32_t slot, uint64_t seq) {
  seq_[slot].store(seq, std::memory_order_release);
  uint64_t bit = uint64_t{1} << (slot % 64);
  if ((bits_[slot / 64].fetch_or(bit, std::memory_order_acq_rel) & bit) == 0)
    count_.fetch_add(1, std::memory_order_release);
}

void RetireTracker::settle_one(uint32_t slot, uint64_t seq) {
  uint64_t expected = seq;
  if (!seq_[slot].compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return;
  uint64_t bit = uint64_t{1} << (slot % 64);
  if ((bits_[slot / 64].fetch_and(~bit, std::memory_order_acq_rel) & bit) != 0)
    count_.fetch_sub(1, std::memory_order_release);
  // A new mark may have been added between the exchange and the clear.
  if (seq_[slot].load(std::memory_order_acquire) != 0 &&
      (bits_[slot / 64].fetch_or(bit, std::memory_order_acq_rel) & bit) == 0)
    count_.fetch_add(1, std::memory_order_release);
}

void RetireTracker::writeback_slow(Flushed& out, uint32_t except) {
  for (uint32_t w = 0; w < kLogSlotCount / 64; ++w) {
    uint64_t b = bits_[w].load(std::memory_order_acquire);
    while (b != 0) {
      uint32_t slot = w * 64 + static_cast<uint32_t>(__builtin_ctzll(b));
      b &= b - 1;
      if (slot == except) continue;
      uint64_t seq = seq_[slot].load(std::memory_order_acquire);
      if (seq == 0) continue;
      pool_.persister().pwb(&slot_at(pool_, slot)->retired, sizeof(uint64_t));
      if (out.n < Flushed::kMax) out.marks[out.n++] = {slot, seq};
    }
  }
}

// --- LogWriter -------------------------------------------------------------------

LogWriter::LogWriter(Pool& pool, Heap& heap, RetireTracker& retire, uint32_t slot)
    : pool_(pool), heap_(heap), retire_(retire), slot_(slot) {
  seq_ = slot_line()->seq;
}

LogSlot* LogWriter::slot_line() const { return slot_at(pool_, slot_); }

Status LogWriter::next_segment(size_t index, uint64_t at_least) {
  uint64_t cap = round8(std::max(kMinSegmentBytes, at_least + kMinEntry));
  NVOBJ_ASSIGN_OR_RETURN(uint64_t off,
                         heap_.allocate(sizeof(LogSegmentHeader) + cap, kClassIdLogSegment));
  auto* h = pool_.at<LogSegmentHeader>(off);
  h->next = 0;
  h->capacity = cap;
  pool_.persister().pwb(pool_.at(off - kObjectHeaderSize), kObjectHeaderSize + sizeof(*h));
  if (index > 0) {
    auto* prev = pool_.at<LogSegmentHeader>(segments_[index - 1]);
    prev->next = off;
    pool_.persister().pwb(&prev->next, sizeof(prev->next));
  }
  segments_.push_back(off);
  return Status::ok();
}

Status LogWriter::commit(std::span<const RedoRange> ranges,
                         std::span<const std::pair<uint64_t, uint64_t>> new_objects) {
  const Persister& p = pool_.persister();
  if (ranges.empty()) {  // nothing published: new objects just need writing back
    for (auto [off, len] : new_objects)
      p.pwb(pool_.at(off - kObjectHeaderSize), len + kObjectHeaderSize);
    return Status::ok();
  }
  uint64_t needed = 0;
  for (const RedoRange& r : ranges) needed += sizeof(LogEntryHeader) + round8(r.bytes.size());

  // 1. Entries: the redo ranges, then one verify-only entry per new object
  // (its header and payload, written in place): the checksum covers their
  // bytes too, so a record that reaches the media before the objects do
  // does not verify, and the block counts as never committed.
  needed += new_objects.size() * sizeof(LogEntryHeader);
  if (segments_.empty()) NVOBJ_RETURN_IF_ERROR(next_segment(0, needed));
  size_t seg = 0;
  uint64_t pos = 0, written = 0, count = 0;
  uint32_t crc = 0;
  // Room for an entry of at least kMinEntry bytes at (seg, pos).
  // Entries are written back once per segment, when the segment is done:
  // a write-back per entry would stall the next entry's stores into the
  // same line until the write-back completes.
  auto writeback_segment = [&] {
    if (pos != 0) p.pwb(pool_.at<LogSegmentHeader>(segments_[seg]) + 1, pos);
  };
  auto make_room = [&]() -> Status {
    while (pool_.at<LogSegmentHeader>(segments_[seg])->capacity - pos < kMinEntry) {
      writeback_segment();
      ++seg;
      pos = 0;
      if (seg == segments_.size()) NVOBJ_RETURN_IF_ERROR(next_segment(seg, needed - written));
    }
    return Status::ok();
  };
  for (const RedoRange& r : ranges) {
    uint64_t done = 0;
    while (done < r.bytes.size()) {
      NVOBJ_RETURN_IF_ERROR(make_room());
      auto* sh = pool_.at<LogSegmentHeader>(segments_[seg]);
      uint64_t chunk = std::min<uint64_t>(r.bytes.size() - done,
                                          (sh->capacity - pos - sizeof(LogEntryHeader)) & ~7ull);
      char* dst = reinterpret_cast<char*>(sh + 1) + pos;
      LogEntryHeader eh{r.offset + done, chunk};
      std::memcpy(dst, &eh, sizeof(eh));
      std::memcpy(dst + sizeof(eh), r.bytes.data() + done, chunk);
      uint64_t total = sizeof(eh) + round8(chunk);
      std::memset(dst + sizeof(eh) + chunk, 0, total - sizeof(eh) - chunk);
      crc = crc32c(dst, total, crc);
      pos += total;
      written += total;
      done += chunk;
      ++count;
    }
  }
  for (auto [off, len] : new_objects) {
    NVOBJ_RETURN_IF_ERROR(make_room());
    auto* sh = pool_.at<LogSegmentHeader>(segments_[seg]);
    char* dst = reinterpret_cast<char*>(sh + 1) + pos;
    LogEntryHeader eh{off - kObjectHeaderSize, (len + kObjectHeaderSize) | kVerifyOnly};
    std::memcpy(dst, &eh, sizeof(eh));
    crc = crc32c(dst, sizeof(eh), crc);
    crc = crc32c(pool_.at(eh.offset), len + kObjectHeaderSize, crc);
    pos += sizeof(eh);
    written += sizeof(eh);
    ++count;
  }

  writeback_segment();

  // 1b. Commit record, then F1.
  uint64_t seq = seq_ + 1;
  uint64_t fields[4] = {seq, segments_[0], written, count};
  crc = crc32c(fields, sizeof(fields), crc);
  RetireTracker::Flushed flushed;
  retire_.writeback_pending(flushed, slot_);
  for (auto [off, len] : new_objects)
    p.pwb(pool_.at(off - kObjectHeaderSize), len + kObjectHeaderSize);
  LogSlot* s = slot_line();
  s->seq = seq;
  s->head = segments_[0];
  s->nbytes = written;
  s->entries = count;
  s->crc = crc;
  p.pwb(s, sizeof(*s));
  p.pfence();  // F1: committed
  retire_.settle(flushed);
  retire_.settle_one(slot_, seq_);  // our previous mark no longer matters

  // 2. Apply in place, then F2.
  for (const RedoRange& r : ranges) {
    std::memcpy(pool_.at(r.offset), r.bytes.data(), r.bytes.size());
    p.pwb(pool_.at(r.offset), r.bytes.size());
  }
  p.pfence();  // F2: applied

  // 3. Lazy retire.
  s->retired = seq;
  p.pwb(&s->retired, sizeof(s->retired));
  retire_.add(slot_, seq);
  seq_ = seq;
  return Status::ok();
}

void LogWriter::release() {
  for (uint64_t off : segments_) heap_.deallocate(off);
  segments_.clear();
  LogSlot* s = slot_line();
  std::memset(s, 0, sizeof(*s));
  pool_.persister().pwb(s, sizeof(*s));
  retire_.settle_one(slot_, seq_);
  seq_ = 0;
}

// --- replay ----------------------------------------------------------------------

namespace {

struct Verified {
  std::vector<std::pair<uint64_t, const LogEntryHeader*>> entries;  // (target, entry)
};

// Walks slot i's chain; returns the entries if the record verifies. Any
// inconsistency means the commit never completed (or the log is damaged):
// the block is dropped.
bool segment_ok(const Pool& pool, uint64_t off) {
  if (off % 8 != 0 || off < pool.data_offset() + kObjectHeaderSize ||
      off + sizeof(LogSegmentHeader) > pool.size())
    return false;
  if (pool.at<ObjectHeader>(off - kObjectHeaderSize)->class_id != kClassIdLogSegment) return false;
  auto* h = pool.at<LogSegmentHeader>(off);
  return h->capacity <= pool.size() - off - sizeof(LogSegmentHeader);
}

bool verify_slot(const Pool& pool, const LogSlot& s, Verified* out) {
  auto segment_ok = [&](uint64_t off) { return nvobj::segment_ok(pool, off); };
  if (!segment_ok(s.head)) return false;
  uint64_t seg = s.head, pos = 0, seen = 0;
  uint32_t crc = 0;
  for (uint64_t i = 0; i < s.entries; ++i) {
    auto* sh = pool.at<LogSegmentHeader>(seg);
    while (sh->capacity - pos < kMinEntry) {
      if (!segment_ok(sh->next)) return false;
      seg = sh->next;
      sh = pool.at<LogSegmentHeader>(seg);
      pos = 0;
    }
    const char* at = reinterpret_cast<const char*>(sh + 1) + pos;
    auto* eh = reinterpret_cast<const LogEntryHeader*>(at);
    if (eh->length & kVerifyOnly) {  // a new object: check its bytes, apply nothing
      uint64_t len = eh->length & ~kVerifyOnly;
      if (eh->offset < pool.data_offset() || len > pool.size() - eh->offset) return false;
      crc = crc32c(at, sizeof(LogEntryHeader), crc);
      crc = crc32c(pool.at(eh->offset), len, crc);
      pos += sizeof(LogEntryHeader);
      seen += sizeof(LogEntryHeader);
      if (seen > s.nbytes) return false;
      continue;
    }
    if (eh->length > sh->capacity - pos - sizeof(LogEntryHeader)) return false;
    uint64_t total = sizeof(LogEntryHeader) + round8(eh->length);
    if (total > sh->capacity - pos) return false;
    crc = crc32c(at, total, crc);
    out->entries.emplace_back(eh->offset, eh);
    pos += total;
    seen += total;
    if (seen > s.nbytes) return false;
  }
  uint64_t fields[4] = {s.seq, s.head, s.nbytes, s.entries};
  crc = crc32c(fields, sizeof(fields), crc);
  return crc == s.crc && seen == s.nbytes;
}

}  // namespace

Result<ReplayReport> replay_logs(Pool& pool) {
  ReplayReport report;
  std::vector<Verified> logs;
  for (uint32_t i = 0; i < kLogSlotCount; ++i) {
    const LogSlot& s = *slot_at(pool, i);
    // Remember the slot's segments: recovery reports them as reclaimed.
    for (uint64_t seg = s.head, n = 0; seg != 0 && n < 1024 && segment_ok(pool, seg); ++n) {
      report.segments.push_back(seg);
      seg = pool.at<LogSegmentHeader>(seg)->next;
    }
    if (s.seq == 0 || s.seq == s.retired) continue;
    Verified v;
    if (!verify_slot(pool, s, &v)) {
      ++report.dropped;
      continue;
    }
    for (auto [target, eh] : v.entries)
      if (!redo_target_ok(pool, target, eh->length))
        return Status(StatusCode::kCorrupt,
                      fmt::format("{}: log slot {} writes {} bytes at offset {}, outside the pool",
                                  pool.path(), i, eh->length, target));
    logs.push_back(std::move(v));
  }
  const Persister& p = pool.persister();
  for (const Verified& v : logs) {
    for (auto [target, eh] : v.entries) {
      std::memmove(pool.at(target), eh + 1, eh->length);
      p.pwb(pool.at(target), eh->length);
    }
    ++report.replayed;
  }
  if (!logs.empty()) p.pfence();
  // Forget every log: their segments are unreachable now, and recovery
  // reclaims them with any other unreachable object.
  char* slots = pool.at<char>(kLogSlotOffset);
  std::memset(slots, 0, kLogSlotSize * kLogSlotCount);
  p.persist(slots, kLogSlotSize * kLogSlotCount);
  return report;
}

}  // namespace nvobj
