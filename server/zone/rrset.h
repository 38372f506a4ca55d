// A set of records sharing owner, class and type, kept in wire form ready to send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace epmdns::zone {

struct RRset {
  uint16_t type = 0;
  uint32_t ttl = 0;
  uint32_t count = 0;
  std::string rdata;  // `count` entries of [u16 length][data], in wire order

  // Appends one record's data; call normalize() once all are in.
  void add(std::string_view data);
  // Sorts the records and drops duplicates (an RRset is a set, RFC 2181 §5).
  void normalize();

  class Iterator {
   public:
    Iterator(const std::string& rdata, size_t pos) : rdata_(&rdata), pos_(pos) {}
    std::string_view operator*() const {
      return std::string_view(*rdata_).substr(pos_ + 2, length());
    }
    Iterator& operator++() {
      pos_ += 2 + length();
      return *this;
    }
    bool operator!=(const Iterator& other) const { return pos_ != other.pos_; }

   private:
    size_t length() const {
      return static_cast<uint8_t>((*rdata_)[pos_]) << 8 | static_cast<uint8_t>((*rdata_)[pos_ + 1]);
    }
    const std::string* rdata_;
    size_t pos_;
  };
  Iterator begin() const { return {rdata, 0}; }
  Iterator end() const { return {rdata, rdata.size()}; }
};

}  // namespace epmdns::zone
