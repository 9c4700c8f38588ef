#include "allocator/allocator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "runtime/checksum.h"
#include "runtime/layout.h"
#include "runtime/log.h"
#include "runtime/object_header.h"

namespace nvobj::alloc {

struct Allocator::Run {
  uint64_t base = 0;
  int cls = 0;
  uint32_t block = 0;
  uint32_t nblocks = 0;
  uint32_t nwords = 0;
  std::atomic<uint32_t> free_count{0};
  // Guarded by classes_[cls].mu.
  bool owned = false;
  bool listed = false;
  bool retired = false;
  uint32_t hint = 0;                              // owner only: where the next search starts
  std::unique_ptr<std::atomic<uint64_t>[]> bits;  // 1 = allocated (padding bits set)
};

// A thread's current run per class, and blocks of it the thread has claimed
// (bits already set in the run, not yet handed out). Claiming a whole bitmap
// word with one atomic fetch_or means one locked instruction per up to 64
// allocations: on x86 a locked instruction waits for every earlier write-back
// to complete, so one per allocation would cost about a fence each.
struct Allocator::ThreadCache {
  std::array<Run*, kNumClasses> current{};
  std::array<uint64_t, kNumClasses> claim_mask{};
  std::array<uint32_t, kNumClasses> claim_word{};
  std::array<std::atomic<uint32_t>, kNumClasses> claimed{};  // popcount, for stats
};

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "nvobj allocator: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace

Allocator::Allocator(Pool& pool, const AllocatorOptions& opts)
    : pool_(pool),
      opts_(opts),
      heap_begin_(heap_begin_for(pool.data_offset())),
      heap_end_(pool.size()),
      max_chunks_(pool.max_size() / kChunkSize + 1) {
  chunk_runs_ = ZeroedArray<std::atomic<Run*>>(max_chunks_);
}

Allocator::~Allocator() { unregister_owner(); }

std::unique_ptr<Allocator> Allocator::create_empty(Pool& pool, const AllocatorOptions& opts) {
  std::unique_ptr<Allocator> a(new Allocator(pool, opts));
  std::lock_guard lock(a->pages_mu_);
  if (a->heap_end_ > a->heap_begin_)
    a->give_pages(a->heap_begin_, a->heap_end_.load() - a->heap_begin_);
  return a;
}

// --- thread caches -----------------------------------------------------------

Allocator::ThreadCache& Allocator::cache() { return *static_cast<ThreadCache*>(thread_state()); }

void* Allocator::make_thread_state() {
  std::lock_guard lock(caches_mu_);
  caches_.push_back(std::make_unique<ThreadCache>());
  return caches_.back().get();
}

void Allocator::release_thread_state(void* state) {
  release_cache(static_cast<ThreadCache*>(state));
}

void Allocator::drop_run(ThreadCache& c, int cls) {
  Run* r = c.current[cls];
  if (r == nullptr) return;
  if (uint64_t mask = c.claim_mask[cls]; mask != 0) {  // unclaim what was not handed out
    r->free_count.fetch_add(static_cast<uint32_t>(__builtin_popcountll(mask)),
                            std::memory_order_acq_rel);
    r->bits[c.claim_word[cls]].fetch_and(~mask, std::memory_order_release);
    c.claim_mask[cls] = 0;
    c.claimed[cls].store(0, std::memory_order_relaxed);
  }
  disown(r);
  c.current[cls] = nullptr;
}

void Allocator::release_cache(ThreadCache* c) {
  for (int cls = 0; cls < kNumClasses; ++cls) drop_run(*c, cls);
  std::lock_guard lock(caches_mu_);
  std::erase_if(caches_, [c](const std::unique_ptr<ThreadCache>& p) { return p.get() == c; });
}

// --- small objects -----------------------------------------------------------

Allocator::Run* Allocator::new_run(uint64_t chunk_off, int cls) {
  auto run = std::make_unique<Run>();
  run->base = chunk_off;
  run->cls = cls;
  run->block = kBlockSizes[cls];
  run->nblocks = blocks_per_run(cls);
  run->nwords = (run->nblocks + 63) / 64;
  run->bits.reset(new std::atomic<uint64_t>[run->nwords]());
  if (uint32_t tail = run->nblocks % 64; tail != 0)
    run->bits[run->nwords - 1].store(~uint64_t{0} << tail, std::memory_order_relaxed);
  run->free_count.store(run->nblocks, std::memory_order_relaxed);
  Run* r = run.get();
  {
    std::lock_guard lock(runs_mu_);
    all_runs_.push_back(std::move(run));
  }
  chunk_runs_[chunk_index(chunk_off)].store(r, std::memory_order_release);
  return r;
}

Allocator::Run* Allocator::take_run(int cls) {
  ClassState& cs = classes_[cls];
  {
    std::lock_guard lock(cs.mu);
    while (!cs.partial.empty()) {
      Run* r = cs.partial.back();
      cs.partial.pop_back();
      r->listed = false;
      if (r->retired || r->free_count.load(std::memory_order_acquire) == 0) continue;
      r->owned = true;
      return r;
    }
  }
  auto chunk = take_chunk();
  if (!chunk) return nullptr;
  Run* r = new_run(*chunk, cls);
  std::lock_guard lock(cs.mu);
  r->owned = true;
  return r;
}

void Allocator::disown(Run* r) {
  std::lock_guard lock(classes_[r->cls].mu);
  r->owned = false;
  if (!r->listed && !r->retired && r->free_count.load(std::memory_order_acquire) > 0) {
    classes_[r->cls].partial.push_back(r);
    r->listed = true;
  }
}

Result<uint64_t> Allocator::allocate_small(int cls, uint32_t class_id) {
  ThreadCache& tc = cache();
  uint64_t mask = tc.claim_mask[cls];
  if (mask == 0) {
    NVOBJ_RETURN_IF_ERROR(claim(tc, cls));
    mask = tc.claim_mask[cls];
  }
  int b = __builtin_ctzll(mask);
  tc.claim_mask[cls] = mask & (mask - 1);
  tc.claimed[cls].store(static_cast<uint32_t>(__builtin_popcountll(mask) - 1),
                        std::memory_order_relaxed);
  Run* r = tc.current[cls];
  uint64_t header =
      r->base + (uint64_t{tc.claim_word[cls]} * 64 + static_cast<uint64_t>(b)) * r->block;
  write_header(header, class_id, static_cast<uint32_t>(cls));
  return header + kObjectHeaderSize;
}

// Claims every free block of one bitmap word of the thread's run (taking
// another run when this one has none left).
Status Allocator::claim(ThreadCache& tc, int cls) {
  for (int attempt = 0;; ++attempt) {
    Run* r = tc.current[cls];
    if (r != nullptr && r->free_count.load(std::memory_order_acquire) > 0) {
      uint32_t w = r->hint;
      for (uint32_t n = 0; n < r->nwords; ++n, w = (w + 1 == r->nwords ? 0 : w + 1)) {
        if (~r->bits[w].load(std::memory_order_acquire) == 0) continue;
        uint64_t got = ~r->bits[w].fetch_or(~uint64_t{0}, std::memory_order_acq_rel);
        if (got == 0) continue;
        r->free_count.fetch_sub(static_cast<uint32_t>(__builtin_popcountll(got)),
                                std::memory_order_acq_rel);
        r->hint = w;
        tc.claim_mask[cls] = got;
        tc.claim_word[cls] = w;
        return Status::ok();
      }
      // Frees count before they clear their bit: none is visible yet.
    }
    drop_run(tc, cls);
    tc.current[cls] = take_run(cls);
    if (tc.current[cls] == nullptr && attempt > 0) {
      return Status(StatusCode::kNoSpace,
                    fmt::format("{}: pool full: no space for a {}-byte block (pool size {} bytes)",
                                pool_.path(), kBlockSizes[cls], pool_.size()));
    }
  }
}

// --- the page heap -----------------------------------------------------------

void Allocator::give_pages(uint64_t off, uint64_t n) {
  uint64_t end = off + n;
  auto next = free_by_off_.lower_bound(off);
  if (next != free_by_off_.end() && next->first == end) {  // merge with the extent after
    end += next->second;
    free_by_size_.erase({next->second, next->first});
    next = free_by_off_.erase(next);
  }
  if (next != free_by_off_.begin()) {  // ...and the one before
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      off = prev->first;
      free_by_size_.erase({prev->second, prev->first});
      free_by_off_.erase(prev);
    }
  }
  free_by_off_[off] = end - off;
  free_by_size_.insert({end - off, off});
}

