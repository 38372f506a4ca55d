#include "net/tcp_server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <cstdio>

#include "common/thread_name.h"
#include "wire/types.h"

namespace epmdns::net {
namespace {

constexpr size_t kReadChunk = 16384;
// Stop reading from a client whose answers pile up unread.
constexpr size_t kMaxPendingOutput = 1 << 20;
// epoll tags for the descriptors that are not connections (connection ids count up from 1).
constexpr uint64_t kStopTag = ~uint64_t{0};
constexpr uint64_t kWakeTag = kStopTag - 1;
constexpr uint64_t kListenerTag = uint64_t{1} << 63;

void watch(int epoll, int fd, uint64_t tag, uint32_t events, int op = EPOLL_CTL_ADD) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  ::epoll_ctl(epoll, op, fd, &ev);
}

}  // namespace

TcpServer::TcpServer(std::vector<UniqueFd> listeners, int stop_fd, Services services, TcpOptions options)
    : listeners_(std::move(listeners)),
      stop_fd_(stop_fd),
      services_(services),
      options_(options),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      response_(wire::kMaxMessageSize) {
  watch(epoll_.get(), stop_fd_, kStopTag, EPOLLIN);
  watch(epoll_.get(), wake_.get(), kWakeTag, EPOLLIN);
  for (size_t i = 0; i < listeners_.size(); ++i) watch(epoll_.get(), listeners_[i].get(), kListenerTag | i, EPOLLIN);
  if (services_.transfers != nullptr) {
    transfer_thread_ = std::thread([this] {
      name_this_thread("epmdns-xfr");
      run_transfers();
    });
  }
  thread_ = std::thread([this] {
    name_this_thread("epmdns-tcp");
    run();
  });
}

TcpServer::~TcpServer() { join(); }

void TcpServer::join() {
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> guard(transfers_mutex_);
    transfers_stopping_ = true;
  }
  transfers_wake_.notify_all();
  if (transfer_thread_.joinable()) transfer_thread_.join();
}

void TcpServer::run_transfers() {
  while (true) {
    TransferJob job;
    {
      std::unique_lock<std::mutex> guard(transfers_mutex_);
      transfers_wake_.wait(guard, [&] { return transfers_stopping_ || !transfer_jobs_.empty(); });
      if (transfers_stopping_) return;
      job = std::move(transfer_jobs_.front());
      transfer_jobs_.pop_front();
    }
    xfr::TransferKind kind;
    const std::vector<xfr::Message> messages = xfr::respond_transfer(*services_.transfers, job.request, job.peer, &kind);
    std::vector<uint8_t> framed;
    size_t total = 0;
    for (const xfr::Message& m : messages) total += 2 + m.size();
    framed.reserve(total);
    for (const xfr::Message& m : messages) {
      framed.push_back(static_cast<uint8_t>(m.size() >> 8));
      framed.push_back(static_cast<uint8_t>(m.size()));
      framed.insert(framed.end(), m.begin(), m.end());
    }
    if (!framed.empty()) deliver_framed(job.id, std::move(framed));
  }
}

void TcpServer::run() {
  epoll_event events[64];
  const int tick_ms = static_cast<int>(std::min<int64_t>(options_.idle_timeout.count() / 4 + 1, 500));
  auto last_sweep = std::chrono::steady_clock::now();
  while (true) {
    const int n = ::epoll_wait(epoll_.get(), events, 64, tick_ms);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kStopTag) return;
      if (tag == kWakeTag) {
        take_deliveries();
        continue;
      }
      if (tag & kListenerTag) {
        accept_from(listeners_[tag & ~kListenerTag].get());
        continue;
      }
      auto it = connections_.find(tag);
      if (it == connections_.end()) continue;
      Connection& conn = it->second;
      bool keep = true;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) keep = false;
      if (keep && (events[i].events & EPOLLOUT)) keep = flush(conn);
      if (keep && (events[i].events & EPOLLIN)) keep = on_readable(conn);
      if (!keep) connections_.erase(it);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sweep >= std::chrono::milliseconds(tick_ms)) {
      close_idle();
      last_sweep = now;
    }
  }
}

void TcpServer::accept_from(int listener) {
  while (true) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    const int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= options_.max_connections) {
      ::close(fd);
      continue;
    }
    const uint64_t id = next_id_++;
    Connection conn;
    conn.id = id;
    conn.fd.reset(fd);
    conn.last_active = std::chrono::steady_clock::now();
    conn.peer = peer;
    watch(epoll_.get(), fd, id, EPOLLIN);
    connections_.emplace(id, std::move(conn));
  }
}

void TcpServer::queue_answer(Connection& conn, std::span<const uint8_t> answer) {
  conn.out.push_back(static_cast<uint8_t>(answer.size() >> 8));
  conn.out.push_back(static_cast<uint8_t>(answer.size()));
  conn.out.insert(conn.out.end(), answer.begin(), answer.end());
}

