// RecordLog: the persistent half of the durable maps and the list.
//
// A type built on it keeps every update as one checksummed record
// (runtime/record_chunk.h) appended to a log in the pool, and keeps in DRAM
// an index from its keys to their latest records. An update appends its
// record, writes it back and fences once: durable when it returns, and a
// crash can only tear the last record of a lane, which its checksum rejects.
// So every update costs one fence and no log-then-apply step. The index is
// changed only after the fence, so reads find only durable records and never
// fence.
//
// The log is split into lanes (up to kLogLanes, each a chain of chunks,
// newest first, its head in a LogLanes object): concurrent appenders use
// different lanes and do not contend. Lanes open as contention appears, so a
// map used by one thread stays one chain. Chunks start small (512 B) and
// double up to 64 KiB, so small maps stay small; a record larger than a
// chunk gets a chunk of its own.
//
// The side lane (the last, kSideLane) keeps apart the records that would
// make the others' chunks die piecemeal: the ones their owner marks hot,
// superseded soon and over and over (PList's trims, rewritten at every pop),
// and the cleaner's copies. A hot record among long-lived ones leaves its
// chunk partly dead as soon as it is written, and cleaning that chunk
// copies the long-lived records again and again (a queue's elements were
// each copied ~2 times before their pop); copies among new records do the
// same when they die first (a queue's copies are its oldest elements, the
// next popped). Kept apart, a queue's chunks die whole, front first. (Hot
// records go to the side lane only outside a group commit, whose prefix
// order holds only within a lane: there they go where the thread's others
// go.) For a map the side lane holds the copies alone; under YCSB-like
// updates it copies as much as copies among the updates did.
//
// New chunks cost no extra fence: when a lane's chunk is half full the next
// one is made (its layout written back with that update's record, so durable
// at its fence), linked at the lane's head by the following update (again
// within its fence), and appended to when the current one is full. Only a
// lane's first chunk after a restart, and chunks for oversized records, take
// a second fence.
//
// Space: a record superseded by a newer one is dead. The owner reports dead
// records (dead()); a sealed chunk (its lane has moved on) at least 30% dead
// joins the cleaner's candidates. When dead bytes pass 15% of the log, an
// update also cleans one chunk, in two halves that cost no fence of their
// own:
//   - before the update's fence, it copies the victim's live records to the
//     side lane (so that fence makes them durable too) and unlinks the
//     previous victim (durable at the same fence);
//   - after the update, outside the owner's locks (maybe_clean), it frees
//     the previous victim and repoints the owner's index to the copies.
// A step whose copies would need a chunk made on the spot (a fence of its
// own) is left to a later update, once the side lane's spare is ready.
// A victim's unlink thus waits for the next cleaning's fence; until then it
// stays linked, and a crash leaves both the originals and the copies, which
// carry the same versions (the owner keeps one). Readers hold the owner's
// per-key lock while they read a record, and repointing takes that lock, so
// no reader is inside a chunk when it is freed (reclamation by lock, not by
// epochs). A record appended and not yet installed (the owner has not
// pointed its index at it: installed()) keeps its chunk out of cleaning,
// so the cleaner waits for no owner's lock: a copy of it would find its key
// not pointing to it, count as dead, and the install would then point the
// key into the freed chunk.
//
// Background cleaning (log_cleaner.h, opt-in): the step is not done
// by an update but by the cleaner's thread, which takes the log when an
// appender finds it due (maybe_clean) and does both halves with a fence of
// its own. Appenders clean inline as above only once dead bytes pass twice
// the threshold (the cleaner fell behind), or when it is off.
//
// Group commit (runtime/group_commit.h): in a scope, an append's write-backs
// and fence wait for the scope's commit, and its cleaning step is finished
// only once that commit is done (a ticket says when). Within a lane the
// deferred records become durable in order: a scan stops at a torn record,
// a lane's deferred records are made durable before it moves to its next
// chunk, and at open the valid records a crash left after a torn one are
// cleared. A spare chunk is linked only once its making is durable.
//
// The victim is the deadest of a few candidates (the oldest few, a bounded
// sample, so that choosing costs the same at 17,000 chunks as at 10), or
// the oldest once it has waited 256 steps: greedy alone starves a chunk
// whose dead share stops growing (a live tombstone among dead records),
// and the objects its dead records name are never destroyed. Measured and not
// kept: LFS's cost-benefit ranking, which copied as much under YCSB's
// Zipfian updates as this (docs/types.md).
#ifndef NVOBJ_POBJECTS_RECORD_LOG_H_
#define NVOBJ_POBJECTS_RECORD_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "runtime/proxy.h"
#include "runtime/record_chunk.h"
#include "runtime/store.h"

