// RAII ownership of one c-ares channel, configured for the resolver's time bound, and the
// set of sockets c-ares wants watched (kept through its socket-state callback).
#pragma once

#include <ares.h>

#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "resolver/server_list.h"

namespace epmdns::resolver {

struct ChannelOptions {
  ServerList servers;  // empty: those of resolv_conf
  std::string resolv_conf;  // empty: /etc/resolv.conf
  std::chrono::milliseconds total_timeout{1000};
  uint16_t udp_payload = 1232;  // EDNS(0) size advertised; 0 sends no OPT (answers over 512 go to TCP)
};

class AresChannel {
 public:
  // What c-ares wants to know about one socket.
  struct Interest {
    bool read = false;
    bool write = false;
  };

  static absl::StatusOr<std::unique_ptr<AresChannel>> create(const ChannelOptions& options);
  ~AresChannel();
  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  ares_channel get() const { return channel_; }
  // The error rcode (SERVFAIL, NOTIMP or REFUSED) of the last UDP answer c-ares read for DNS
  // ID `id`, or 0. c-ares 1.18.1 skips to the next server on these and, when every server
  // has had its tries, reports ARES_ECONNREFUSED as for an unreachable server; this tells
  // the two apart. Meaningful while the IDs of the queries in flight are distinct.
  uint8_t error_rcode(uint16_t id) const { return error_rcodes_[id]; }
  void clear_error_rcode(uint16_t id) { error_rcodes_[id] = 0; }
  const std::unordered_map<ares_socket_t, Interest>& sockets() const { return sockets_; }
  // Changes whenever c-ares opens or closes a socket or changes what it waits for on one.
  uint64_t socket_generation() const { return socket_generation_; }
  // How long c-ares waits for one answer before its next try.
  std::chrono::milliseconds attempt_timeout() const { return attempt_timeout_; }
  // Ends every query (their callbacks run with ARES_EDESTRUCTION) and frees the channel.
  void destroy();

 private:
  AresChannel() = default;
  static void on_socket_state(void* data, ares_socket_t socket, int readable, int writable);
  // c-ares' socket I/O, through us (ares_set_socket_functions): plain system calls, and every
  // UDP datagram read is looked at for an error rcode.
  static ares_socket_t open_socket(int domain, int type, int protocol, void* data);
  static int close_socket(ares_socket_t socket, void* data);
  static int connect_socket(ares_socket_t socket, const struct sockaddr* address, ares_socklen_t length, void* data);
  static ares_ssize_t receive(ares_socket_t socket, void* buffer, size_t length, int flags, struct sockaddr* from,
                              ares_socklen_t* from_length, void* data);
  static ares_ssize_t send_vector(ares_socket_t socket, const struct iovec* vector, int count, void* data);

  ares_channel channel_ = nullptr;
  std::unordered_map<ares_socket_t, Interest> sockets_;
  uint64_t socket_generation_ = 0;
  std::chrono::milliseconds attempt_timeout_{0};
  std::vector<uint8_t> error_rcodes_ = std::vector<uint8_t>(65536, 0);  // by DNS ID
};

}  // namespace epmdns::resolver
