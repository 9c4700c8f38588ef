#include "pobjects/record_log.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <random>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "runtime/error.h"

namespace nvobj {

void register_pobject_destroyers();  // phashmap.cc

namespace {

constexpr uint64_t kChunkOverhead = kObjectHeaderSize + sizeof(LogChunkData);
constexpr uint64_t kMinChunk = 512;       // allocation bytes of a lane's first chunk
constexpr uint64_t kMaxChunk = 64 << 10;  // ... and of its largest regular chunk
std::atomic<uint64_t> min_clean_bytes{256 << 10};
// Cleaning starts when dead records pass this fraction of the log (in
// 1/1000): 150 keeps a log of 1 KB records within 1.25x of its live bytes.
std::atomic<uint64_t> dead_permille{150};
// A chunk is cleaned only if at least this fraction of it is dead.
std::atomic<uint64_t> victim_permille{300};

uint64_t fresh_nonce() {
  thread_local std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      std::hash<std::thread::id>{}(std::this_thread::get_id()));
  return rng();
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
  size_t index = 0;               // in chunks_
  std::atomic<uint64_t> used{0};  // bytes of records (final once sealed)
  std::atomic<uint64_t> dead{0};  // bytes of superseded records
  Chunk* older = nullptr;         // chain neighbours (under the lane's lock)
  Chunk* newer = nullptr;
  // Bit i: the record at byte 8*i is live (not reported dead), so the
  // cleaner tells live from dead records without asking the owner.
  std::unique_ptr<std::atomic<uint64_t>[]> live;

  void init_live() { live.reset(new std::atomic<uint64_t>[(capacity / kRecordAlign + 63) / 64]()); }
  void set_live(uint64_t pos) {
    live[pos / kRecordAlign / 64].fetch_or(uint64_t{1} << (pos / kRecordAlign % 64),
                                           std::memory_order_relaxed);
  }
  void clear_live(uint64_t pos) {
    live[pos / kRecordAlign / 64].fetch_and(~(uint64_t{1} << (pos / kRecordAlign % 64)),
                                            std::memory_order_release);
  }
  bool is_live(uint64_t pos) const {
    return (live[pos / kRecordAlign / 64].load(std::memory_order_acquire) >>
            (pos / kRecordAlign % 64)) &
           1;
  }
};

struct RecordLog::Lane {
  std::mutex mu;
  unsigned index = 0;
  Chunk* head = nullptr;   // newest linked chunk
  Chunk* cur = nullptr;    // where records go
  uint64_t pos = 0;        // bytes used in cur
  Chunk* spare = nullptr;  // the next chunk: made (durable), then linked
  bool spare_linked = false;
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
                     unsigned threads)
    : store_(store),
      lanes_off_(lanes_off),
      lanes_data_(store.pool().at<LogLanesData>(lanes_off)),
      owner_(owner),
      lanes_(new Lane[kLogLanes]) {
  register_pobject_destroyers();
  (void)store.proxy<LogLanes>(lanes_off);  // checks the class
  uint32_t chunk_class = store.class_id<LogChunk>();
  unsigned highest = 0;
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Lane& lane = lanes_[i];
    lane.index = i;
    Chunk* newer = nullptr;
    for (uint64_t off = lanes_data_->heads[i]; off != 0;) {
      if (off >= store.pool().size() ||
          store.pool().at<ObjectHeader>(off - kObjectHeaderSize)->class_id != chunk_class)
        throw Error(Status(
            StatusCode::kCorrupt,
            fmt::format("log lane {} of {} links to {}, not a log chunk", i, lanes_off, off)));
      const LogChunkData* d = store.pool().at<LogChunkData>(off);
      auto* c = new Chunk;
      c->off = off;
      c->tail = store.pool().at<char>(off) + sizeof(LogChunkData);
      c->capacity = d->capacity;
      c->nonce = d->nonce;
      c->lane = i;
      c->init_live();
      c->index = chunks_.size();
      c->newer = newer;
      if (newer != nullptr)
        newer->older = c;
      else
        lane.head = c;
      chunks_.push_back(c);
      newer = c;
      off = d->prev;
    }
    if (lane.head != nullptr) highest = i + 1;
  }
  open_lanes_.store(std::max(1u, highest));

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
      record_bytes_.fetch_add(used, std::memory_order_relaxed);
    }
  };
  threads =
      std::clamp<unsigned>(threads, 1, static_cast<unsigned>(std::max<size_t>(1, chunks_.size())));
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (auto& w : workers) w.join();

  // Appends resume after the last valid record of each lane's newest chunk.
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Lane& lane = lanes_[i];
    lane.cur = lane.head;
    if (lane.cur != nullptr) lane.pos = lane.cur->used.load(std::memory_order_relaxed);
  }
}

RecordLog::~RecordLog() {
  // Spares never linked are unreachable: give them back.
  for (unsigned i = 0; i < kLogLanes; ++i) {
    Lane& lane = lanes_[i];
    if (lane.spare != nullptr && !lane.spare_linked) free_chunk(lane.spare);
  }
  for (Chunk* c : chunks_) delete c;
}

