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
  kTimeout,        // no server answered: the time bound ran out, or every server was unreachable
  kServerFailure,  // a server answered, but not usefully: SERVFAIL/REFUSED/NOTIMP from every
                   // server, another error rcode, a malformed answer; or a local error
  kBadName,        // the node or host name cannot be a DNS name
  kCancelled,      // the Resolver was destroyed before the answer came
};

std::string_view status_name(Status status);

// Why a call failed, finer than Status: `failure` in every result. kNone for kOk, kNotFound,
// kBadName and kCancelled. The first two go with Status::kTimeout (no server answered),
// the others with Status::kServerFailure (a server answered, or a local error).
enum class Failure {
  kNone,
  kTimedOut,     // no answer within the time bound (servers silent, or too slow)
  kUnreachable,  // every server refused the connection (ICMP port unreachable, TCP reset)
  kServFail,     // the last server asked answered SERVFAIL
  kRefused,      // ... REFUSED
  kNotImp,       // ... NOTIMP
  kBadRcode,     // ... another error rcode (FORMERR, ...)
  kMalformed,    // an answer that could not be read
  kLocal,        // a local error (out of memory, no server configured, ...)
};

// "timed_out", "unreachable", "servfail", "refused", "notimp", "bad_rcode", "malformed",
// "local"; "" for kNone.
std::string_view failure_name(Failure failure);
// True for the failures where a server did answer (SERVFAIL, REFUSED, NOTIMP, other rcodes,
// malformed answers): the server is up but cannot help.
inline bool server_answered(Failure failure) {
  return failure == Failure::kServFail || failure == Failure::kRefused || failure == Failure::kNotImp ||
         failure == Failure::kBadRcode || failure == Failure::kMalformed;
}
// The Status a failure is reported with.
inline Status failure_status(Failure failure) {
  return failure == Failure::kTimedOut || failure == Failure::kUnreachable ? Status::kTimeout
                                                                            : Status::kServerFailure;
}

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
  Failure failure = Failure::kNone;    // why, for kTimeout and kServerFailure
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
  Failure failure = Failure::kNone;  // why, for kTimeout and kServerFailure
};

// nodes(Zone): every node listed at _erlang-dist._tcp.Zone, as "name@host" (host without
// the trailing dot).
struct NodesResult {
  Status status = Status::kServerFailure;
  std::vector<std::string> nodes;
  uint32_t ttl = 0;    // the smallest TTL of the records used (kNotFound, no nodes: the SOA's)
  bool stale = false;  // from the cache past its TTL: every server failed
  Failure failure = Failure::kNone;  // why, for kTimeout and kServerFailure
};

}  // namespace epmdns::resolver
