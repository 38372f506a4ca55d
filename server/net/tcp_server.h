// DNS over TCP (RFC 7766): length-prefixed messages, several per connection, pipelined,
// closed when idle. One thread with epoll serves every listening socket.
#pragma once

#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/unique_fd.h"
#include "net/services.h"

namespace epmdns::net {

struct TcpOptions {
  std::chrono::milliseconds idle_timeout{10000};
  size_t max_connections = 1000;
};

class TcpServer {
 public:
  TcpServer(std::vector<UniqueFd> listeners, int stop_fd, Services services, TcpOptions options);
  ~TcpServer();
  // Waits for the thread to leave after the stop signal; the socket stays open until destruction.
  void join();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

 private:
  struct Connection {
    uint64_t id = 0;
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
  void queue_answer(Connection& conn, std::span<const uint8_t> answer);
  void close_idle();
  // Called from the updater thread: an UPDATE's answer for connection `id`.
  void deliver(uint64_t id, std::span<const uint8_t> answer);
  void take_deliveries();

  std::vector<UniqueFd> listeners_;
  int stop_fd_;
  Services services_;
  TcpOptions options_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: deliveries are waiting
  uint64_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, Connection> connections_;
  std::vector<uint8_t> response_;
  std::mutex deliveries_mutex_;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> deliveries_;
  std::thread thread_;
};

}  // namespace epmdns::net
