// The journal: append-only, checksummed logs of applied changes, made durable (fdatasync)
// before an update is acknowledged; many updates share one sync (group commit).
//
// STATE_DIR holds `journal.N` files (N counting up; appends go to the newest) and, once
// compacted, `snapshot`: the net effect of every journal file up to some N, written by
// compact() and read before the newer journal files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "update/change.h"

namespace epmdns::update {

using ReplayFn = std::function<void(std::string_view apex, const ChangeSet& changes)>;

class Journal {
 public:
  // Opens STATE_DIR (creating it) and replays the snapshot and the journal files through
  // `replay`. A torn tail of the newest file (a crash mid-write) is cut off; a damaged
  // entry followed by intact ones is corruption and an error.
  static absl::StatusOr<Journal> open(const std::string& dir, const ReplayFn& replay);

  // Replays everything written so far (for a reload of the zone files).
  absl::Status replay(const ReplayFn& replay) const;

  // Queues an entry for the next sync().
  void append(std::string_view apex, const ChangeSet& changes);
  bool has_pending() const { return !pending_.empty(); }
  // Writes and syncs what is queued. On failure nothing of it stays in the file.
  absl::Status sync();

  // The same in three steps, so the write can run on another thread while new entries are
  // queued: take_pending() hands over the queued bytes and where they go; write_durably()
  // (thread-safe, one at a time) writes and syncs them, or on failure cuts the file back;
  // advance() then counts them in. Until advance(), nothing else may be written.
  struct PendingWrite {
    std::string bytes;
    uint64_t offset = 0;
  };
  PendingWrite take_pending();
  absl::Status write_durably(const PendingWrite& write) const;
  void advance(const PendingWrite& write) { size_ += write.bytes.size(); }
  // With false, sync() stops after write(): entries survive a crash of the server (the
  // kernel has them) but not of the machine. For measurement and throwaway clusters.
  void set_flush_to_disk(bool flush) { flush_to_disk_ = flush; }

  // Starts a new journal file and returns the number of the one just finished, which
  // compact() may then fold into the snapshot.
  absl::StatusOr<uint64_t> rotate();
  // Bytes in the current journal file.
  uint64_t size() const { return size_; }
  const std::string& dir() const { return dir_; }

 private:
  Journal(std::string dir, uint64_t number, UniqueFd fd, uint64_t size)
      : dir_(std::move(dir)), number_(number), fd_(std::move(fd)), size_(size) {}

  std::string dir_;
  uint64_t number_;  // of the file appended to
  UniqueFd fd_;
  uint64_t size_;
  std::string pending_;
  bool flush_to_disk_ = true;
};

// Folds the snapshot and journal files up to `through` into a new snapshot, keeping for
// every record only its last change, and dropping removals of records that `is_static`
// says the zone files do not hold and additions whose lease ended before `now`.
// Safe to run on another thread while the journal appends to a newer file.
using StaticCheck = std::function<bool(std::string_view apex, const Change& change)>;
absl::Status compact(const std::string& dir, uint64_t through, const StaticCheck& is_static, uint32_t now);

// Entry encoding, exposed for tests.
void encode_entry(std::string_view apex, const ChangeSet& changes, std::string& out);
// Decodes the entry at `data`; returns its encoded size, or 0 if it is incomplete or corrupt.
size_t decode_entry(std::string_view data, std::string& apex, ChangeSet& changes);

}  // namespace epmdns::update
