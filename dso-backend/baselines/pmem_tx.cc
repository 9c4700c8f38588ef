#include "dso-backend/baselines/pmem_tx.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "dso-backend/baselines/baselines.h"

namespace nvobj::dso::pmemobj {

PoolRef::PoolRef(PMEMobjpool* pop) : pop_(pop) {
  uuid_lo_ = pmemobj_root(pop, 0).pool_uuid_lo;  // size 0: only looks the root up
}

Tx::Tx(const PoolRef& pool) : pool_(pool) {
  if (pmemobj_tx_begin(pool.pop(), nullptr, TX_PARAM_NONE) != 0) {
    int err = errno;
    pmemobj_tx_end();
    ended_ = true;
    throw StorageError(
        StatusCode::kIOError,
        std::string("pmemobj-tx: cannot begin a transaction: ") + std::strerror(err));
  }
  // Failing calls return an error instead of aborting behind our back; fail()
  // aborts and throws, so the abort always happens in one place.
  pmemobj_tx_set_failure_behavior(POBJ_TX_FAILURE_RETURN);
}

Tx::~Tx() {
  if (ended_) return;
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_abort(ECANCELED);
  pmemobj_tx_end();
}

void Tx::fail(std::string_view what, int err) {
  if (pmemobj_tx_stage() == TX_STAGE_WORK) pmemobj_tx_abort(err != 0 ? err : ECANCELED);
  pmemobj_tx_end();
  ended_ = true;
  const char* detail = pmemobj_errormsg();
  std::string msg = "pmemobj-tx: ";
  if (err == ENOMEM) {
    msg += "pool full (";
    msg += what;
    msg += "); nothing was changed";
    throw StorageError(StatusCode::kNoSpace, msg);
  }
  msg += what;
  msg += " failed: ";
  msg += detail != nullptr && *detail != '\0' ? detail : std::strerror(err);
  throw StorageError(StatusCode::kIOError, msg);
}

void Tx::add(const void* p, size_t n) {
  if (pmemobj_tx_xadd_range_direct(p, n, 0) != 0) fail("undo log", errno);
}

uint64_t Tx::alloc(size_t n, TypeNum type, bool zero) {
  PMEMoid oid = pmemobj_tx_xalloc(n, type, zero ? POBJ_XALLOC_ZERO : 0);
  if (OID_IS_NULL(oid)) fail("allocation of " + std::to_string(n) + " bytes", errno);
  return oid.off;
}

void Tx::free(uint64_t off) {
  if (off == 0) return;
  if (pmemobj_tx_xfree(PMEMoid{pool_.uuid_lo(), off}, 0) != 0) fail("free", errno);
}

void Tx::commit() {
  pmemobj_tx_commit();
  int err = pmemobj_tx_end();
  ended_ = true;
  if (err != 0) {
    throw StorageError(err == ENOMEM ? StatusCode::kNoSpace : StatusCode::kIOError,
                       std::string("pmemobj-tx: commit failed: ") + std::strerror(err));
  }
}

uint64_t stable_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb3fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace nvobj::dso::pmemobj
