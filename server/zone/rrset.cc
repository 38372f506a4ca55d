#include "zone/rrset.h"

#include <cstring>

#include "absl/hash/hash.h"

namespace epmdns::zone {

size_t RRset::RecordHash::operator()(std::string_view data) const {
  return absl::Hash<absl::string_view>{}(absl::string_view(data.data(), data.size()));
}

// --- small sets, packed

size_t RRset::packed_offset(size_t i) const {
  size_t offset = 0;
  for (; i > 0; --i) offset += kRecordHeader + packed_data(offset).size();
  return offset;
}

std::string_view RRset::packed_data(size_t offset) const {
  const size_t length = static_cast<uint8_t>(packed_[offset + 4]) << 8 | static_cast<uint8_t>(packed_[offset + 5]);
  return std::string_view(packed_).substr(offset + kRecordHeader, length);
}

uint32_t RRset::packed_expiry(size_t offset) const {
  uint32_t expiry;
  std::memcpy(&expiry, packed_.data() + offset, 4);
  return expiry;
}

void RRset::set_packed_expiry(size_t offset, uint32_t expiry) { std::memcpy(packed_.data() + offset, &expiry, 4); }

size_t RRset::packed_find(std::string_view data) const {
  for (size_t offset = 0; offset < packed_.size();) {
    const std::string_view record = packed_data(offset);
    if (record == data) return offset;
    offset += kRecordHeader + record.size();
  }
  return npos;
}

// --- large sets, indexed

void RRset::make_large() {
  auto large = std::make_unique<Large>();
  large->records.reserve(count_ + 1u);
  if (leased_) large->leases.reserve(count_ + 1u);
  for (size_t offset = 0; offset < packed_.size();) {
    const std::string_view record = packed_data(offset);
    large->records.emplace_back(record);
    if (leased_) large->leases.push_back(packed_expiry(offset));
    offset += kRecordHeader + record.size();
  }
  large->index.reserve(large->records.size() * 2);
  for (size_t i = 0; i < large->records.size(); ++i) large->index.insert(static_cast<uint32_t>(i));
  large_ = std::move(large);
  packed_.clear();
  packed_.shrink_to_fit();
  count_ = 0;
}

bool RRset::large_insert(std::string_view data, uint32_t expiry) {
  Large& l = *large_;
  auto it = l.index.find(data);
  const bool added = it == l.index.end();
  size_t pos;
  if (added) {
    pos = l.records.size();
    l.records.emplace_back(data);
    l.index.insert(static_cast<uint32_t>(pos));
    if (!l.leases.empty()) l.leases.push_back(kNoLease);
  } else {
    pos = *it;
  }
  if (expiry != kNoLease && l.leases.empty()) l.leases.assign(l.records.size(), kNoLease);
  if (!l.leases.empty()) l.leases[pos] = expiry;
  return added;
}

bool RRset::large_erase(std::string_view data) {
  Large& l = *large_;
  auto it = l.index.find(data);
  if (it == l.index.end()) return false;
  const size_t pos = *it, last = l.records.size() - 1;
  l.index.erase(it);
  if (pos != last) {
    l.index.erase(static_cast<uint32_t>(last));  // hashed by its record: before the move
    l.records[pos] = std::move(l.records[last]);
    if (!l.leases.empty()) l.leases[pos] = l.leases[last];
    l.index.insert(static_cast<uint32_t>(pos));
  }
  l.records.pop_back();
  if (!l.leases.empty()) l.leases.pop_back();
  return true;
}

// --- either

std::string_view RRset::operator[](size_t i) const {
  return large_ ? std::string_view(large_->records[i]) : packed_data(packed_offset(i));
}

uint32_t RRset::expiry(size_t i) const {
  if (large_) return large_->leases.empty() ? kNoLease : large_->leases[i];
  return packed_expiry(packed_offset(i));
}

size_t RRset::find(std::string_view data) const {
  if (large_) {
    auto it = large_->index.find(data);
    return it == large_->index.end() ? npos : *it;
  }
  size_t i = 0;
  for (size_t offset = 0; offset < packed_.size(); ++i) {
    const std::string_view record = packed_data(offset);
    if (record == data) return i;
    offset += kRecordHeader + record.size();
  }
  return npos;
}

bool RRset::insert(std::string_view data, uint32_t expiry) {
  if (expiry != kNoLease) leased_ = true;
  if (large_) return large_insert(data, expiry);
  if (const size_t offset = packed_find(data); offset != npos) {
    set_packed_expiry(offset, expiry);
    return false;
  }
  if (count_ + 1u > kIndexThreshold) {
    make_large();
    return large_insert(data, expiry);
  }
  char header[kRecordHeader];
  std::memcpy(header, &expiry, 4);
  header[4] = static_cast<char>(data.size() >> 8);
  header[5] = static_cast<char>(data.size());
  packed_.append(header, kRecordHeader);
  packed_.append(data);
  ++count_;
  return true;
}

bool RRset::erase(std::string_view data) {
  if (large_) return large_erase(data);
  const size_t offset = packed_find(data);
  if (offset == npos) return false;
  packed_.erase(offset, kRecordHeader + data.size());
  --count_;
  return true;
}

void RRset::replace_all(std::string_view data) {
  large_.reset();
  packed_.clear();
  count_ = 0;
  leased_ = false;
  insert(data, kNoLease);
}

std::string_view RRset::Iterator::operator*() const {
  return set_->large_ ? std::string_view(set_->large_->records[pos_]) : set_->packed_data(offset_);
}

RRset::Iterator& RRset::Iterator::operator++() {
  if (!set_->large_) offset_ += kRecordHeader + set_->packed_data(offset_).size();
  ++pos_;
  return *this;
}

}  // namespace epmdns::zone
