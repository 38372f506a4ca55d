// Domain names in uncompressed wire form with precomputed label offsets.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "wire/reader.h"

namespace epmdns::wire {

inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr size_t kMaxLabels = 128;

class Name {
 public:
  Name() = default;

  // Builds a name from trusted, uncompressed wire bytes; false if malformed.
  bool assign_wire(std::string_view wire);
  // Parses presentation format ("a.b.c." or relative to origin), with \. and \DDD escapes.
  bool assign_text(std::string_view text, const Name* origin = nullptr);

  std::string_view wire() const { return {reinterpret_cast<const char*>(wire_.data()), length_}; }
  size_t length() const { return length_; }
  size_t label_count() const { return label_count_; }  // the root label is not counted
  // Wire form of the name with its first `skip` labels removed.
  std::string_view suffix(size_t skip) const {
    return wire().substr(skip < label_count_ ? label_offsets_[skip] : length_ - 1);
  }
  std::string_view label(size_t i) const {
    const size_t off = label_offsets_[i];
    return wire().substr(off + 1, wire_[off]);
  }
  bool is_root() const { return label_count_ == 0; }

  void to_lower();
  std::string to_text() const;

  friend bool operator==(const Name& a, const Name& b) { return a.wire() == b.wire(); }

 private:
  friend bool read_name(Reader& reader, Name& out);
  bool index_labels();

  std::array<uint8_t, kMaxNameLength> wire_;  // only the first length_ bytes are meaningful
  std::array<uint8_t, kMaxLabels> label_offsets_;
  uint8_t length_ = 0;
  uint8_t label_count_ = 0;
};

// Reads a possibly compressed name at the reader's position and advances past it.
// Compression pointers must point strictly backwards; loops, forward pointers,
// long labels and names over 255 bytes are rejected.
bool read_name(Reader& reader, Name& out);

// Length of the uncompressed wire name at the start of `wire`, or 0 if malformed.
size_t wire_name_length(std::string_view wire);

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
// The eight bytes of `word` with A-Z made a-z and nothing else changed.
inline uint64_t ascii_lower_word(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t low7 = word & (0x7F * kOnes);
  const uint64_t above_z = low7 + (0x7F - 'Z') * kOnes;  // top bit set where a byte > 'Z'
  const uint64_t from_a = low7 + (0x80 - 'A') * kOnes;   // top bit set where a byte >= 'A'
  const uint64_t upper = ~word & (from_a ^ above_z) & (0x80 * kOnes);
  return word | (upper >> 2);
}
void lower_into(std::string_view in, char* out);
// A lower-case copy of a wire name (or any bytes).
std::string lower_copy(std::string_view in);
bool equal_ignore_case(std::string_view a, std::string_view b);
// True if `name` equals `zone` or lies below it (both lower-case wire).
bool is_subdomain(std::string_view name, std::string_view zone);
std::string wire_to_text(std::string_view wire);

}  // namespace epmdns::wire
