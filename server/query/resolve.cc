#include "query/resolve.h"

#include <cstring>

#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::query {
namespace {

using wire::rrtype::ANY;
using wire::rrtype::CNAME;
using wire::rrtype::DS;
using wire::rrtype::NS;
using wire::rrtype::SOA;

constexpr int kMaxCnameHops = 16;

// The highest zone cut at or above `name`, if any. DS at a cut belongs to the parent side.
const zone::Node* find_cut(const zone::Zone& zone, const wire::Name& name, uint16_t qtype) {
  if (!zone.has_delegations()) return nullptr;
  const size_t below_apex = name.label_count() - zone.apex_labels();
  for (size_t depth = 1; depth <= below_apex; ++depth) {
    const size_t skip = below_apex - depth;
    const zone::Node* node = zone.find(name.suffix(skip));
    if (node == nullptr) return nullptr;
    if (node->delegation && !(skip == 0 && qtype == DS)) return node;
  }
  return nullptr;
}

// The wildcard that covers a name absent from the zone (RFC 4592 §3.3.1), or null.
const zone::Node* find_wildcard(const zone::Zone& zone, const wire::Name& name) {
  const size_t below_apex = name.label_count() - zone.apex_labels();
  for (size_t skip = 1; skip <= below_apex; ++skip) {
    const std::string_view encloser = name.suffix(skip);
    if (zone.find(encloser) == nullptr) continue;
    char wildcard[wire::kMaxNameLength + 2] = {1, '*'};
    std::memcpy(wildcard + 2, encloser.data(), encloser.size());
    return zone.find(std::string_view(wildcard, encloser.size() + 2));
  }
  return nullptr;
}

void add_negative_soa(const zone::Zone& zone, Plan& plan) {
  const zone::Node* apex = zone.apex_node();
  const zone::RRset* soa = apex->find(SOA);
  const uint32_t minimum = wire::soa_minimum(*soa->begin());
  plan.authority.add(apex->owner(), soa, soa->ttl < minimum ? soa->ttl : minimum);
}

void refer(const zone::Node& cut, Plan& plan) {
  // AA speaks for the question's name: a CNAME we own leading into a cut keeps it.
  if (plan.answer.size() == 0) plan.authoritative = false;
  plan.authority.add(cut.owner(), cut.find(NS));
}

void answer_any(const zone::Zone& zone, const zone::Node& node, std::string_view owner, bool minimal,
                Plan& plan) {
  if (node.rrsets.empty()) return add_negative_soa(zone, plan);
  for (const zone::RRset& set : node.rrsets) {
    plan.answer.add(owner, &set);
    if (minimal) return;
  }
}

}  // namespace

void resolve(const zone::Zone& zone, const wire::Name& qname, uint16_t qtype, bool minimal_any, Plan& plan) {
  wire::Name lower = qname;
  lower.to_lower();
  resolve(zone, qname, lower, qtype, minimal_any, plan);
}

void resolve(const zone::Zone& zone, const wire::Name& qname, const wire::Name& lower_qname, uint16_t qtype,
             bool minimal_any, Plan& plan) {
  plan.authoritative = true;
  wire::Name target = lower_qname;
  std::string_view owner = qname.wire();
  for (int hop = 0; hop < kMaxCnameHops; ++hop) {
    if (const zone::Node* cut = find_cut(zone, target, qtype)) return refer(*cut, plan);
    const zone::Node* node = zone.find(target.wire());
    if (node == nullptr) node = find_wildcard(zone, target);
    if (node == nullptr) {
      plan.rcode = wire::rcode::NXDOMAIN;
      return add_negative_soa(zone, plan);
    }
    if (qtype == ANY) return answer_any(zone, *node, owner, minimal_any, plan);
    if (const zone::RRset* match = node->find(qtype)) {
      plan.answer.add(owner, match);
      return;
    }
    const zone::RRset* cname = node->find(CNAME);
    if (cname == nullptr) return add_negative_soa(zone, plan);
    if (plan.answer.contains(cname)) return;  // a CNAME loop
    plan.answer.add(owner, cname);
    owner = wire::rdata_target(CNAME, *cname->begin());
    if (!target.assign_wire(owner)) return;
    target.to_lower();
    if (!wire::is_subdomain(target.wire(), zone.apex())) return;  // the chain leaves the zone
  }
}

}  // namespace epmdns::query
