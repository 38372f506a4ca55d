#include "resolver/server_list.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace epmdns::resolver {
namespace {

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value == 0 || value > 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

bool parse_address(std::string_view text, bool ipv6, ServerAddress& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out.ipv6 = ipv6;
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, buf, out.address.data()) == 1;
}

std::optional<ServerAddress> parse_one(std::string_view entry) {
  ServerAddress out;
  if (entry.front() == '[') {  // [v6] or [v6]:port
    const size_t close = entry.find(']');
    if (close == std::string_view::npos || !parse_address(entry.substr(1, close - 1), true, out)) return std::nullopt;
    std::string_view rest = entry.substr(close + 1);
    if (rest.empty()) return out;
    if (rest.front() != ':') return std::nullopt;
    auto port = parse_port(rest.substr(1));
    if (!port) return std::nullopt;
    out.port = *port;
    return out;
  }
  const size_t first_colon = entry.find(':');
  if (first_colon != std::string_view::npos && entry.find(':', first_colon + 1) != std::string_view::npos) {
    // A bare IPv6 address: no port can be given without brackets.
    if (!parse_address(entry, true, out)) return std::nullopt;
    return out;
  }
  if (!parse_address(entry.substr(0, first_colon), false, out)) return std::nullopt;
  if (first_colon != std::string_view::npos) {
    auto port = parse_port(entry.substr(first_colon + 1));
    if (!port) return std::nullopt;
    out.port = *port;
  }
  return out;
}

}  // namespace

std::string ServerAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, address.data(), buf, sizeof buf);
  std::string text = ipv6 ? "[" + std::string(buf) + "]" : std::string(buf);
  return text + ":" + std::to_string(port);
}

std::optional<ServerList> parse_server_list(std::string_view text) {
  ServerList list;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find_first_of(", \t\n", pos);
    std::string_view entry = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!entry.empty()) {
      auto server = parse_one(entry);
      if (!server) return std::nullopt;
      list.push_back(*server);
    }
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return list;
}

}  // namespace epmdns::resolver
