#include "net/endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace epmdns::net {

absl::StatusOr<Endpoint> parse_endpoint(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", std::string(text), "' is not ADDR:PORT or [IPv6]:PORT (", why, ")"));
  };
  std::string host;
  std::string_view port_text;
  if (text.starts_with("[")) {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return bad("missing ]:PORT");
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :PORT");
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
    return bad("bad port");
  }
  Endpoint endpoint;
  endpoint.text = std::string(text);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    endpoint.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    endpoint.length = sizeof(sockaddr_in6);
  } else {
    return bad("bad address");
  }
  return endpoint;
}

namespace {

absl::StatusOr<UniqueFd> bound_socket(const Endpoint& endpoint, int type, int flags) {
  UniqueFd fd(::socket(endpoint.address.ss_family, type | flags | SOCK_CLOEXEC, 0));
  if (!fd) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (type == SOCK_DGRAM) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // Room for a burst of a few thousand queries (the kernel caps it at net.core.rmem_max).
    const int receive_buffer = 4 << 20;
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  if (endpoint.address.ss_family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", endpoint.text, ": ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<UniqueFd> bind_udp(const Endpoint& endpoint) { return bound_socket(endpoint, SOCK_DGRAM, 0); }

absl::StatusOr<UniqueFd> listen_tcp(const Endpoint& endpoint) {
  absl::StatusOr<UniqueFd> fd = bound_socket(endpoint, SOCK_STREAM, SOCK_NONBLOCK);
  if (fd.ok() && ::listen(fd->get(), 1024) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", endpoint.text, ": ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace epmdns::net
