// What a lookup reports: status, and the node's address, port and version.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace epmdns::resolver {

enum class Family { kInet, kInet6 };

enum class Status {
  kOk,
  kNotFound,       // NXDOMAIN, or no such record (no SRV, no address of the family asked)
  kTimeout,        // no usable answer within the time bound
  kServerFailure,  // SERVFAIL/REFUSED from every server, a malformed answer, or a local error
  kBadName,        // the node or host name cannot be a DNS name
  kCancelled,      // the Resolver was destroyed before the answer came
};

std::string_view status_name(Status status);

inline constexpr int kDefaultVersion = 6;  // a node without TXT "vsn=N"

struct NodeResult {
  Status status = Status::kServerFailure;
  std::string address_text;            // "127.0.0.1", "::1"
  Family family = Family::kInet;
  std::array<uint8_t, 16> address{};   // network order; the first 4 bytes for kInet
  uint16_t port = 0;
  int version = kDefaultVersion;
  uint32_t ttl = 0;                    // the smallest TTL of the records used
  bool stale = false;                  // from the cache past its TTL: every server failed
};

// One node of names(Host): the node name (the first label of its instance) and its port.
struct NameEntry {
  std::string name;
  uint16_t port = 0;
};

struct NamesResult {
  Status status = Status::kServerFailure;
  std::vector<NameEntry> names;
  uint32_t ttl = 0;    // the smallest TTL of the records used (kNotFound, no names: the SOA's)
  bool stale = false;  // from the cache past its TTL: every server failed
};

// nodes(Zone): every node listed at _erlang-dist._tcp.Zone, as "name@host" (host without
// the trailing dot).
struct NodesResult {
  Status status = Status::kServerFailure;
  std::vector<std::string> nodes;
  uint32_t ttl = 0;    // the smallest TTL of the records used (kNotFound, no nodes: the SOA's)
  bool stale = false;  // from the cache past its TTL: every server failed
};

}  // namespace epmdns::resolver