Result<uint64_t> Allocator::take_pages(uint64_t n, bool chunk_aligned) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      std::lock_guard lock(pages_mu_);
      for (auto it = free_by_size_.lower_bound({n, 0}); it != free_by_size_.end(); ++it) {
        auto [bytes, start] = *it;
        uint64_t at =
            chunk_aligned ? heap_begin_ + round_up(start - heap_begin_, kChunkSize) : start;
        if (at + n > start + bytes) continue;
        free_by_size_.erase(it);
        free_by_off_.erase(start);
        if (at > start) give_pages(start, at - start);
        if (at + n < start + bytes) give_pages(at + n, start + bytes - (at + n));
        return at;
      }
      if (attempt == 1) {
        Status s = grow_for(n);
        if (!s) return s;
        continue;
      }
    }
    if (attempt == 0) trim();
  }
  return Status(StatusCode::kNoSpace, fmt::format("{}: pool full", pool_.path()));
}

Result<uint64_t> Allocator::take_chunk() { return take_pages(kChunkSize, /*chunk_aligned=*/true); }

Status Allocator::grow_for(uint64_t bytes) {
  uint64_t old_size = pool_.size();
  if (!opts_.allow_grow)
    return Status(StatusCode::kNoSpace,
                  fmt::format("{}: pool full ({} bytes; growth is off)", pool_.path(), old_size));
  uint64_t want = old_size + std::max(opts_.grow_step, bytes + kChunkSize);
  want = std::min(round_up(want, pool_.alignment()), pool_.max_size());
  if (want <= old_size)
    return Status(StatusCode::kNoSpace,
                  fmt::format("{}: pool full: {} bytes, the most it can grow to until reopened "
                              "with a larger max size",
                              pool_.path(), old_size));
  NVOBJ_RETURN_IF_ERROR(pool_.grow(want));
  uint64_t new_size = pool_.size();
  log().info("{}: heap grew from {} to {} bytes", pool_.path(), old_size, new_size);
  give_pages(heap_end_.load(), new_size - heap_end_.load());
  heap_end_.store(new_size, std::memory_order_release);
  return Status::ok();
}

