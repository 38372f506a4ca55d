// An RFC 2136 UPDATE message, parsed: zone, prerequisites, updates, EDNS and TSIG.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "wire/message.h"
#include "wire/name.h"

namespace epmdns::update {

struct Record {
  wire::Name owner;  // as sent
  std::string lower_owner;  // its wire form lower-cased, for lookups
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  std::string rdata;  // canonical: names decompressed and lower-cased
};

struct Request {
  wire::Header header;
  wire::Name zone;  // as sent
  uint16_t zone_class = 0;
  std::vector<Record> prerequisites;
  std::vector<Record> updates;
  wire::Edns edns;
  bool signed_ = false;
  size_t tsig_offset = 0;  // where the TSIG record starts, when signed_
};

// Parses an UPDATE. Returns NOERROR, or FORMERR when the message is malformed
// (RFC 2136 §3.1.1: exactly one zone entry, of type SOA). TSIG must be the last record.
uint16_t parse_request(std::span<const uint8_t> message, Request& out);

}  // namespace epmdns::update
