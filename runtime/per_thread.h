// Per-thread state owned by a long-lived object (an allocator, a store).
//
// An owner hands each thread its own state (an allocation cache, a log
// writer) the first time the thread asks, and takes it back when the thread
// exits, provided the owner still exists. Lookups are thread-local and take
// no lock; a registry of live owners (by a never-reused id) makes thread exit
// safe against owners that are already destroyed.
#ifndef NVOBJ_RUNTIME_PER_THREAD_H_
#define NVOBJ_RUNTIME_PER_THREAD_H_

#include <cstdint>

namespace nvobj {

class PerThreadOwner {
 public:
  PerThreadOwner();
  virtual ~PerThreadOwner();
  PerThreadOwner(const PerThreadOwner&) = delete;
  PerThreadOwner& operator=(const PerThreadOwner&) = delete;

 protected:
  // This thread's state, made by make_thread_state() on first use. States of
  // threads still running when the owner dies are the owner's to free.
  void* thread_state();
  virtual void* make_thread_state() = 0;
  // A thread that used this owner exits; `state` is what make_thread_state
  // returned to it. Runs on the exiting thread, with the owner alive.
  virtual void release_thread_state(void* state) = 0;
  // Derived destructors must call this first, so that no thread exit can call
  // release_thread_state on a half-destroyed owner.
  void unregister_owner();

 private:
  friend struct PerThreadAccess;
  uint64_t uid_;
  bool registered_ = true;
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_PER_THREAD_H_
