#include "pobjects/record_log.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "pobjects/log_cleaner.h"
#include "runtime/error.h"
#include "runtime/heap.h"
#include "runtime/nonce.h"

namespace nvobj {

void register_pobject_destroyers();  // phashmap.cc

namespace {

constexpr uint64_t kChunkOverhead = kObjectHeaderSize + sizeof(LogChunkData);
constexpr uint64_t kMinChunk = 512;       // allocation bytes of the smallest chunk
constexpr uint64_t kMaxChunk = 64 << 10;  // ... and of the largest regular chunk
// Records up to this span are built in a buffer and streamed to the log
// (see append); larger ones are copied in place and written back.
constexpr uint64_t kMaxStaged = 16 << 10;

// This thread's buffer for staged records (kMaxStaged bytes, made once).
char* stage_buffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) buffer.reset(new char[kMaxStaged]);
  return buffer.get();
}
std::atomic<uint64_t> min_clean_bytes{RecordLog::kDefaultMinCleanBytes};
constexpr uint64_t kDefaultDeadPermille = 150;
constexpr uint64_t kDefaultVictimPermille = 300;
constexpr uint64_t kShortDeadPermille = 50;  // when the pool is full (space_short)
// Cleaning starts when dead records pass this fraction of the log (in
// 1/1000): 150 keeps a log of 1 KB records within 1.25x of its live bytes.
std::atomic<uint64_t> dead_permille{kDefaultDeadPermille};
// A chunk is cleaned only if at least this fraction of it is dead.
std::atomic<uint64_t> victim_permille{kDefaultVictimPermille};
// Set when a chunk could not be made (the pool is full). While set, logs
// clean from 5% dead and chunks from the default 30%, whatever the
// configured thresholds (nvobj-dso cleans at 30%): a full pool gets back
// nearly all its dead space, space being worth more than copying then.
// Cleared by a cleaning step that leaves its log with no more than 5% dead
// and the pool with an eighth of its heap free (kRoomShare). (Until
// 2026-12-07 a log that made a chunk with no more than 5% dead cleared
// it: a delete's small record got a chunk while the deleted values had
// not died past 5% yet, the threshold went back to 30%, and their space,
// which only cleaning returns, never came back: DsoServerTest.
// FullPoolRefusesWritesWithOomAndKeepsAcknowledgedData failed whenever the
// chunk came at that moment, and a cleaning step that took a log below 5%
// while deletes went on did the same.) Process-wide, as the thresholds are.
std::atomic<bool> space_short{false};
constexpr uint64_t kRoomShare = 8;  // the pool has room again: 1/kRoomShare of its heap free
// The pool's usage is a walk of its runs (a millisecond or more for tens of
// GiB, under the allocator's lock): while short, looked at most this often.
constexpr int64_t kRoomCheckNs = 100'000'000;
std::atomic<int64_t> room_checked_at{INT64_MIN / 2};

uint64_t effective(const std::atomic<uint64_t>& permille, uint64_t when_short) {
  uint64_t p = permille.load(std::memory_order_relaxed);
  return space_short.load(std::memory_order_relaxed) ? std::min(p, when_short) : p;
}

unsigned thread_slot() {
  static std::atomic<unsigned> next{0};
  thread_local const unsigned slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

}  // namespace

struct RecordLog::Chunk {
  uint64_t off = 0;  // payload offset of the LogChunk object
  char* tail = nullptr;
  uint64_t capacity = 0;
  uint64_t nonce = 0;
  unsigned lane = 0;
  size_t index = 0;                   // in chunks_
  std::atomic<uint64_t> used{0};      // bytes of records (final once sealed)
  std::atomic<uint64_t> dead{0};      // bytes of superseded records
  std::atomic<uint64_t> hot_dead{0};  // ... of them, hot records' (not in dead_bytes_)
  std::atomic<bool> sealed{false};    // its lane has moved on: no more appends
  std::atomic<bool> queued{false};    // made a cleaning candidate (once)
  // Records appended (under the lane's lock) and installed by their owner
  // (installed(), any thread): a chunk with records in between is not
  // cleaned (see take_candidate).
  std::atomic<uint32_t> appended{0};
  std::atomic<uint32_t> installed{0};
  uint64_t queued_at = 0;  // takes_ when it was (candidates_mu_)
  Chunk* older = nullptr;  // chain neighbours (see link_head, unlink)
  Chunk* newer = nullptr;
  // Bit i: the record at byte 8*i is live (not reported dead), so the
  // cleaner tells live from dead records without asking the owner.
  std::unique_ptr<std::atomic<uint64_t>[]> live;

  void init_live() { live.reset(new std::atomic<uint64_t>[(capacity / kRecordAlign + 63) / 64]()); }
  static uint64_t live_word(uint64_t pos) { return pos / kRecordAlign / 64; }
  static uint64_t live_bit(uint64_t pos) { return uint64_t{1} << (pos / kRecordAlign % 64); }
  void set_live(uint64_t pos) { set_live_bits(live_word(pos), live_bit(pos)); }
  void set_live_bits(uint64_t word, uint64_t bits) {
    live[word].fetch_or(bits, std::memory_order_relaxed);
  }
  void clear_live(uint64_t pos) {
    live[live_word(pos)].fetch_and(~live_bit(pos), std::memory_order_release);
  }
  bool is_live(uint64_t pos) const {
    return (live[live_word(pos)].load(std::memory_order_acquire) & live_bit(pos)) != 0;
  }
};

// Cache-line aligned: each writer's lane (and its byte counts) stays in
// its core's cache.
struct alignas(64) RecordLog::Lane {
  std::mutex mu;
  unsigned index = 0;
  Chunk* head = nullptr;   // newest linked chunk
  Chunk* cur = nullptr;    // where records go
  uint64_t pos = 0;        // bytes used in cur
  Chunk* spare = nullptr;  // the next chunk: made (durable), then linked
  bool spare_linked = false;
  uint64_t spare_ticket = 0;  // the commit that makes the spare durable (CommitTicket)
  Chunk* last = nullptr;      // where the lane's last update record went
  // Not the lane's own: bytes counted by the threads of slot index (mod
  // kLogLanes) and not yet added to the totals (see count_bytes).
  std::atomic<int64_t> pending_records{0};
  std::atomic<int64_t> pending_dead{0};
};

uint64_t RecordLog::create(Store& store) {
  register_pobject_destroyers();
  Ref<LogLanes> lanes = store.make_detached<LogLanes>(0);
  uint64_t cap = kMinChunk - kChunkOverhead;
  Ref<LogChunk> first =
      store.make_detached<LogChunk>(cap, cap, uint64_t{0}, uint64_t{0}, fresh_nonce());
  // Both are unpublished: the fence that publishes the owner covers them.
  store.pool().at<LogLanesData>(lanes.offset())->heads[0] = first.offset();
  return lanes.offset();
}

