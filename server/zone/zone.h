// One authoritative zone: its names, each with the RRsets it owns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "zone/rrset.h"

namespace epmdns::zone {

struct Node {
  std::string owner;            // wire form, case as written in the zone
  std::vector<RRset> rrsets;    // sorted by type; empty for an empty non-terminal
  bool delegation = false;      // NS below the apex: a zone cut

  const RRset* find(uint16_t type) const;
  RRset& get_or_add(uint16_t type, uint32_t ttl);
};

class Zone {
 public:
  // `apex` is the lower-case wire name of the zone.
  explicit Zone(std::string apex);

  const std::string& apex() const { return apex_; }
  size_t apex_labels() const { return apex_labels_; }
  const Node* apex_node() const { return find(apex_); }
  const RRset* soa() const;
  bool has_delegations() const { return has_delegations_; }
  size_t node_count() const { return nodes_.size(); }

  // Looks a name up by its lower-case wire form.
  const Node* find(std::string_view lower_owner) const;
  // Returns the node for `owner` (any case), creating it and its empty ancestors up to the apex.
  Node& get_or_add(std::string_view owner);
  // Marks zone cuts; call once all records are in.
  void finish();

 private:
  std::string apex_;
  size_t apex_labels_;
  bool has_delegations_ = false;
  absl::flat_hash_map<std::string, Node> nodes_;
};

size_t count_labels(std::string_view wire);

}  // namespace epmdns::zone
