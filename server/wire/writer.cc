#include "wire/writer.h"

#include <cstring>

#include "absl/hash/hash.h"
#include "wire/name.h"

namespace epmdns::wire {

CompressionIndex::CompressionIndex() : slots_(kSlots) {}

void CompressionIndex::clear() {
  ++generation_;
  added_.clear();
  used_ = 0;
  text_.clear();
}

int CompressionIndex::find(const char* lower, size_t length) const {
  const uint32_t hash = static_cast<uint32_t>(absl::Hash<absl::string_view>{}(absl::string_view(lower, length)));
  for (size_t slot = hash & (kSlots - 1);; slot = (slot + 1) & (kSlots - 1)) {
    const Entry& e = slots_[slot];
    if (e.generation != generation_) return -1;
    if (!e.deleted && e.hash == hash && e.length == length && std::memcmp(&text_[e.text_offset], lower, length) == 0) {
      return e.packet_offset;
    }
  }
}

void CompressionIndex::add(const char* lower, size_t length, uint16_t packet_offset) {
  if (used_ >= kSlots / 2) return;  // full enough: the name is written without being remembered
  ++used_;
  const uint32_t hash = static_cast<uint32_t>(absl::Hash<absl::string_view>{}(absl::string_view(lower, length)));
  size_t slot = hash & (kSlots - 1);
  while (slots_[slot].generation == generation_) slot = (slot + 1) & (kSlots - 1);
  slots_[slot] = {generation_, hash, static_cast<uint32_t>(text_.size()), packet_offset, static_cast<uint8_t>(length),
                  false};
  text_.append(lower, length);
  added_.push_back(static_cast<uint32_t>(slot));
}

void CompressionIndex::forget_from(size_t packet_offset) {
  while (!added_.empty() && slots_[added_.back()].packet_offset >= packet_offset) {
    Entry& e = slots_[added_.back()];
    e.deleted = true;  // stays occupied, so that probes for later entries go on past it
    text_.resize(e.text_offset);
    added_.pop_back();
  }
}

bool Writer::put_u8(uint8_t v) {
  if (!has_room(1)) return false;
  buf_[size_++] = v;
  return true;
}

bool Writer::put_u16(uint16_t v) {
  if (!has_room(2)) return false;
  buf_[size_++] = static_cast<uint8_t>(v >> 8);
  buf_[size_++] = static_cast<uint8_t>(v);
  return true;
}

bool Writer::put_u32(uint32_t v) {
  if (!has_room(4)) return false;
  for (int shift = 24; shift >= 0; shift -= 8) buf_[size_++] = static_cast<uint8_t>(v >> shift);
  return true;
}

bool Writer::put_bytes(std::string_view bytes) {
  if (bytes.empty()) return true;
  if (!has_room(bytes.size())) return false;
  std::memcpy(&buf_[size_], bytes.data(), bytes.size());
  size_ += bytes.size();
  return true;
}

void Writer::patch_u16(size_t offset, uint16_t v) {
  buf_[offset] = static_cast<uint8_t>(v >> 8);
  buf_[offset + 1] = static_cast<uint8_t>(v);
}

int Writer::find_suffix(const char* lower, size_t length) const {
  if (index_ != nullptr) return index_->find(lower, length);
  for (size_t i = 0; i < suffix_count_; ++i) {
    const Suffix& s = suffixes_[i];
    if (s.length == length && std::memcmp(&lower_[s.text_offset], lower, length) == 0) return s.packet_offset;
  }
  return -1;
}

void Writer::remember(const char* lower, size_t length, size_t written_prefix, size_t packet_offset) {
  if (index_ != nullptr) {
    for (size_t pos = 0; pos < written_prefix && packet_offset + pos <= 0x3FFF;
         pos += 1 + static_cast<uint8_t>(lower[pos])) {
      index_->add(lower + pos, length - pos, static_cast<uint16_t>(packet_offset + pos));
    }
    return;
  }
  if (written_prefix == 0 || lower_used_ + length > lower_.size()) return;
  const size_t text_offset = lower_used_;
  std::memcpy(&lower_[text_offset], lower, length);
  lower_used_ += length;
  // One entry per label written literally; labels after them were compressed or are the root.
  size_t pos = 0;
  while (pos < written_prefix && suffix_count_ < suffixes_.size()) {
    if (packet_offset + pos > 0x3FFF) break;
    suffixes_[suffix_count_++] = {static_cast<uint16_t>(packet_offset + pos),
                                  static_cast<uint16_t>(text_offset + pos),
                                  static_cast<uint8_t>(length - pos)};
    pos += 1 + static_cast<uint8_t>(lower[pos]);
  }
}

bool Writer::put_name(std::string_view wire, bool compress) {
  char lower[kMaxNameLength];
  const size_t length = wire.size();
  if (length == 0 || length > kMaxNameLength) return false;
  lower_into(wire, lower);
  const size_t start = size_;
  size_t pos = 0;
  while (pos < length && lower[pos] != 0) {
    if (compress) {
      const int hit = find_suffix(lower + pos, length - pos);
      if (hit >= 0) {
        if (!put_bytes(wire.substr(0, pos)) || !put_u16(static_cast<uint16_t>(0xC000 | hit))) {
          size_ = start;
          return false;
        }
        remember(lower, length, pos, start);
        return true;
      }
    }
    pos += 1 + static_cast<uint8_t>(lower[pos]);
  }
  if (!put_bytes(wire)) {
    size_ = start;
    return false;
  }
  remember(lower, length, length - 1, start);
  return true;
}

void Writer::rollback(size_t size) {
  if (size >= size_) return;
  size_ = size;
  if (index_ != nullptr) {
    index_->forget_from(size);
    return;
  }
  while (suffix_count_ > 0 && suffixes_[suffix_count_ - 1].packet_offset >= size) {
    lower_used_ = suffixes_[suffix_count_ - 1].text_offset;
    --suffix_count_;
  }
  if (suffix_count_ == 0) lower_used_ = 0;
}

}  // namespace epmdns::wire
