#include "net/udp_worker.h"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>

#include "common/thread_name.h"

namespace epmdns::net {
namespace {

constexpr size_t kBatch = 32;
constexpr size_t kMaxRequest = 4096;
constexpr size_t kMaxResponse = 4096;

// Buffers for one batch, allocated once per thread.
struct Batch {
  std::array<std::array<uint8_t, kMaxRequest>, kBatch> requests;
  std::array<std::array<uint8_t, kMaxResponse>, kBatch> responses;
  std::array<sockaddr_storage, kBatch> peers;
  std::array<iovec, kBatch> in_iov, out_iov;
  std::array<mmsghdr, kBatch> in, out;

  void arm() {
    for (size_t i = 0; i < kBatch; ++i) {
      in_iov[i] = {requests[i].data(), requests[i].size()};
      in[i].msg_hdr = {};
      in[i].msg_hdr.msg_name = &peers[i];
      in[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      in[i].msg_hdr.msg_iov = &in_iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
  }
};

}  // namespace

UdpWorker::UdpWorker(UniqueFd socket, int stop_fd, Services services)
    : socket_(std::move(socket)), stop_fd_(stop_fd), services_(services) {
  thread_ = std::thread([this] {
    name_this_thread("epmdns-udp");
    run();
  });
}

UdpWorker::~UdpWorker() { join(); }

void UdpWorker::join() {
  if (thread_.joinable()) thread_.join();
}

void UdpWorker::run() {
  auto batch = std::make_unique<Batch>();
  pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    while (true) {
      batch->arm();
      const int received = ::recvmmsg(socket_.get(), batch->in.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (received <= 0) break;
      unsigned replies = 0;
      services_.lock.lock_shared();
      for (int i = 0; i < received; ++i) {
        const msghdr& hdr = batch->in[i].msg_hdr;
        const std::span<const uint8_t> request(batch->requests[i].data(), batch->in[i].msg_len);
        size_t length;
        if (hdr.msg_flags & MSG_TRUNC) {
          // Larger than our buffer: FORMERR from the header alone (a large UPDATE belongs on TCP).
          length = query::refuse_oversized(request, batch->responses[replies]);
        } else if (services_.is_update(request)) {
          submit_update(request, batch->peers[i], hdr.msg_namelen);
          continue;
        } else {
          length = query::respond(services_.catalog, request, batch->responses[replies], query::Transport::kUdp,
                                  services_.limits, services_.keyring);
        }
        if (length == 0) continue;
        batch->out_iov[replies] = {batch->responses[replies].data(), length};
        batch->out[replies].msg_hdr = {};
        batch->out[replies].msg_hdr.msg_name = const_cast<void*>(hdr.msg_name);
        batch->out[replies].msg_hdr.msg_namelen = hdr.msg_namelen;
        batch->out[replies].msg_hdr.msg_iov = &batch->out_iov[replies];
        batch->out[replies].msg_hdr.msg_iovlen = 1;
        ++replies;
      }
      services_.lock.unlock_shared();
      for (unsigned sent = 0; sent < replies;) {
        const int n = ::sendmmsg(socket_.get(), batch->out.data() + sent, replies - sent, 0);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          ++sent;  // drop the datagram the kernel refused and go on with the rest
          continue;
        }
        sent += static_cast<unsigned>(n);
      }
      if (static_cast<size_t>(received) < kBatch) break;
    }
  }
}

void UdpWorker::submit_update(std::span<const uint8_t> request, const sockaddr_storage& peer, socklen_t peer_length) {
  services_.updater->submit(request, [fd = socket_.get(), peer, peer_length](std::span<const uint8_t> answer) {
    ::sendto(fd, answer.data(), answer.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&peer), peer_length);
  });
}

}  // namespace epmdns::net
