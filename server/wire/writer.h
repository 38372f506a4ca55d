// Builds DNS messages into a caller's buffer, with name compression and rollback.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wire/types.h"

namespace epmdns::wire {

// A hashed table of the name suffixes written to one message, for messages with many
// names (zone transfers). Without it a Writer keeps 96 suffixes and searches them in turn,
// which suits answers to queries. One index serves one Writer at a time.
class CompressionIndex {
 public:
  CompressionIndex();
  // Forgets every entry (O(1)).
  void clear();
  // The packet offset of the lower-case suffix, or -1.
  int find(const char* lower, size_t length) const;
  void add(const char* lower, size_t length, uint16_t packet_offset);
  // Forgets the entries at or after `packet_offset` (they were added last).
  void forget_from(size_t packet_offset);

 private:
  struct Entry {
    uint32_t generation = 0;  // an entry of an older generation is an empty slot
    uint32_t hash = 0;
    uint32_t text_offset = 0;
    uint16_t packet_offset = 0;
    uint8_t length = 0;
    bool deleted = false;
  };
  // Suffixes start at offsets below 0x4000 (a pointer has 14 bits) and take at least two
  // bytes each, so a message has at most 8192: the table stays at most half full.
  static constexpr size_t kSlots = 1 << 14;
  std::vector<Entry> slots_;
  std::vector<uint32_t> added_;  // live slots in the order they were filled
  size_t used_ = 0;              // slots filled since clear(), deleted ones included
  std::string text_;             // the suffixes' lower-case bytes
  uint32_t generation_ = 1;
};

class Writer {
 public:
  explicit Writer(std::span<uint8_t> buffer) : buf_(buffer), limit_(buffer.size()) {}
  // Compresses through `index` (cleared here) instead of the Writer's own small table.
  Writer(std::span<uint8_t> buffer, CompressionIndex* index) : buf_(buffer), limit_(buffer.size()), index_(index) {
    index_->clear();
  }

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
  // The packet offset of an earlier copy of the suffix, or -1.
  int find_suffix(const char* lower, size_t length) const;
  void remember(const char* lower, size_t length, size_t written_prefix, size_t packet_offset);

  std::span<uint8_t> buf_;
  size_t size_ = 0;
  size_t limit_;
  std::array<Suffix, 96> suffixes_;  // left uninitialised: only the first suffix_count_ are read
  size_t suffix_count_ = 0;
  std::array<char, 4096> lower_;
  size_t lower_used_ = 0;
  CompressionIndex* index_ = nullptr;
};

}  // namespace epmdns::wire