RecordLog::RecordLog(Store& store, uint64_t lanes_off, Owner* owner, const ScanFn& fn,
                     unsigned threads, const std::vector<ChunkImage>* image)
    : store_(store),
      lanes_off_(lanes_off),
      lanes_data_(store.pool().at<LogLanesData>(lanes_off)),
      owner_(owner),
      lanes_(new Lane[kLogLanes]) {
  register_pobject_destroyers();
  (void)store.proxy<LogLanes>(lanes_off);  // checks the class
  for (unsigned i = 0; i < kLogLanes; ++i) lanes_[i].index = i;
  if (image != nullptr && image_matches(*image)) {
    from_image_ = true;
    // No chunk is read: a log of 10 GB opens without a page fault in it.
    Chunk* newer = nullptr;
    for (size_t k = 0; k < image->size(); ++k) {
      const ChunkImage& ci = (*image)[k];
      if (k != 0 && (*image)[k - 1].lane != ci.lane) newer = nullptr;
      Chunk* c = add_chunk(ci.lane, newer, ci.off, ci.capacity, ci.nonce);
      newer = c;
      c->used.store(ci.used, std::memory_order_relaxed);
      c->dead.store(ci.used, std::memory_order_relaxed);  // until the owner's live()
      record_bytes_.fetch_add(static_cast<int64_t>(ci.used), std::memory_order_relaxed);
    }
    resume_lanes();
    return;
  }

  uint32_t chunk_class = store.class_id<LogChunk>();
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Chunk* newer = nullptr;
    for (uint64_t off = lanes_data_->heads[i]; off != 0;) {
      if (off >= store.pool().size() ||
          store.pool().at<ObjectHeader>(off - kObjectHeaderSize)->class_id != chunk_class)
        throw Error(Status(
            StatusCode::kCorrupt,
            fmt::format("log lane {} of {} links to {}, not a log chunk", i, lanes_off, off)));
      const LogChunkData* d = store.pool().at<LogChunkData>(off);
      newer = add_chunk(i, newer, off, d->capacity, d->nonce);
      off = d->prev;
    }
  }

  // Scan the chunks in parallel.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k; (k = next.fetch_add(1)) < chunks_.size();) {
      Chunk* c = chunks_[k];
      uint64_t used = for_each_record(
          c->nonce, c->tail, c->capacity,
          [&](const RecordHeader& h, const char* body, uint64_t pos) {
            c->set_live(pos);
            fn(Loc{reinterpret_cast<const RecordHeader*>(c->tail + pos), c}, h, body);
          });
      c->used.store(used, std::memory_order_relaxed);
      record_bytes_.fetch_add(static_cast<int64_t>(used), std::memory_order_relaxed);
    }
  };
  threads =
      std::clamp<unsigned>(threads, 1, static_cast<unsigned>(std::max<size_t>(1, chunks_.size())));
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();

  // Empty sealed chunks are cleaning candidates now; the others once the
  // owner reports their dead records.
  for (Chunk* c : chunks_) maybe_queue(c);
  resume_lanes();
}

RecordLog::Chunk* RecordLog::add_chunk(unsigned lane_index, Chunk* newer, uint64_t off,
                                       uint64_t capacity, uint64_t nonce) {
  Lane& lane = lanes_[lane_index];
  auto* c = new Chunk;
  c->off = off;
  c->tail = store_.pool().at<char>(off) + sizeof(LogChunkData);
  c->capacity = capacity;
  c->nonce = nonce;
  c->lane = lane_index;
  c->init_live();
  c->index = chunks_.size();
  c->sealed.store(newer != nullptr, std::memory_order_relaxed);  // all but the head
  c->newer = newer;
  if (newer != nullptr)
    newer->older = c;
  else
    lane.head = c;
  if (lane_index == kSideLane) side_linked_.store(true, std::memory_order_relaxed);
  chunks_.push_back(c);
  if (lane_index != kSideLane)
    open_lanes_.store(std::max(open_lanes_.load(std::memory_order_relaxed), lane_index + 1),
                      std::memory_order_relaxed);
  return c;
}

bool RecordLog::image_matches(const std::vector<ChunkImage>& image) const {
  // The store hands out an image only after a clean close with no other
  // open in between (Store::close_snapshot), so the log is as the image
  // says. Checked here, for what a mismatch would cost (a corrupt index):
  // the image's shape, and at the newest end of each lane - where appends
  // go - the chunks themselves: linked from the lane head, same nonces,
  // nothing valid after the image's used bytes. Not every chunk: each
  // check would cost a page fault, and the whole point is not to touch
  // the log.
  uint32_t chunk_class = store_.class_id<LogChunk>();
  const Pool& pool = store_.pool();
  size_t k = 0;
  for (unsigned lane = 0; lane < kLogLanes; ++lane) {
    uint64_t expected = lanes_data_->heads[lane];  // the next chunk checked in full
    size_t in_lane = 0;
    for (; k < image.size() && image[k].lane == lane; ++k, ++in_lane) {
      const ChunkImage& i = image[k];
      if (i.off < pool.data_offset() + kObjectHeaderSize ||
          i.capacity > pool.size() - sizeof(LogChunkData) ||
          i.off > pool.size() - sizeof(LogChunkData) - i.capacity || i.used > i.capacity ||
          i.used % kRecordAlign != 0 || i.reserved != 0)
        return false;
      if (in_lane == 2 && i.off != expected) return false;
      if (in_lane >= 2) continue;
      const LogChunkData* d = pool.at<LogChunkData>(i.off);
      const char* tail = pool.at<char>(i.off) + sizeof(LogChunkData);
      if (i.off != expected ||
          pool.at<ObjectHeader>(i.off - kObjectHeaderSize)->class_id != chunk_class ||
          d->nonce != i.nonce || d->capacity != i.capacity ||
          valid_record_span(i.nonce, tail + i.used, i.capacity - i.used) != 0)
        return false;
      expected = d->prev;
    }
    if (in_lane <= 2 && expected != 0) return false;  // the chain goes on past the image
  }
  return k == image.size();
}

void RecordLog::resume_lanes() {
  // Appends resume after the last valid record of each lane's newest chunk.
  bool scrubbed = false;
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Lane& lane = lanes_[i];
    lane.cur = lane.head;
    if (lane.cur != nullptr) {
      lane.pos = lane.cur->used.load(std::memory_order_relaxed);
      scrubbed |= scrub_tail(lane.cur);
    }
  }
  if (scrubbed) store_.durable_fence();
}