Result<uint64_t> Allocator::allocate_large(uint64_t bytes, uint32_t class_id) {
  NVOBJ_ASSIGN_OR_RETURN(uint64_t header, take_pages(bytes, /*chunk_aligned=*/false));
  {
    std::lock_guard lock(pages_mu_);
    large_[header] = bytes;
  }
  write_header(header, class_id, kLargeBit | static_cast<uint32_t>(bytes / kPageSize));
  return header + kObjectHeaderSize;
}

void Allocator::trim() {
  std::vector<uint64_t> chunks;
  for (int cls = 0; cls < kNumClasses; ++cls) {
    ClassState& cs = classes_[cls];
    std::lock_guard lock(cs.mu);
    std::erase_if(cs.partial, [&](Run* r) {
      if (r->owned || r->free_count.load(std::memory_order_acquire) != r->nblocks) return false;
      r->retired = true;
      r->listed = false;
      chunks.push_back(r->base);
      chunk_runs_[chunk_index(r->base)].store(nullptr, std::memory_order_release);
      return true;
    });
  }
  if (chunks.empty()) return;
  std::lock_guard lock(pages_mu_);
  for (uint64_t c : chunks) give_pages(c, kChunkSize);
}

// --- the Heap interface -------------------------------------------------------

void Allocator::write_header(uint64_t header_off, uint32_t class_id, uint32_t size_word) {
  auto* h = pool_.at<ObjectHeader>(header_off);
  // One 8-byte store, so a torn header is impossible.
  uint64_t word = uint64_t{class_id} | (uint64_t{size_word} << 32);
  std::memcpy(h, &word, sizeof word);
}

Result<uint64_t> Allocator::allocate(uint64_t size, uint32_t class_id) {
  if (class_id == 0) return Status(StatusCode::kInvalidArgument, "class id 0 is not a class");
  if (size > (uint64_t{1} << 40))
    return Status(StatusCode::kInvalidArgument, fmt::format("object of {} bytes is too big", size));
  uint64_t block = size + kObjectHeaderSize;
  int cls = size_class_for(block);
  if (cls >= 0) return allocate_small(cls, class_id);
  return allocate_large(round_up(block, kPageSize), class_id);
}

void Allocator::deallocate(uint64_t payload) {
  uint64_t header = payload - kObjectHeaderSize;
  if (payload < heap_begin_ + kObjectHeaderSize || header >= heap_end_.load() ||
      header % kObjectGranule != 0)
    die(fmt::format("free of {}: not an object of this heap", payload));
  ObjectHeader h;
  std::memcpy(&h, pool_.at(header), sizeof h);
  // Freed objects have class id 0, so recovery can tell them from objects a
  // crash left unreachable (find_reclaimed). Not written back: it only feeds
  // a statistic.
  auto clear_class = [&] {
    uint32_t zero = 0;
    std::memcpy(pool_.at(header), &zero, sizeof zero);
  };
  if (h.size_word & kLargeBit) {
    std::lock_guard lock(pages_mu_);
    auto it = large_.find(header);
    if (it == large_.end()) die(fmt::format("free of {}: not an allocated large object", payload));
    clear_class();
    uint64_t bytes = it->second;
    large_.erase(it);
    give_pages(header, bytes);
    return;
  }
  Run* r = chunk_runs_[chunk_index(header)].load(std::memory_order_acquire);
  if (r == nullptr || h.size_word != static_cast<uint32_t>(r->cls) ||
      (header - r->base) % r->block != 0)
    die(fmt::format("free of {}: not an allocated object", payload));
  uint64_t i = (header - r->base) / r->block;
  uint64_t bit = uint64_t{1} << (i % 64);
  // Count first, then clear the bit: a claimer that sees the count may find
  // no bit yet (and moves on), but never takes a bit the count lacks.
  uint32_t prev = r->free_count.fetch_add(1, std::memory_order_acq_rel);
  clear_class();  // before the bit: once clear, the block may be reused
  if ((r->bits[i / 64].fetch_and(~bit, std::memory_order_release) & bit) == 0)
    die(fmt::format("double free of {}", payload));
  if (prev == 0) {
    // The run was full and may have no owner: make it findable again.
    std::lock_guard lock(classes_[r->cls].mu);
    if (!r->owned && !r->listed && !r->retired) {
      classes_[r->cls].partial.push_back(r);
      r->listed = true;
    }
  }
}

