// RFC 2136 UPDATE messages for one Erlang node's registration, built with our wire library,
// signed with TSIG (RFC 8945) and, when a lease is asked, carrying UPDATE-LEASE (RFC 9664).
// Pure: no I/O, no clock (the signing time is a parameter).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "resolver/result.h"
#include "wire/name.h"
#include "wire/tsig_key.h"

namespace epmdns::resolver {

// What a registration UPDATE may require before it changes anything (RFC 2136 §2.4).
enum class Precondition {
  kNone,      // unconditional (a plain add; also how a tokenless renewal goes)
  kNameFree,  // NXDOMAIN prerequisite at the instance name: nobody holds Name@Host
  kOwnToken,  // the instance's TXT RRset is exactly our TXT "vsn=6" "token=<token>"
};

// The names of one node's records (README "How Erlang nodes appear in DNS").
struct NodeNames {
  wire::Name zone;         // Z, the UPDATE's zone section
  wire::Name host;         // Host
  wire::Name instance;     // Name._erlang-dist._tcp.Host
  wire::Name host_browse;  // _erlang-dist._tcp.Host
  wire::Name zone_browse;  // _erlang-dist._tcp.Z
};
// "name@host" in zone `zone` (short hosts are relative to it). The host must lie in the zone.
absl::StatusOr<NodeNames> node_names(std::string_view node, std::string_view zone);

struct Registration {
  NodeNames names;
  uint16_t port = 0;
  Family family = Family::kInet;
  std::array<uint8_t, 16> address{};  // network order; the first 4 bytes for kInet
  uint32_t ttl = 60;                  // TTL of the records added (at most the lease)
  std::optional<uint32_t> lease;      // seconds, sent as UPDATE-LEASE; nullopt: no option
  int version = kDefaultVersion;
  // Empty: TXT "vsn=6". Otherwise TXT "vsn=6" "token=<token>", one record with two strings,
  // so kOwnToken can compare the whole TXT RRset (a value-dependent prerequisite).
  std::string token;
};

// TXT RDATA of the registration: "vsn=N" and, with a token, "token=T".
std::string txt_rdata(const Registration& registration);

// Unsigned UPDATE adding A/AAAA, SRV, TXT and both PTRs, after the prerequisite. The SRV and
// TXT sets are replaced in the same message, so a re-registration on another port is atomic.
// An error if the token does not fit a TXT string or kOwnToken is asked without a token.
absl::StatusOr<std::vector<uint8_t>> build_register(const Registration& registration, Precondition precondition,
                                                    uint16_t id);
// Unsigned UPDATE taking the instance over from an earlier registration whose node is gone
// (a kill -9 within its lease): its prerequisite is that the instance's `old_type` RRset
// (TXT, or SRV when there is no TXT) is still exactly `old_rdatas` (canonical RDATA, as
// read), so of two nodes taking over the same old registration only the first wins; then
// the changes of build_register (the old SRV and TXT replaced by ours, the PTRs added).
absl::StatusOr<std::vector<uint8_t>> build_takeover(const Registration& registration, uint16_t old_type,
                                                    const std::vector<std::string>& old_rdatas, uint16_t id);
// Unsigned UPDATE deleting everything at the instance name (SRV, TXT) and the two PTR
// records pointing at it (class NONE, exact record); the host's address stays (other nodes
// may share it; a leased one lapses by itself). With a token: only if it is still ours.
absl::StatusOr<std::vector<uint8_t>> build_unregister(const NodeNames& names, std::string_view token, uint16_t id);

// Appends a TSIG RR signed with `key` at `time_signed` (fudge 300) and returns the MAC,
// which verify_response needs for the answer.
absl::StatusOr<std::string> sign_message(std::vector<uint8_t>& message, const wire::TsigKey& key,
                                         uint64_t time_signed);

// The first key of a BIND key file (tsig-keygen / `epmdnsctl keygen` output).
absl::StatusOr<wire::TsigKey> load_first_key(const std::string& path);

// A random token of 16 hex digits for Registration::token.
std::string random_token();

}  // namespace epmdns::resolver
