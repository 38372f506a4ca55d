// Listen addresses: "ADDR:PORT" and "[IPv6]:PORT", and the sockets bound to them.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace epmdns::net {

struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // as the user wrote it
};

absl::StatusOr<Endpoint> parse_endpoint(std::string_view text);

// A blocking socket bound to `endpoint` with SO_REUSEPORT, so each thread can have its own.
absl::StatusOr<UniqueFd> bind_udp(const Endpoint& endpoint);
// A non-blocking listening socket.
absl::StatusOr<UniqueFd> listen_tcp(const Endpoint& endpoint);

}  // namespace epmdns::net