uint64_t Allocator::usable_size(uint64_t payload) const {
  ObjectHeader h;
  std::memcpy(&h, pool_.at(payload - kObjectHeaderSize), sizeof h);
  if (h.size_word & kLargeBit)
    return uint64_t{h.size_word & ~kLargeBit} * kPageSize - kObjectHeaderSize;
  return kBlockSizes[h.size_word % kNumClasses] - kObjectHeaderSize;
}

bool Allocator::is_allocated(uint64_t header) const {
  std::lock_guard lock(pages_mu_);
  return is_allocated_locked(header);
}

bool Allocator::is_allocated_locked(uint64_t header) const {
  if (header < heap_begin_ || header >= heap_end_.load()) return false;
  if (large_.contains(header)) return true;
  Run* r = chunk_runs_[chunk_index(header)].load(std::memory_order_acquire);
  if (r == nullptr || (header - r->base) % r->block != 0) return false;
  uint64_t i = (header - r->base) / r->block;
  return i < r->nblocks && ((r->bits[i / 64].load(std::memory_order_acquire) >> (i % 64)) & 1);
}

Allocator::Reclaimed Allocator::find_reclaimed(const std::function<bool(uint32_t)>& known,
                                               const std::vector<uint64_t>& extra) const {
  Reclaimed out;
  uint64_t top = heap_begin_;  // end of the highest live object
  auto header_at = [&](uint64_t off) {
    ObjectHeader h;
    std::memcpy(&h, pool_.at(off), sizeof h);
    return h;
  };
  // Free blocks of the runs rebuilt around live objects.
  uint64_t end = heap_end_.load();
  uint64_t nchunks = (end - heap_begin_ + kChunkSize - 1) / kChunkSize;
  for (uint64_t c = 0; c < nchunks; ++c) {
    Run* r = chunk_runs_[c].load(std::memory_order_acquire);
    if (r == nullptr) continue;
    top = std::max(top, r->base + kChunkSize);
    for (uint32_t i = 0; i < r->nblocks; ++i) {
      if ((r->bits[i / 64].load(std::memory_order_relaxed) >> (i % 64)) & 1) continue;
      ObjectHeader h = header_at(r->base + uint64_t{i} * r->block);
      if (h.class_id != 0 && h.size_word == static_cast<uint32_t>(r->cls) && known(h.class_id)) {
        ++out.objects;
        out.bytes += r->block;
      }
    }
  }
  // Free extents: large objects start on pages, runs on chunk boundaries.
  std::lock_guard lock(pages_mu_);
  for (auto& [off, bytes] : large_) top = std::max(top, off + bytes);
  std::set<uint64_t> counted;
  for (uint64_t payload : extra) {
    uint64_t hdr = payload - kObjectHeaderSize;
    if (hdr < heap_begin_ || hdr >= end || is_allocated_locked(hdr)) continue;
    uint64_t span = span_bytes(header_at(hdr).size_word);
    if (span == 0 || !counted.insert(hdr).second) continue;
    ++out.objects;
    out.bytes += span;
  }
  for (auto& [start, bytes] : free_by_off_) {
    if (start >= top) continue;
    // Only where the file has data: never-written space holds no header.
    uint64_t stop = std::min(start + bytes, top);
    std::vector<std::pair<uint64_t, uint64_t>> ranges = pool_.data_ranges(start, stop);
    size_t ri = 0;
    for (uint64_t p = start; p < stop;) {
      while (ri < ranges.size() && ranges[ri].second <= p) ++ri;
      if (ri == ranges.size()) break;
      if (p < ranges[ri].first) p = start + (ranges[ri].first - start) / kPageSize * kPageSize;
      ObjectHeader h = header_at(p);
      if (counted.contains(p)) {  // counted above: skip its extent
        p += std::max<uint64_t>(kPageSize, span_bytes(h.size_word));
        continue;
      }
      if (h.class_id != 0 && known(h.class_id)) {
        if (h.size_word & kLargeBit) {
          uint64_t span = uint64_t{h.size_word & ~kLargeBit} * kPageSize;
          if (span != 0 && span <= stop - p) {
            ++out.objects;
            out.bytes += span;
            p += span;
            continue;
          }
        } else if (h.size_word < kNumClasses && (p - heap_begin_) % kChunkSize == 0 &&
                   p + kChunkSize <= stop) {
          uint32_t block = kBlockSizes[h.size_word];
          for (uint32_t i = 0; i < blocks_per_run(static_cast<int>(h.size_word)); ++i) {
            ObjectHeader b = header_at(p + uint64_t{i} * block);
            if (b.class_id != 0 && b.size_word == h.size_word && known(b.class_id)) {
              ++out.objects;
              out.bytes += block;
            }
          }
          p += kChunkSize;
          continue;
        }
      }
      p += kPageSize;
    }
  }
  return out;
}

