#include "zone/rrset.h"

namespace epmdns::zone {
namespace {

absl::string_view key(std::string_view data) { return {data.data(), data.size()}; }

}  // namespace

size_t RRset::find(std::string_view data) const {
  if (index_) {
    auto it = index_->find(key(data));
    return it == index_->end() ? npos : it->second;
  }
  for (size_t i = 0; i < records_.size(); ++i) {
    if (records_[i] == data) return i;
  }
  return npos;
}

void RRset::build_index() {
  index_ = std::make_unique<absl::flat_hash_map<std::string, uint32_t>>();
  index_->reserve(records_.size() * 2);
  for (size_t i = 0; i < records_.size(); ++i) index_->emplace(records_[i], static_cast<uint32_t>(i));
}

bool RRset::insert(std::string_view data, uint32_t expiry) {
  size_t pos = find(data);
  const bool added = pos == npos;
  if (added) {
    pos = records_.size();
    records_.emplace_back(data);
    if (!leases_.empty()) leases_.push_back(kNoLease);
    if (index_) {
      index_->emplace(records_.back(), static_cast<uint32_t>(pos));
    } else if (records_.size() > kIndexThreshold) {
      build_index();
    }
  }
  if (expiry != kNoLease && leases_.empty()) leases_.assign(records_.size(), kNoLease);
  if (!leases_.empty()) leases_[pos] = expiry;
  return added;
}

bool RRset::erase(std::string_view data) {
  const size_t pos = find(data);
  if (pos == npos) return false;
  const size_t last = records_.size() - 1;
  if (index_) index_->erase(key(data));
  if (pos != last) {
    records_[pos] = std::move(records_[last]);
    if (!leases_.empty()) leases_[pos] = leases_[last];
    if (index_) (*index_)[records_[pos]] = static_cast<uint32_t>(pos);
  }
  records_.pop_back();
  if (!leases_.empty()) leases_.pop_back();
  return true;
}

void RRset::replace_all(std::string_view data) {
  records_.assign(1, std::string(data));
  leases_.clear();
  index_.reset();
}

}  // namespace epmdns::zone
