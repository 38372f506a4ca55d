// One thread serving one UDP socket in batches with recvmmsg/sendmmsg.
#pragma once

#include <atomic>
#include <thread>

#include "common/unique_fd.h"
#include "query/respond.h"
#include "zone/catalog.h"

namespace epmdns::net {

class UdpWorker {
 public:
  // Serves `socket` until `stop_fd` (an eventfd) becomes readable.
  UdpWorker(UniqueFd socket, int stop_fd, const zone::Catalog& catalog, query::Limits limits);
  ~UdpWorker();
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

 private:
  void run();

  UniqueFd socket_;
  int stop_fd_;
  const zone::Catalog& catalog_;
  query::Limits limits_;
  std::thread thread_;
};

}  // namespace epmdns::net
