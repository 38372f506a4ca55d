// Knowledge of the few record types whose data holds domain names.
#pragma once

#include <cstdint>
#include <string_view>

#include "wire/writer.h"

namespace epmdns::wire {

// Writes RDLENGTH and RDATA. Names inside NS, CNAME, PTR, MX and SOA data are compressed
// (RFC 3597 §4 allows it only for those); all other data is copied as is.
bool put_rdata(Writer& writer, uint16_t type, std::string_view rdata);

// The name a record points at (NS, CNAME, PTR, MX exchange, SRV target), or empty.
std::string_view rdata_target(uint16_t type, std::string_view rdata);

// SOA MINIMUM field, the negative-caching TTL (RFC 2308).
uint32_t soa_minimum(std::string_view rdata);

}  // namespace epmdns::wire