bool RecordLog::scrub_tail(Chunk* c) {
  // A crash during a group commit (runtime/group_commit.h) may leave a torn
  // record with durable ones after it: the scan stopped at the torn one,
  // and the records after it are not part of the log. Appends resume over
  // the torn one; a record written there that ends where an old one begins
  // would let a later scan run on into the old ones. So they are cleared.
  uint64_t used = c->used.load(std::memory_order_relaxed);
  for (uint64_t pos = used + kRecordAlign; pos < c->capacity; pos += kRecordAlign) {
    if (valid_record_span(c->nonce, c->tail + pos, c->capacity - pos) == 0) continue;
    std::memset(c->tail + used, 0, c->capacity - used);
    store_.pool().persister().pwb(c->tail + used, c->capacity - used);
    return true;
  }
  return false;
}

bool RecordLog::settle() {
  stop_background();
  if (clean_state_.load(std::memory_order_acquire) == kPrepared) finish_clean();
  if (clean_state_.load(std::memory_order_acquire) != kIdle) return false;  // its commit waits
  if (unlinked_.chunk != nullptr) {
    if (!CommitTicket::from_raw(step_ticket_.load(std::memory_order_acquire)).durable())
      return false;
    release_unlinked();
  }
  if (relocated_.chunk != nullptr) {
    // What the next cleaning step would do before its fence, with a fence
    // of its own: the copies stay, the originals leave.
    unlink(relocated_.chunk);
    std::swap(unlinked_, relocated_);
    relocated_pending_.store(false, std::memory_order_relaxed);
    store_.durable_fence();
    release_unlinked();
  }
  return true;
}

RecordLog::Image RecordLog::image() const {
  // Each lane's volatile chain, checked against the persistent one.
  Image img;
  img.position.assign(chunks_.size(), kNoPosition);
  for (unsigned i = 0; i < kLogLanes; ++i) {
    uint64_t off = lanes_data_->heads[i];
    for (const Chunk* c = lanes_[i].head; c != nullptr; c = c->older) {
      if (c->off != off) return {};
      img.position[c->index] = static_cast<uint32_t>(img.chunks.size());
      img.chunks.push_back({off, c->nonce, c->used.load(), c->capacity, i, 0});
      off = store_.pool().at<LogChunkData>(off)->prev;
    }
    if (off != 0) return {};
  }
  return img;
}

uint32_t RecordLog::Image::position_of(const Chunk* c) const {
  return c->index < position.size() ? position[c->index] : kNoPosition;
}

void RecordLog::live(Loc loc, uint64_t span) {
  loc.chunk->set_live(
      static_cast<uint64_t>(reinterpret_cast<const char*>(loc.rec) - loc.chunk->tail));
  loc.chunk->dead.fetch_sub(span, std::memory_order_relaxed);
}

void RecordLog::finish_image_open() {
  uint64_t dead = 0;
  for (Chunk* c : chunks_) dead += c->dead.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < kLogLanes; ++i) lanes_[i].pending_dead.store(0);
  dead_bytes_.store(static_cast<int64_t>(dead), std::memory_order_relaxed);
  for (Chunk* c : chunks_) maybe_queue(c);
}

RecordLog::~RecordLog() {
  stop_background();  // (the owner has called it already: a step calls back into it)
  // A relocated victim stays linked: its records are duplicates of their
  // copies (same versions), which the next open resolves. The pool is not
  // touched otherwise: destroy_unopened() may have freed the log already.
  // A chunk unlinked by a step never finished (its update threw before
  // maybe_clean(), and no update came after) is freed; the objects its dead
  // records referenced are left to recovery. Spares never linked are
  // unreachable too: give them back.
  // (Unless its unlink waits for a group commit not yet done: it stays
  // allocated, unreachable, for recovery.)
  if (unlinked_.chunk != nullptr &&
      CommitTicket::from_raw(step_ticket_.load(std::memory_order_acquire)).durable())
    free_chunk(unlinked_.chunk);
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Lane& lane = lanes_[i];
    if (lane.spare != nullptr && !lane.spare_linked) free_chunk(lane.spare);
  }
  for (Chunk* c : chunks_) delete c;
}

RecordLog::Lane& RecordLog::pick_lane(std::unique_lock<std::mutex>& lock, Stream stream) {
  if (stream == Stream::kHot) {
    lock = std::unique_lock(lanes_[kSideLane].mu);
    return lanes_[kSideLane];
  }
  unsigned slot = thread_slot();
  for (;;) {
    unsigned n = open_lanes_.load(std::memory_order_acquire);
    Lane& lane = lanes_[slot % n];
    if (lane.mu.try_lock()) {
      lock = std::unique_lock(lane.mu, std::adopt_lock);
      return lane;
    }
    // Contention: open one more lane (up to the side lane), else wait.
    if (n < kSideLane) {
      open_lanes_.compare_exchange_strong(n, n + 1);
      continue;
    }
    lock = std::unique_lock(lane.mu);
    return lane;
  }
}

uint64_t RecordLog::next_capacity(uint64_t span) const {
  // A sixteenth to an eighth of the live records: the chunks a log keeps
  // whatever it holds (each lane's head and spare) stay in proportion to
  // it, from 1 KB for a map of one key to 128 KB per lane from 512 KB of
  // records. (Sized by the previous chunk instead, a small map's chunks grew
  // with every update of its few keys.) Under the dead share that starts
  // cleaning (15%), so that a queue's front chunk dies whole before its
  // log is cleaned (with up to a quarter, a queue of 2,000 elements copied
  // most of an element per pop).
  uint64_t records = total_records();
  uint64_t dead = total_dead();
  uint64_t live = records > dead ? records - dead : 0;
  uint64_t total = std::clamp<uint64_t>(std::bit_ceil(live / 16 + 1), kMinChunk, kMaxChunk);
  if (uint64_t want = room_wanted_.load(std::memory_order_relaxed); want != 0)
    total = std::max(total, std::min(std::bit_ceil(want + kChunkOverhead), kMaxChunk));
  if (span + kChunkOverhead > total) {
    total = span + kChunkOverhead;
    total = total <= kMaxChunk ? std::bit_ceil(total) : (total + 4095) / 4096 * 4096;
  }
  return total - kChunkOverhead;
}

RecordLog::Chunk* RecordLog::make_chunk(Lane& lane, uint64_t capacity) {
  uint64_t prev = lane.head != nullptr ? lane.head->off : 0;
  uint64_t nonce = fresh_nonce();
  Ref<LogChunk> ref;
  try {
    ref = store_.make_detached<LogChunk>(capacity, capacity, prev, uint64_t{0}, nonce);
  } catch (const Error& e) {
    if (e.status().code() == StatusCode::kNoSpace)
      space_short.store(true, std::memory_order_relaxed);
    throw;
  }
  auto* c = new Chunk;
  c->off = ref.offset();
  c->tail = store_.pool().at<char>(c->off) + sizeof(LogChunkData);
  // The log fills it front to back: its pages in one call, not a fault each.
  store_.pool().prefault(c->off, sizeof(LogChunkData) + capacity);
  c->capacity = capacity;
  c->nonce = nonce;
  c->lane = lane.index;
  c->init_live();
  std::lock_guard lock(chunks_mu_);
  c->index = chunks_.size();
  chunks_.push_back(c);
  return c;
}

