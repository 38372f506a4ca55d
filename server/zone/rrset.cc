#include "zone/rrset.h"

#include <algorithm>
#include <vector>

namespace epmdns::zone {

void RRset::add(std::string_view data) {
  rdata.push_back(static_cast<char>(data.size() >> 8));
  rdata.push_back(static_cast<char>(data.size() & 0xFF));
  rdata.append(data);
  ++count;
}

void RRset::normalize() {
  std::vector<std::string_view> records;
  records.reserve(count);
  for (std::string_view record : *this) records.push_back(record);
  std::sort(records.begin(), records.end());
  records.erase(std::unique(records.begin(), records.end()), records.end());
  if (records.size() == count) return;
  RRset unique;
  for (std::string_view record : records) unique.add(record);
  rdata = std::move(unique.rdata);
  count = unique.count;
}

}  // namespace epmdns::zone
