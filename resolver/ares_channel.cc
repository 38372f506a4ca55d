#include "resolver/ares_channel.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"

namespace epmdns::resolver {
namespace {

constexpr int kTries = 2;
constexpr int kMinAttemptMs = 50;

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
  opts.flags = ARES_FLAG_NOSEARCH | (options.udp_payload ? ARES_FLAG_EDNS : 0);
  opts.timeout = attempt_ms;
  opts.tries = kTries;
  opts.ednspsz = options.udp_payload;
  opts.sock_state_cb = &AresChannel::on_socket_state;
  opts.sock_state_cb_data = out.get();
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  if (options.udp_payload) mask |= ARES_OPT_EDNSPSZ;
  const int status = ares_init_options(&out->channel_, &opts, mask);
  if (status != ARES_SUCCESS) {
    out->channel_ = nullptr;
    return absl::InternalError(absl::StrCat("ares_init_options: ", ares_strerror(status)));
  }
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

void AresChannel::on_socket_state(void* data, ares_socket_t socket, int readable, int writable) {
  auto* self = static_cast<AresChannel*>(data);
  if (!readable && !writable) {
    self->sockets_.erase(socket);
  } else {
    self->sockets_[socket] = Interest{readable != 0, writable != 0};
  }
}

}  // namespace epmdns::resolver