void RecordLog::link_head(Lane& lane, Chunk* c) {
  // The chunk's prev was set to the head when it was made; it still is.
  std::atomic_ref<uint64_t>(lanes_data_->heads[lane.index])
      .store(c->off, std::memory_order_release);
  store_.pool().persister().pwb(&lanes_data_->heads[lane.index], sizeof(uint64_t));
  c->older = lane.head;
  if (lane.head != nullptr) lane.head->newer = c;
  lane.head = c;
  if (lane.index == kSideLane) side_linked_.store(true, std::memory_order_release);
}

void RecordLog::ensure_room(Lane& lane, uint64_t span, bool spare_durable) {
  if (lane.cur != nullptr && lane.pos + span <= lane.cur->capacity) return;
  spare_durable = spare_durable && CommitTicket::from_raw(lane.spare_ticket).durable();
  // A spare made by an earlier append is durable: it may be linked now,
  // the head's new pointer becoming durable with the record at this
  // append's fence (as when maintain_spare links it).
  if (spare_durable && lane.spare != nullptr && !lane.spare_linked &&
      span <= lane.spare->capacity) {
    link_head(lane, lane.spare);
    lane.spare_linked = true;
  }
  if (lane.spare != nullptr && lane.spare_linked && span <= lane.spare->capacity) {
    if (lane.cur != nullptr) seal(lane.cur);
    lane.cur = lane.spare;
    lane.pos = 0;
    lane.spare = nullptr;
    lane.spare_linked = false;
    return;
  }
  // A chunk the spare path did not prepare: it must be durable before the
  // head points at it (the second fence of this append).
  if (lane.spare != nullptr && !lane.spare_linked) {
    free_chunk(lane.spare);  // its prev is the head this chunk replaces
    lane.spare = nullptr;
  }
  Chunk* c = make_chunk(lane, next_capacity(span));
  store_.durable_fence();
  link_head(lane, c);
  if (lane.cur != nullptr) seal(lane.cur);
  if (lane.spare != nullptr) {
    // Linked but too small for this record: it stays in the chain, empty,
    // behind the new head; sealed, the cleaner unlinks and frees it.
    seal(lane.spare);
    lane.spare = nullptr;
    lane.spare_linked = false;
  }
  lane.cur = c;
  lane.pos = 0;
}

void RecordLog::maintain_spare(Lane& lane) {
  if (lane.spare != nullptr && !lane.spare_linked) {
    // Made by an earlier append, so durable since that append's fence
    // (unless a group commit defers it: then a later append links it).
    if (!CommitTicket::from_raw(lane.spare_ticket).durable()) return;
    link_head(lane, lane.spare);
    lane.spare_linked = true;
    return;
  }
  // The next chunk is made when the current one is half full, or has less
  // room than the cleaner's copies want (the side lane's records are its
  // copies, which come a victim's worth at a time).
  if (lane.spare == nullptr &&
      (lane.cur == nullptr || lane.pos * 2 >= lane.cur->capacity ||
       lane.cur->capacity - lane.pos < room_wanted_.load(std::memory_order_relaxed))) {
    try {
      lane.spare = make_chunk(lane, next_capacity(0));  // durable at this append's fence
      lane.spare_linked = false;
      lane.spare_ticket = CommitTicket::never().raw();  // append sets that fence's ticket
    } catch (const Error&) {
      // Pool full: the next append that needs room reports it.
    }
  }
}

