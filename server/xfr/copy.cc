#include "xfr/copy.h"

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::xfr {
namespace {

void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void put_u32(std::string& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

void pack_node(const zone::Node& node, ZoneCopy& copy) {
  for (const zone::RRset& set : node.rrsets) {
    if (set.type == wire::rrtype::SOA || set.empty()) continue;
    copy.packed.push_back(static_cast<char>(node.owner().size()));
    copy.packed += node.owner();
    put_u16(copy.packed, set.type);
    put_u32(copy.packed, set.ttl);
    put_u32(copy.packed, static_cast<uint32_t>(set.size()));
    for (std::string_view rdata : set) {
      put_u16(copy.packed, static_cast<uint16_t>(rdata.size()));
      copy.packed += rdata;
    }
    ++copy.rrsets;
    copy.records += set.size();
  }
}

// Walks the zone's nodes in storage order, fetching ahead what pack_node reads: each node
// is a pointer away from the set and its RRsets a pointer away from the node, so without
// this the walk waits on two cache misses per node.
class NodeWalk {
 public:
  explicit NodeWalk(const zone::Zone& zone) : it_(zone.nodes_begin()), end_(zone.nodes_end()) {
    node_ahead_ = rrsets_ahead_ = it_;
    for (int i = 0; i < kNodeDistance; ++i) advance_node_prefetch();
    for (int i = 0; i < kRRsetDistance; ++i) advance_rrsets_prefetch();
  }
  bool done() const { return it_ == end_; }
  const zone::Node& node() const { return **it_; }
  void next() {
    ++it_;
    advance_node_prefetch();
    advance_rrsets_prefetch();
  }

 private:
  static constexpr int kNodeDistance = 16, kRRsetDistance = 8;
  void advance_node_prefetch() {
    if (node_ahead_ == end_) return;
    __builtin_prefetch(node_ahead_->get());
    ++node_ahead_;
  }
  void advance_rrsets_prefetch() {
    if (rrsets_ahead_ == end_) return;
    __builtin_prefetch((*rrsets_ahead_)->rrsets.begin());
    ++rrsets_ahead_;
  }
  zone::Zone::NodeSet::const_iterator it_, end_, node_ahead_, rrsets_ahead_;
};

const zone::Zone* find(const zone::Catalog& catalog, std::string_view lower_apex) {
  wire::Name name;
  if (!name.assign_wire(lower_apex)) return nullptr;
  const zone::Zone* zone = catalog.find_zone(name);
  return zone != nullptr && zone->apex() == lower_apex ? zone : nullptr;
}

// Fills the SOA fields; false if the zone is not served or has no SOA. Under the read lock.
bool copy_header(const zone::Zone* zone, ZoneCopy& copy) {
  const zone::RRset* soa = zone ? zone->soa() : nullptr;
  if (soa == nullptr || soa->empty()) return false;
  copy.apex_owner = zone->apex_node()->owner();
  copy.soa_ttl = soa->ttl;
  copy.soa_rdata = std::string((*soa)[0]);
  copy.serial = wire::soa_serial(copy.soa_rdata);
  return true;
}

}  // namespace

std::optional<ZoneCopy> copy_soa(const zone::Catalog& catalog, zone::RwLock& lock, std::string_view lower_apex) {
  ZoneCopy copy;
  lock.lock_shared();
  const bool found = copy_header(find(catalog, lower_apex), copy);
  lock.unlock_shared();
  if (!found) return std::nullopt;
  return copy;
}

std::optional<ZoneCopy> copy_zone(const zone::Catalog& catalog, zone::RwLock& lock, std::string_view lower_apex,
                                  const CopyOptions& options) {
  for (int attempt = 0;; ++attempt) {
    const bool whole = attempt >= options.attempts;
    const size_t chunk = whole ? SIZE_MAX : (options.chunk_nodes == 0 ? 1 : options.chunk_nodes);
    ZoneCopy copy;
    lock.lock_shared();
    const zone::Zone* zone = find(catalog, lower_apex);
    if (!copy_header(zone, copy)) {
      lock.unlock_shared();
      return std::nullopt;
    }
    copy.packed.reserve(zone->node_count() * 64);
    const uint64_t writes = lock.writes();
    NodeWalk walk(*zone);
    bool disturbed = false;
    while (true) {
      for (size_t n = 0; n < chunk && !walk.done(); ++n, walk.next()) pack_node(walk.node(), copy);
      if (walk.done()) break;
      lock.unlock_shared();
      lock.lock_shared();
      if (lock.writes() != writes) {  // the zone (or the catalog) changed: the iterator is stale
        disturbed = true;
        break;
      }
    }
    lock.unlock_shared();
    if (!disturbed) return copy;
  }
}

}  // namespace epmdns::xfr