namespace nvobj {

inline constexpr unsigned kLogLanes = 16;
// The side lane (see above). Logs written before it existed may hold any
// records in it: which lane a record is in means nothing to recovery.
inline constexpr unsigned kSideLane = kLogLanes - 1;

// One chunk of a lane: records in the tail (class nvobj.LogChunk).
struct LogChunkData {
  uint64_t capacity;  // bytes of record tail
  uint64_t prev;      // the lane's next older chunk (a reference), or 0
  uint64_t reserved;
  uint64_t nonce;  // fresh per chunk; seeds every record's checksum
};
static_assert(sizeof(LogChunkData) == 32);

class LogChunk : public PObject<LogChunk, LogChunkData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.LogChunk";
  static constexpr RefMap kRefs =
      with_tail(ref_map<LogChunkData>({offsetof(LogChunkData, prev)}), TailKind::kRecords,
                offsetof(LogChunkData, capacity), sizeof(LogChunkData));
  using PObject::PObject;
};

// The lane heads of one log (class nvobj.LogLanes).
struct LogLanesData {
  uint64_t heads[kLogLanes];  // references to each lane's newest chunk
};
static_assert(sizeof(LogLanesData) == 8 * kLogLanes);

class LogLanes : public PObject<LogLanes, LogLanesData> {
 public:
  static constexpr std::string_view kClassName = "nvobj.LogLanes";
  static constexpr RefMap kRefs =
      ref_map<LogLanesData>({0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120});
  using PObject::PObject;
};

class RecordLog {
 public:
  struct Chunk;  // volatile state of one chunk

  // Where a record is: its header's pool address and its chunk.
  struct Loc {
    const RecordHeader* rec = nullptr;
    Chunk* chunk = nullptr;
    const char* body() const { return reinterpret_cast<const char*>(rec + 1); }
    explicit operator bool() const { return rec != nullptr; }
    friend bool operator==(const Loc& a, const Loc& b) { return a.rec == b.rec; }
  };

  // What the owner does for the cleaner, which copies the records not
  // reported dead. Each call takes the owner's lock on the record's key.
  class Owner {
   public:
    virtual ~Owner() = default;
    // The copy `to` of `from` is durable: repoint the key to it if it still
    // points to `from`, and return whether it did. If not, `to` is one more
    // superseded record of the key. `hint` is what prefetch(from) returned
    // (0 if it was not called).
    virtual bool relocate(Loc from, Loc to, uint64_t hint) = 0;
    // A hint: relocate(from, ...) comes soon (the cleaner relocates in
    // batches; the index lookups' cache misses then overlap). Returns a
    // value for relocate (the maps: the key's hash, computed once).
    virtual uint64_t prefetch(Loc /*from*/) { return 0; }
    // A superseded record of this key has left the log (durably).
    // `last_copy` is false when a copy of it is still in the log (a
    // relocation that lost a race): what its ref names is still referenced.
    virtual void dropped(const RecordHeader& h, const char* body, bool last_copy) = 0;
    // Owner work that needs the records to stay put (maybe_clean(true)).
    virtual void housekeeping() = 0;
  };

  struct Stats {
    uint64_t chunks = 0;
    uint64_t pool_bytes = 0;  // chunks' allocation footprint
    uint64_t record_bytes = 0;
    uint64_t dead_bytes = 0;
    uint64_t cleanings = 0;
    uint64_t copied_bytes = 0;          // by the cleaner, since the open: its write amplification
    uint64_t background_cleanings = 0;  // of the cleanings, done by the cleaner's thread
  };

  // A new, empty log: a LogLanes object with lane 0's first chunk, both
  // unpublished (the owner publishes them by storing the returned reference
  // in an object that is published with a fence).
  static uint64_t create(Store& store);