RecordLog::Loc RecordLog::append(uint32_t kind, uint64_t meta, uint64_t ref,
                                 std::initializer_list<std::string_view> parts, Stream stream) {
  uint64_t body = 0;
  for (std::string_view p : parts) body += p.size();
  if (body > UINT32_MAX)
    throw Error(Status(StatusCode::kInvalidArgument, "a record is limited to 4 GiB"));
  uint64_t span = record_span(body);
  if (ref != 0) {
    // What the record names is durable first: new objects, and this
    // thread's deferred updates (a new container's first element).
    if (GroupCommit::pending(store_))
      store_.durable_fence();
    else
      store_.fence_new_objects();
  }

  // The side lane's first chunk would cost a fence of its own: the first
  // hot record goes to a default lane, and its append makes that chunk,
  // durable at its fence, for the next one (a spare of the side lane).
  // In a group commit a thread's records of one log stay in one lane: the
  // batch's prefix order (group_commit.h) holds only within a lane.
  Lane& side = lanes_[kSideLane];
  bool primes_hot = false;
  if (stream == Stream::kHot && GroupCommit::deferring()) stream = Stream::kDefault;
  // (Once the side lane has a chunk it always has one: a lane's head is
  // never cleaned away. Then a hot append locks it once, in pick_lane.)
  if (stream == Stream::kHot && !side_linked_.load(std::memory_order_acquire)) {
    std::lock_guard primes_lock(side.mu);
    if (side.head == nullptr) {
      stream = Stream::kDefault;
      if (side.spare == nullptr) {
        try {
          side.spare = make_chunk(side, next_capacity(0));
          side.spare_linked = false;
          side.spare_ticket = CommitTicket::never().raw();  // set below, after the fence
          primes_hot = true;
        } catch (const Error&) {
          // Pool full: hot records keep going to the default lanes.
        }
      } else if (CommitTicket::from_raw(side.spare_ticket).durable()) {
        stream = Stream::kHot;  // ensure_room links it
      }
    }
  }

  std::unique_lock<std::mutex> lock;
  Lane& lane = pick_lane(lock, stream);
  ensure_room(lane, span, /*spare_durable=*/true);
  // Deferred records of a lane become durable in order only within a chunk
  // (recovery's scan of a chunk stops at a torn record, but each chunk is
  // scanned): the ones in the chunk the lane left are made durable before
  // this record goes into the next.
  if (lane.last != lane.cur && lane.last != nullptr && GroupCommit::pending(store_))
    store_.durable_fence();
  lane.last = lane.cur;
  char* dst = lane.cur->tail + lane.pos;
  // A record is built in this thread's buffer and streamed to the chunk
  // right before the fence (Persister::write_nt): nothing reads it back
  // soon, and a line made durable with non-temporal stores costs ~60% of
  // one stored, written back (clwb) and fenced. Not in a group commit,
  // whose write-backs wait for the commit (they are deferred, not issued),
  // nor for a large record (copied in place, then written back).
  char* staged = span <= kMaxStaged && !GroupCommit::deferring() ? stage_buffer() : nullptr;
  char* build = staged != nullptr ? staged : dst;
  char* at = build + sizeof(RecordHeader);
  for (std::string_view p : parts) {
    if (p.empty()) continue;  // its data() may be null, which memcpy must not get
    std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  if (staged != nullptr) std::memset(at, 0, static_cast<size_t>(staged + span - at));  // padding
  RecordHeader h{};
  h.body_len = static_cast<uint32_t>(body);
  h.kind = kind;
  h.ref = ref;
  h.meta = meta;
  seal_record(lane.cur->nonce, h, build);
  Loc loc{reinterpret_cast<const RecordHeader*>(dst), lane.cur};
  uint64_t rec_pos = lane.pos;
  lane.pos += span;
  lane.cur->used.store(lane.pos, std::memory_order_release);
  Chunk* spare = lane.spare;
  maintain_spare(lane);
  // A cleaning step rides on this fence (see record_log.h).
  bool prepared = false;
  std::unique_lock<std::mutex> side_lock;
  Chunk* side_spare = nullptr;
  if (clean_due() && cleans_inline()) {
    int idle = kIdle;
    if (clean_state_.compare_exchange_strong(idle, kBusy, std::memory_order_acquire)) {
      prepared = true;
      // The copies go to the side lane (see record_log.h).
      if (&side != &lane) {
        side_lock = std::unique_lock(side.mu);  // (hot appends, which hold it, take no other)
        side_spare = side.spare;
        maintain_spare(side);
      }
      prepare_clean(side);
      // Copies that took the spare: the next one is made now, durable at
      // this fence and so ready for the next step.
      if (side.spare == nullptr) maintain_spare(side);
    }
  }
  // Written back last, right before the fence: a locked instruction (an
  // atomic read-modify-write, a mutex, the allocator's) waits for every
  // write-back issued before it to complete, as a fence does, so each one
  // above would otherwise cost a fence. The cleaning step's copies too
  // (step_ is this append's only if it prepared the step).
  // In a group commit (runtime/group_commit.h) both the write-backs and the
  // fence wait for the commit; the ticket says when it is done.
  if (prepared) write_back_copies();
  if (staged != nullptr)
    store_.pool().persister().write_nt(dst, staged, span);
  else
    write_back(dst, span);
  CommitTicket ticket = store_.commit_fence();
  if (lane.spare != spare && lane.spare != nullptr) lane.spare_ticket = ticket.raw();
  // A side spare this append made (for hot records or the copies) is
  // durable at this fence. (The side lock is taken after a default lane's:
  // hot appends take no other.)
  if (primes_hot && !side_lock.owns_lock()) side_lock = std::unique_lock(side.mu);
  if (side_lock.owns_lock() && side.spare != nullptr && (primes_hot || side.spare != side_spare))
    side.spare_ticket = ticket.raw();
  if (prepared) {
    step_ticket_.store(ticket.raw(), std::memory_order_relaxed);
    clean_state_.store(kPrepared, std::memory_order_release);
  }
  // After the fence: set_live is a locked instruction, and before the
  // write-backs were issued it waited for the record's stores to reach the
  // cache. Still under the lane's lock, so no cleaning step has looked at
  // the chunk: only this lane's appends seal it, and if this one did (the
  // side lane, whose chunk its own step's copies filled), every step takes
  // the side lane's lock, which it holds.
  loc.chunk->set_live(rec_pos);
  loc.chunk->appended.store(loc.chunk->appended.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
  count_bytes(&Lane::pending_records, record_bytes_, static_cast<int64_t>(span));
  return loc;
}

void RecordLog::installed(Loc loc) { loc.chunk->installed.fetch_add(1, std::memory_order_release); }

void RecordLog::count_bytes(std::atomic<int64_t> Lane::*pending, std::atomic<int64_t>& total,
                            int64_t n) {
  std::atomic<int64_t>& mine = lanes_[thread_slot() % kLogLanes].*pending;
  // An atomic add: threads whose slots are equal mod kLogLanes share it.
  int64_t now = mine.fetch_add(n, std::memory_order_relaxed) + n;
  int64_t limit = record_bytes_.load(std::memory_order_relaxed) >> 10;
  if (now > limit || now < -limit)
    total.fetch_add(mine.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
}

uint64_t RecordLog::total_records() const {
  return static_cast<uint64_t>(std::max<int64_t>(record_bytes_.load(std::memory_order_relaxed), 0));
}

uint64_t RecordLog::total_dead() const {
  return static_cast<uint64_t>(std::max<int64_t>(dead_bytes_.load(std::memory_order_relaxed), 0));
}

void RecordLog::set_min_clean_bytes(uint64_t bytes) { min_clean_bytes.store(bytes); }
void RecordLog::set_cleaning_thresholds(uint64_t dead, uint64_t victim) {
  dead_permille.store(dead);
  victim_permille.store(victim);
}

void RecordLog::dead(Loc loc, uint64_t span, bool hot) {
  loc.chunk->dead.fetch_add(span, std::memory_order_relaxed);
  if (hot) {
    loc.chunk->hot_dead.fetch_add(span, std::memory_order_relaxed);
    hot_dead_bytes_.fetch_add(static_cast<int64_t>(span), std::memory_order_relaxed);
  } else {
    count_bytes(&Lane::pending_dead, dead_bytes_, static_cast<int64_t>(span));
  }
  maybe_queue(loc.chunk);
  // The last touch of the chunk: a cleaner that sees the bit cleared
  // (acquire) does not copy the record.
  loc.chunk->clear_live(reinterpret_cast<const char*>(loc.rec) - loc.chunk->tail);
}

void RecordLog::seal(Chunk* c) {
  // The chunk is not touched once sealed: from then on another thread's
  // dead() may queue it, and cleaning steps take it and free it. So the
  // queueing is decided first (queued keeps dead() from queueing it too).
  bool queue = dead_enough(c) && !c->queued.exchange(true, std::memory_order_acq_rel);
  c->sealed.store(true, std::memory_order_release);
  if (queue) push_candidate(c);
}

bool RecordLog::dead_enough(const Chunk* c) {
  uint64_t used = c->used.load(std::memory_order_acquire);
  return c->dead.load(std::memory_order_relaxed) * 1000 >=
         used * effective(victim_permille, kDefaultVictimPermille);
}

void RecordLog::maybe_queue(Chunk* c) {
  if (!c->sealed.load(std::memory_order_acquire) || c->queued.load(std::memory_order_relaxed))
    return;
  // A sealed chunk never takes another record, and is never the head (an
  // empty one is a spare that was passed over: all dead).
  if (!dead_enough(c)) return;
  if (c->queued.exchange(true, std::memory_order_acq_rel)) return;
  push_candidate(c);
}

void RecordLog::push_candidate(Chunk* c) {
  std::lock_guard lock(candidates_mu_);
  c->queued_at = takes_;
  candidates_.push_back(c);
  candidate_count_.fetch_add(1, std::memory_order_relaxed);
}

RecordLog::Chunk* RecordLog::take_candidate() {
  // The deadest of the first few: the oldest candidates, which had the most
  // time to die (a sealed chunk's dead bytes only grow).
  // But the oldest is taken once it has waited kMaxWait steps: a chunk
  // whose dead share stopped growing (a live tombstone with dead records
  // around it) would otherwise lose to deader ones for ever, and with it
  // the objects its dead records name.
  constexpr size_t kSample = 16;
  constexpr uint64_t kMaxWait = 256;
  std::lock_guard lock(candidates_mu_);
  if (candidates_.empty()) return nullptr;
  ++takes_;
  size_t best = 0;
  double best_dead = -1;
  size_t sample = takes_ - candidates_.front()->queued_at > kMaxWait ? 1 : kSample;
  bool found = false;
  for (size_t i = 0; i < std::min(sample, candidates_.size()); ++i) {
    const Chunk* c = candidates_[i];
    // Not while an owner is yet to install one of its records: cleaned
    // now, the record's copy would find its key not pointing to it (so
    // dead), and the install would point the key into the freed chunk.
    // Sealed, the chunk takes no more records, so the counts only meet.
    if (c->installed.load(std::memory_order_acquire) != c->appended.load(std::memory_order_relaxed))
      continue;
    found = true;
    uint64_t used = c->used.load(std::memory_order_relaxed);
    double d = used == 0 ? 1.0
                         : static_cast<double>(c->dead.load(std::memory_order_relaxed)) /
                               static_cast<double>(used);
    if (d > best_dead) {
      best_dead = d;
      best = i;
    }
  }
  if (!found) return nullptr;
  // Erased in place, so the first few stay the oldest. (Swapped with the
  // last, the newest candidate took the victim's place among them, and a
  // chunk queued past the sample behind a steady stream of newer ones was
  // never looked at again: its dead records, and the objects they name,
  // stayed for good.)
  Chunk* c = candidates_[best];
  candidates_.erase(candidates_.begin() + static_cast<std::ptrdiff_t>(best));
  candidate_count_.fetch_sub(1, std::memory_order_relaxed);
  return c;
}

bool RecordLog::clean_due() const {
  // A relocated victim leaves at the next step, due at once: its space, and
  // the objects its dead records reference, come back.
  if (relocated_pending_.load(std::memory_order_relaxed)) return true;
  return candidate_count_.load(std::memory_order_relaxed) != 0 && over_threshold();
}

bool RecordLog::cleans_inline() const { return over_threshold(2) || !LogCleaner::takes_steps(); }

void RecordLog::stop_background() {
  if (bg_used_.load(std::memory_order_relaxed)) LogCleaner::instance().forget(this);
}

size_t RecordLog::clean_in_background(size_t max_steps, bool* more) {
  // Cleared first: an appender that finds the log due from now on queues
  // it again.
  bg_requested_.store(false, std::memory_order_release);
  size_t steps = 0;
  while (steps < max_steps && clean_due() && background_step()) ++steps;
  *more =
      steps == max_steps && clean_due() && !bg_requested_.exchange(true, std::memory_order_acq_rel);
  return steps;
}

bool RecordLog::background_step() {
  int idle = kIdle;
  // Busy: an appender's step (inline: the cleaner is behind) or the
  // owner's housekeeping; the appenders finish it.
  if (!clean_state_.compare_exchange_strong(idle, kBusy, std::memory_order_acquire)) return false;
  Lane& side = lanes_[kSideLane];
  bool progress = false;
  {
    // As an append's step (see append), with the fence its own.
    std::lock_guard side_lock(side.mu);
    Chunk* side_spare = side.spare;
    maintain_spare(side);
    progress = relocated_.chunk != nullptr;
    prepare_clean(side);
    progress |= step_.victim != nullptr;
    if (side.spare == nullptr) maintain_spare(side);
    write_back_copies();
    CommitTicket ticket = store_.commit_fence();
    if (side.spare != nullptr && side.spare != side_spare) {
      side.spare_ticket = ticket.raw();
      progress = true;  // a step given up for want of room can go on now
    }
    step_ticket_.store(ticket.raw(), std::memory_order_relaxed);
  }
  if (step_.victim != nullptr) background_cleanings_.fetch_add(1, std::memory_order_relaxed);
  finish_step();
  return progress;
}

bool RecordLog::over_threshold(uint64_t times) const {
  uint64_t total = total_records();
  uint64_t dead = total_dead();
  return total >= min_clean_bytes.load(std::memory_order_relaxed) &&
         dead * 1000 > total * times * effective(dead_permille, kShortDeadPermille);
}

void RecordLog::maybe_clean(bool owner_work) {
  if (LogCleaner::mode() != BackgroundCleaning::kOff && clean_due() &&
      !bg_requested_.load(std::memory_order_relaxed) && LogCleaner::takes_steps() &&
      !bg_requested_.exchange(true, std::memory_order_acq_rel)) {
    bg_used_.store(true, std::memory_order_relaxed);
    LogCleaner::instance().request(this);
  }
  if (clean_state_.load(std::memory_order_relaxed) == kPrepared) {
    // A step waiting for a group commit blocks the next until the commit:
    // one step per batch. When that falls behind (dead bytes at twice the
    // threshold), this thread's batch commits early, so that it may go on.
    if (!CommitTicket::from_raw(step_ticket_.load(std::memory_order_relaxed)).durable() &&
        over_threshold(2) && GroupCommit::pending(store_))
      store_.durable_fence();
    if (CommitTicket::from_raw(step_ticket_.load(std::memory_order_relaxed)).durable())
      finish_clean();
  }
  if (!owner_work) return;
  int idle = kIdle;
  if (!clean_state_.compare_exchange_strong(idle, kBusy, std::memory_order_acquire)) return;
  // The records stay put meanwhile: no step can copy, unlink or free.
  owner_->housekeeping();
  clean_state_.store(kIdle, std::memory_order_release);
}

void RecordLog::for_each_record_locked(
    const std::function<void(const RecordHeader&, const char*)>& fn) const {
  std::vector<std::pair<const char*, uint64_t>> spans;
  {
    std::lock_guard lock(chunks_mu_);
    for (const Chunk* c : chunks_) {
      uint64_t used = c->used.load(std::memory_order_acquire);
      if (used != 0) spans.emplace_back(c->tail, used);
    }
  }
  for (auto [tail, used] : spans) {
    for (uint64_t pos = 0; pos < used;) {
      const auto* h = reinterpret_cast<const RecordHeader*>(tail + pos);
      fn(*h, reinterpret_cast<const char*>(h + 1));
      pos += record_span(h->body_len);
    }
  }
}

void RecordLog::prepare_clean(Lane& lane) {
  // Under kBusy and `lane`'s lock, before the appender's fence. The previous
  // victim leaves the log at that fence. (The steps' vectors are swapped and
  // cleared, never freed: each step would otherwise allocate them anew.)
  if (relocated_.chunk != nullptr) {
    unlink(relocated_.chunk);
    std::swap(unlinked_, relocated_);  // unlinked_ was released: empty
    relocated_pending_.store(false, std::memory_order_relaxed);
  }
  step_.clear();
  // (A step due only to unlink its predecessor takes no new victim below
  // the threshold.)
  Chunk* victim = over_threshold() ? take_candidate() : nullptr;
  if (victim == nullptr) return;
  // The copies must fit in the lane's current chunk and its linked spare:
  // a chunk made now would cost a fence of its own. If not, a later append
  // has its spare ready (a record too large for any regular chunk gets its
  // fence). A sealed chunk's live bytes are its used bytes less its dead.
  uint64_t live_bytes =
      victim->used.load(std::memory_order_acquire) - victim->dead.load(std::memory_order_relaxed);
  uint64_t room = lane.cur != nullptr ? lane.cur->capacity - lane.pos : 0;
  if (lane.spare != nullptr && lane.spare_linked) room += lane.spare->capacity;
  bool oversized = live_bytes > kMaxChunk - kChunkOverhead;
  if (live_bytes <= room || oversized) {
    try {
      uint64_t wanted = copy_live(lane, victim, /*must_fit=*/!oversized);
      if (wanted == 0) {
        step_.victim = victim;
        room_wanted_.store(0, std::memory_order_relaxed);
        return;
      }
      room_wanted_.store(wanted, std::memory_order_relaxed);
    } catch (const std::exception&) {
      // A full pool or no memory.
    }
  } else {
    room_wanted_.store(live_bytes, std::memory_order_relaxed);  // for the chunks made next
  }
  // Give the step up: the copies made are dead; the victim waits for the
  // next step. The appender's update itself goes on. (The copies are still
  // written back: a torn one would end its chunk's scan at recovery, before
  // the records appended after it.)
  write_back_copies();
  for (Loc c : step_.copies) dead(c);
  step_.clear();
  push_candidate(victim);  // still queued: not pushed by maybe_queue again
}

uint64_t RecordLog::copy_live(Lane& lane, Chunk* victim, bool must_fit) {
  // Sealed: no one appends to it any more, and only the cleaner frees it.
  // The records below `used` were checked when written or recovered.
  uint64_t used = victim->used.load(std::memory_order_acquire);
  for (uint64_t pos = 0; pos < used;) {
    Loc loc{reinterpret_cast<const RecordHeader*>(victim->tail + pos), victim};
    (victim->is_live(pos) ? step_.live : step_.gone).push_back(loc);
    pos += record_span(loc.rec->body_len);
  }
  if (must_fit) {
    // The live bytes fitting the room is not enough: a record that does not
    // fit the current chunk's last bytes goes to the spare, leaving them
    // unused, and one that then fits neither would make a chunk (a fence).
    // Placed as ensure_room will place them.
    bool spare = lane.spare != nullptr && lane.spare_linked;
    uint64_t pos = lane.pos, cap = lane.cur != nullptr ? lane.cur->capacity : 0;
    uint64_t need = 0, largest = 0;
    bool fits = true;
    for (Loc from : step_.live) {
      uint64_t span = record_span(from.rec->body_len);
      need += span;
      largest = std::max(largest, span);
      if (pos + span <= cap) {
        pos += span;
      } else if (spare && span <= lane.spare->capacity) {
        spare = false;
        pos = span;
        cap = lane.spare->capacity;
      } else {
        fits = false;
      }
    }
    if (!fits) {
      step_.live.clear();
      step_.gone.clear();
      return need + largest;  // what a chunk must hold for them, its end's waste included
    }
  }
  // Not written back here but by append, in one run per chunk, after the
  // locked instructions (set_live's among them): see append.
  std::vector<std::pair<const char*, uint64_t>>& runs = step_.runs;
  uint64_t copied = 0;
  // The copies' live bits, set a word at a time: a locked instruction per
  // copy waited each time for the copy's stores (cache misses in a fresh
  // chunk). No one reads them before the step is done, but dead() may
  // clear other bits of the word meanwhile: set with fetch_or.
  struct LiveBits {
    Chunk* chunk = nullptr;
    uint64_t word = 0;
    uint64_t bits = 0;
    void set(Chunk* c, uint64_t pos) {
      if (c != chunk || Chunk::live_word(pos) != word) {
        flush();
        chunk = c;
        word = Chunk::live_word(pos);
      }
      bits |= Chunk::live_bit(pos);
    }
    void flush() {
      if (bits != 0) chunk->set_live_bits(word, bits);
      bits = 0;
    }
  } live_bits;
  // Streamed, as an append's record (see append), when write_back_copies
  // runs in this thread before its own fence: not in a group commit.
  bool stream = !GroupCommit::deferring();
  for (Loc from : step_.live) {
    uint64_t span = record_span(from.rec->body_len);
    ensure_room(lane, span, /*spare_durable=*/false);  // a spare made by this append is not
    char* dst = lane.cur->tail + lane.pos;
    RecordHeader h = *from.rec;
    if (stream) {
      char header[sizeof(RecordHeader)];
      reseal_copy(victim->nonce, lane.cur->nonce, h, header);  // no pass over the body
      std::memcpy(&h, header, sizeof h);
      step_.streams.push_back({dst, from.body(), span - sizeof(RecordHeader), h});
    } else {
      std::memcpy(dst + sizeof(RecordHeader), from.body(), h.body_len);
      reseal_copy(victim->nonce, lane.cur->nonce, h, dst);
    }
    if (!runs.empty() && runs.back().first + runs.back().second == dst)
      runs.back().second += span;
    else
      runs.emplace_back(dst, span);
    step_.copies.push_back({reinterpret_cast<const RecordHeader*>(dst), lane.cur});
    live_bits.set(lane.cur, lane.pos);
    lane.pos += span;
    lane.cur->used.store(lane.pos, std::memory_order_release);
    copied += span;
  }
  live_bits.flush();
  count_bytes(&Lane::pending_records, record_bytes_, static_cast<int64_t>(copied));
  copied_bytes_.fetch_add(copied, std::memory_order_relaxed);
  return 0;
}

void RecordLog::write_back(const char* p, uint64_t n) {
  if (!GroupCommit::defer_writeback(store_, p, n)) store_.pool().persister().pwb(p, n);
}

void RecordLog::write_back_copies() {
  if (step_.streams.empty()) {
    for (auto [p, n] : step_.runs) write_back(p, n);
  } else {
    // A body's span past its header is whole words: the source's padding
    // comes along (its chunk's bytes, like the rest of the copy). The
    // runs (copies side by side) are then counted as written back once.
    const Persister& persister = store_.pool().persister();
    for (const StreamedCopy& c : step_.streams) {
      persister.copy_nt(c.dst, &c.header, sizeof c.header);
      persister.copy_nt(c.dst + sizeof c.header, c.body, c.body_bytes);
    }
    for (auto [p, n] : step_.runs) persister.wrote_nt(p, n);
  }
  step_.runs.clear();
  step_.streams.clear();
}

void RecordLog::finish_clean() {
  int prepared = kPrepared;
  if (!clean_state_.compare_exchange_strong(prepared, kBusy, std::memory_order_acquire)) return;
  // (The ticket read before the exchange may have been another step's.)
  if (!CommitTicket::from_raw(step_ticket_.load(std::memory_order_relaxed)).durable()) {
    clean_state_.store(kPrepared, std::memory_order_release);
    return;
  }
  finish_step();
}

void RecordLog::finish_step() {
  release_unlinked();
  if (step_.victim != nullptr) {
    Relocated& r = relocated_;  // empty: moved to unlinked_ by the prepare
    r.chunk = step_.victim;
    r.gone.swap(step_.gone);
    constexpr size_t kAhead = 8;  // lookups in flight
    const size_t n = step_.live.size();
    std::array<uint64_t, kAhead> hints{};  // prefetch(live[i])'s, at i % kAhead
    for (size_t i = 0; i < std::min(kAhead, n); ++i) hints[i] = owner_->prefetch(step_.live[i]);
    for (size_t i = 0; i < n; ++i) {
      uint64_t hint = hints[i % kAhead];
      if (i + kAhead < n) hints[i % kAhead] = owner_->prefetch(step_.live[i + kAhead]);
      if (!owner_->relocate(step_.live[i], step_.copies[i], hint)) {
        dead(step_.copies[i]);                   // superseded meanwhile: the copy is dead too
        r.copied_gone.push_back(step_.live[i]);  // and the original leaves the log
      }
    }
    relocated_pending_.store(true, std::memory_order_relaxed);
    cleanings_.fetch_add(1, std::memory_order_relaxed);
    if (space_short.load(std::memory_order_relaxed) && !over_threshold()) {
      int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count();
      int64_t last = room_checked_at.load(std::memory_order_relaxed);
      if (now - last >= kRoomCheckNs &&
          room_checked_at.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        HeapUsage u = store_.heap().usage();
        if (u.free_bytes * kRoomShare >= u.heap_bytes)
          space_short.store(false, std::memory_order_relaxed);
      }
    }
  }
  step_.clear();
  clean_state_.store(kIdle, std::memory_order_release);
}

void RecordLog::release_unlinked() {
  // Its unlink is durable: no crash can bring these records back.
  if (unlinked_.chunk == nullptr) return;
  for (Loc loc : unlinked_.gone) owner_->dropped(*loc.rec, loc.body(), true);
  for (Loc loc : unlinked_.copied_gone) owner_->dropped(*loc.rec, loc.body(), false);
  free_chunk(unlinked_.chunk);
  unlinked_.clear();
}

void RecordLog::unlink(Chunk* victim) {
  // Not durable here: the caller fences. No lane lock: only the cleaning
  // step (one at a time) writes a victim's neighbours' links, and
  // link_head() touches only the head's `newer` and the new chunk's
  // `older`; a victim is never the head, nor older than nothing.
  Chunk* n = victim->newer;
  if (n == nullptr) {
    std::fprintf(stderr, "nvobj: log cleaner invariant: a sealed chunk is the head\n");
    std::abort();
  }
  LogChunkData* nd = store_.pool().at<LogChunkData>(n->off);
  uint64_t prev = store_.pool().at<LogChunkData>(victim->off)->prev;
  std::atomic_ref<uint64_t>(nd->prev).store(prev, std::memory_order_release);
  store_.pool().persister().pwb(&nd->prev, sizeof(uint64_t));
  n->older = victim->older;
  if (victim->older != nullptr) victim->older->newer = n;
}

void RecordLog::free_chunk(Chunk* c) {
  {
    std::lock_guard lock(chunks_mu_);
    Chunk* last = chunks_.back();
    chunks_[c->index] = last;
    last->index = c->index;
    chunks_.pop_back();
  }
  // (Straight from the totals, which may go below zero for a while: the
  // chunk's records may still be counted in a lane's pending bytes.)
  record_bytes_.fetch_sub(static_cast<int64_t>(c->used.load(std::memory_order_relaxed)),
                          std::memory_order_relaxed);
  uint64_t hot = c->hot_dead.load(std::memory_order_relaxed);
  dead_bytes_.fetch_sub(static_cast<int64_t>(c->dead.load(std::memory_order_relaxed) - hot),
                        std::memory_order_relaxed);
  hot_dead_bytes_.fetch_sub(static_cast<int64_t>(hot), std::memory_order_relaxed);
  store_.free_detached(c->off);
  delete c;
}

void RecordLog::destroy_unopened(Store& store, uint64_t lanes_off) {
  // An open RecordLog over it may be in the cleaner's hands.
  LogCleaner::instance().forget(store, lanes_off);
  store.forget_close_snapshot(lanes_off);
  uint32_t chunk_class = store.class_id<LogChunk>();
  const LogLanesData* lanes = store.pool().at<LogLanesData>(lanes_off);
  std::vector<uint64_t> chunks;
  std::unordered_set<uint64_t> refs;
  for (unsigned i = 0; i < kLogLanes; ++i) {
    for (uint64_t off = lanes->heads[i]; off != 0;) {
      if (store.pool().at<ObjectHeader>(off - kObjectHeaderSize)->class_id != chunk_class)
        throw Error(Status(
            StatusCode::kCorrupt,
            fmt::format("log lane {} of {} links to {}, not a log chunk", i, lanes_off, off)));
      const LogChunkData* d = store.pool().at<LogChunkData>(off);
      for_each_record(d->nonce, reinterpret_cast<const char*>(d + 1), d->capacity,
                      [&](const RecordHeader& h, const char*, uint64_t) {
                        if (h.ref != 0) refs.insert(h.ref);
                      });
      chunks.push_back(off);
      off = d->prev;
    }
  }
  for (uint64_t off : chunks) store.free_detached(off);
  for (uint64_t ref : refs) store.destroy_object(ref);
  store.free_detached(lanes_off);
}

RecordLog::Stats RecordLog::stats() const {
  Stats s;
  std::lock_guard lock(chunks_mu_);
  s.chunks = chunks_.size();
  for (const Chunk* c : chunks_) s.pool_bytes += c->capacity + kChunkOverhead;
  int64_t records = record_bytes_.load(std::memory_order_relaxed);
  int64_t dead = dead_bytes_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < kLogLanes; ++i) {
    records += lanes_[i].pending_records.load(std::memory_order_relaxed);
    dead += lanes_[i].pending_dead.load(std::memory_order_relaxed);
  }
  dead += hot_dead_bytes_.load(std::memory_order_relaxed);
  s.record_bytes = static_cast<uint64_t>(std::max<int64_t>(records, 0));
  s.dead_bytes = static_cast<uint64_t>(std::max<int64_t>(dead, 0));
  s.cleanings = cleanings_.load(std::memory_order_relaxed);
  s.copied_bytes = copied_bytes_.load(std::memory_order_relaxed);
  s.background_cleanings = background_cleanings_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace nvobj
