#include "resolver/ares_channel.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"

namespace epmdns::resolver {
namespace {

constexpr int kTries = 2;
constexpr int kMinAttemptMs = 50;
// The UDP socket's receive buffer: room for the answers to every query in flight (128 by
// default, ResolverOptions::max_queries_in_flight) while the resolver thread is busy. The
// kernel caps it at net.core.rmem_max.
constexpr int kSocketReceiveBuffer = 1 << 20;

absl::Status init_library() {
  static std::once_flag once;
  static int status = ARES_SUCCESS;
  std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (status != ARES_SUCCESS) return absl::InternalError(absl::StrCat("ares_library_init: ", ares_strerror(status)));
  return absl::OkStatus();
}

absl::Status set_servers(ares_channel channel, const ServerList& servers) {
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    ares_addr_port_node& node = nodes[i];
    std::memset(&node, 0, sizeof node);
    node.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
    node.family = servers[i].ipv6 ? AF_INET6 : AF_INET;
    if (servers[i].ipv6) {
      std::memcpy(&node.addr.addr6, servers[i].address.data(), 16);
    } else {
      std::memcpy(&node.addr.addr4, servers[i].address.data(), 4);
    }
    node.udp_port = servers[i].port;
    node.tcp_port = servers[i].port;
  }
  const int status = ares_set_servers_ports(channel, nodes.data());
  if (status != ARES_SUCCESS) return absl::InternalError(absl::StrCat("ares_set_servers_ports: ", ares_strerror(status)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AresChannel>> AresChannel::create(const ChannelOptions& options) {
  if (auto status = init_library(); !status.ok()) return status;
  std::unique_ptr<AresChannel> out(new AresChannel());
  // Each server is tried kTries times; c-ares doubles the attempt timeout after the first round,
  // so one call costs at most 3 * servers * attempt: fit that into the bound. The Resolver
  // enforces the bound itself too.
  const int servers = std::max<int>(1, static_cast<int>(options.servers.size()));
  const int attempt_ms = std::max<int>(kMinAttemptMs, static_cast<int>(options.total_timeout.count()) / (3 * servers));

  ares_options opts;
  std::memset(&opts, 0, sizeof opts);
  // Queries are built by us (fully qualified), so no search list; truncated answers go to TCP
  // (ARES_FLAG_IGNTC unset). With EDNS, c-ares accepts UDP answers up to ednspsz bytes.
  // STAYOPEN: c-ares 1.18.1 otherwise closes its sockets whenever no query is left, so a
  // caller making one lookup at a time paid socket, connect and close on each.
  opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_STAYOPEN | (options.udp_payload ? ARES_FLAG_EDNS : 0);
  opts.timeout = attempt_ms;
  out->attempt_timeout_ = std::chrono::milliseconds(attempt_ms);
  opts.tries = kTries;
  opts.ednspsz = options.udp_payload;
  opts.sock_state_cb = &AresChannel::on_socket_state;
  opts.sock_state_cb_data = out.get();
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  if (options.udp_payload) mask |= ARES_OPT_EDNSPSZ;
  if (!options.resolv_conf.empty()) {
    opts.resolvconf_path = const_cast<char*>(options.resolv_conf.c_str());  // c-ares copies it
    mask |= ARES_OPT_RESOLVCONF;
  }
  const int status = ares_init_options(&out->channel_, &opts, mask);
  if (status != ARES_SUCCESS) {
    out->channel_ = nullptr;
    return absl::InternalError(absl::StrCat("ares_init_options: ", ares_strerror(status)));
  }
  static const ares_socket_functions functions = {&AresChannel::open_socket, &AresChannel::close_socket,
                                                  &AresChannel::connect_socket, &AresChannel::receive,
                                                  &AresChannel::send_vector};
  ares_set_socket_functions(out->channel_, &functions, out.get());
  if (!options.servers.empty()) {
    if (auto set = set_servers(out->channel_, options.servers); !set.ok()) return set;
  }
  return out;
}

AresChannel::~AresChannel() { destroy(); }

void AresChannel::destroy() {
  if (channel_ == nullptr) return;
  ares_channel channel = channel_;
  channel_ = nullptr;
  ares_destroy(channel);
  sockets_.clear();
}

// c-ares 1.18.1 leaves a socket from these functions as it is (no non-blocking mode, no
// buffer sizes, no TCP_NODELAY): set here what it would have set.
ares_socket_t AresChannel::open_socket(int domain, int type, int protocol, void*) {
  const int fd = ::socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return ARES_SOCKET_BAD;
  if (type == SOCK_DGRAM) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketReceiveBuffer, sizeof kSocketReceiveBuffer);
  } else if (type == SOCK_STREAM) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

int AresChannel::close_socket(ares_socket_t socket, void*) { return ::close(socket); }

int AresChannel::connect_socket(ares_socket_t socket, const struct sockaddr* address, ares_socklen_t length, void*) {
  return ::connect(socket, address, length);
}

ares_ssize_t AresChannel::receive(ares_socket_t socket, void* buffer, size_t length, int flags, struct sockaddr* from,
                                  ares_socklen_t* from_length, void* data) {
  const ssize_t n = ::recvfrom(socket, buffer, length, flags, from, from_length);
  // c-ares reads UDP with a source address, TCP without (TCP comes in pieces: not looked at).
  if (n >= 12 && from != nullptr) {
    const auto* bytes = static_cast<const uint8_t*>(buffer);
    const uint8_t rcode = bytes[3] & 0x0F;
    if ((bytes[2] & 0x80) && (rcode == 2 || rcode == 4 || rcode == 5)) {  // SERVFAIL, NOTIMP, REFUSED
      static_cast<AresChannel*>(data)->error_rcodes_[static_cast<uint16_t>(bytes[0] << 8 | bytes[1])] = rcode;
    }
  }
  return n;
}

ares_ssize_t AresChannel::send_vector(ares_socket_t socket, const struct iovec* vector, int count, void*) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(vector);
  message.msg_iovlen = static_cast<size_t>(count);
  return ::sendmsg(socket, &message, MSG_NOSIGNAL);  // a closed TCP peer must not raise SIGPIPE
}

void AresChannel::on_socket_state(void* data, ares_socket_t socket, int readable, int writable) {
  auto* self = static_cast<AresChannel*>(data);
  ++self->socket_generation_;
  if (!readable && !writable) {
    self->sockets_.erase(socket);
  } else {
    self->sockets_[socket] = Interest{readable != 0, writable != 0};
  }
}

}  // namespace epmdns::resolver