  // Opens the log whose LogLanes object is at `lanes_off`: finds its chunks
  // and calls fn(Loc, const RecordHeader&, const char* body) for every valid
  // record, from `threads` threads at once (fn must be thread-safe). Every
  // record is counted live; the owner then reports the dead ones.
  using ScanFn = std::function<void(Loc, const RecordHeader&, const char*)>;
  //
  // With an `image` (what image() returned at a clean close) that passes
  // image_matches() - a well-formed image whose newest chunks in each lane
  // are still the log's, with nothing appended - nothing is scanned and fn
  // is not called: from_image() is then true, every record counts dead,
  // and the owner reports its live ones (live()) and then calls
  // finish_image_open(). Otherwise the image is ignored. (The store hands
  // out an image only when no other open came between, see
  // Store::close_snapshot.)
  struct ChunkImage {
    uint64_t off;       // the LogChunk object
    uint64_t nonce;     // its nonce, as it was
    uint64_t used;      // bytes of records in it
    uint64_t capacity;  // its tail's bytes
    uint32_t lane;
    uint32_t reserved;
  };
  RecordLog(Store& store, uint64_t lanes_off, Owner* owner, const ScanFn& fn, unsigned threads,
            const std::vector<ChunkImage>* image = nullptr);
  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Where an append goes: kHot for a record its owner will supersede soon
  // (into the side lane; see above), kDefault otherwise.
  enum class Stream { kDefault, kHot };

  // Appends a record whose body is the concatenation of `parts` and returns
  // where it is, durable (one fence). If `ref` is not 0 and this thread made
  // objects outside a block that are not durable yet, they are made durable
  // first (one more fence): a record must never reach the media before what
  // it references. Throws Error (kNoSpace) when the pool is full; the log is
  // then unchanged. The owner calls installed(loc) once its index points
  // to the record (or never will): until then the record's chunk is not
  // cleaned, so the cleaner need not take the owner's locks to wait for it.
  Loc append(uint32_t kind, uint64_t meta, uint64_t ref,
             std::initializer_list<std::string_view> parts, Stream stream = Stream::kDefault);
  void installed(Loc loc);

  // --- clean close and reopen without a scan ---------------------------------------
  // Finishes the cleaning step in progress and takes the last victim out of
  // the log (one fence), so that no record is in the log twice. Only at a
  // clean close, with no other thread using the log. False if it could not
  // (the log is left as it was: its next open scans it).
  bool settle();
  // The chunks, lane by lane from each lane's newest chunk (the order the
  // image constructor expects), and each chunk's position in that order.
  // Empty if the chains and the volatile state disagree (not expected; then
  // no image is kept). Only while no other thread uses the log.
  struct Image {
    std::vector<ChunkImage> chunks;
    std::vector<uint32_t> position;  // by the chunk's index in chunks_; kNoPosition: not linked
    uint32_t position_of(const Chunk* c) const;
  };
  static constexpr uint32_t kNoPosition = ~0u;
  Image image() const;
  bool from_image() const { return from_image_; }
  // After an image open: the chunk at position i of the image.
  Chunk* image_chunk(size_t i) const { return i < chunks_.size() ? chunks_[i] : nullptr; }
  // After an image open: the record at loc (span bytes) is live.
  void live(Loc loc, uint64_t span);
  // After every live(): counts the dead bytes and queues chunks to clean.
  void finish_image_open();

  // The record at `loc` is superseded (it stays until its chunk is cleaned).
  void dead(Loc loc) { dead(loc, record_span(loc.rec->body_len)); }
  // span known: the record is not read. A hot record's dead bytes make its
  // chunk a candidate but do not count towards the dead share that starts
  // cleaning: an owner that rewrites one record at every update (a list's
  // trims, which in a group commit stay among its elements) would
  // otherwise keep the log over that share for good, and cleaning would
  // copy the other records long before they die (a queue's elements: ~430
  // bytes a pop, measured). The cleaning that their dying starts takes the
  // deadest chunks, which hold the hot garbage too.
  void dead(Loc loc, uint64_t span, bool hot = false);

