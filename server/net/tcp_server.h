// DNS over TCP (RFC 7766): length-prefixed messages, several per connection, pipelined,
// closed when idle. One thread with epoll serves every listening socket.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <deque>
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
    sockaddr_storage peer{};
  };
  struct TransferJob {
    uint64_t id;
    std::vector<uint8_t> request;
    sockaddr_storage peer;
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
  // Same, for bytes already framed (the messages of a zone transfer, each with its length).
  void deliver_framed(uint64_t id, std::vector<uint8_t> framed);
  void take_deliveries();
  // The zone transfer thread: builds the messages of queued AXFR/IXFR requests, off the
  // epoll thread, and delivers them all at once (so nothing is interleaved with them).
  void run_transfers();

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
  struct Delivery {
    uint64_t id;
    std::vector<uint8_t> bytes;
    bool framed;
  };
  std::vector<Delivery> deliveries_;
  std::mutex transfers_mutex_;
  std::condition_variable transfers_wake_;
  std::deque<TransferJob> transfer_jobs_;
  bool transfers_stopping_ = false;
  std::thread transfer_thread_;
  std::thread thread_;
};

}  // namespace epmdns::net