RecordLog::Lane& RecordLog::pick_lane(std::unique_lock<std::mutex>& lock) {
  unsigned slot = thread_slot();
  for (;;) {
    unsigned n = open_lanes_.load(std::memory_order_acquire);
    Lane& lane = lanes_[slot % n];
    if (lane.mu.try_lock()) {
      lock = std::unique_lock(lane.mu, std::adopt_lock);
      return lane;
    }
    // Contention: open one more lane (up to kLogLanes), else wait.
    if (n < kLogLanes) {
      open_lanes_.compare_exchange_strong(n, n + 1);
      continue;
    }
    lock = std::unique_lock(lane.mu);
    return lane;
  }
}

uint64_t RecordLog::next_capacity(const Lane& lane, uint64_t span) const {
  uint64_t total = kMinChunk;
  if (lane.cur != nullptr)
    total = std::clamp<uint64_t>(std::bit_ceil(lane.cur->capacity + kChunkOverhead) * 2, kMinChunk,
                                 kMaxChunk);
  if (span + kChunkOverhead > total) {
    total = span + kChunkOverhead;
    total = total <= kMaxChunk ? std::bit_ceil(total) : (total + 4095) / 4096 * 4096;
  }
  return total - kChunkOverhead;
}

RecordLog::Chunk* RecordLog::make_chunk(Lane& lane, uint64_t capacity) {
  uint64_t prev = lane.head != nullptr ? lane.head->off : 0;
  uint64_t nonce = fresh_nonce();
  Ref<LogChunk> ref = store_.make_detached<LogChunk>(capacity, capacity, prev, uint64_t{0}, nonce);
  auto* c = new Chunk;
  c->off = ref.offset();
  c->tail = store_.pool().at<char>(c->off) + sizeof(LogChunkData);
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
}

