// One record added to or removed from a zone: the unit of the journal and of IXFR diffs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "zone/zone.h"

namespace epmdns::update {

struct Change {
  enum class Op : uint8_t { kAdd = 1, kRemove = 2 };
  Op op = Op::kAdd;
  std::string owner;  // wire form, case as registered
  uint16_t type = 0;
  uint32_t ttl = 0;
  uint32_t expiry = 0;  // lease end (Unix time), 0 for none
  std::string rdata;
};
using ChangeSet = std::vector<Change>;

// Applies one change; replaying a journal's changes in order rebuilds the zone.
void apply_change(zone::Zone& zone, const Change& change);
// Undoes `changes` (newest first), for a batch that could not be made durable.
void revert(zone::Zone& zone, const ChangeSet& changes);

}  // namespace epmdns::update
