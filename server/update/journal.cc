#include "update/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "wire/name.h"
#include "wire/types.h"

namespace epmdns::update {
namespace {

constexpr uint32_t kMagic = 0x45504a31;          // "EPJ1", before every entry
constexpr uint32_t kSnapshotMagic = 0x45505331;  // "EPS1", at the start of a snapshot
constexpr size_t kSnapshotHeader = 16;           // magic, u64 last journal folded in, CRC
constexpr size_t kEntryHeader = 12;      // magic, payload length, CRC-32C of the payload

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

// Reads fields from a payload whose integrity the CRC already vouched for; still bounds-checked.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}
  bool u8(uint8_t& v) { return take(1, [&](const uint8_t* p) { v = p[0]; }); }
  bool u16(uint16_t& v) { return take(2, [&](const uint8_t* p) { v = static_cast<uint16_t>(p[0] << 8 | p[1]); }); }
  bool u32(uint32_t& v) {
    return take(4, [&](const uint8_t* p) {
      v = uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
    });
  }
  bool bytes(size_t n, std::string& out) {
    if (data_.size() - pos_ < n) return false;
    out.assign(data_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  template <typename F>
  bool take(size_t n, F&& f) {
    if (data_.size() - pos_ < n) return false;
    f(reinterpret_cast<const uint8_t*>(data_.data() + pos_));
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

absl::Status errno_status(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", std::strerror(errno)));
}

absl::Status sync_directory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::fsync(fd.get()) != 0) return errno_status("cannot sync directory", dir);
  return absl::OkStatus();
}

}  // namespace

void encode_entry(std::string_view apex, const ChangeSet& changes, std::string& out) {
  std::string payload;
  payload.push_back(static_cast<char>(apex.size()));
  payload.append(apex);
  put32(payload, static_cast<uint32_t>(changes.size()));
  for (const Change& change : changes) {
    payload.push_back(static_cast<char>(change.op));
    payload.push_back(static_cast<char>(change.owner.size()));
    payload.append(change.owner);
    put16(payload, change.type);
    put32(payload, change.ttl);
    put32(payload, change.expiry);
    put16(payload, static_cast<uint16_t>(change.rdata.size()));
    payload.append(change.rdata);
  }
  put32(out, kMagic);
  put32(out, static_cast<uint32_t>(payload.size()));
  put32(out, crc32c(payload));
  out.append(payload);
}

size_t decode_entry(std::string_view data, std::string& apex, ChangeSet& changes) {
  Cursor header(data.substr(0, std::min(data.size(), kEntryHeader)));
  uint32_t magic, length, crc;
  if (!header.u32(magic) || !header.u32(length) || !header.u32(crc) || magic != kMagic) return 0;
  if (data.size() - kEntryHeader < length) return 0;
  const std::string_view payload = data.substr(kEntryHeader, length);
  if (crc32c(payload) != crc) return 0;
  Cursor in(payload);
  uint8_t apex_length;
  uint32_t count;
  if (!in.u8(apex_length) || !in.bytes(apex_length, apex) || !in.u32(count)) return 0;
  changes.clear();
  for (uint32_t i = 0; i < count; ++i) {
    Change change;
    uint8_t op, owner_length;
    uint16_t rdlength;
    if (!in.u8(op) || !in.u8(owner_length) || !in.bytes(owner_length, change.owner) || !in.u16(change.type) ||
        !in.u32(change.ttl) || !in.u32(change.expiry) || !in.u16(rdlength) || !in.bytes(rdlength, change.rdata)) {
      return 0;
    }
    if (op != static_cast<uint8_t>(Change::Op::kAdd) && op != static_cast<uint8_t>(Change::Op::kRemove)) return 0;
    change.op = static_cast<Change::Op>(op);
    changes.push_back(std::move(change));
  }
  return in.done() ? kEntryHeader + length : 0;
}

namespace {

std::string journal_path(const std::string& dir, uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "/journal.%010llu", static_cast<unsigned long long>(number));
  return dir + name;
}

std::string snapshot_path(const std::string& dir) { return dir + "/snapshot"; }

// Numbers of the journal files in `dir`, ascending.
std::vector<uint64_t> journal_numbers(const std::string& dir) {
  std::vector<uint64_t> numbers;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* entry = ::readdir(d)) {
      unsigned long long number;
      char tail;
      if (std::sscanf(entry->d_name, "journal.%llu%c", &number, &tail) == 1) numbers.push_back(number);
    }
    ::closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

absl::StatusOr<std::string> read_file(const std::string& path, uint64_t limit = UINT64_MAX) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_status("cannot open", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno_status("cannot stat", path);
  std::string data(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), limit), '\0');
  for (size_t got = 0; got < data.size();) {
    const ssize_t n = ::pread(fd.get(), data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n <= 0) return errno_status("cannot read", path);
    got += static_cast<size_t>(n);
  }
  return data;
}

