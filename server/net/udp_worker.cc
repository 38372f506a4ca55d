#include "net/udp_worker.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <memory>
#include <vector>

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

UdpWorker::UdpWorker(UniqueFd socket, Services services) : socket_(std::move(socket)), services_(services) {
  thread_ = std::thread([this] {
    name_this_thread("epmdns-udp");
    run();
  });
}

UdpWorker::~UdpWorker() {
  stop();
  join();
}

void UdpWorker::stop() {
  stopping_.store(true, std::memory_order_relaxed);
  // Wakes the blocked recvmmsg (it returns at once from now on); sending still works, so
  // answers to updates already taken can go out. ENOTCONN is expected on a UDP socket.
  ::shutdown(socket_.get(), SHUT_RD);
}

void UdpWorker::join() {
  if (thread_.joinable()) thread_.join();
}

void UdpWorker::run() {
  auto batch = std::make_unique<Batch>();
  std::vector<update::Updater::Submission> updates;
  while (true) {
    batch->arm();
    // Blocks for the first datagram only, then takes what else is queued: one system call per
    // batch, and none to poll.
    const int received = ::recvmmsg(socket_.get(), batch->in.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (stopping_.load(std::memory_order_relaxed)) return;
    if (received <= 0) continue;  // EINTR, or a transient error such as ENOMEM
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
        updates.push_back({std::vector<uint8_t>(request.begin(), request.end()),
                           {socket_.get(), batch->peers[i], hdr.msg_namelen, nullptr}});
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
    if (!updates.empty()) services_.updater->submit(updates);
    for (unsigned sent = 0; sent < replies;) {
      const int n = ::sendmmsg(socket_.get(), batch->out.data() + sent, replies - sent, MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        ++sent;  // drop the datagram the kernel refused and go on with the rest
        continue;
      }
      sent += static_cast<unsigned>(n);
    }
  }
}

}  // namespace epmdns::net
