// The redo log of failure-atomic blocks: on-media format, the commit
// protocol's writer side and replay.
//
// Each thread that commits blocks owns a log slot: one 64-byte line in the
// pool's log-slot area. A slot points at a chain of log segments (heap
// objects of class kClassIdLogSegment) that hold the block's redo entries:
// (pool offset, length, new bytes). Commit of a block:
//
//   1. write the entries and the slot record {seq, head, nbytes, entries,
//      crc}, write back all of it (and the block's new objects)   -> fence F1
//      The block is now committed: recovery will replay it.
//   2. copy the entries' bytes into place and write them back      -> fence F2
//   3. mark the slot retired (retired = seq), write back, no fence.
//
// Step 3 is lazy: if the retire mark is lost in a crash, replay re-applies
// bytes that are already in place, harmless unless someone later overwrote
// them durably. Any later write made durable through the runtime (another
// block's F1, a single durable store) first writes back every pending retire
// mark (RetireTracker), so a stale log can never clobber newer data that was
// ordered after it. Two fences per block, whatever its size.
//
// Replay (recovery) applies every slot whose record is committed (seq !=
// retired) and whose entries verify against the crc, then clears all slots.
// A torn record or a chain that does not verify means F1 never completed:
// nothing of that block was applied in place, so it is dropped.
#ifndef NVOBJ_RUNTIME_REDO_LOG_H_
#define NVOBJ_RUNTIME_REDO_LOG_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "runtime/heap.h"
#include "runtime/layout.h"
#include "runtime/pool.h"
#include "runtime/status.h"

namespace nvobj {

struct LogSlot {
  uint64_t seq;      // of the last committed block; 0 = never
  uint64_t retired;  // == seq once that block is fully applied
  uint64_t head;     // first segment's payload offset (0 = none)
  uint64_t nbytes;   // entry bytes of the committed block
  uint64_t entries;  // number of entries
  uint32_t crc;      // crc32c over seq, head, nbytes, entries and the entry bytes
  uint32_t reserved0;
  uint64_t reserved[2];
};
static_assert(sizeof(LogSlot) == kLogSlotSize && alignof(LogSlot) == 8);

struct LogSegmentHeader {
  uint64_t next;      // payload offset of the next segment, 0 = last
  uint64_t capacity;  // entry bytes this segment holds
};
static_assert(sizeof(LogSegmentHeader) == 16);

// An entry: this header, then `length` bytes, padded to 8. A verify-only
// entry (kVerifyOnly set in length) has no bytes: it names a range written in
// place (a new object, header included) whose current bytes the checksum
// covers.
struct LogEntryHeader {
  uint64_t offset;  // where the bytes go in the pool
  uint64_t length;
};
static_assert(sizeof(LogEntryHeader) == 16);
inline constexpr uint64_t kVerifyOnly = uint64_t{1} << 63;

// One contiguous range a block changes.
struct RedoRange {
  uint64_t offset;
  std::span<const char> bytes;
};

inline constexpr uint32_t kNoSlot = ~0u;

// Pending retire marks of all slots of one pool, so that any thread about to
// make something durable can make them durable first (see above).
class RetireTracker {
 public:
  // Retire marks written back by one thread before its fence.
  struct Flushed {
    static constexpr int kMax = 16;
    struct Mark {
      uint32_t slot;
      uint64_t seq;
    };
    int n = 0;
    // Left uninitialised (only the first n are read): every fence makes
    // one, and zeroing 256 bytes cost more than the rest of the check.
    Mark marks[kMax];
  };

  explicit RetireTracker(const Pool& pool) : pool_(pool) {}
  // `slot` stored retired = seq and wrote it back without a fence.
  void add(uint32_t slot, uint64_t seq);
  // Before a fence: writes back every pending retire mark except `except`'s.
  // Costs one relaxed load when none is pending.
  void writeback_pending(Flushed& out, uint32_t except = kNoSlot) {
    if (count_.load(std::memory_order_acquire) != 0) writeback_slow(out, except);
  }
  // After that fence: the marks written back are durable.
  void settle(const Flushed& f) {
    for (int i = 0; i < f.n; ++i) settle_one(f.marks[i].slot, f.marks[i].seq);
  }
  void settle_one(uint32_t slot, uint64_t seq);
  uint64_t pending() const { return count_.load(std::memory_order_relaxed); }

 private:
  void writeback_slow(Flushed& out, uint32_t except);
  const Pool& pool_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> bits_[kLogSlotCount / 64] = {};
  std::atomic<uint64_t> seq_[kLogSlotCount] = {};
};

// The commit side of one slot (one thread at a time).
class LogWriter {
 public:
  LogWriter(Pool& pool, Heap& heap, RetireTracker& retire, uint32_t slot);
  // Commits `ranges` (steps 1-3 above). `new_objects` are (payload offset,
  // bytes) of objects written in place that the block publishes (made inside
  // it, or made outside any block and not yet fenced): they are written back
  // before F1 and covered by the checksum, so the block cannot commit
  // without them. Fails only when the log cannot grow (pool full): nothing
  // changed.
  Status commit(std::span<const RedoRange> ranges,
                std::span<const std::pair<uint64_t, uint64_t>> new_objects);
  // Frees the segments and clears the slot (clean close).
  void release();
  uint32_t slot() const { return slot_; }

 private:
  Status next_segment(size_t index, uint64_t at_least);  // makes segments_[index] exist
  LogSlot* slot_line() const;

  Pool& pool_;
  Heap& heap_;
  RetireTracker& retire_;
  uint32_t slot_;
  std::vector<uint64_t> segments_;  // payload offsets, chain order
  uint64_t seq_ = 0;                // of the last commit
};

struct ReplayReport {
  uint64_t replayed = 0;           // committed blocks re-applied
  uint64_t dropped = 0;            // slots with an uncommitted or torn log
  std::vector<uint64_t> segments;  // log segments the slots held (now unreachable)
};

// Applies every committed, unretired log and clears every slot (two fences).
// Fails with kCorrupt only when a log that verifies points outside the pool.
Result<ReplayReport> replay_logs(Pool& pool);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_REDO_LOG_H_
