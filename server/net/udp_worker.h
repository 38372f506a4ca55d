// One thread serving one UDP socket in batches with recvmmsg/sendmmsg.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "common/unique_fd.h"
#include "net/services.h"

namespace epmdns::net {

class UdpWorker {
 public:
  // Serves `socket` until stop().
  UdpWorker(UniqueFd socket, Services services);
  ~UdpWorker();
  // Stops reading requests; answers can still be sent through the socket until destruction.
  void stop();
  // Waits for the thread to leave after stop().
  void join();
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

 private:
  void run();

  UniqueFd socket_;
  std::atomic<bool> stopping_{false};
  Services services_;
  std::thread thread_;
};

}  // namespace epmdns::net
