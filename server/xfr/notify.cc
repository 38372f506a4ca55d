#include "xfr/notify.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "common/thread_name.h"
#include "wire/message.h"
#include "wire/name.h"
#include "wire/reader.h"
#include "wire/tsig.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::xfr {
namespace {

std::vector<uint8_t> notify_message(std::string_view apex, uint16_t id, const std::optional<wire::TsigKey>& key) {
  std::vector<uint8_t> out(wire::kHeaderSize + wire::kMaxNameLength + 4 + (key ? wire::tsig_space(*key) : 0));
  wire::Writer writer(out);
  writer.put_u16(id);
  writer.put_u16(static_cast<uint16_t>(wire::opcode::NOTIFY << 11 | wire::flag::AA));
  writer.put_u16(1);
  for (int i = 0; i < 3; ++i) writer.put_u16(0);
  writer.put_name(apex, false);
  writer.put_u16(wire::rrtype::SOA);
  writer.put_u16(wire::rrclass::IN);
  if (key) wire::sign(writer, *key, static_cast<uint64_t>(std::time(nullptr)), wire::kTsigDefaultFudge, {}, 0, {});
  out.resize(writer.size());
  return out;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

}  // namespace

Notifier::Notifier(std::vector<NotifyTarget> targets, NotifyOptions options)
    : targets_(std::move(targets)),
      options_(options),
      socket4_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
      socket6_(::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  thread_ = std::thread([this] {
    name_this_thread("epmdns-notify");
    run();
  });
}

Notifier::~Notifier() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // the eventfd is already signalled: the thread wakes anyway
  }
  if (thread_.joinable()) thread_.join();
}

void Notifier::zone_changed(std::string_view apex) {
  if (targets_.empty()) return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    dirty_.emplace(apex);
  }
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // already signalled
  }
}

uint64_t Notifier::sent() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return sent_;
}

uint64_t Notifier::acknowledged() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return acknowledged_;
}

void Notifier::send(Outstanding& out) {
  const NotifyTarget& target = targets_[out.target];
  // Signed anew each time: a resend an hour later must be within the TSIG fudge.
  if (target.key) out.message = notify_message(out.apex, out.id, target.key);
  const int fd = target.address.ss_family == AF_INET6 ? socket6_.get() : socket4_.get();
  ::sendto(fd, out.message.data(), out.message.size(), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&target.address), target.length);
  ++out.tries;
  out.next_try = Clock::now() + std::min<Clock::duration>(options_.first_retry * (1 << std::min(out.tries - 1, 20)),
                                                         options_.max_retry);
  std::lock_guard<std::mutex> guard(mutex_);
  ++sent_;
}

void Notifier::receive(int fd) {
  uint8_t buffer[512];
  while (true) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const ssize_t got = ::recvfrom(fd, buffer, sizeof buffer, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), &length);
    if (got < 0) return;
    wire::Reader reader(std::span<const uint8_t>(buffer, static_cast<size_t>(got)));
    wire::Header header;
    if (!wire::read_header(reader, header) || !header.qr() || header.opcode() != wire::opcode::NOTIFY) continue;
    // Any answer from the target, whatever its rcode, ends the retries: resending would not change it.
    for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
      if (it->id != header.id || !same_address(targets_[it->target].address, peer)) continue;
      if ((header.flags & 0xF) != wire::rcode::NOERROR) {
        std::fprintf(stderr, "epmdnsd: NOTIFY %s to %s answered with rcode %d\n",
                     wire::wire_to_text(it->apex).c_str(), targets_[it->target].text.c_str(), header.flags & 0xF);
      }
      outstanding_.erase(it);
      std::lock_guard<std::mutex> guard(mutex_);
      ++acknowledged_;
      break;
    }
  }
}

void Notifier::run() {
  std::mt19937 random(std::random_device{}());
  while (true) {
    std::vector<std::string> dirty;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      if (stopping_) return;
      dirty.assign(dirty_.begin(), dirty_.end());
      dirty_.clear();
    }
    const Clock::time_point now = Clock::now();
    Clock::time_point wake_at = now + std::chrono::seconds(10);
    std::vector<std::string> later;
    for (std::string& apex : dirty) {
      auto last = last_sent_.find(apex);
      if (last != last_sent_.end() && now - last->second < options_.min_interval) {
        wake_at = std::min(wake_at, last->second + options_.min_interval);
        later.push_back(std::move(apex));
        continue;
      }
      last_sent_[apex] = now;
      for (size_t t = 0; t < targets_.size(); ++t) {
        if (!targets_[t].zone.empty() && targets_[t].zone != apex) continue;
        // A newer NOTIFY replaces an older one still unanswered.
        std::erase_if(outstanding_, [&](const Outstanding& o) { return o.target == t && o.apex == apex; });
        Outstanding out;
        out.apex = apex;
        out.target = t;
        out.id = static_cast<uint16_t>(random());
        if (!targets_[t].key) out.message = notify_message(apex, out.id, std::nullopt);
        send(out);
        outstanding_.push_back(std::move(out));
      }
    }
    if (!later.empty()) {
      std::lock_guard<std::mutex> guard(mutex_);
      for (std::string& apex : later) dirty_.insert(std::move(apex));
    }
    for (auto it = outstanding_.begin(); it != outstanding_.end();) {
      if (it->next_try <= Clock::now()) {
        if (it->tries == options_.tries_before_warning) {
          std::fprintf(stderr, "epmdnsd: NOTIFY %s to %s not answered after %d tries; resending every %lld s\n",
                       wire::wire_to_text(it->apex).c_str(), targets_[it->target].text.c_str(), it->tries,
                       static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(options_.max_retry).count()));
        }
        send(*it);
      }
      wake_at = std::min(wake_at, it->next_try);
      ++it;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - Clock::now()).count();
    pollfd fds[3] = {{wake_.get(), POLLIN, 0}, {socket4_.get(), POLLIN, 0}, {socket6_.get(), POLLIN, 0}};
    const int ready = ::poll(fds, 3, static_cast<int>(std::clamp<int64_t>(wait + 1, 0, 10000)));
    if (ready <= 0) continue;
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      if (::read(wake_.get(), &count, sizeof count) < 0) {
        // spurious
      }
    }
    if (fds[1].revents & POLLIN) receive(socket4_.get());
    if (fds[2].revents & POLLIN) receive(socket6_.get());
  }
}

}  // namespace epmdns::xfr
