// Authoritative lookup of one question in one zone (RFC 1034 §4.3.2, RFC 4592, RFC 8482).
#pragma once

#include <cstdint>

#include "query/plan.h"
#include "wire/name.h"
#include "zone/zone.h"

namespace epmdns::query {

// Fills `plan` with the answer and authority for `qname` (as asked) in `zone`.
// `minimal_any` answers ANY with a single RRset (RFC 8482, for UDP).
void resolve(const zone::Zone& zone, const wire::Name& qname, uint16_t qtype, bool minimal_any, Plan& plan);
// The same, for a caller that has `qname` lower-cased already.
void resolve(const zone::Zone& zone, const wire::Name& qname, const wire::Name& lower_qname, uint16_t qtype,
             bool minimal_any, Plan& plan);

}  // namespace epmdns::query