  // Finishes the cleaning step an append began (bounded work; a no-op while
  // another thread cleans), or hands the log to the background cleaner if
  // it is due. Appenders call it after their update, outside the owner's
  // key locks. With owner_work, also runs the owner's housekeeping()
  // (nothing happens while another thread cleans).
  void maybe_clean(bool owner_work = false);

  // No more background cleaning of this log: waits for a step in progress.
  // The owner calls it first thing in its destructor (a step calls back
  // into it); settle() needs it too.
  void stop_background();

  // fn(const RecordHeader&, const char* body) for every record; only from
  // the owner's housekeeping() or while no other thread uses the log.
  void for_each_record_locked(
      const std::function<void(const RecordHeader&, const char*)>& fn) const;

  // Frees the log whose LogLanes object is at lanes_off: every chunk, every
  // object its records reference (Store::destroy_object, once each) and the
  // LogLanes object. The log must be unreachable durably and unused; an open
  // RecordLog over it may only be destroyed afterwards.
  static void destroy_unopened(Store& store, uint64_t lanes_off);

  Stats stats() const;
  uint64_t lanes_offset() const { return lanes_off_; }

  // Logs smaller than this are never cleaned (by default every log may be:
  // a small map updated over and over must not keep its past). Tests
  // change it (process-wide) to clean early or never.
  static constexpr uint64_t kDefaultMinCleanBytes = 0;
  static void set_min_clean_bytes(uint64_t bytes);
  // Cleaning starts when dead bytes exceed `dead` permille of the log, and
  // cleans chunks at least `victim` permille dead (defaults 150, 300).
  // Higher values copy less and keep more dead bytes. Once a chunk could not
  // be made for want of pool space, logs clean from 50 permille dead (chunks
  // from 300) until one is back under that.
  static void set_cleaning_thresholds(uint64_t dead, uint64_t victim);

 private:
  friend class LogCleaner;
  struct Lane;

  // The background cleaner's turn: up to max_steps cleaning steps, each
  // with its own fence, while the log is due. *more: still due, and queued
  // again by the caller.
  size_t clean_in_background(size_t max_steps, bool* more);
  // One step with its own fence; false if it could do nothing.
  bool background_step();
  // Whether appends clean inline: the cleaner is off, or behind.
  bool cleans_inline() const;

  bool image_matches(const std::vector<ChunkImage>& image) const;
  // At open: a chunk of `lane` older than `newer` (null: the lane's head).
  Chunk* add_chunk(unsigned lane, Chunk* newer, uint64_t off, uint64_t capacity, uint64_t nonce);
  void resume_lanes();  // the end of an open
  Lane& pick_lane(std::unique_lock<std::mutex>& lock, Stream stream);
  // spare_durable: an unlinked spare was made by an earlier append.
  void ensure_room(Lane& lane, uint64_t span, bool spare_durable);
  Chunk* make_chunk(Lane& lane, uint64_t capacity);
  void link_head(Lane& lane, Chunk* c);
  void maintain_spare(Lane& lane);
  uint64_t next_capacity(uint64_t span) const;
  // Adds n to a lane's pending bytes (`pending`) and those to `total` once
  // they pass the batch size (see record_bytes_).
  void count_bytes(std::atomic<int64_t> Lane::*pending, std::atomic<int64_t>& total, int64_t n);
  uint64_t total_records() const;  // record_bytes_ and dead_bytes_, at least 0
  uint64_t total_dead() const;
  void seal(Chunk* c);
  void maybe_queue(Chunk* c);
  void push_candidate(Chunk* c);
  Chunk* take_candidate();
  bool clean_due() const;
  // Dead bytes past `times` the cleaning threshold.
  bool over_threshold(uint64_t times = 1) const;
  static bool dead_enough(const Chunk* c);  // at least victim_permille of it dead
  void prepare_clean(Lane& lane);
  // Copies victim's live records after lane's last record, into step_;
  // returns 0. If must_fit and they would not all fit the lane's current
  // chunk and linked spare, copies none and returns the room they want.
  uint64_t copy_live(Lane& lane, Chunk* victim, bool must_fit);
  // Writes back the copies step_.runs holds and streams step_.streams'
  // (before the fence of the thread that prepared them).
  void write_back_copies();
  // Writes back now, or at the thread's group commit.
  void write_back(const char* p, uint64_t n);
  // Clears stale records after the last valid one of a chunk appends go to.
  bool scrub_tail(Chunk* c);
  void finish_clean();
  void finish_step();  // finish_clean's work, under kBusy
  void release_unlinked();
  void unlink(Chunk* victim);
  void free_chunk(Chunk* c);

