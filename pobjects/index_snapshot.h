// The index of a durable map (or list) as saved at a clean close, so that
// the next open loads it instead of scanning the map's log: MapCore writes it
// from its destructor while the store closes (Store::save_close_snapshot,
// runtime/close_snapshots.h) and reads it back in its constructor.
//
// Layout (little-endian, in a raw-bytes object): an IndexSnapshotHead, the
// log's chunks as RecordLog::image() gave them, then one IndexSnapshotEntry
// per index entry (removed keys' tombstones included). parse() checks that
// every entry lies inside its chunk's used bytes; the record log checks the
// image's shape and the chunks at the newest end of each lane (same chain,
// nonces, nothing appended: RecordLog::image_matches). Either failing, the
// map scans its log as after a crash.
#ifndef NVOBJ_POBJECTS_INDEX_SNAPSHOT_H_
#define NVOBJ_POBJECTS_INDEX_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pobjects/record_log.h"

namespace nvobj::detail {

inline constexpr char kIndexSnapshotMagic[8] = {'N', 'V', 'O', 'B', 'J', 'I', 'X', '1'};

struct IndexSnapshotHead {
  char magic[8];
  uint64_t chunks;
  uint64_t entries;
  uint64_t next_version;
};
static_assert(sizeof(IndexSnapshotHead) == 32 && alignof(IndexSnapshotHead) == 8);
static_assert(sizeof(RecordLog::ChunkImage) == 40 && alignof(RecordLog::ChunkImage) == 8);

struct IndexSnapshotEntry {
  uint64_t hash;     // the index's hash of the key (HashIndex's slot hash)
  uint64_t rec;      // pool offset of the entry's record header
  uint64_t version;  // MapEntry's
  uint32_t span;
  uint32_t chunk;  // position of the record's chunk among the snapshot's chunks
  uint8_t kind;
  uint8_t present;
  uint8_t pad[6];
};
static_assert(sizeof(IndexSnapshotEntry) == 40 && alignof(IndexSnapshotEntry) == 8);

// A snapshot's parts (entries point into the pool: valid until the
// snapshot is released).
struct IndexSnapshot {
  std::vector<RecordLog::ChunkImage> chunks;
  const IndexSnapshotEntry* entries = nullptr;
  uint64_t entry_count = 0;
  uint64_t next_version = 0;

  // nullopt if `bytes` is not a well-formed snapshot for a pool of
  // `pool_size` bytes.
  static std::optional<IndexSnapshot> parse(std::string_view bytes, uint64_t pool_size) {
    IndexSnapshotHead head;
    if (bytes.size() < sizeof(head)) return std::nullopt;
    std::memcpy(&head, bytes.data(), sizeof(head));
    if (std::memcmp(head.magic, kIndexSnapshotMagic, sizeof(head.magic)) != 0 ||
        head.chunks > bytes.size() / sizeof(RecordLog::ChunkImage) ||
        head.entries > bytes.size() / sizeof(IndexSnapshotEntry) ||
        bytes.size() != sizeof(head) + head.chunks * sizeof(RecordLog::ChunkImage) +
                            head.entries * sizeof(IndexSnapshotEntry))
      return std::nullopt;
    IndexSnapshot s;
    s.chunks.resize(head.chunks);
    std::memcpy(s.chunks.data(), bytes.data() + sizeof(head),
                head.chunks * sizeof(RecordLog::ChunkImage));
    s.entries = reinterpret_cast<const IndexSnapshotEntry*>(
        bytes.data() + sizeof(head) + head.chunks * sizeof(RecordLog::ChunkImage));
    s.entry_count = head.entries;
    s.next_version = head.next_version;
    for (const RecordLog::ChunkImage& c : s.chunks)
      if (c.off > pool_size || c.used > pool_size - c.off) return std::nullopt;
    for (uint64_t i = 0; i < s.entry_count; ++i) {
      const IndexSnapshotEntry& e = s.entries[i];
      if (e.chunk >= s.chunks.size() || e.span < sizeof(RecordHeader)) return std::nullopt;
      const RecordLog::ChunkImage& c = s.chunks[e.chunk];
      uint64_t tail = c.off + sizeof(LogChunkData);
      if (e.rec < tail || (e.rec - tail) % kRecordAlign != 0 || e.rec - tail > c.used ||
          e.span > c.used - (e.rec - tail))
        return std::nullopt;
    }
    return s;
  }

  // A snapshot's bytes: begin() (head and chunks), add() per entry, then
  // end() with the number of entries added.
  static std::string begin(const std::vector<RecordLog::ChunkImage>& chunks,
                           uint64_t expected_entries, uint64_t next_version) {
    std::string out;
    out.reserve(sizeof(IndexSnapshotHead) + chunks.size() * sizeof(RecordLog::ChunkImage) +
                expected_entries * sizeof(IndexSnapshotEntry));
    IndexSnapshotHead head{};
    std::memcpy(head.magic, kIndexSnapshotMagic, sizeof(head.magic));
    head.chunks = chunks.size();
    head.next_version = next_version;
    out.append(reinterpret_cast<const char*>(&head), sizeof(head));
    out.append(reinterpret_cast<const char*>(chunks.data()),
               chunks.size() * sizeof(RecordLog::ChunkImage));
    return out;
  }
  static void add(std::string& out, const IndexSnapshotEntry& e) {
    out.append(reinterpret_cast<const char*>(&e), sizeof(e));
  }
  static void end(std::string& out, uint64_t entries) {
    std::memcpy(out.data() + offsetof(IndexSnapshotHead, entries), &entries, sizeof(entries));
  }
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_INDEX_SNAPSHOT_H_
