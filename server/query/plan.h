// What an answer will hold, as references into the zone, before it is encoded.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "zone/rrset.h"

namespace epmdns::query {

struct Item {
  std::string_view owner;  // wire form, written with compression
  const zone::RRset* rrset;
  uint32_t ttl;
};

template <size_t N>
class Section {
 public:
  bool add(std::string_view owner, const zone::RRset* rrset) { return add(owner, rrset, rrset->ttl); }
  bool add(std::string_view owner, const zone::RRset* rrset, uint32_t ttl) {
    if (count_ == N) return false;
    items_[count_++] = {owner, rrset, ttl};
    return true;
  }
  bool contains(const zone::RRset* rrset) const {
    for (size_t i = 0; i < count_; ++i)
      if (items_[i].rrset == rrset) return true;
    return false;
  }
  size_t size() const { return count_; }
  const Item& operator[](size_t i) const { return items_[i]; }

 private:
  std::array<Item, N> items_;
  size_t count_ = 0;
};

struct Plan {
  uint16_t rcode = 0;
  bool authoritative = false;
  Section<64> answer;
  Section<8> authority;
  Section<128> additional;
};

}  // namespace epmdns::query