void Allocator::for_each_allocated(const std::function<void(uint64_t, uint64_t)>& fn) const {
  uint64_t nchunks = (heap_end_.load() - heap_begin_ + kChunkSize - 1) / kChunkSize;
  for (uint64_t c = 0; c < nchunks; ++c) {
    Run* r = chunk_runs_[c].load(std::memory_order_acquire);
    if (r == nullptr) continue;
    for (uint32_t i = 0; i < r->nblocks; ++i)
      if ((r->bits[i / 64].load(std::memory_order_acquire) >> (i % 64)) & 1)
        fn(r->base + uint64_t{i} * r->block, r->block);
  }
  std::lock_guard lock(pages_mu_);
  for (auto& [off, bytes] : large_) fn(off, bytes);
}

// --- statistics ----------------------------------------------------------------

HeapUsage Allocator::usage() const {
  AllocatorStats s = stats();
  return {s.heap_bytes, s.live_bytes, s.live_objects, s.free_bytes};
}

AllocatorStats Allocator::stats() const {
  AllocatorStats s;
  uint64_t end = heap_end_.load();
  s.heap_bytes = end - heap_begin_;
  for (int c = 0; c < kNumClasses; ++c) s.classes[c].block_size = kBlockSizes[c];
  uint64_t nchunks = (end - heap_begin_ + kChunkSize - 1) / kChunkSize;
  for (uint64_t i = 0; i < nchunks; ++i) {
    Run* r = chunk_runs_[i].load(std::memory_order_acquire);
    if (r == nullptr) continue;
    uint64_t used = r->nblocks - r->free_count.load(std::memory_order_relaxed);
    ClassStats& cs = s.classes[r->cls];
    cs.runs++;
    cs.blocks += r->nblocks;
    cs.used_blocks += used;
    s.live_objects += used;
    s.live_bytes += used * r->block;
    s.run_free_bytes += kChunkSize - used * r->block;
  }
  {
    std::lock_guard lock(pages_mu_);
    for (auto& [off, bytes] : large_) {
      s.large_objects++;
      s.large_bytes += bytes;
    }
    for (auto& [off, bytes] : free_by_off_) {
      s.extent_free_bytes += bytes;
      s.largest_free_extent = std::max(s.largest_free_extent, bytes);
    }
  }
  {  // blocks threads have claimed but not handed out are free
    std::lock_guard lock(caches_mu_);
    for (auto& c : caches_) {
      for (int cls = 0; cls < kNumClasses; ++cls) {
        uint64_t n = c->claimed[cls].load(std::memory_order_relaxed);
        s.classes[cls].used_blocks -= n;
        s.live_objects -= n;
        s.live_bytes -= n * kBlockSizes[cls];
        s.run_free_bytes += n * kBlockSizes[cls];
      }
    }
  }
  s.live_objects += s.large_objects;
  s.live_bytes += s.large_bytes;
  s.free_bytes = s.heap_bytes - s.live_bytes;
  if (s.extent_free_bytes > 0)
    s.external_fragmentation =
        1.0 - static_cast<double>(s.largest_free_extent) / static_cast<double>(s.extent_free_bytes);
  uint64_t run_bytes = 0;
  for (auto& c : s.classes) run_bytes += c.runs * kChunkSize;
  if (run_bytes > 0)
    s.run_fragmentation = static_cast<double>(s.run_free_bytes) / static_cast<double>(run_bytes);
  return s;
}

// --- rebuilding after a crash ------------------------------------------------------

