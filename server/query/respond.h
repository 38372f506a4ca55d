// Turns one request into one response: parse, dispatch by opcode, resolve, encode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/tsig_key.h"
#include "zone/catalog.h"

namespace epmdns::query {

enum class Transport { kUdp, kTcp };

struct Limits {
  size_t max_udp_size = 1232;  // cap on the requester's EDNS UDP size (RFC 6891 §6.2.5)
};

// Writes the response into `out` (at least 65535 bytes for TCP, max_udp_size for UDP)
// and returns its length, or 0 when the request deserves no answer. A TSIG-signed request
// is checked against `keyring` (RFC 8945) and its response signed.
size_t respond(const zone::Catalog& catalog, std::span<const uint8_t> request, std::span<uint8_t> out,
               Transport transport, const Limits& limits, const wire::Keyring* keyring = nullptr);

// FORMERR for a datagram too large to read whole: header only, id and opcode echoed.
// Returns 0 (no answer) when not even the header arrived or it is a response.
size_t refuse_oversized(std::span<const uint8_t> request, std::span<uint8_t> out);

}  // namespace epmdns::query
