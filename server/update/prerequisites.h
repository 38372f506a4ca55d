// RFC 2136 §3.2: the prerequisites an UPDATE asks the zone to meet.
#pragma once

#include <cstdint>

#include "update/request.h"
#include "zone/zone.h"

namespace epmdns::update {

// NOERROR if every prerequisite holds; otherwise the RFC's rcode
// (FORMERR, NOTZONE, NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET).
uint16_t check_prerequisites(const zone::Zone& zone, const Request& request);

}  // namespace epmdns::update
