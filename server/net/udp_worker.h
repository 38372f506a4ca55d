// One thread serving one UDP socket in batches with recvmmsg/sendmmsg.
#pragma once

#include <sys/socket.h>

#include <thread>

#include "common/unique_fd.h"
#include "net/services.h"

namespace epmdns::net {

class UdpWorker {
 public:
  // Serves `socket` until `stop_fd` (an eventfd) becomes readable.
  UdpWorker(UniqueFd socket, int stop_fd, Services services);
  ~UdpWorker();
  // Waits for the thread to leave after the stop signal; the socket stays open until destruction.
  void join();
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

 private:
  void run();
  void submit_update(std::span<const uint8_t> request, const sockaddr_storage& peer, socklen_t peer_length);

  UniqueFd socket_;
  int stop_fd_;
  Services services_;
  std::thread thread_;
};

}  // namespace epmdns::net
