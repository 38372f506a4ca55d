// DNS over TCP (RFC 7766): length-prefixed messages, several per connection, pipelined,
// closed when idle. One thread with epoll serves every listening socket.
#pragma once

#include <chrono>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/unique_fd.h"
#include "query/respond.h"
#include "zone/catalog.h"

namespace epmdns::net {

struct TcpOptions {
  std::chrono::milliseconds idle_timeout{10000};
  size_t max_connections = 1000;
};

class TcpServer {
 public:
  TcpServer(std::vector<UniqueFd> listeners, int stop_fd, const zone::Catalog& catalog, query::Limits limits,
            TcpOptions options);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

 private:
  struct Connection {
    UniqueFd fd;
    std::vector<uint8_t> in;
    std::vector<uint8_t> out;
    size_t out_sent = 0;
    std::chrono::steady_clock::time_point last_active;
  };

  void run();
  void accept_from(int listener);
  // Returns false when the connection should be closed.
  bool on_readable(Connection& conn);
  bool flush(Connection& conn);
  void close_idle();

  std::vector<UniqueFd> listeners_;
  int stop_fd_;
  const zone::Catalog& catalog_;
  query::Limits limits_;
  TcpOptions options_;
  UniqueFd epoll_;
  absl::flat_hash_map<int, Connection> connections_;
  std::vector<uint8_t> response_;
  std::thread thread_;
};

}  // namespace epmdns::net
