#include "zone/zone.h"

#include <algorithm>
#include <cstring>
#include <new>


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

namespace {

uint64_t mix(uint64_t h) {  // MurmurHash3's finalizer
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

}  // namespace

size_t NodeOwnerHash::operator()(std::string_view owner) const {
  uint64_t h = owner.size() * 0x9E3779B97F4A7C15ULL;
  size_t pos = 0;
  for (; pos + 8 <= owner.size(); pos += 8) {
    uint64_t word;
    std::memcpy(&word, owner.data() + pos, 8);
    h = mix(h ^ wire::ascii_lower_word(word));
  }
  if (pos < owner.size()) {
    uint64_t word = 0;
    std::memcpy(&word, owner.data() + pos, owner.size() - pos);
    h = mix(h ^ wire::ascii_lower_word(word));
  }
  return static_cast<size_t>(h);
}

bool NodeOwnerEq::same_owner(std::string_view a, std::string_view b) { return wire::equal_ignore_case(a, b); }

RRsetList::~RRsetList() {
  for (size_t i = 0; i < size_; ++i) data_[i].~RRset();
  ::operator delete(data_);
}

// Moves the `size_` RRsets into a fresh array of `size` slots, skipping those `keep` refuses
// and leaving slot `gap` (if below `size`) unmade.
template <typename Keep>
void RRsetList::reallocate(size_t size, size_t gap, Keep keep) {
  RRset* fresh = size == 0 ? nullptr : static_cast<RRset*>(::operator new(size * sizeof(RRset)));
  size_t to = 0;
  for (size_t from = 0; from < size_; ++from) {
    if (keep(data_[from])) {
      if (to == gap) ++to;
      new (&fresh[to++]) RRset(std::move(data_[from]));
    }
    data_[from].~RRset();
  }
  ::operator delete(data_);
  data_ = fresh;
}

RRset& RRsetList::insert(size_t pos, RRset set) {
  reallocate(size_ + 1u, pos, [](const RRset&) { return true; });
  new (&data_[pos]) RRset(std::move(set));
  ++size_;
  return data_[pos];
}

void RRsetList::drop_empty() {
  size_t kept = 0;
  for (const RRset& set : *this) kept += set.empty() ? 0 : 1;
  if (kept == size_) return;
  reallocate(kept, kept, [](const RRset& set) { return !set.empty(); });
  size_ = static_cast<uint16_t>(kept);
}

static_assert(sizeof(Node) == 16, "a node is a pointer, four counters and its owner's length");

NodePtr Node::make(std::string_view owner) {
  void* memory = ::operator new(sizeof(Node) + owner.size());
  std::memcpy(static_cast<char*>(memory) + sizeof(Node), owner.data(), owner.size());
  Node* node = new (memory) Node();
  node->owner_length_ = static_cast<uint8_t>(owner.size());
  return NodePtr(node);
}

void NodeDeleter::operator()(Node* node) const {
  node->~Node();
  ::operator delete(node);
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

RRset& Node::get_or_add(uint16_t type, uint32_t ttl) {
  const RRset* it = std::lower_bound(rrsets.begin(), rrsets.end(), type,
                                     [](const RRset& s, uint16_t t) { return s.type < t; });
  const size_t pos = static_cast<size_t>(it - rrsets.begin());
  if (it != rrsets.end() && it->type == type) return rrsets.data_[pos];
  return rrsets.insert(pos, RRset(type, ttl));
}

Zone::Zone(std::string apex) : apex_(std::move(apex)), apex_labels_(count_labels(apex_)) {}

const RRset* Zone::soa() const {
  const Node* apex = apex_node();
  return apex ? apex->find(wire::rrtype::SOA) : nullptr;
}

const Node* Zone::find(std::string_view lower_owner) const {
  auto it = nodes_.find(lower_owner);
  return it == nodes_.end() ? nullptr : it->get();
}

Node& Zone::get_or_add(std::string_view owner) {
  auto it = nodes_.find(owner);
  if (it != nodes_.end()) return **it;
  Node& added = **nodes_.insert(Node::make(owner)).first;
  // Create empty non-terminals between this name and the apex.
  if (owner.size() > apex_.size()) get_or_add(owner.substr(1 + static_cast<uint8_t>(owner[0]))).children++;
  return added;
}

Node* Zone::find_mutable(std::string_view lower_owner) {
  auto it = nodes_.find(lower_owner);
  return it == nodes_.end() ? nullptr : it->get();
}

void Zone::node_changed(std::string_view changed) {
  std::string lower_owner_copy(changed);  // the caller's view may point into a node erased below
  std::string_view lower_owner = lower_owner_copy;
  while (true) {
    auto it = nodes_.find(lower_owner);
    if (it == nodes_.end()) return;
    Node& node = **it;
    node.drop_empty_rrsets();
    const bool is_apex = lower_owner.size() == apex_.size();
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
  for (const NodePtr& node : nodes_) {
    node->delegation = node->owner().size() != apex_.size() && node->find(wire::rrtype::NS) != nullptr;
    delegations_ += node->delegation;
  }
  has_delegations_ = delegations_ > 0;
}

}  // namespace epmdns::zone
