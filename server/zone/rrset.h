// A set of records sharing owner, class and type, kept in wire form ready to send.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace epmdns::zone {

class RRset {
 public:
  static constexpr uint32_t kNoLease = 0;

  RRset() = default;
  RRset(uint16_t type, uint32_t ttl) : type(type), ttl(ttl) {}

  uint16_t type = 0;
  uint32_t ttl = 0;

  size_t size() const { return large_ ? large_->records.size() : count_; }
  bool empty() const { return size() == 0; }
  std::string_view operator[](size_t i) const;
  // Unix time at which record i lapses, or kNoLease.
  uint32_t expiry(size_t i) const;
  // False only if no record has ever had a lease.
  bool has_leases() const { return leased_; }

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
    Iterator(const RRset& set, size_t pos, size_t offset) : set_(&set), pos_(pos), offset_(offset) {}
    std::string_view operator*() const;
    Iterator& operator++();
    bool operator!=(const Iterator& other) const { return pos_ != other.pos_; }

   private:
    const RRset* set_;
    size_t pos_;
    size_t offset_;  // into packed_, for small sets
  };
  Iterator begin() const { return {*this, 0, 0}; }
  Iterator end() const { return {*this, size(), packed_.size()}; }

 private:
  // Sets larger than this move to `large_`, with a hash index, so that registering into a
  // cluster-wide browse list of 100k nodes stays O(1).
  static constexpr size_t kIndexThreshold = 16;
  // A small set's records, one after another in `packed_`: u32 expiry, u16 length, data.
  static constexpr size_t kRecordHeader = 6;
  // The index holds positions in `records`, hashed and compared by the record they point
  // at, so no record is stored twice. Large is never moved: the index points into it.
  struct RecordHash {
    using is_transparent = void;
    const std::vector<std::string>* records;
    size_t operator()(std::string_view data) const;
    size_t operator()(uint32_t pos) const { return (*this)(std::string_view((*records)[pos])); }
  };
  struct RecordEq {
    using is_transparent = void;
    const std::vector<std::string>* records;
    std::string_view view(std::string_view data) const { return data; }
    std::string_view view(uint32_t pos) const { return (*records)[pos]; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return view(a) == view(b);
    }
  };
  struct Large {
    Large() : index(0, RecordHash{&records}, RecordEq{&records}) {}
    Large(const Large&) = delete;
    Large& operator=(const Large&) = delete;
    std::vector<std::string> records;
    std::vector<uint32_t> leases;  // parallel to records; empty while no record has a lease
    absl::flat_hash_set<uint32_t, RecordHash, RecordEq> index;
  };

  size_t packed_offset(size_t i) const;      // of record i (small sets)
  size_t packed_find(std::string_view data) const;  // offset, or npos
  std::string_view packed_data(size_t offset) const;
  uint32_t packed_expiry(size_t offset) const;
  void set_packed_expiry(size_t offset, uint32_t expiry);
  void make_large();
  bool large_insert(std::string_view data, uint32_t expiry);
  bool large_erase(std::string_view data);

  uint16_t count_ = 0;   // records in packed_
  bool leased_ = false;  // some record has, or had, a lease
  std::string packed_;   // most sets hold one short record: no allocation
  std::unique_ptr<Large> large_;
};

}  // namespace epmdns::zone