void RecordLog::ensure_room(Lane& lane, uint64_t span) {
  if (lane.cur != nullptr && lane.pos + span <= lane.cur->capacity) return;
  if (lane.spare != nullptr && lane.spare_linked && span <= lane.spare->capacity) {
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
  Chunk* c = make_chunk(lane, next_capacity(lane, span));
  store_.durable_fence();
  link_head(lane, c);
  lane.cur = c;
  lane.pos = 0;
}

void RecordLog::maintain_spare(Lane& lane) {
  if (lane.spare != nullptr && !lane.spare_linked) {
    // Made by an earlier append, so durable since that append's fence.
    link_head(lane, lane.spare);
    lane.spare_linked = true;
    return;
  }
  if (lane.spare == nullptr && lane.pos * 2 >= lane.cur->capacity) {
    try {
      lane.spare = make_chunk(lane, next_capacity(lane, 0));  // durable at this append's fence
      lane.spare_linked = false;
    } catch (const Error&) {
      // Pool full: the next append that needs room reports it.
    }
  }
}

RecordLog::Loc RecordLog::append(uint32_t kind, uint64_t meta, uint64_t ref,
                                 std::initializer_list<std::string_view> parts) {
  uint64_t body = 0;
  for (std::string_view p : parts) body += p.size();
  if (body > UINT32_MAX)
    throw Error(Status(StatusCode::kInvalidArgument, "a record is limited to 4 GiB"));
  uint64_t span = record_span(body);
  if (ref != 0) store_.fence_new_objects();

  std::unique_lock<std::mutex> lock;
  Lane& lane = pick_lane(lock);
  ensure_room(lane, span);
  char* dst = lane.cur->tail + lane.pos;
  char* at = dst + sizeof(RecordHeader);
  for (std::string_view p : parts) {
    std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  RecordHeader h{};
  h.body_len = static_cast<uint32_t>(body);
  h.kind = kind;
  h.ref = ref;
  h.meta = meta;
  seal_record(lane.cur->nonce, h, dst);
  store_.pool().persister().pwb(dst, span);
  Loc loc{reinterpret_cast<const RecordHeader*>(dst), lane.cur};
  lane.cur->set_live(lane.pos);
  lane.pos += span;
  lane.cur->used.store(lane.pos, std::memory_order_release);
  maintain_spare(lane);
  store_.durable_fence();
  record_bytes_.fetch_add(span, std::memory_order_relaxed);
  return loc;
}

void RecordLog::set_min_clean_bytes(uint64_t bytes) { min_clean_bytes.store(bytes); }
void RecordLog::set_cleaning_thresholds(uint64_t dead, uint64_t victim) {
  dead_permille.store(dead);
  victim_permille.store(victim);
}

void RecordLog::dead(Loc loc, uint64_t span) {
  // Clearing the live bit is the last touch of the chunk: a cleaner that
  // sees it cleared (acquire) may free the chunk at once, without taking the
  // key's lock.
  loc.chunk->dead.fetch_add(span, std::memory_order_relaxed);
  dead_bytes_.fetch_add(span, std::memory_order_relaxed);
  loc.chunk->clear_live(reinterpret_cast<const char*>(loc.rec) - loc.chunk->tail);
}

void RecordLog::maybe_clean(bool owner_work) {
  uint64_t total = record_bytes_.load(std::memory_order_relaxed);
  uint64_t dead = dead_bytes_.load(std::memory_order_relaxed);
  bool clean = total >= min_clean_bytes.load(std::memory_order_relaxed) &&
               dead * 1000 > total * dead_permille.load(std::memory_order_relaxed) &&
               dead >= search_at_dead_.load(std::memory_order_relaxed);
  if (!clean && !owner_work) return;
  std::unique_lock lock(cleaner_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (owner_work) owner_->housekeeping();
  if (clean) clean_one();
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

bool RecordLog::clean_one() {
  // The sealed chunk with the largest dead fraction, if at least half dead.
  Chunk* victim = nullptr;
  {
    std::lock_guard lock(chunks_mu_);
    double best = static_cast<double>(victim_permille.load(std::memory_order_relaxed)) / 1000;
    for (Chunk* c : chunks_) {
      uint64_t used = c->used.load(std::memory_order_relaxed);
      if (used == 0) continue;
      double f = static_cast<double>(c->dead.load(std::memory_order_relaxed)) / used;
      if (f >= best) {
        best = f;
        victim = c;
      }
    }
  }
  // Nothing to clean yet: search again once a few more records died (a
  // sixteenth of a largest chunk).
  auto search_later = [&] {
    search_at_dead_.store(dead_bytes_.load(std::memory_order_relaxed) + kMaxChunk / 16,
                          std::memory_order_relaxed);
    return false;
  };
  if (victim == nullptr) return search_later();
  {
    Lane& lane = lanes_[victim->lane];
    std::lock_guard lock(lane.mu);
    if (victim == lane.cur || victim == lane.spare || victim->newer == nullptr)
      return search_later();
  }
  search_at_dead_.store(0, std::memory_order_relaxed);
  // Sealed: no one appends to it any more, and only this cleaner frees it.
  uint64_t used = victim->used.load(std::memory_order_acquire);
  std::vector<Loc> live, gone;
  // The records below `used` were checked when written or recovered.
  for (uint64_t pos = 0; pos < used;) {
    Loc loc{reinterpret_cast<const RecordHeader*>(victim->tail + pos), victim};
    (victim->is_live(pos) ? live : gone).push_back(loc);
    pos += record_span(loc.rec->body_len);
  }

  // Copy the live records (one fence for all of them).
  std::vector<Loc> copies;
  if (!live.empty()) {
    std::unique_lock<std::mutex> lock;
    Lane& lane = pick_lane(lock);
    for (Loc from : live) {
      uint64_t span = record_span(from.rec->body_len);
      ensure_room(lane, span);
      char* dst = lane.cur->tail + lane.pos;
      RecordHeader h = *from.rec;
      std::memcpy(dst + sizeof(RecordHeader), from.body(), h.body_len);
      seal_record(lane.cur->nonce, h, dst);
      store_.pool().persister().pwb(dst, span);
      copies.push_back({reinterpret_cast<const RecordHeader*>(dst), lane.cur});
      lane.cur->set_live(lane.pos);
      lane.pos += span;
      lane.cur->used.store(lane.pos, std::memory_order_release);
      record_bytes_.fetch_add(span, std::memory_order_relaxed);
    }
    maintain_spare(lane);
    store_.durable_fence();
  }
  std::vector<Loc> copied_gone;
  for (size_t i = 0; i < live.size(); ++i) {
    if (!owner_->relocate(live[i], copies[i])) {
      dead(copies[i]);                 // superseded meanwhile: the copy is dead too
      copied_gone.push_back(live[i]);  // and the original leaves the log
    }
  }
  unlink(victim);  // durable: from here no crash can bring its records back
  for (Loc loc : gone) owner_->dropped(*loc.rec, loc.body(), true);
  for (Loc loc : copied_gone) owner_->dropped(*loc.rec, loc.body(), false);
  free_chunk(victim);
  cleanings_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void RecordLog::unlink(Chunk* victim) {
  Lane& lane = lanes_[victim->lane];
  std::lock_guard lock(lane.mu);
  Chunk* n = victim->newer;
  LogChunkData* nd = store_.pool().at<LogChunkData>(n->off);
  uint64_t prev = store_.pool().at<LogChunkData>(victim->off)->prev;
  std::atomic_ref<uint64_t>(nd->prev).store(prev, std::memory_order_release);
  store_.pool().persister().pwb(&nd->prev, sizeof(uint64_t));
  store_.durable_fence();
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
  record_bytes_.fetch_sub(c->used.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dead_bytes_.fetch_sub(c->dead.load(std::memory_order_relaxed), std::memory_order_relaxed);
  store_.free_detached(c->off);
  delete c;
}

void RecordLog::destroy_unopened(Store& store, uint64_t lanes_off) {
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
  s.record_bytes = record_bytes_.load(std::memory_order_relaxed);
  s.dead_bytes = dead_bytes_.load(std::memory_order_relaxed);
  s.cleanings = cleanings_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace nvobj
