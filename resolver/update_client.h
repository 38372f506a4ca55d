// Sends signed RFC 2136 UPDATEs for node registrations to a zone's primary server.
// Blocking calls with a total time bound; UDP, or TCP for messages over 512 bytes and
// truncated answers. The primary is the SOA MNAME of the zone (as nsupdate finds it)
// unless one is given.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "resolver/server_list.h"
#include "resolver/update_message.h"
#include "wire/tsig_key.h"

namespace epmdns::resolver {

struct UpdateClientOptions {
  ServerList servers;                     // for the SOA and MNAME address queries; empty: /etc/resolv.conf
  std::optional<ServerAddress> primary;   // send UPDATEs here; nullopt: the zone's SOA MNAME
  uint16_t primary_port = 53;             // port of a primary found through the SOA MNAME
  std::chrono::milliseconds timeout{3000};  // total bound of each call (discovery included)
};

enum class UpdateStatus {
  kOk,
  kRejected,     // the server answered with an rcode other than NOERROR (REFUSED, YXDOMAIN, ...)
  kAuthFailure,  // TSIG: the server's error (BADKEY, BADSIG, BADTIME) or a response that does not verify
  kTimeout,      // no answer within the time bound, or the server is unreachable
  kError,        // a local error: bad input, no primary found, a malformed answer
};

struct UpdateResult {
  UpdateStatus status = UpdateStatus::kError;
  uint16_t rcode = 0;       // the answer's rcode (when one came)
  uint16_t tsig_error = 0;  // the TSIG error of the answer (when one came)
  std::optional<uint32_t> lease;  // the lease granted (UPDATE-LEASE in the answer)
  std::string server;       // "127.0.0.1:8053", where the UPDATE went
  std::string message;      // one line saying what happened, for errors
  bool ok() const { return status == UpdateStatus::kOk; }
};

std::string rcode_name(uint16_t rcode);       // "NOERROR", "REFUSED", ... or "RCODE<n>"
std::string tsig_error_name(uint16_t error);  // "BADSIG", ... or "TSIG-ERROR<n>"

// The nameservers of /etc/resolv.conf (port 53); empty if none can be read.
ServerList system_servers();

// The local address of the route towards `server` (a connected UDP socket's getsockname).
absl::StatusOr<std::pair<Family, std::array<uint8_t, 16>>> local_address_towards(const ServerAddress& server);

// Parses a literal IPv4 or IPv6 address.
std::optional<std::pair<Family, std::array<uint8_t, 16>>> parse_address(std::string_view text);

class UpdateClient {
 public:
  UpdateClient(UpdateClientOptions options, wire::TsigKey key);

  // Where UPDATEs for `zone` go: the given primary, or the SOA MNAME's address.
  absl::StatusOr<ServerAddress> primary(const wire::Name& zone);
  // Signs `message` (an unsigned UPDATE for `zone`) and sends it to the primary.
  UpdateResult send(std::vector<uint8_t> message, const wire::Name& zone);

  UpdateResult register_node(const Registration& registration, Precondition precondition);
  UpdateResult unregister_node(const NodeNames& names, std::string_view token = {});
  // The seconds left on the node's lease, as its primary holds it: epmdnsd answers a query
  // carrying an empty UPDATE-LEASE option with the shortest lease left among the answer's
  // records. kOk with no lease: the records do not lapse (or the server keeps no leases);
  // kRejected with rcode NXDOMAIN: the node is not registered. Needs no key.
  UpdateResult remaining_lease(const NodeNames& names);

  const UpdateClientOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  absl::StatusOr<ServerAddress> primary(const wire::Name& zone, Clock::time_point deadline);
  // primary(), with a failure written into `result` (status, message), and on success the
  // server's name into result.server.
  std::optional<ServerAddress> primary_for(const wire::Name& zone, Clock::time_point deadline, UpdateResult& result);
  UpdateResult send(std::vector<uint8_t> message, const wire::Name& zone, Clock::time_point deadline);

  UpdateClientOptions options_;
  wire::TsigKey key_;
};

}  // namespace epmdns::resolver