  Store& store_;
  uint64_t lanes_off_;
  LogLanesData* lanes_data_;
  Owner* owner_;
  std::unique_ptr<Lane[]> lanes_;
  std::atomic<unsigned> open_lanes_{1};   // of the lanes before kSideLane
  std::atomic<bool> side_linked_{false};  // the side lane has a head chunk
  bool from_image_ = false;

  mutable std::mutex chunks_mu_;  // the set of chunks (not their contents)
  std::vector<Chunk*> chunks_;
  // Record and dead bytes change at every update, from every writer: they
  // are counted per thread slot first (pending in a lane, whose line stays
  // in the writer's cache) and added here in batches of about 1/1024 of the
  // log, so that this line does not move between the writers' cores at
  // every update (~200 ns each time, measured with two writers). The
  // cleaning thresholds read these totals, up to ~1.6% off; stats() adds
  // the pending bytes in.
  std::atomic<int64_t> record_bytes_{0};
  std::atomic<int64_t> dead_bytes_{0};
  std::atomic<int64_t> hot_dead_bytes_{0};  // see dead()
  // The live bytes of a victim that did not fit in its appender's lane:
  // the next chunks are made at least that large, so that it can be.
  std::atomic<uint64_t> room_wanted_{0};
  std::atomic<uint64_t> cleanings_{0};
  std::atomic<uint64_t> copied_bytes_{0};
  std::atomic<uint64_t> background_cleanings_{0};
  // Background cleaning: queued (or being cleaned) by the cleaner; the log
  // was ever queued; it was forgotten (under the cleaner's mutex).
  std::atomic<bool> bg_requested_{false};
  std::atomic<bool> bg_used_{false};
  bool bg_forgotten_ = false;

  // Cleaning. Sealed chunks dead enough to clean, each queued once:
  std::mutex candidates_mu_;
  std::deque<Chunk*> candidates_;  // oldest first
  uint64_t takes_ = 0;             // candidates taken (a clock for their wait)
  std::atomic<size_t> candidate_count_{0};
  // One cleaning step at a time: kIdle -> kBusy (prepare, before the
  // appender's fence) -> kPrepared (after it: the copies and the previous
  // unlink are durable) -> kBusy (finish, by any thread) -> kIdle.
  enum CleanState : int { kIdle, kBusy, kPrepared };
  std::atomic<int> clean_state_{kIdle};
  // The commit that makes the prepared step durable (a CommitTicket: a
  // group commit may defer the appender's fence, runtime/group_commit.h).
  std::atomic<uint64_t> step_ticket_{0};
  // A copy to stream (Persister::write_nt) right before the fence: its
  // header as it will be, and its body still at the victim.
  struct StreamedCopy {
    char* dst;
    const char* body;
    uint64_t body_bytes;  // the span past the header
    RecordHeader header;
  };
  struct Step {
    Chunk* victim = nullptr;
    std::vector<Loc> live, gone, copies;
    std::vector<std::pair<const char*, uint64_t>> runs;  // the copies' bytes, to write back
    std::vector<StreamedCopy> streams;                   // or to stream
    void clear() {
      victim = nullptr;
      live.clear();
      gone.clear();
      copies.clear();
      runs.clear();
      streams.clear();
    }
  };
  Step step_;  // the step being prepared or finished (owned by kBusy's holder)
  // The previous victim: relocated, still linked until the next step's
  // unlink, with the records to report dropped() once it is unlinked.
  struct Relocated {
    Chunk* chunk = nullptr;
    std::vector<Loc> gone, copied_gone;
    void clear() {
      chunk = nullptr;
      gone.clear();
      copied_gone.clear();
    }
  };
  Relocated relocated_;
  std::atomic<bool> relocated_pending_{false};  // relocated_.chunk != nullptr
  Relocated unlinked_;  // unlinked by the step in progress (durable at kPrepared)
};

}  // namespace nvobj

#endif  // NVOBJ_POBJECTS_RECORD_LOG_H_
