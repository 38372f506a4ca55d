// Readers-writer lock over the zone data: query threads read, the update thread writes.
// Writers are preferred, so a steady query load cannot starve registrations.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>

namespace epmdns::zone {

class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwLock() { pthread_rwlock_destroy(&lock_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }
  void lock() {
    pthread_rwlock_wrlock(&lock_);
    writes_.fetch_add(1, std::memory_order_relaxed);
  }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  // How many times the write lock has been taken. A reader that sees the same count under two
  // separate read locks knows nothing changed in between (zone transfers copy in chunks so).
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

 private:
  pthread_rwlock_t lock_;
  std::atomic<uint64_t> writes_{0};
};

}  // namespace epmdns::zone
