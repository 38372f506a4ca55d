// The journal: append-only, checksummed logs of applied changes, made durable (fdatasync)
// before an update is acknowledged; many updates share one sync (group commit).
//
// STATE_DIR holds `journal.N` files (N counting up; appends go to the newest) and, once
// compacted, `snapshot`: the net effect of every journal file up to some N, written by
// compact() and read before the newer journal files.
//
// The newest file is zero-filled ahead of the entries (kPreallocation at a time), so that
// syncing an entry writes only its data, not the file's size as well. Zeros after the last
// entry are free space, not damage; a finished file is cut to its entries.
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

  // Writes an entry to the file (the kernel has it: it survives a crash of the server, but
  // not of the machine until synced). On failure the file is as it was.
  absl::Status append(std::string_view apex, const ChangeSet& changes);
  // Syncs what was appended. On failure the unsynced entries are cut off the file.
  absl::Status sync();

  // The same sync in steps, so that it can run on another thread while entries are
  // appended: `unsynced()` names the bytes written since the last sync; sync_file() (any
  // thread) syncs at least those; then synced(end) records success, or cut(begin) drops
  // everything from `begin` on (only once no append is running).
  struct Range {
    uint64_t begin = 0, end = 0;
  };
  Range unsynced() const { return {size_, written_}; }
  absl::Status sync_file() const;
  void synced(uint64_t end) { size_ = std::max(size_, end); }
  void cut(uint64_t begin);
  // With false, sync() stops after write(): entries survive a crash of the server (the
  // kernel has them) but not of the machine. For measurement and throwaway clusters.
  void set_flush_to_disk(bool flush) { flush_to_disk_ = flush; }

  // Starts a new journal file and returns the number of the one just finished, which
  // compact() may then fold into the snapshot.
  absl::StatusOr<uint64_t> rotate();
  // Bytes of synced entries in the current journal file.
  uint64_t size() const { return size_; }
  const std::string& dir() const { return dir_; }

 private:
  Journal(std::string dir, uint64_t number, UniqueFd fd, uint64_t size, uint64_t prepared)
      : dir_(std::move(dir)), number_(number), fd_(std::move(fd)), size_(size), written_(size), prepared_(prepared) {}
  // Zero-fills the file up to past `end` (not synced: the entry's sync covers it). On
  // failure the file is left as it was and entries simply extend it.
  void prepare(uint64_t end);

  std::string dir_;
  uint64_t number_;  // of the file appended to
  UniqueFd fd_;
  uint64_t size_;       // synced entries
  uint64_t written_;    // entries written, synced or not
  uint64_t prepared_;   // length of the file: entries, then zeros
  std::string scratch_;
  bool flush_to_disk_ = true;
};

// Folds the snapshot and journal files up to `through` into a new snapshot, keeping for
// every record only its last change, and dropping removals of records that `is_static`
// says the zone files do not hold and additions whose lease ended before `now`.
// Safe to run on another thread while the journal appends to a newer file.
using StaticCheck = std::function<bool(std::string_view apex, const Change& change)>;
absl::Status compact(const std::string& dir, uint64_t through, const StaticCheck& is_static, uint32_t now);

// Bytes zero-filled ahead of the entries at a time.
inline constexpr uint64_t kPreallocation = 4 << 20;

// Entry encoding, exposed for tests.
void encode_entry(std::string_view apex, const ChangeSet& changes, std::string& out);
// Decodes the entry at `data`; returns its encoded size, or 0 if it is incomplete or corrupt.
size_t decode_entry(std::string_view data, std::string& apex, ChangeSet& changes);

}  // namespace epmdns::update
