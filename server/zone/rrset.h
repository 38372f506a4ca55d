// A set of records sharing owner, class and type, kept in wire form ready to send.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace epmdns::zone {

class RRset {
 public:
  static constexpr uint32_t kNoLease = 0;

  RRset() = default;
  RRset(uint16_t type, uint32_t ttl) : type(type), ttl(ttl) {}

  uint16_t type = 0;
  uint32_t ttl = 0;

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  std::string_view operator[](size_t i) const { return records_[i]; }
  // Unix time at which record i lapses, or kNoLease.
  uint32_t expiry(size_t i) const { return leases_.empty() ? kNoLease : leases_[i]; }
  bool has_leases() const { return !leases_.empty(); }

  // Adds a record unless an identical one is present (an RRset is a set, RFC 2181 §5);
  // either way the record's lease becomes `expiry`. Returns true if the record is new.
  bool insert(std::string_view data, uint32_t expiry = kNoLease);
  static constexpr size_t npos = static_cast<size_t>(-1);
  // Position of a record, or npos; O(1) for large sets.
  size_t find(std::string_view data) const;
  bool contains(std::string_view data) const { return find(data) != npos; }
  // Removes a record; true if it was there.
  bool erase(std::string_view data);
  // Makes `data` the only record, without a lease (for the SOA).
  void replace_all(std::string_view data);

  class Iterator {
   public:
    Iterator(const std::vector<std::string>& records, size_t pos) : records_(&records), pos_(pos) {}
    std::string_view operator*() const { return (*records_)[pos_]; }
    Iterator& operator++() {
      ++pos_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return pos_ != other.pos_; }

   private:
    const std::vector<std::string>* records_;
    size_t pos_;
  };
  Iterator begin() const { return {records_, 0}; }
  Iterator end() const { return {records_, records_.size()}; }

 private:
  // Sets larger than this get a hash index, so that registering into a cluster-wide
  // browse list of 100k nodes stays O(1).
  static constexpr size_t kIndexThreshold = 16;

  void build_index();

  std::vector<std::string> records_;
  std::vector<uint32_t> leases_;  // parallel to records_; empty while no record has a lease
  std::unique_ptr<absl::flat_hash_map<std::string, uint32_t>> index_;
};

}  // namespace epmdns::zone
