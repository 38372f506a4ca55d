// Parsing of incoming DNS messages: header, question and EDNS(0) OPT.
#pragma once

#include <cstdint>
#include <span>

#include "wire/name.h"
#include "wire/types.h"

namespace epmdns::wire {

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  uint8_t opcode() const { return (flags >> 11) & 0xF; }
  bool qr() const { return flags & flag::QR; }
};

inline constexpr uint16_t kOptionUpdateLease = 2;  // RFC 9664

struct Edns {
  bool present = false;
  uint16_t udp_size = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  bool has_lease = false;  // UPDATE-LEASE option present, with a lease
  uint32_t lease = 0;      // requested lease in seconds
  bool asks_lease = false;  // an empty UPDATE-LEASE: a query asking what remains of the answer's leases
};

struct Query {
  Header header;
  bool has_question = false;  // the question parsed and can be echoed
  Name qname;                 // as asked (case preserved)
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  Edns edns;
  bool has_tsig = false;  // the last additional record is a TSIG (checked by the caller)
};

enum class ParseStatus {
  kOk,
  kDrop,     // not worth an answer: shorter than a header, or a response
  kFormErr,  // answer FORMERR, echoing what parsed
};

bool read_header(Reader& reader, Header& out);
// Reads the RDATA of an OPT record whose fixed fields are already read.
bool read_opt(Reader& reader, const Name& owner, uint16_t udp_size, uint32_t ttl, uint16_t rdlength, Edns& edns);
// Parses a request whose question section holds exactly one entry, then checks that
// every further record is well formed, at most one OPT sits at the root, and no bytes trail.
ParseStatus parse_query(std::span<const uint8_t> packet, Query& out);

}  // namespace epmdns::wire
