// Where a YCSB workload runs: a Target (one store: an embedded Backend or a
// RESP server) hands each driver thread a DbClient, which performs the four
// YCSB operations with the record mapping of record.h:
//
//   read    GET key, then decode every field (readallfields) or one
//   update  one field replaced. Embedded: ONE Backend::update call (a
//           failure-atomic read-modify-write; one fence on nvobj). Network:
//           there is no RESP command for it, so GET, re-encode, SET (two
//           round trips, not atomic against a concurrent writer of the key;
//           YCSB's threads pick keys independently, as YCSB's own Redis
//           binding does with HMSET)
//   insert  SET key record, then ZADD _indices <score> key, the score being
//           Java's String.hashCode of the key as in YCSB's Redis binding
//   scan    ZRANGEBYSCORE _indices <score(start key)> +inf LIMIT 0 <n>,
//           then GET (and decode) each key found
//
// Embedded targets give the Backend the per-key exclusion its contract asks
// of the caller (KeyLocks, as nvobj-dso's command layer does): reads share
// a key's stripe, writes hold it exclusively, so 1-thread and 2-thread runs
// pay the same locking as the server.
#ifndef NVOBJ_BENCH_YCSB_DB_H_
#define NVOBJ_BENCH_YCSB_DB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/status.h"

namespace nvobj::ycsb {

inline constexpr char kIndexKey[] = "_indices";

// The score of a key in the scan index.
double index_score(std::string_view key);

class DbClient {
 public:
  virtual ~DbClient() = default;
  // Every field (field < 0) or field `field` of `key` into out[0..).
  // False if the key is absent.
  virtual bool read(std::string_view key, int64_t field, std::vector<std::string>* out) = 0;
  // Replaces field `field` by `value`; field < 0: `value` is a whole new
  // record. False if the key is absent (nothing is written then).
  virtual bool update(std::string_view key, int64_t field, std::string_view value) = 0;
  virtual bool insert(std::string_view key, std::string_view record) = 0;
  // Up to `count` records from the start key's score on, each read as
  // read() does. False if nothing was found.
  virtual bool scan(std::string_view start_key, int64_t count, int64_t field,
                    std::vector<std::vector<std::string>>* out) = 0;
  // Several inserts; a network client pipelines them (the load phase's
  // --load-pipeline). Returns how many succeeded.
  virtual size_t insert_batch(const std::vector<std::pair<std::string, std::string>>& records);
};

class Target {
 public:
  virtual ~Target() = default;
  // Names the target in results: "nvobj", "fs-tmpfs", "dso-nvobj"...
  virtual const std::string& label() const = 0;
  // The DESIGN.md mode: dax, emulated, msync or none.
  virtual const std::string& mode() const = 0;
  virtual bool embedded() const = 0;
  // True when operations go through nvobj's persistence layer in this
  // process, so that per-thread fence counters measure them.
  virtual bool counts_persistence() const { return false; }
  virtual Result<std::unique_ptr<DbClient>> connect() = 0;
  // The store's numeric statistics (Backend::info or INFO), e.g.
  // nvobj_fences, fs_fsyncs, pmemobj_tx_commits.
  virtual std::map<std::string, double> stats() = 0;
  // Bytes the store occupies for its data: nvobj's live heap bytes,
  // pmemobj's allocated bytes, the fs store's file. nullopt: not known.
  std::optional<double> store_bytes();
  // Called once the load phase is done (fs staged on tmpfs: moved to its
  // directory and reopened).
  virtual Status finish_load() { return Status::ok(); }
  // Extra facts for the results ("medium", "load_note"...).
  virtual std::map<std::string, std::string> notes() const { return {}; }
  // Closes cleanly and removes every file the target made.
  virtual Status close() = 0;
};

// Parses "k:v" lines (INFO's format) into the numeric fields.
std::map<std::string, double> parse_info(std::string_view info);

struct EmbeddedOptions {
  std::string base_dir = "/dev/shm";  // default directory of the stores
  uint64_t pool_bytes = 0;            // nvobj's initial size, pmemobj's size
  // fs stores outside tmpfs are loaded in this tmpfs directory and then
  // copied into place ("" = load in place): loading a million records with
  // an fdatasync each would take longer than the rest of the benchmark.
  std::string stage_dir;
  // The store's path (a pool file; the fs store's directory), instead of a
  // fresh one under the directory of `spec`; with `reopen`, an existing
  // store is opened (recovery measurements) and `keep` leaves it in place.
  std::string path;
  bool reopen = false;
  bool keep = false;
};

// `spec` is KIND or KIND:DIR with KIND one of nvobj, volatile, pmemobj-tx,
// fs; the store is created fresh in DIR (default options.base_dir).
Result<std::unique_ptr<Target>> open_embedded_target(const std::string& spec,
                                                     const EmbeddedOptions& options);

// `spec` is LABEL=HOST:PORT[/MODE]. flush: FLUSHALL once before use.
Result<std::unique_ptr<Target>> open_network_target(const std::string& spec, bool flush);

// "tmpfs", "ext4", "ext4-dax"... for the file system holding `dir`.
std::string file_system_of(const std::string& dir);

}  // namespace nvobj::ycsb

#endif  // NVOBJ_BENCH_YCSB_DB_H_
