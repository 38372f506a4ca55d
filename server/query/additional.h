// Additional-section processing: addresses of targets, and DNS-SD's SRV/TXT (RFC 6763 §12).
#pragma once

#include "query/plan.h"
#include "zone/zone.h"

namespace epmdns::query {

// Adds to plan.additional what a client will ask next for the answer and authority records.
void add_additional(const zone::Zone& zone, Plan& plan);

}  // namespace epmdns::query
