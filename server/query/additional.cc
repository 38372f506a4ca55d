#include "query/additional.h"

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::query {
namespace {

using namespace wire::rrtype;

// An RDATA target as written (any case): the zone's lookup ignores case.
const zone::Node* find_in_zone(const zone::Zone& zone, std::string_view name) {
  if (name.empty() || name.size() > wire::kMaxNameLength) return nullptr;
  return zone.find(name);
}

void add_once(Plan& plan, const zone::Node& node, uint16_t type) {
  const zone::RRset* set = node.find(type);
  if (set == nullptr || plan.answer.contains(set) || plan.additional.contains(set)) return;
  plan.additional.add(node.owner(), set);
}

void add_addresses(const zone::Zone& zone, Plan& plan, std::string_view target) {
  if (const zone::Node* node = find_in_zone(zone, target)) {
    add_once(plan, *node, A);
    add_once(plan, *node, AAAA);
  }
}

// RFC 6763 §12.2: SRV brings its targets' addresses and the TXT of its owner.
void add_for_srv(const zone::Zone& zone, Plan& plan, const zone::Node* owner, const zone::RRset& srv) {
  for (std::string_view rdata : srv) add_addresses(zone, plan, wire::rdata_target(SRV, rdata));
  if (owner) add_once(plan, *owner, TXT);
}

// RFC 6763 §12.1: PTR brings each instance's SRV and TXT, and the SRV targets' addresses.
void add_for_ptr(const zone::Zone& zone, Plan& plan, const zone::RRset& ptr) {
  for (std::string_view rdata : ptr) {
    const zone::Node* instance = find_in_zone(zone, wire::rdata_target(PTR, rdata));
    if (instance == nullptr) continue;
    add_once(plan, *instance, SRV);
    if (const zone::RRset* srv = instance->find(SRV)) add_for_srv(zone, plan, instance, *srv);
    add_once(plan, *instance, TXT);
  }
}

template <size_t N>
void add_for_section(const zone::Zone& zone, Plan& plan, const Section<N>& section) {
  for (size_t i = 0; i < section.size(); ++i) {
    const Item& item = section[i];
    switch (item.rrset->type) {
      case SRV: add_for_srv(zone, plan, find_in_zone(zone, item.owner), *item.rrset); break;
      case PTR: add_for_ptr(zone, plan, *item.rrset); break;
      case NS:
      case MX:
        for (std::string_view rdata : *item.rrset)
          add_addresses(zone, plan, wire::rdata_target(item.rrset->type, rdata));
        break;
      default: break;
    }
  }
}

}  // namespace

void add_additional(const zone::Zone& zone, Plan& plan) {
  add_for_section(zone, plan, plan.answer);
  add_for_section(zone, plan, plan.authority);
}

}  // namespace epmdns::query
