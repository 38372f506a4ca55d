#include "update/change.h"

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::update {

void apply_change(zone::Zone& zone, const Change& change) {
  const std::string owner = wire::lower_copy(change.owner);
  if (change.type == wire::rrtype::SOA) {
    // One SOA per zone: an added SOA replaces the old one unless that is newer (an operator
    // may have raised the serial in the zone file); removals are implied.
    zone::RRset* soa = owner == zone.apex() ? zone.find_mutable(owner)->find(wire::rrtype::SOA) : nullptr;
    if (change.op == Change::Op::kAdd && soa != nullptr &&
        !wire::serial_newer(wire::soa_serial((*soa)[0]), wire::soa_serial(change.rdata))) {
      soa->replace_all(change.rdata);
      soa->ttl = change.ttl;
    }
    return;
  }
  if (change.op == Change::Op::kAdd) {
    zone::RRset& set = zone.get_or_add(change.owner).get_or_add(change.type, change.ttl);
    set.ttl = change.ttl;  // RFC 2181 §5.2: one TTL per RRset, the newest wins
    set.insert(change.rdata, change.expiry);
  } else {
    zone::Node* node = zone.find_mutable(owner);
    zone::RRset* set = node ? node->find(change.type) : nullptr;
    if (set == nullptr) return;
    set->erase(change.rdata);
  }
  zone.node_changed(owner);
}

void revert(zone::Zone& zone, const ChangeSet& changes) {
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    if (it->type == wire::rrtype::SOA) {
      // The old SOA comes back even though its serial is lower: the new one was never durable.
      if (it->op == Change::Op::kRemove) {
        zone::RRset* soa = zone.find_mutable(zone.apex())->find(wire::rrtype::SOA);
        soa->replace_all(it->rdata);
        soa->ttl = it->ttl;
      }
      continue;
    }
    Change inverse = *it;
    inverse.op = it->op == Change::Op::kAdd ? Change::Op::kRemove : Change::Op::kAdd;
    apply_change(zone, inverse);
  }
}

}  // namespace epmdns::update
