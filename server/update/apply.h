// RFC 2136 §3.4: checking (prescan) and applying the update section of an UPDATE.
#pragma once

#include <cstdint>

#include "update/change.h"
#include "update/request.h"
#include "zone/zone.h"

namespace epmdns::update {

// §3.4.1: NOERROR if every update record is well formed and inside the zone,
// otherwise FORMERR, NOTZONE, or REFUSED (for record types the server will not hold).
uint16_t prescan(const zone::Zone& zone, const Request& request);

// §3.4.2: applies the updates in order and appends what actually changed to `changes`,
// then a new SOA serial when anything did. Records added get lease end `expiry` (0: none).
void apply_updates(zone::Zone& zone, const Request& request, uint32_t expiry, ChangeSet& changes);

// Raises the SOA serial by one (RFC 1982), recorded as a change.
void bump_serial(zone::Zone& zone, ChangeSet& changes);

}  // namespace epmdns::update
