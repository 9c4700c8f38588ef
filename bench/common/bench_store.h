// The pool the durable-types benchmarks measure in: a fresh 1 GiB emulated
// pool at `path`, its persistence optionally swapped for the no-op backend
// (the same code and counted fences, none issued: what the software costs).
#ifndef NVOBJ_BENCH_COMMON_BENCH_STORE_H_
#define NVOBJ_BENCH_COMMON_BENCH_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "recovery/store_open.h"
#include "runtime/pool.h"

namespace nvobj::bench {

inline Result<std::unique_ptr<Store>> create_bench_store(const std::string& path,
                                                         bool noop_persist) {
  StoreOptions o;
  o.create.size = uint64_t{1} << 30;
  o.create.mode = Mode::kEmulated;
  o.create.overwrite = true;
  auto store = create_store(path, o);
  if (!store || !noop_persist) return store;
  PersistOptions po;
  po.backend = PersistBackend::kNoop;
  NVOBJ_RETURN_IF_ERROR((*store)->pool().set_persist_backend(po));
  return store;
}

}  // namespace nvobj::bench

#endif  // NVOBJ_BENCH_COMMON_BENCH_STORE_H_
