#include "update/apply.h"

#include <algorithm>

#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::update {
namespace {

using namespace wire;

bool is_meta_type(uint16_t type) {
  return type == rrtype::OPT || type == rrtype::TSIG || type == rrtype::TKEY || type >= rrtype::IXFR;
}

// Records `change` and applies it.
void commit(zone::Zone& zone, Change change, ChangeSet& changes) {
  apply_change(zone, change);
  changes.push_back(std::move(change));
}

void remove_record(zone::Zone& zone, const zone::Node& node, const zone::RRset& set, size_t i, ChangeSet& changes) {
  commit(zone, {Change::Op::kRemove, std::string(node.owner()), set.type, set.ttl, set.expiry(i), std::string(set[i])}, changes);
}

// Removes every record of `type` at `node` (a copy of the data is taken first: removal reshuffles).
void remove_rrset(zone::Zone& zone, const std::string& lower_owner, uint16_t type, ChangeSet& changes) {
  while (true) {
    const zone::Node* node = zone.find(lower_owner);
    const zone::RRset* set = node ? node->find(type) : nullptr;
    if (set == nullptr || set->empty()) return;
    remove_record(zone, *node, *set, set->size() - 1, changes);
  }
}

void add_record(zone::Zone& zone, const Record& record, const std::string& lower_owner, uint32_t expiry,
                ChangeSet& changes) {
  const zone::Node* node = zone.find(lower_owner);
  const bool is_apex = lower_owner == zone.apex();
  if (node != nullptr) {
    const zone::RRset* cname = node->find(rrtype::CNAME);
    const bool has_other = node->rrsets.size() > (cname ? 1u : 0u);
    // §3.4.2.2: a CNAME is not added beside other data, nor other data beside a CNAME;
    // a new CNAME replaces the old one.
    if (record.type == rrtype::CNAME ? has_other : cname != nullptr) return;
    if (cname != nullptr && !cname->contains(record.rdata)) remove_rrset(zone, lower_owner, rrtype::CNAME, changes);
  }
  if (record.type == rrtype::SOA) {
    // §3.4.2.2: an SOA replaces the zone's only if its serial is newer.
    if (!is_apex || !serial_newer(soa_serial(record.rdata), zone.serial())) return;
    const zone::RRset* soa = node->find(rrtype::SOA);
    commit(zone, {Change::Op::kRemove, std::string(node->owner()), rrtype::SOA, soa->ttl, 0, std::string((*soa)[0])}, changes);
    commit(zone, {Change::Op::kAdd, std::string(node->owner()), rrtype::SOA, record.ttl, 0, record.rdata}, changes);
    return;
  }
  node = zone.find(lower_owner);
  const zone::RRset* set = node ? node->find(record.type) : nullptr;
  const size_t existing = set ? set->find(record.rdata) : zone::RRset::npos;
  if (existing != zone::RRset::npos) {
    // Renewal: a lease only ever grows, and a record without one never lapses.
    const uint32_t old_expiry = set->expiry(existing);
    expiry = (old_expiry == 0 || expiry == 0) ? 0 : std::max(old_expiry, expiry);
    if (set->ttl == record.ttl && old_expiry == expiry) return;  // nothing new
    remove_record(zone, *node, *set, existing, changes);
  }
  commit(zone, {Change::Op::kAdd, std::string(record.owner.wire()), record.type, record.ttl, expiry, record.rdata},
         changes);
}

void delete_rrsets(zone::Zone& zone, const std::string& lower_owner, uint16_t type, ChangeSet& changes) {
  const bool is_apex = lower_owner == zone.apex();
  const zone::Node* node = zone.find(lower_owner);
  if (node == nullptr) return;
  if (type != rrtype::ANY) {
    if (is_apex && (type == rrtype::SOA || type == rrtype::NS)) return;  // §3.4.2.3
    return remove_rrset(zone, lower_owner, type, changes);
  }
  std::vector<uint16_t> types;
  for (const zone::RRset& set : node->rrsets) {
    if (!(is_apex && (set.type == rrtype::SOA || set.type == rrtype::NS))) types.push_back(set.type);
  }
  for (uint16_t t : types) remove_rrset(zone, lower_owner, t, changes);
}

void delete_record(zone::Zone& zone, const Record& record, const std::string& lower_owner, ChangeSet& changes) {
  const zone::Node* node = zone.find(lower_owner);
  const zone::RRset* set = node ? node->find(record.type) : nullptr;
  if (set == nullptr || record.type == rrtype::SOA) return;
  // §3.4.2.4: the last NS at the apex stays.
  if (record.type == rrtype::NS && lower_owner == zone.apex() && set->size() == 1) return;
  const size_t existing = set->find(record.rdata);
  if (existing != zone::RRset::npos) remove_record(zone, *node, *set, existing, changes);
}

}  // namespace

uint16_t prescan(const zone::Zone& zone, const Request& request) {
  for (const Record& record : request.updates) {
    if (!is_subdomain(record.lower_owner, zone.apex())) return rcode::NOTZONE;
    if (record.rrclass == request.zone_class) {
      if (is_meta_type(record.type) || record.rdata.empty()) return rcode::FORMERR;
      if (record.type == rrtype::DNAME) return rcode::REFUSED;
    } else if (record.rrclass == rrclass::ANY) {
      if (record.ttl != 0 || !record.rdata.empty()) return rcode::FORMERR;
      if (is_meta_type(record.type) && record.type != rrtype::ANY) return rcode::FORMERR;
    } else if (record.rrclass == rrclass::NONE) {
      if (record.ttl != 0 || is_meta_type(record.type)) return rcode::FORMERR;
    } else {
      return rcode::FORMERR;
    }
  }
  return rcode::NOERROR;
}

void bump_serial(zone::Zone& zone, ChangeSet& changes) {
  const zone::Node* apex = zone.apex_node();
  const zone::RRset* soa = apex->find(rrtype::SOA);
  std::string data((*soa)[0]);
  const uint32_t ttl = soa->ttl;
  uint32_t serial = soa_serial(data) + 1;
  if (serial == 0) serial = 1;
  commit(zone, {Change::Op::kRemove, std::string(apex->owner()), rrtype::SOA, ttl, 0, data}, changes);
  set_soa_serial(data, serial);
  commit(zone, {Change::Op::kAdd, std::string(zone.apex_node()->owner()), rrtype::SOA, ttl, 0, data}, changes);
}

void apply_updates(zone::Zone& zone, const Request& request, uint32_t expiry, ChangeSet& changes) {
  const size_t first = changes.size();
  for (const Record& record : request.updates) {
    const std::string& owner = record.lower_owner;
    if (record.rrclass == request.zone_class) {
      add_record(zone, record, owner, expiry, changes);
    } else if (record.rrclass == rrclass::ANY) {
      delete_rrsets(zone, owner, record.type, changes);
    } else {
      delete_record(zone, record, owner, changes);
    }
  }
  // §3.6: the serial goes up by one, unless the message set a newer SOA itself.
  bool set_soa = false;
  for (size_t i = first; i < changes.size(); ++i) set_soa |= changes[i].type == rrtype::SOA;
  if (changes.size() > first && !set_soa) bump_serial(zone, changes);
}

}  // namespace epmdns::update
