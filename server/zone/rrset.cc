#include "zone/rrset.h"

namespace epmdns::zone {

void RRset::add(std::string_view data) {
  for (std::string_view existing : *this) {
    if (existing == data) return;
  }
  rdata.push_back(static_cast<char>(data.size() >> 8));
  rdata.push_back(static_cast<char>(data.size() & 0xFF));
  rdata.append(data);
  ++count;
}

}  // namespace epmdns::zone