// Replays the entries in `data`; returns how many bytes were intact. Fails if a damaged
// entry is followed by intact ones, or (with `torn_tail_ok` false) on any damage.
absl::StatusOr<size_t> replay_entries(std::string_view data, const ReplayFn& replay, bool torn_tail_ok,
                                      const std::string& path) {
  size_t pos = 0;
  std::string apex;
  ChangeSet changes;
  while (pos < data.size()) {
    const size_t used = decode_entry(data.substr(pos), apex, changes);
    if (used == 0) break;
    replay(apex, changes);
    pos += used;
  }
  if (pos == data.size()) return pos;
  if (!torn_tail_ok) return absl::DataLossError(absl::StrCat(path, ": damaged entry at offset ", pos));
  for (size_t probe = pos + 1; probe + kEntryHeader <= data.size(); ++probe) {
    if (decode_entry(data.substr(probe), apex, changes) != 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": damaged entry at offset ", pos, " followed by intact entries; refusing to drop them"));
    }
  }
  return pos;
}

// Replays the snapshot, if any; returns the number of the last journal file it covers.
absl::StatusOr<uint64_t> replay_snapshot(const std::string& dir, const ReplayFn& replay) {
  const std::string path = snapshot_path(dir);
  if (::access(path.c_str(), F_OK) != 0) return 0;
  absl::StatusOr<std::string> data = read_file(path);
  if (!data.ok()) return data.status();
  Cursor header(std::string_view(*data).substr(0, std::min(data->size(), kSnapshotHeader)));
  uint32_t magic, high, low, crc;
  if (!header.u32(magic) || !header.u32(high) || !header.u32(low) || !header.u32(crc) || magic != kSnapshotMagic ||
      crc != crc32c(std::string_view(*data).substr(0, 12))) {
    return absl::DataLossError(absl::StrCat(path, ": not an epmdnsd snapshot"));
  }
  absl::StatusOr<size_t> replayed =
      replay_entries(std::string_view(*data).substr(kSnapshotHeader), replay, false, path);
  if (!replayed.ok()) return replayed.status();
  return uint64_t{high} << 32 | low;
}

absl::StatusOr<UniqueFd> create_journal_file(const std::string& dir, uint64_t number) {
  const std::string path = journal_path(dir, number);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
  if (!fd) return errno_status("cannot create", path);
  absl::Status synced = sync_directory(dir);
  if (!synced.ok()) return synced;
  return fd;
}

}  // namespace

