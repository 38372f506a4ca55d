// Reads the epmdns records out of a parsed response: SRV, A/AAAA, TXT "vsn=N", PTR.
// Pure functions over Response, shared by the one-query path and the fallback queries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "resolver/response.h"
#include "resolver/result.h"
#include "wire/name.h"

namespace epmdns::resolver {

// kOk for NOERROR, kNotFound for NXDOMAIN, kServerFailure for any other rcode.
Status rcode_status(const Response& response);
// Which Failure an error rcode is (kServFail, kRefused, kNotImp, else kBadRcode).
Failure rcode_failure(const Response& response);

struct Srv {
  uint16_t priority = 0, weight = 0, port = 0;
  wire::Name target;  // lower-case; the root means "no service here" (RFC 2782)
  uint32_t ttl = 0;
};
// The SRV of `owner` in the answer section with the lowest priority (then highest weight,
// then first); nullopt if there is none.
std::optional<Srv> find_srv(const Response& response, const wire::Name& owner);

struct Address {
  std::array<uint8_t, 16> bytes{};
  uint32_t ttl = 0;  // the smallest TTL along a CNAME chain
};
// The first A (kInet) or AAAA (kInet6) of `name` in the answer or additional section,
// following CNAMEs found there (a bounded chain).
std::optional<Address> find_address(const Response& response, const wire::Name& name, Family family);

struct Version {
  int version = kDefaultVersion;
  uint32_t ttl = 0;
};
// The TXT of `owner` in the answer or additional section; "vsn=N" gives the version,
// a TXT without it the default. nullopt if there is no TXT of `owner` at all.
std::optional<Version> find_version(const Response& response, const wire::Name& owner);

// The names the PTR records of `owner` in the answer section point to, in order.
std::vector<wire::Name> find_ptr_targets(const Response& response, const wire::Name& owner);

// The port of the first SRV of `owner` in any section but authority (a browse answer
// carries them in the additional section).
std::optional<uint16_t> find_srv_port(const Response& response, const wire::Name& owner);

// RFC 2308 §5: how long a negative answer (NXDOMAIN, NODATA) may be kept, min(SOA TTL,
// SOA MINIMUM) of the SOA in the authority section; 0 if there is none (not to be kept).
uint32_t negative_ttl(const Response& response);

// The smallest TTL of the answer and additional records; negative_ttl if there are none.
uint32_t min_data_ttl(const Response& response);

}  // namespace epmdns::resolver