Result<std::unique_ptr<Allocator>> Allocator::rebuild(Pool& pool, const AllocatorOptions& opts,
                                                      const LiveBitmap& live, unsigned threads) {
  std::unique_ptr<Allocator> a(new Allocator(pool, opts));
  uint64_t begin = a->heap_begin_, end = a->heap_end_.load();
  uint64_t nchunks = (end - begin + kChunkSize - 1) / kChunkSize;
  struct Part {
    std::vector<std::pair<uint64_t, uint64_t>> large;  // header, bytes
    std::string error;
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(nchunks / 64 + 1)));
  std::vector<Part> parts(threads);
  // Phase 1, in parallel by chunk: runs from the small objects, a list of
  // the large ones.
  auto work = [&](unsigned t) {
    Part& p = parts[t];
    uint64_t lo = nchunks * t / threads, hi = nchunks * (t + 1) / threads;
    for (uint64_t c = lo; c < hi && p.error.empty(); ++c) {
      uint64_t cbase = begin + c * kChunkSize;
      Run* run = nullptr;
      live.for_each(cbase, std::min(end, cbase + kChunkSize), [&](uint64_t hdr) {
        if (!p.error.empty()) return;
        ObjectHeader h;
        std::memcpy(&h, pool.at(hdr), sizeof h);
        if (h.size_word & kLargeBit) {
          uint64_t bytes = uint64_t{h.size_word & ~kLargeBit} * kPageSize;
          if (hdr % kPageSize != 0 || bytes == 0 || hdr + bytes > end)
            p.error = fmt::format("object at {}: bad large extent ({} bytes)", hdr, bytes);
          else if (run != nullptr)
            p.error = fmt::format("object at {}: large object inside a run of small objects", hdr);
          else
            p.large.emplace_back(hdr, bytes);
          return;
        }
        int cls = static_cast<int>(h.size_word);
        if (cls >= kNumClasses || (hdr - cbase) % kBlockSizes[cls] != 0 ||
            (hdr - cbase) / kBlockSizes[cls] >= blocks_per_run(cls) || cbase + kChunkSize > end) {
          p.error = fmt::format("object at {}: size class {} does not fit its chunk", hdr, cls);
          return;
        }
        if (!p.large.empty() && p.large.back().first >= cbase) {
          p.error = fmt::format("object at {}: small object in a chunk holding a large one", hdr);
          return;
        }
        if (run == nullptr) run = a->new_run(cbase, cls);
        if (run->cls != cls) {
          p.error = fmt::format("chunk at {} holds objects of size classes {} and {}", cbase,
                                run->cls, cls);
          return;
        }
        uint64_t i = (hdr - cbase) / run->block;
        run->bits[i / 64].fetch_or(uint64_t{1} << (i % 64), std::memory_order_relaxed);
        run->free_count.fetch_sub(1, std::memory_order_relaxed);
      });
    }
  };
  std::vector<std::thread> pool_threads;
  for (unsigned t = 1; t < threads; ++t) pool_threads.emplace_back(work, t);
  work(0);
  for (auto& t : pool_threads) t.join();
  for (const Part& p : parts)
    if (!p.error.empty()) return Status(StatusCode::kCorrupt, pool.path() + ": " + p.error);

  // Phase 2, in address order: free extents are what neither runs nor large
  // objects cover.
  std::lock_guard lock(a->pages_mu_);
  uint64_t cursor = begin;
  auto free_upto = [&](uint64_t to) {
    if (to > cursor) a->give_pages(cursor, to - cursor);
  };
  size_t next_part = 0, next_large = 0;
  auto next_large_obj = [&]() -> const std::pair<uint64_t, uint64_t>* {
    while (next_part < parts.size() && next_large >= parts[next_part].large.size()) {
      ++next_part;
      next_large = 0;
    }
    return next_part < parts.size() ? &parts[next_part].large[next_large] : nullptr;
  };
  for (uint64_t c = 0; c <= nchunks; ++c) {
    uint64_t cbase = begin + c * kChunkSize;
    // Large objects that start before this chunk's end.
    while (const auto* lo = next_large_obj()) {
      if (c < nchunks && lo->first >= cbase) break;
      if (lo->first < cursor)
        return Status(StatusCode::kCorrupt,
                      fmt::format("{}: object at {} overlaps another", pool.path(), lo->first));
      free_upto(lo->first);
      a->large_[lo->first] = lo->second;
      cursor = lo->first + lo->second;
      ++next_large;
    }
    if (c == nchunks) break;
    Run* r = a->chunk_runs_[c].load(std::memory_order_relaxed);
    if (r == nullptr) continue;
    if (cursor > cbase)
      return Status(StatusCode::kCorrupt,
                    fmt::format("{}: a large object overlaps the run at {}", pool.path(), cbase));
    free_upto(cbase);
    cursor = cbase + kChunkSize;
    if (r->free_count.load(std::memory_order_relaxed) > 0) {
      a->classes_[r->cls].partial.push_back(r);
      r->listed = true;
    }
  }
  free_upto(end);
  return a;
}

