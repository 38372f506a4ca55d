// A consistent copy of one zone's records, taken for a zone transfer.
//
// The copy is taken under the zones' read lock in chunks of nodes, the lock being released
// between chunks so that the updater (and the queries queued behind it: the lock prefers
// writers) wait at most one chunk. The copy is consistent because it resumes only if no
// write happened meanwhile (RwLock::writes() unchanged); otherwise it starts over. After
// `attempts` restarts (a steady stream of updates) the last attempt holds the read lock for
// the whole copy, which bounds the work at one pass over the zone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "zone/catalog.h"
#include "zone/rw_lock.h"

namespace epmdns::xfr {

struct ZoneCopy {
  std::string apex_owner;  // wire form, case as in the zone
  uint32_t soa_ttl = 0;
  std::string soa_rdata;
  uint32_t serial = 0;
  size_t rrsets = 0;   // besides the SOA
  size_t records = 0;  // besides the SOA
  // Every RRset but the SOA, packed: u8 owner length, owner, u16 type, u32 TTL,
  // u32 count, then count times (u16 length, RDATA). Read with for_each_rrset().
  std::string packed;
};

struct RRsetView {
  std::string_view owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  uint32_t count = 0;
  std::string_view records;  // count times (u16 length, RDATA)
};

// Calls f(RRsetView) for every packed RRset, in copy order.
template <typename F>
void for_each_rrset(const ZoneCopy& copy, F&& f);

// Calls f(rdata) for each record of the view.
template <typename F>
void for_each_record(const RRsetView& view, F&& f) {
  size_t pos = 0;
  for (uint32_t i = 0; i < view.count; ++i) {
    const size_t length = static_cast<uint8_t>(view.records[pos]) << 8 | static_cast<uint8_t>(view.records[pos + 1]);
    f(view.records.substr(pos + 2, length));
    pos += 2 + length;
  }
}

struct CopyOptions {
  size_t chunk_nodes = 1024;  // nodes copied per hold of the read lock
  int attempts = 4;           // chunked attempts before one whole-zone hold
};

// Copies the zone whose apex is `lower_apex` (lower-case wire); nullopt if no such zone is
// served or it has no SOA.
std::optional<ZoneCopy> copy_zone(const zone::Catalog& catalog, zone::RwLock& lock, std::string_view lower_apex,
                                  const CopyOptions& options = {});

// Only the SOA fields of the copy (no records): one short hold of the read lock.
std::optional<ZoneCopy> copy_soa(const zone::Catalog& catalog, zone::RwLock& lock, std::string_view lower_apex);

// --- implementation of the template ---

inline uint32_t read_u32(std::string_view s, size_t pos) {
  return uint32_t{static_cast<uint8_t>(s[pos])} << 24 | uint32_t{static_cast<uint8_t>(s[pos + 1])} << 16 |
         uint32_t{static_cast<uint8_t>(s[pos + 2])} << 8 | uint32_t{static_cast<uint8_t>(s[pos + 3])};
}

template <typename F>
void for_each_rrset(const ZoneCopy& copy, F&& f) {
  const std::string_view data = copy.packed;
  size_t pos = 0;
  while (pos < data.size()) {
    RRsetView view;
    const size_t owner_length = static_cast<uint8_t>(data[pos]);
    view.owner = data.substr(pos + 1, owner_length);
    pos += 1 + owner_length;
    view.type = static_cast<uint16_t>(static_cast<uint8_t>(data[pos]) << 8 | static_cast<uint8_t>(data[pos + 1]));
    view.ttl = read_u32(data, pos + 2);
    view.count = read_u32(data, pos + 6);
    pos += 10;
    const size_t start = pos;
    for (uint32_t i = 0; i < view.count; ++i) {
      pos += 2 + (static_cast<uint8_t>(data[pos]) << 8 | static_cast<uint8_t>(data[pos + 1]));
    }
    view.records = data.substr(start, pos - start);
    f(view);
  }
}

}  // namespace epmdns::xfr
