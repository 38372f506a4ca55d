// The answer to an UPDATE: header, the zone section echoed, EDNS with the granted lease, TSIG.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "update/request.h"
#include "wire/tsig.h"

namespace epmdns::update {

struct Signature {
  wire::TsigRecord record;  // the request's TSIG
  wire::TsigCheck check;    // how it verified
};

// Writes the response to `request` into `out`; returns its length. `request` may be only
// partly parsed (a FORMERR): its header is always echoed, the zone section when it parsed.
size_t write_response(const Request& request, bool zone_parsed, uint16_t rcode, std::optional<uint32_t> lease,
                      const Signature* signature, uint64_t now, std::span<uint8_t> out);

}  // namespace epmdns::update
