// The journal: an append-only, checksummed log of applied changes, made durable (fdatasync)
// before an update is acknowledged. Many updates share one sync (group commit).
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

class Journal {
 public:
  using ReplayFn = std::function<void(std::string_view apex, const ChangeSet& changes)>;

  // Opens (or creates) DIR/journal and replays every intact entry through `replay`.
  // A torn tail (a crash mid-write) is cut off; corruption before intact entries is an error.
  static absl::StatusOr<Journal> open(const std::string& dir, const ReplayFn& replay);

  // Queues an entry for the next sync().
  void append(std::string_view apex, const ChangeSet& changes);
  bool has_pending() const { return !pending_.empty(); }
  // Writes and syncs what is queued. On failure nothing of it stays in the file.
  absl::Status sync();

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  Journal(std::string path, UniqueFd fd, uint64_t size) : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  std::string path_;
  UniqueFd fd_;
  uint64_t size_;
  std::string pending_;
};

// Entry encoding, exposed for tests and the snapshot writer.
void encode_entry(std::string_view apex, const ChangeSet& changes, std::string& out);
// Decodes the entry at `data`; returns its encoded size, or 0 if it is incomplete or corrupt.
size_t decode_entry(std::string_view data, std::string& apex, ChangeSet& changes);

}  // namespace epmdns::update