absl::StatusOr<Journal> Journal::open(const std::string& dir, const ReplayFn& replay) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return errno_status("cannot create", dir);
  absl::StatusOr<uint64_t> folded = replay_snapshot(dir, replay);
  if (!folded.ok()) return folded.status();
  std::vector<uint64_t> numbers;
  for (uint64_t number : journal_numbers(dir)) {
    if (number > *folded) {
      numbers.push_back(number);
    } else {
      ::unlink(journal_path(dir, number).c_str());  // left by a compaction that crashed before cleaning up
    }
  }
  if (numbers.empty()) {
    absl::StatusOr<UniqueFd> fd = create_journal_file(dir, *folded + 1);
    if (!fd.ok()) return fd.status();
    return Journal(dir, *folded + 1, std::move(*fd), 0, 0);
  }
  for (size_t i = 0; i + 1 < numbers.size(); ++i) {
    const std::string path = journal_path(dir, numbers[i]);
    absl::StatusOr<std::string> data = read_file(path);
    if (!data.ok()) return data.status();
    absl::StatusOr<size_t> replayed = replay_entries(*data, replay, false, path);
    if (!replayed.ok()) return replayed.status();
  }
  const uint64_t newest = numbers.back();
  const std::string path = journal_path(dir, newest);
  absl::StatusOr<std::string> data = read_file(path);
  if (!data.ok()) return data.status();
  absl::StatusOr<size_t> intact = replay_entries(*data, replay, true, path);
  if (!intact.ok()) return intact.status();
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return errno_status("cannot open", path);
  const std::string_view tail = std::string_view(*data).substr(*intact);
  if (tail.find_first_not_of('\0') == std::string_view::npos) {
    return Journal(dir, newest, std::move(fd), *intact, data->size());  // zeros: room prepared earlier
  }
  std::fprintf(stderr, "epmdnsd: %s: cut %zu bytes of an unfinished entry\n", path.c_str(), tail.size());
  if (::ftruncate(fd.get(), static_cast<off_t>(*intact)) != 0 || ::fdatasync(fd.get()) != 0) {
    return errno_status("cannot cut the torn tail of", path);
  }
  return Journal(dir, newest, std::move(fd), *intact, *intact);
}

absl::Status Journal::replay(const ReplayFn& replay) const {
  absl::StatusOr<uint64_t> folded = replay_snapshot(dir_, replay);
  if (!folded.ok()) return folded.status();
  for (uint64_t number : journal_numbers(dir_)) {
    if (number <= *folded || number > number_) continue;
    const std::string path = journal_path(dir_, number);
    absl::StatusOr<std::string> data = read_file(path, number == number_ ? written_ : UINT64_MAX);
    if (!data.ok()) return data.status();
    absl::StatusOr<size_t> replayed = replay_entries(*data, replay, false, path);
    if (!replayed.ok()) return replayed.status();
  }
  return absl::OkStatus();
}

absl::Status Journal::append(std::string_view apex, const ChangeSet& changes) {
  scratch_.clear();
  encode_entry(apex, changes, scratch_);
  const uint64_t end = written_ + scratch_.size();
  if (end > prepared_ && flush_to_disk_) prepare(end);
  for (size_t done = 0; done < scratch_.size();) {
    const ssize_t n = ::pwrite(fd_.get(), scratch_.data() + done, scratch_.size() - done,
                               static_cast<off_t>(written_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status status = errno_status("cannot write", journal_path(dir_, number_));
      // Leave no partial entry behind, so later entries stay readable.
      if (written_ < prepared_) {
        static const char kZeros[512] = {};
        for (size_t z = 0; z < done; z += sizeof kZeros) {
          (void)::pwrite(fd_.get(), kZeros, std::min(sizeof kZeros, done - z), static_cast<off_t>(written_ + z));
        }
      } else {
        (void)::ftruncate(fd_.get(), static_cast<off_t>(written_));
      }
      return status;
    }
    done += static_cast<size_t>(n);
  }
  written_ = end;
  prepared_ = std::max(prepared_, end);
  return absl::OkStatus();
}

void Journal::prepare(uint64_t end) {
  static const char kZeros[64 << 10] = {};
  const uint64_t target = (end / kPreallocation + 1) * kPreallocation;
  for (uint64_t at = prepared_; at < target;) {
    const ssize_t n = ::pwrite(fd_.get(), kZeros, std::min<uint64_t>(sizeof kZeros, target - at), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      (void)::ftruncate(fd_.get(), static_cast<off_t>(prepared_));
      return;
    }
    at += static_cast<uint64_t>(n);
  }
  prepared_ = target;
}

absl::Status Journal::sync_file() const {
  if (!flush_to_disk_ || ::fdatasync(fd_.get()) == 0) return absl::OkStatus();
  return errno_status("cannot sync", journal_path(dir_, number_));
}

void Journal::cut(uint64_t begin) {
  // After a failed sync the kernel's copy cannot be trusted either: drop it all.
  (void)::ftruncate(fd_.get(), static_cast<off_t>(begin));
  written_ = prepared_ = begin;
  size_ = std::min(size_, begin);
}

absl::Status Journal::sync() {
  const Range range = unsynced();
  if (range.begin == range.end) return absl::OkStatus();
  absl::Status status = sync_file();
  if (status.ok()) {
    synced(range.end);
  } else {
    cut(range.begin);
  }
  return status;
}

absl::StatusOr<uint64_t> Journal::rotate() {
  absl::Status synced = sync();
  if (!synced.ok()) return synced;
  // A finished file holds entries only: compaction and replay read it to its end.
  if (prepared_ > size_) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0 || ::fdatasync(fd_.get()) != 0) {
      return errno_status("cannot cut the prepared space of", journal_path(dir_, number_));
    }
  }
  absl::StatusOr<UniqueFd> fd = create_journal_file(dir_, number_ + 1);
  if (!fd.ok()) return fd.status();
  fd_ = std::move(*fd);
  size_ = written_ = prepared_ = 0;
  return number_++;
}

