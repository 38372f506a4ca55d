#include "net/tcp_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "wire/types.h"

namespace epmdns::net {
namespace {

constexpr size_t kReadChunk = 16384;
// Stop reading from a client whose answers pile up unread.
constexpr size_t kMaxPendingOutput = 1 << 20;

}  // namespace

TcpServer::TcpServer(std::vector<UniqueFd> listeners, int stop_fd, const zone::Catalog& catalog,
                     query::Limits limits, TcpOptions options)
    : listeners_(std::move(listeners)),
      stop_fd_(stop_fd),
      catalog_(catalog),
      limits_(limits),
      options_(options),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      response_(wire::kMaxMessageSize) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = stop_fd_;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_fd_, &ev);
  for (const UniqueFd& listener : listeners_) {
    ev.data.fd = listener.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener.get(), &ev);
  }
  thread_ = std::thread([this] { run(); });
}

TcpServer::~TcpServer() {
  if (thread_.joinable()) thread_.join();
}

void TcpServer::run() {
  epoll_event events[64];
  const int tick_ms = static_cast<int>(std::min<int64_t>(options_.idle_timeout.count() / 4 + 1, 500));
  auto last_sweep = std::chrono::steady_clock::now();
  while (true) {
    const int n = ::epoll_wait(epoll_.get(), events, 64, tick_ms);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == stop_fd_) return;
      bool is_listener = false;
      for (const UniqueFd& listener : listeners_) is_listener |= listener.get() == fd;
      if (is_listener) {
        accept_from(fd);
        continue;
      }
      auto it = connections_.find(fd);
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
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= options_.max_connections) {
      ::close(fd);
      continue;
    }
    Connection conn;
    conn.fd.reset(fd);
    conn.last_active = std::chrono::steady_clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) continue;
    connections_.emplace(fd, std::move(conn));
  }
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
    // Answer every complete message in the buffer, in order.
    size_t pos = 0;
    while (conn.in.size() - pos >= 2) {
      const size_t length = size_t{conn.in[pos]} << 8 | conn.in[pos + 1];
      if (conn.in.size() - pos - 2 < length) break;
      const size_t answer = query::respond(catalog_, std::span<const uint8_t>(conn.in.data() + pos + 2, length),
                                           response_, query::Transport::kTcp, limits_);
      pos += 2 + length;
      if (answer == 0) continue;
      conn.out.push_back(static_cast<uint8_t>(answer >> 8));
      conn.out.push_back(static_cast<uint8_t>(answer));
      conn.out.insert(conn.out.end(), response_.begin(), response_.begin() + static_cast<ptrdiff_t>(answer));
    }
    conn.in.erase(conn.in.begin(), conn.in.begin() + static_cast<ptrdiff_t>(pos));
    if (static_cast<size_t>(got) < kReadChunk) break;
  }
  return flush(conn) && open;
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
  }
  if (conn.out_sent == conn.out.size()) {
    conn.out.clear();
    conn.out_sent = 0;
  }
  epoll_event ev{};
  const size_t pending = conn.out.size() - conn.out_sent;
  ev.events = (pending < kMaxPendingOutput ? static_cast<uint32_t>(EPOLLIN) : 0u) |
              (pending > 0 ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.fd = conn.fd.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev);
  return true;
}

void TcpServer::close_idle() {
  const auto deadline = std::chrono::steady_clock::now() - options_.idle_timeout;
  absl::erase_if(connections_, [&](const auto& entry) { return entry.second.last_active < deadline; });
}

}  // namespace epmdns::net
