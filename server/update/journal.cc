#include "update/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"

namespace epmdns::update {
namespace {

constexpr uint32_t kMagic = 0x45504a31;  // "EPJ1"
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

absl::StatusOr<Journal> Journal::open(const std::string& dir, const ReplayFn& replay) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return errno_status("cannot create", dir);
  const std::string path = dir + "/journal";
  const bool existed = ::access(path.c_str(), F_OK) == 0;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return errno_status("cannot open", path);
  if (!existed) {
    absl::Status synced = sync_directory(dir);
    if (!synced.ok()) return synced;
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno_status("cannot stat", path);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  for (size_t got = 0; got < data.size();) {
    const ssize_t n = ::pread(fd.get(), data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n <= 0) return errno_status("cannot read", path);
    got += static_cast<size_t>(n);
  }
  size_t pos = 0;
  std::string apex;
  ChangeSet changes;
  while (pos < data.size()) {
    const size_t used = decode_entry(std::string_view(data).substr(pos), apex, changes);
    if (used == 0) break;
    replay(apex, changes);
    pos += used;
  }
  if (pos < data.size()) {
    // A torn tail is only ever the last entry; intact entries after a bad one mean corruption.
    for (size_t probe = pos + 1; probe + kEntryHeader <= data.size(); ++probe) {
      if (decode_entry(std::string_view(data).substr(probe), apex, changes) != 0) {
        return absl::DataLossError(absl::StrCat(path, ": corrupt entry at offset ", pos,
                                                " followed by intact entries; refusing to drop them"));
      }
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(pos)) != 0 || ::fdatasync(fd.get()) != 0) {
      return errno_status("cannot cut the torn tail of", path);
    }
  }
  return Journal(path, std::move(fd), pos);
}

void Journal::append(std::string_view apex, const ChangeSet& changes) { encode_entry(apex, changes, pending_); }

absl::Status Journal::sync() {
  if (pending_.empty()) return absl::OkStatus();
  size_t written = 0;
  absl::Status status;
  while (written < pending_.size()) {
    const ssize_t n = ::pwrite(fd_.get(), pending_.data() + written, pending_.size() - written,
                               static_cast<off_t>(size_ + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = errno_status("cannot write", path_);
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (status.ok() && ::fdatasync(fd_.get()) != 0) status = errno_status("cannot sync", path_);
  pending_.clear();
  if (!status.ok()) {
    // Leave no partial entry behind, so later entries stay readable.
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) return status;
    return status;
  }
  size_ += written;
  return absl::OkStatus();
}

}  // namespace epmdns::update
