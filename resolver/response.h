// A DNS response read into records with our wire library: names decompressed and
// lower-cased, RDATA in canonical form. Pure: no I/O, for unit tests and the resolver.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wire/name.h"

namespace epmdns::resolver {

enum class Section { kAnswer, kAuthority, kAdditional };

struct Record {
  Section section;
  wire::Name owner;  // lower-case
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  std::string rdata;  // canonical: names inside decompressed and lower-case
};

struct Response {
  uint16_t id = 0;
  uint16_t rcode = 0;  // the low 4 bits of the header (extended rcodes are not needed here)
  bool truncated = false;
  wire::Name qname;  // lower-case
  uint16_t qtype = 0;
  std::vector<Record> records;  // answer, authority, additional in order; OPT left out
};

// nullopt if the packet is not a well-formed response with exactly one question.
std::optional<Response> parse_response(std::span<const uint8_t> packet);

// Builds a query (RD set, one question, an EDNS(0) OPT advertising udp_payload when it is
// non-zero; the OPT last, as c-ares expects when it retries without EDNS).
std::vector<uint8_t> build_query(uint16_t id, const wire::Name& qname, uint16_t qtype, uint16_t udp_payload);

}  // namespace epmdns::resolver