absl::Status compact(const std::string& dir, uint64_t through, const StaticCheck& is_static, uint32_t now) {
  // The last change of every record; SOAs are keyed without their data (one per zone).
  std::map<std::string, std::pair<std::string, Change>> last;
  const ReplayFn squash = [&](std::string_view apex, const ChangeSet& changes) {
    for (const Change& change : changes) {
      std::string key(apex);
      key.push_back('\0');
      key += wire::lower_copy(change.owner);
      key.push_back(static_cast<char>(change.type >> 8));
      key.push_back(static_cast<char>(change.type));
      if (change.type != wire::rrtype::SOA) key += change.rdata;
      if (change.type == wire::rrtype::SOA && change.op == Change::Op::kRemove) continue;
      last[key] = {std::string(apex), change};
    }
  };
  absl::StatusOr<uint64_t> folded = replay_snapshot(dir, squash);
  if (!folded.ok()) return folded.status();
  for (uint64_t number : journal_numbers(dir)) {
    if (number <= *folded || number > through) continue;
    const std::string path = journal_path(dir, number);
    absl::StatusOr<std::string> data = read_file(path);
    if (!data.ok()) return data.status();
    absl::StatusOr<size_t> replayed = replay_entries(*data, squash, false, path);
    if (!replayed.ok()) return replayed.status();
  }
  std::map<std::string, ChangeSet> by_zone;
  for (auto& [key, entry] : last) {
    auto& [apex, change] = entry;
    if (change.op == Change::Op::kAdd && change.expiry != 0 && change.expiry <= now) change.op = Change::Op::kRemove;
    if (change.op == Change::Op::kRemove && !is_static(apex, change)) continue;
    by_zone[apex].push_back(std::move(change));
  }
  std::string out;
  put32(out, kSnapshotMagic);
  put32(out, static_cast<uint32_t>(through >> 32));
  put32(out, static_cast<uint32_t>(through));
  put32(out, crc32c(out));
  for (const auto& [apex, changes] : by_zone) encode_entry(apex, changes, out);

  const std::string tmp = snapshot_path(dir) + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd) return errno_status("cannot create", tmp);
  for (size_t written = 0; written < out.size();) {
    const ssize_t n = ::write(fd.get(), out.data() + written, out.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_status("cannot write", tmp);
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd.get()) != 0) return errno_status("cannot sync", tmp);
  if (::rename(tmp.c_str(), snapshot_path(dir).c_str()) != 0) return errno_status("cannot rename", tmp);
  absl::Status synced = sync_directory(dir);
  if (!synced.ok()) return synced;
  for (uint64_t number : journal_numbers(dir)) {
    if (number <= through) ::unlink(journal_path(dir, number).c_str());
  }
  return absl::OkStatus();
}

}  // namespace epmdns::update
