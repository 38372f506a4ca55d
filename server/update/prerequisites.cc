#include "update/prerequisites.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "wire/types.h"

namespace epmdns::update {
namespace {

using namespace wire;

bool name_in_use(const zone::Node* node) { return node != nullptr && !node->rrsets.empty(); }

// RFC 2136 §3.2.3: the RRsets named with zone class must exist exactly as given.
uint16_t check_value_dependent(const zone::Zone& zone, std::vector<std::pair<std::string, const Record*>>& entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->type < b.second->type;
  });
  for (size_t start = 0; start < entries.size();) {
    size_t end = start;
    const uint16_t type = entries[start].second->type;
    while (end < entries.size() && entries[end].first == entries[start].first && entries[end].second->type == type) {
      ++end;
    }
    const zone::Node* node = zone.find(entries[start].first);
    const zone::RRset* set = node ? node->find(type) : nullptr;
    if (set == nullptr) return rcode::NXRRSET;
    std::vector<std::string_view> wanted;
    for (size_t i = start; i < end; ++i) wanted.push_back(entries[i].second->rdata);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (wanted.size() != set->size()) return rcode::NXRRSET;
    for (std::string_view data : wanted) {
      if (!set->contains(data)) return rcode::NXRRSET;
    }
    start = end;
  }
  return rcode::NOERROR;
}

}  // namespace

uint16_t check_prerequisites(const zone::Zone& zone, const Request& request) {
  std::vector<std::pair<std::string, const Record*>> value_dependent;
  for (const Record& record : request.prerequisites) {
    const std::string& owner = record.lower_owner;
    if (record.ttl != 0) return rcode::FORMERR;
    if (!is_subdomain(owner, zone.apex())) return rcode::NOTZONE;
    const zone::Node* node = zone.find(owner);
    if (record.rrclass == rrclass::ANY || record.rrclass == rrclass::NONE) {
      if (!record.rdata.empty()) return rcode::FORMERR;
      const bool must_exist = record.rrclass == rrclass::ANY;
      const bool exists = record.type == rrtype::ANY ? name_in_use(node) : node && node->find(record.type);
      if (exists != must_exist) {
        if (record.type == rrtype::ANY) return must_exist ? rcode::NXDOMAIN : rcode::YXDOMAIN;
        return must_exist ? rcode::NXRRSET : rcode::YXRRSET;
      }
    } else if (record.rrclass == request.zone_class) {
      if (record.type == rrtype::ANY) return rcode::FORMERR;
      value_dependent.emplace_back(owner, &record);
    } else {
      return rcode::FORMERR;
    }
  }
  return check_value_dependent(zone, value_dependent);
}

}  // namespace epmdns::update
