// RAII ownership of one c-ares channel, configured for the resolver's time bound, and the
// set of sockets c-ares wants watched (kept through its socket-state callback).
#pragma once

#include <ares.h>

#include <chrono>
#include <memory>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "resolver/server_list.h"

namespace epmdns::resolver {

struct ChannelOptions {
  ServerList servers;  // empty: /etc/resolv.conf
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
  const std::unordered_map<ares_socket_t, Interest>& sockets() const { return sockets_; }
  // Ends every query (their callbacks run with ARES_EDESTRUCTION) and frees the channel.
  void destroy();

 private:
  AresChannel() = default;
  static void on_socket_state(void* data, ares_socket_t socket, int readable, int writable);

  ares_channel channel_ = nullptr;
  std::unordered_map<ares_socket_t, Interest> sockets_;
};

}  // namespace epmdns::resolver