bool TcpServer::on_readable(Connection& conn) {
  bool open = true;
  while (open && conn.out.size() - conn.out_sent < kMaxPendingOutput) {
    const size_t old = conn.in.size();
    conn.in.resize(old + kReadChunk);
    const ssize_t got = ::recv(conn.fd.get(), conn.in.data() + old, kReadChunk, 0);
    if (got <= 0) {
      conn.in.resize(old);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
      open = false;  // closed by the client, or an error: answer what came, then close
      break;
    }
    conn.in.resize(old + static_cast<size_t>(got));
    conn.last_active = std::chrono::steady_clock::now();
    // Answer every complete message in the buffer, in order (UPDATEs when they are durable).
    size_t pos = 0;
    while (conn.in.size() - pos >= 2) {
      const size_t length = size_t{conn.in[pos]} << 8 | conn.in[pos + 1];
      if (conn.in.size() - pos - 2 < length) break;
      const std::span<const uint8_t> request(conn.in.data() + pos + 2, length);
      pos += 2 + length;
      if (services_.is_update(request)) {
        services_.updater->submit(request, [this, id = conn.id](std::span<const uint8_t> answer) { deliver(id, answer); });
        continue;
      }
      if (services_.transfers != nullptr && xfr::is_transfer(request)) {
        {
          std::lock_guard<std::mutex> guard(transfers_mutex_);
          transfer_jobs_.push_back({conn.id, std::vector<uint8_t>(request.begin(), request.end()), conn.peer});
        }
        transfers_wake_.notify_one();
        continue;
      }
      services_.lock.lock_shared();
      const size_t answer =
          query::respond(services_.catalog, request, response_, query::Transport::kTcp, services_.limits, services_.keyring);
      services_.lock.unlock_shared();
      if (answer != 0) queue_answer(conn, std::span<const uint8_t>(response_.data(), answer));
    }
    conn.in.erase(conn.in.begin(), conn.in.begin() + static_cast<ptrdiff_t>(pos));
    if (static_cast<size_t>(got) < kReadChunk) break;
  }
  return flush(conn) && open;
}

void TcpServer::deliver(uint64_t id, std::span<const uint8_t> answer) {
  {
    std::lock_guard<std::mutex> guard(deliveries_mutex_);
    deliveries_.push_back({id, std::vector<uint8_t>(answer.begin(), answer.end()), false});
  }
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) return;  // already signalled
}

void TcpServer::deliver_framed(uint64_t id, std::vector<uint8_t> framed) {
  {
    std::lock_guard<std::mutex> guard(deliveries_mutex_);
    deliveries_.push_back({id, std::move(framed), true});
  }
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) return;  // already signalled
}

void TcpServer::take_deliveries() {
  uint64_t count;
  if (::read(wake_.get(), &count, sizeof count) < 0) return;
  std::vector<Delivery> ready;
  {
    std::lock_guard<std::mutex> guard(deliveries_mutex_);
    ready.swap(deliveries_);
  }
  for (Delivery& delivery : ready) {
    auto it = connections_.find(delivery.id);
    if (it == connections_.end()) continue;  // the client left before its answer was ready
    if (delivery.framed) {
      Connection& conn = it->second;
      if (conn.out.empty()) {
        conn.out = std::move(delivery.bytes);
        conn.out_sent = 0;
      } else {
        conn.out.insert(conn.out.end(), delivery.bytes.begin(), delivery.bytes.end());
      }
      conn.last_active = std::chrono::steady_clock::now();
    } else {
      queue_answer(it->second, delivery.bytes);
    }
    if (!flush(it->second)) connections_.erase(it);
  }
}

bool TcpServer::flush(Connection& conn) {
  while (conn.out_sent < conn.out.size()) {
    const ssize_t sent = ::send(conn.fd.get(), conn.out.data() + conn.out_sent, conn.out.size() - conn.out_sent,
                                MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return false;
    }
    conn.out_sent += static_cast<size_t>(sent);
    conn.last_active = std::chrono::steady_clock::now();  // a long transfer to a slow reader is not idle
  }
  if (conn.out_sent == conn.out.size()) {
    conn.out.clear();
    conn.out_sent = 0;
  }
  const size_t pending = conn.out.size() - conn.out_sent;
  epoll_event ev{};
  ev.events = (pending < kMaxPendingOutput ? static_cast<uint32_t>(EPOLLIN) : 0u) |
              (pending > 0 ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = conn.id;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev);
  return true;
}

void TcpServer::close_idle() {
  const auto deadline = std::chrono::steady_clock::now() - options_.idle_timeout;
  absl::erase_if(connections_, [&](const auto& entry) { return entry.second.last_active < deadline; });
}

}  // namespace epmdns::net
