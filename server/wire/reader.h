// The one place where untrusted packet bytes are bounds-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace epmdns::wire {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  // A reader over a whole DNS message: compression pointers into its 12-byte header are refused.
  static Reader message(std::span<const uint8_t> data) {
    Reader reader(data);
    reader.lowest_pointer_ = 12;
    return reader;
  }
  // The smallest offset a compression pointer may point to.
  size_t lowest_pointer() const { return lowest_pointer_; }

  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  std::span<const uint8_t> data() const { return data_; }

  bool seek(size_t pos) {
    if (pos > data_.size()) return false;
    pos_ = pos;
    return true;
  }
  bool skip(size_t n) {
    if (n > remaining()) return false;
    pos_ += n;
    return true;
  }
  bool u8(uint8_t& v) {
    if (remaining() < 1) return false;
    v = data_[pos_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (remaining() < 2) return false;
    v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (remaining() < 4) return false;
    v = uint32_t{data_[pos_]} << 24 | uint32_t{data_[pos_ + 1]} << 16 |
        uint32_t{data_[pos_ + 2]} << 8 | uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return true;
  }
  // Points `out` at the next n bytes and advances past them.
  bool bytes(size_t n, std::span<const uint8_t>& out) {
    if (n > remaining()) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  size_t lowest_pointer_ = 0;
};

}  // namespace epmdns::wire
