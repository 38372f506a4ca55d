// One authoritative zone: its names, each with the RRsets it owns.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "zone/rrset.h"

namespace epmdns::zone {

struct Node;
struct NodeDeleter {
  void operator()(Node* node) const;
};
using NodePtr = std::unique_ptr<Node, NodeDeleter>;

// A node's RRsets, sorted by type, in one allocation of exactly their number.
class RRsetList {
 public:
  RRsetList() = default;
  ~RRsetList();
  RRsetList(const RRsetList&) = delete;
  RRsetList& operator=(const RRsetList&) = delete;

  const RRset* begin() const { return data_; }
  const RRset* end() const { return data_ + size_; }
  RRset* begin() { return data_; }
  RRset* end() { return data_ + size_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const RRset& operator[](size_t i) const { return data_[i]; }

  // Inserts `set` before position `pos`; references to the others are invalidated.
  RRset& insert(size_t pos, RRset set);
  // Removes the empty RRsets.
  void drop_empty();

 private:
  template <typename Keep>
  void reallocate(size_t size, size_t gap, Keep keep);
  RRset* data_ = nullptr;
  uint16_t size_ = 0;  // fewer than 65536 types exist, and meta types are never stored

  friend struct Node;
};

// A name of the zone: 16 bytes and its owner name in one allocation, plus one for its RRsets.
struct Node {
  // Laid out to fill 16 bytes: the list's pointer and count, then the rest in its padding.
  [[no_unique_address]] RRsetList rrsets;  // empty for an empty non-terminal
  bool delegation = false;                 // NS below the apex: a zone cut
 private:
  uint8_t owner_length_ = 0;
 public:
  uint32_t children = 0;  // names directly below this one

  // Wire form, case as written in the zone.
  std::string_view owner() const { return {reinterpret_cast<const char*>(this + 1), owner_length_}; }

  // A node with its owner name right after it, in one allocation.
  static NodePtr make(std::string_view owner);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const RRset* find(uint16_t type) const;
  RRset* find(uint16_t type);
  RRset& get_or_add(uint16_t type, uint32_t ttl);
  // Drops RRsets left without records.
  void drop_empty_rrsets() { rrsets.drop_empty(); }

 private:
  Node() = default;
  ~Node() = default;
  friend struct NodeDeleter;
};

// Nodes are kept by pointer (stable while the node lives) and looked up by owner without
// regard to case, so each name is stored once, as written.
struct NodeOwnerHash {
  using is_transparent = void;
  size_t operator()(std::string_view owner) const;
  size_t operator()(const NodePtr& node) const { return (*this)(node->owner()); }
};
struct NodeOwnerEq {
  using is_transparent = void;
  static std::string_view owner(std::string_view name) { return name; }
  static std::string_view owner(const NodePtr& node) { return node->owner(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return same_owner(owner(a), owner(b));
  }
  static bool same_owner(std::string_view a, std::string_view b);
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

  // Looks a name up by its wire form, in any case (the server passes lower-case names).
  const Node* find(std::string_view lower_owner) const;
  // Returns the node for `owner` (any case), creating it and its empty ancestors up to the apex.
  Node& get_or_add(std::string_view owner);
  // Marks zone cuts; call once all records are in.
  void finish();

  // Mutation, by the single writer while readers are locked out.
  Node* find_mutable(std::string_view lower_owner);
  // Call after a node's records changed: drops empty RRsets, updates the zone-cut flag,
  // and removes the node (and ancestors) once it holds nothing and has no children.
  void node_changed(std::string_view lower_owner);
  uint32_t serial() const;
  void set_serial(uint32_t serial);
  // Calls f(node) for every node; f must not add or remove nodes.
  template <typename F>
  void for_each_node(F&& f) const {
    for (const NodePtr& node : nodes_) f(static_cast<const Node&>(*node));
  }
  // The nodes in storage order (each a NodePtr); iterators stay valid while the zone is not changed.
  using NodeSet = absl::flat_hash_set<NodePtr, NodeOwnerHash, NodeOwnerEq>;
  NodeSet::const_iterator nodes_begin() const { return nodes_.begin(); }
  NodeSet::const_iterator nodes_end() const { return nodes_.end(); }

 private:
  std::string apex_;
  size_t apex_labels_;
  bool has_delegations_ = false;
  size_t delegations_ = 0;
  NodeSet nodes_;
};

size_t count_labels(std::string_view wire);

}  // namespace epmdns::zone
