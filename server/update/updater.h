// The single writer of zone data. Takes UPDATE messages from the I/O threads, runs each
// through the stages ACL (TSIG + policy) → check (prerequisites, prescan) → apply → journal,
// makes a whole batch durable with one fdatasync, then answers. Also expires leases.
//
// Two threads form a pipeline: while the sync thread writes batch N to the journal, syncs it
// and answers its clients, the update thread already applies batch N+1. If batch N fails to
// reach the disk, N+1 (built on it) and then N are taken back and both answered SERVFAIL.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include "absl/status/statusor.h"
#include "update/journal.h"
#include "update/listener.h"
#include "update/policy.h"
#include "wire/tsig_key.h"
#include "zone/catalog.h"
#include "zone/rw_lock.h"

namespace epmdns::update {

struct LeaseLimits {
  uint32_t min = 30;        // shorter requests are raised to this
  uint32_t max = 86400;     // longer requests are cut to this
  uint32_t fallback = 0;    // granted when none is asked for; 0: records added without a lease stay
};

struct UpdaterConfig {
  using ZoneLoader = std::function<absl::StatusOr<zone::Catalog>()>;
  std::string state_dir;
  ZoneLoader zone_loader;  // reads the zone files; compaction keeps removals only of their records
  uint64_t journal_max_size = 64 << 20;  // fold the journal into the snapshot beyond this
  LeaseLimits leases;
  bool allow_unsigned = false;
  bool flush_to_disk = true;  // fdatasync the journal before answering
  size_t max_batch = 256;
  ChangeListener* listener = nullptr;  // told of replayed and durable changes (IXFR, NOTIFY); may be null
};

class Updater {
 public:
  using Reply = std::function<void(std::span<const uint8_t>)>;
  // Where an answer goes: a UDP peer of one of our sockets (answers of a batch leave together
  // through sendmmsg), or, when `udp_fd` is -1, a callback (TCP).
  struct ReplyTo {
    int udp_fd = -1;
    sockaddr_storage peer{};
    socklen_t peer_length = 0;
    Reply callback;
  };
  struct Submission {
    std::vector<uint8_t> message;
    ReplyTo reply_to;
  };

  // Replays the journal into `catalog` and drops leases that ran out meanwhile.
  static absl::StatusOr<std::unique_ptr<Updater>> start(zone::Catalog& catalog, zone::RwLock& lock,
                                                         const wire::Keyring& keyring, Policy policy, UpdaterConfig config);
  ~Updater();
  Updater(const Updater&) = delete;
  Updater& operator=(const Updater&) = delete;

  // Queues an UPDATE; `reply` is called (on the updater thread) once it is durable or refused.
  void submit(std::span<const uint8_t> message, Reply reply);
  // Queues several at once (one wake-up); empties `submissions`.
  void submit(std::vector<Submission>& submissions);

  using ZoneLoader = UpdaterConfig::ZoneLoader;
  // Asks the updater thread to load the zones afresh, replay the journal on them and swap
  // them in. A loader error is logged and the zones served stay as they are.
  void reload(ZoneLoader loader);

 private:
  using Pending = Submission;
  struct Outcome;
  struct Commit;

  Updater(zone::Catalog& catalog, zone::RwLock& lock, const wire::Keyring& keyring, Policy policy, UpdaterConfig config,
          Journal journal);
  void run();
  void process_batch(std::vector<Pending>& batch);
  void send_replies(Commit& commit);
  // Waits for the batch on its way to disk. If it failed, `later` (applied on top of it) and
  // then it are taken back and answered SERVFAIL. Returns whether it held.
  bool settle(Commit* later = nullptr);
  void take_back(Commit& commit);
  void sync_loop();
  Outcome process(const Pending& pending, uint64_t now);
  void expire_leases(uint32_t now);
  void reload_now(const ZoneLoader& loader);
  // Starts folding the finished journal files into the snapshot, in the background.
  void maybe_compact();
  void wait_for_compaction();
  // Runs f() while queries are locked out.
  template <typename F>
  void with_write_lock(F&& f) {
    lock_.lock();
    f();
    lock_.unlock();
  }

  zone::Catalog& catalog_;
  zone::RwLock& lock_;
  const wire::Keyring& keyring_;
  Policy policy_;
  UpdaterConfig config_;
  Journal journal_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Pending> queue_;
  std::vector<ZoneLoader> reloads_;
  bool stopping_ = false;
  bool sync_failed_ = false;  // the sync thread's news for run(), under mutex_
  std::thread thread_;

  // The batch handed to the sync thread, and whether that thread is done with it.
  std::mutex sync_mutex_;
  std::condition_variable sync_wake_;
  std::unique_ptr<Commit> in_flight_;
  bool in_flight_done_ = false;
  bool sync_stopping_ = false;
  std::thread sync_thread_;
  std::thread compactor_;
  // No lease ends before this (Unix time); the sweep skips the zones until then.
  uint32_t next_expiry_ = 0;
};

}  // namespace epmdns::update
