// The DNS servers a Resolver asks, in failover order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace epmdns::resolver {

struct ServerAddress {
  bool ipv6 = false;
  std::array<uint8_t, 16> address{};  // network order; the first 4 bytes for IPv4
  uint16_t port = 53;

  std::string to_string() const;  // "127.0.0.1:53", "[::1]:8053"
  friend bool operator==(const ServerAddress&, const ServerAddress&) = default;
};

// An empty list means "the servers of /etc/resolv.conf" (c-ares' default initialisation).
using ServerList = std::vector<ServerAddress>;

// Parses "host:port", "[v6]:port", a bare address (port 53), or several of these separated by
// commas or spaces, first server first. Addresses must be literal IPv4/IPv6 addresses.
// nullopt if any entry is malformed; an empty or blank text gives an empty list.
std::optional<ServerList> parse_server_list(std::string_view text);

}  // namespace epmdns::resolver
