#include "zone/zone.h"

#include <algorithm>

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::zone {

size_t count_labels(std::string_view wire) {
  size_t labels = 0, pos = 0;
  while (pos < wire.size() && wire[pos] != 0) {
    ++labels;
    pos += 1 + static_cast<uint8_t>(wire[pos]);
  }
  return labels;
}

const RRset* Node::find(uint16_t type) const {
  for (const RRset& set : rrsets) {
    if (set.type == type) return &set;
  }
  return nullptr;
}

RRset* Node::find(uint16_t type) {
  for (RRset& set : rrsets) {
    if (set.type == type) return &set;
  }
  return nullptr;
}

void Node::drop_empty_rrsets() {
  std::erase_if(rrsets, [](const RRset& set) { return set.empty(); });
}

RRset& Node::get_or_add(uint16_t type, uint32_t ttl) {
  auto it = std::lower_bound(rrsets.begin(), rrsets.end(), type,
                             [](const RRset& s, uint16_t t) { return s.type < t; });
  if (it != rrsets.end() && it->type == type) return *it;
  return *rrsets.insert(it, RRset(type, ttl));
}

Zone::Zone(std::string apex) : apex_(std::move(apex)), apex_labels_(count_labels(apex_)) {}

const RRset* Zone::soa() const {
  const Node* apex = apex_node();
  return apex ? apex->find(wire::rrtype::SOA) : nullptr;
}

const Node* Zone::find(std::string_view lower_owner) const {
  auto it = nodes_.find(absl::string_view(lower_owner.data(), lower_owner.size()));
  return it == nodes_.end() ? nullptr : &it->second;
}

Node& Zone::get_or_add(std::string_view owner) {
  const std::string lower = wire::lower_copy(owner);
  auto [it, inserted] = nodes_.try_emplace(lower);
  if (inserted) {
    it->second.owner = std::string(owner);
    // Create empty non-terminals between this name and the apex.
    if (lower.size() > apex_.size()) {
      const size_t skip = 1 + static_cast<uint8_t>(lower[0]);
      get_or_add(owner.substr(skip)).children++;
      it = nodes_.find(lower);  // insertion may have rehashed
    }
  }
  return it->second;
}

Node* Zone::find_mutable(std::string_view lower_owner) {
  auto it = nodes_.find(absl::string_view(lower_owner.data(), lower_owner.size()));
  return it == nodes_.end() ? nullptr : &it->second;
}

void Zone::node_changed(std::string_view changed) {
  std::string lower_owner_copy(changed);  // the caller's view may point into a key erased below
  std::string_view lower_owner = lower_owner_copy;
  while (true) {
    auto it = nodes_.find(absl::string_view(lower_owner.data(), lower_owner.size()));
    if (it == nodes_.end()) return;
    Node& node = it->second;
    node.drop_empty_rrsets();
    const bool is_apex = lower_owner == apex_;
    const bool cut = !is_apex && node.find(wire::rrtype::NS) != nullptr;
    if (cut != node.delegation) {
      node.delegation = cut;
      cut ? ++delegations_ : --delegations_;
      has_delegations_ = delegations_ > 0;
    }
    if (is_apex || !node.rrsets.empty() || node.children > 0) return;
    nodes_.erase(it);
    lower_owner = lower_owner.substr(1 + static_cast<uint8_t>(lower_owner[0]));
    if (Node* parent = find_mutable(lower_owner)) parent->children--;
  }
}

uint32_t Zone::serial() const {
  const RRset* soa_set = soa();
  return soa_set ? wire::soa_serial((*soa_set)[0]) : 0;
}

void Zone::set_serial(uint32_t serial) {
  RRset* soa_set = find_mutable(apex_)->find(wire::rrtype::SOA);
  std::string data((*soa_set)[0]);
  wire::set_soa_serial(data, serial);
  soa_set->replace_all(data);
}

void Zone::finish() {
  delegations_ = 0;
  for (auto& [name, node] : nodes_) {
    node.delegation = name != apex_ && node.find(wire::rrtype::NS) != nullptr;
    delegations_ += node.delegation;
  }
  has_delegations_ = delegations_ > 0;
}

}  // namespace epmdns::zone
