// Builds DNS messages into a caller's buffer, with name compression and rollback.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "wire/types.h"

namespace epmdns::wire {

class Writer {
 public:
  explicit Writer(std::span<uint8_t> buffer) : buf_(buffer), limit_(buffer.size()) {}

  size_t size() const { return size_; }
  size_t limit() const { return limit_; }
  // Caps how far writes may go (to keep room for an OPT record, say).
  void set_limit(size_t limit) { limit_ = limit < buf_.size() ? limit : buf_.size(); }
  std::span<const uint8_t> data() const { return buf_.first(size_); }

  bool put_u8(uint8_t v);
  bool put_u16(uint16_t v);
  bool put_u32(uint32_t v);
  bool put_bytes(std::string_view bytes);
  void patch_u16(size_t offset, uint16_t v);

  // Writes an uncompressed wire name, compressing it against names written before
  // (case-insensitively) when `compress` is set; it is remembered for later names either way.
  bool put_name(std::string_view wire, bool compress = true);

  // Forgets everything written at or after `size`.
  void rollback(size_t size);

 private:
  struct Suffix {
    uint16_t packet_offset;
    uint16_t text_offset;  // into lower_ (lower-case copy of the suffix)
    uint8_t length;
  };
  bool has_room(size_t n) const { return size_ <= limit_ && limit_ - size_ >= n; }
  int find_suffix(const char* lower, size_t length) const;
  void remember(const char* lower, size_t length, size_t written_prefix, size_t packet_offset);

  std::span<uint8_t> buf_;
  size_t size_ = 0;
  size_t limit_;
  std::array<Suffix, 96> suffixes_;  // left uninitialised: only the first suffix_count_ are read
  size_t suffix_count_ = 0;
  std::array<char, 4096> lower_;
  size_t lower_used_ = 0;
};

}  // namespace epmdns::wire