// --- the clean-close snapshot ----------------------------------------------------

namespace {

constexpr char kSnapshotMagic[8] = {'N', 'V', 'O', 'B', 'J', 'A', 'S', '1'};

struct SnapshotHeader {
  char magic[8];
  uint64_t heap_begin;
  uint64_t heap_end;
  uint64_t nruns;
  uint64_t nlarge;
  uint64_t body_bytes;  // after this header
  uint32_t crc;         // crc32c of the body
  uint32_t reserved0;
  uint64_t reserved1;
};
static_assert(sizeof(SnapshotHeader) == 64 && alignof(SnapshotHeader) == 8);

struct SnapshotRun {  // followed by nwords bitmap words
  uint64_t chunk_off;
  uint32_t cls;
  uint32_t nwords;
};
static_assert(sizeof(SnapshotRun) == 16);

struct SnapshotLarge {
  uint64_t header_off;
  uint64_t bytes;
};
static_assert(sizeof(SnapshotLarge) == 16);

}  // namespace

Status Allocator::save_snapshot() {
  // Release every thread's runs first so that the state is quiescent.
  {
    std::lock_guard lock(caches_mu_);
    for (auto& c : caches_)
      for (int cls = 0; cls < kNumClasses; ++cls) drop_run(*c, cls);
  }
  trim();
  auto count = [&](uint64_t& nruns, uint64_t& words, uint64_t& nlarge) {
    nruns = words = 0;
    uint64_t nchunks = (heap_end_.load() - heap_begin_ + kChunkSize - 1) / kChunkSize;
    for (uint64_t i = 0; i < nchunks; ++i)
      if (Run* r = chunk_runs_[i].load(); r != nullptr) {
        ++nruns;
        words += r->nwords;
      }
    std::lock_guard lock(pages_mu_);
    nlarge = large_.size();
  };
  uint64_t nruns, words, nlarge;
  count(nruns, words, nlarge);
  // The snapshot is a large object (so allocating it adds no run), counted in
  // itself.
  uint64_t body = nruns * sizeof(SnapshotRun) + words * 8 + (nlarge + 1) * sizeof(SnapshotLarge);
  uint64_t bytes = round_up(kObjectHeaderSize + sizeof(SnapshotHeader) + body, kPageSize);
  NVOBJ_ASSIGN_OR_RETURN(uint64_t payload, allocate_large(bytes, kClassIdAllocSnapshot));
  count(nruns, words, nlarge);

  std::vector<char> buf(sizeof(SnapshotHeader));
  auto put = [&](const void* p, size_t n) {
    buf.insert(buf.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  };
  uint64_t nchunks = (heap_end_.load() - heap_begin_ + kChunkSize - 1) / kChunkSize;
  for (uint64_t i = 0; i < nchunks; ++i) {
    Run* r = chunk_runs_[i].load();
    if (r == nullptr) continue;
    SnapshotRun sr{r->base, static_cast<uint32_t>(r->cls), r->nwords};
    put(&sr, sizeof sr);
    for (uint32_t w = 0; w < r->nwords; ++w) {
      uint64_t v = r->bits[w].load();
      put(&v, 8);
    }
  }
  {
    std::lock_guard lock(pages_mu_);
    for (auto& [off, b] : large_) {
      SnapshotLarge sl{off, b};
      put(&sl, sizeof sl);
    }
  }
  SnapshotHeader h{};
  std::memcpy(h.magic, kSnapshotMagic, sizeof h.magic);
  h.heap_begin = heap_begin_;
  h.heap_end = heap_end_.load();
  h.nruns = nruns;
  h.nlarge = nlarge;
  h.body_bytes = buf.size() - sizeof h;
  h.crc = crc32c(buf.data() + sizeof h, h.body_bytes);
  std::memcpy(buf.data(), &h, sizeof h);
  if (buf.size() > bytes - kObjectHeaderSize) die("snapshot outgrew its object");

  const Persister& p = pool_.persister();
  p.pwb(pool_.at(payload - kObjectHeaderSize), kObjectHeaderSize);
  p.memcpy_persist(pool_.at(payload), buf.data(), buf.size());
  p.store_persist(pool_.anchor(kAnchorAllocSnapshot), payload);
  return Status::ok();
}

Result<std::unique_ptr<Allocator>> Allocator::load_snapshot(Pool& pool,
                                                            const AllocatorOptions& opts) {
  uint64_t payload = *pool.anchor(kAnchorAllocSnapshot);
  if (payload == 0) return Status(StatusCode::kNotFound, "no allocator snapshot");
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kCorrupt,
                  fmt::format("{}: allocator snapshot at {}: {}", pool.path(), payload, why));
  };
  std::unique_ptr<Allocator> a(new Allocator(pool, opts));
  uint64_t header = payload - kObjectHeaderSize;
  if (payload % kPageSize != kObjectHeaderSize || header < a->heap_begin_ ||
      payload + sizeof(SnapshotHeader) > pool.size())
    return bad("not inside the heap");
  ObjectHeader oh;
  std::memcpy(&oh, pool.at(header), sizeof oh);
  uint64_t obj_bytes = uint64_t{oh.size_word & ~kLargeBit} * kPageSize;
  if (oh.class_id != kClassIdAllocSnapshot || !(oh.size_word & kLargeBit) ||
      header + obj_bytes > pool.size())
    return bad("object header is not a snapshot's");
  SnapshotHeader h;
  std::memcpy(&h, pool.at(payload), sizeof h);
  if (std::memcmp(h.magic, kSnapshotMagic, sizeof h.magic) != 0) return bad("bad magic");
  if (h.heap_begin != a->heap_begin_ || h.heap_end > pool.size() ||
      sizeof h + h.body_bytes > obj_bytes - kObjectHeaderSize)
    return bad("geometry does not match the pool");
  const char* body = pool.at<const char>(payload + sizeof h);
  if (crc32c(body, h.body_bytes) != h.crc) return bad("checksum mismatch");

  uint64_t at = 0;
  auto get = [&](void* dst, size_t n) {
    if (at + n > h.body_bytes) return false;
    std::memcpy(dst, body + at, n);
    at += n;
    return true;
  };
  std::vector<std::pair<uint64_t, uint64_t>> used;  // extents in use, from runs and large
  for (uint64_t i = 0; i < h.nruns; ++i) {
    SnapshotRun sr;
    if (!get(&sr, sizeof sr)) return bad("truncated");
    if (sr.cls >= kNumClasses || sr.chunk_off < a->heap_begin_ ||
        (sr.chunk_off - a->heap_begin_) % kChunkSize != 0 ||
        sr.chunk_off + kChunkSize > h.heap_end || sr.nwords != (blocks_per_run(sr.cls) + 63) / 64)
      return bad(fmt::format("run record {} is invalid", i));
    if (a->chunk_runs_[a->chunk_index(sr.chunk_off)].load() != nullptr)
      return bad("two runs in one chunk");
    Run* r = a->new_run(sr.chunk_off, static_cast<int>(sr.cls));
    uint32_t used_blocks = 0;
    for (uint32_t w = 0; w < sr.nwords; ++w) {
      uint64_t v;
      if (!get(&v, 8)) return bad("truncated");
      r->bits[w].store(v, std::memory_order_relaxed);
      used_blocks += static_cast<uint32_t>(__builtin_popcountll(v));
    }
    uint32_t padding = r->nwords * 64 - r->nblocks;
    r->free_count.store(r->nblocks + padding - used_blocks, std::memory_order_relaxed);
    used.emplace_back(sr.chunk_off, kChunkSize);
  }
  for (uint64_t i = 0; i < h.nlarge; ++i) {
    SnapshotLarge sl;
    if (!get(&sl, sizeof sl)) return bad("truncated");
    if (sl.header_off < a->heap_begin_ || sl.header_off % kPageSize != 0 || sl.bytes == 0 ||
        sl.bytes % kPageSize != 0 || sl.header_off + sl.bytes > h.heap_end)
      return bad(fmt::format("large record {} is invalid", i));
    a->large_[sl.header_off] = sl.bytes;
    used.emplace_back(sl.header_off, sl.bytes);
  }
  std::sort(used.begin(), used.end());
  {
    std::lock_guard lock(a->pages_mu_);
    uint64_t cursor = a->heap_begin_;
    for (auto [off, bytes] : used) {
      if (off < cursor) return bad("extents overlap");
      if (off > cursor) a->give_pages(cursor, off - cursor);
      cursor = off + bytes;
    }
    // Space the pool gained after the snapshot (an offline grow) is free too.
    if (pool.size() > cursor) a->give_pages(cursor, pool.size() - cursor);
  }
  for (uint64_t i = 0; i < a->max_chunks_; ++i) {
    Run* r = a->chunk_runs_[i].load(std::memory_order_relaxed);
    if (r == nullptr) {
      if (a->heap_begin_ + i * kChunkSize >= h.heap_end) break;
      continue;
    }
    if (r->free_count.load() > 0) {
      a->classes_[r->cls].partial.push_back(r);
      r->listed = true;
    }
  }
  // The snapshot has served: free its space, and clear the anchor before
  // anything can reuse that space.
  pool.persister().store_persist(pool.anchor(kAnchorAllocSnapshot), uint64_t{0});
  a->deallocate(payload);
  return a;
}

}  // namespace nvobj::alloc
