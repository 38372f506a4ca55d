// The Resolver object itself, in process: shutdown cancels, the time bound holds, callbacks
// may call back in. The only server is a loopback UDP socket that never answers.
#include "resolver/resolver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <vector>

namespace epmdns::resolver {
namespace {

using namespace std::chrono_literals;

// A bound UDP socket on 127.0.0.1 that reads nothing and answers nothing.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~SilentServer() { close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A loopback UDP server on its own thread that answers every query with the question and
// a fixed rcode (no records), or with a malformed answer. It reads what has arrived, then
// answers it all at once, and records the largest such batch and whether a batch ever held
// one DNS ID twice.
class RcodeServer {
 public:
  explicit RcodeServer(uint8_t rcode, bool malformed = false) : rcode_(rcode), malformed_(malformed) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~RcodeServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  size_t largest_batch() const { return largest_batch_; }
  bool duplicate_ids() const { return duplicate_ids_; }
  size_t answered() const { return answered_; }

 private:
  struct Query {
    std::vector<uint8_t> answer;
    sockaddr_in peer;
  };

  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      // Everything that has arrived, then a little more: one batch.
      std::vector<Query> batch;
      std::set<uint16_t> ids;
      while (true) {
        pollfd q{fd_, POLLIN, 0};
        if (poll(&q, 1, 5) <= 0) break;
        uint8_t buf[512];
        Query query;
        socklen_t len = sizeof query.peer;
        const ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&query.peer), &len);
        if (n < 12) continue;
        const uint16_t id = static_cast<uint16_t>(buf[0] << 8 | buf[1]);
        if (!ids.insert(id).second) duplicate_ids_ = true;
        size_t end = 12;  // the question: the name's labels, then type and class
        while (end < static_cast<size_t>(n) && buf[end] != 0) end += buf[end] + 1;
        end += 5;
        if (end > static_cast<size_t>(n)) continue;
        query.answer.assign(buf, buf + end);
        query.answer[2] = 0x81;  // QR, RD
        query.answer[3] = 0x80 | rcode_;  // RA, the rcode
        query.answer[5] = 1;              // one question...
        for (int i = 6; i < 12; ++i) query.answer[i] = 0;  // ...and nothing else
        if (malformed_) {
          query.answer[7] = 1;  // one answer record that is not there
          query.answer.insert(query.answer.end(), {0xC0, 0x0C, 0x00});
        }
        batch.push_back(std::move(query));
      }
      largest_batch_ = std::max(largest_batch_.load(), batch.size());
      for (const Query& q : batch) {
        sendto(fd_, q.answer.data(), q.answer.size(), 0, reinterpret_cast<const sockaddr*>(&q.peer), sizeof q.peer);
        ++answered_;
      }
    }
  }

  uint8_t rcode_;
  bool malformed_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> largest_batch_{0};
  std::atomic<bool> duplicate_ids_{false};
  std::atomic<size_t> answered_{0};
  std::thread thread_;
};

// A loopback port that nothing listens on (UDP queries get ICMP port unreachable).
std::string closed_port_address() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
}

std::unique_ptr<Resolver> make_resolver(const std::string& servers, std::chrono::milliseconds timeout,
                                        size_t max_in_flight = 0) {
  ResolverOptions options;
  options.servers = *parse_server_list(servers);
  options.timeout = timeout;
  options.cache.enabled = false;
  options.max_queries_in_flight = max_in_flight;
  auto resolver = Resolver::create(options);
  EXPECT_TRUE(resolver.ok()) << resolver.status();
  return std::move(*resolver);
}

std::unique_ptr<Resolver> make_resolver(const SilentServer& server, std::chrono::milliseconds timeout) {
  ResolverOptions options;
  options.servers = *parse_server_list(server.address());
  options.timeout = timeout;
  auto resolver = Resolver::create(options);
  EXPECT_TRUE(resolver.ok()) << resolver.status();
  return std::move(*resolver);
}

TEST(Resolver, RejectsBadOptions) {
  ResolverOptions options;
  options.domain = "bad..domain";
  EXPECT_FALSE(Resolver::create(options).ok());
  options = ResolverOptions{};
  options.timeout = 0ms;
  EXPECT_FALSE(Resolver::create(options).ok());
  options = ResolverOptions{};
  options.udp_payload = 100;
  EXPECT_FALSE(Resolver::create(options).ok());
  options.udp_payload = 5000;
  EXPECT_FALSE(Resolver::create(options).ok());
}

TEST(Resolver, DestructionCancelsPendingCalls) {
  SilentServer server;
  auto resolver = make_resolver(server, 60s);
  std::atomic<int> cancelled{0}, other{0};
  auto count = [&](Status status) { (status == Status::kCancelled ? cancelled : other)++; };
  for (int i = 0; i < 10; ++i) {
    resolver->lookup_node("app@host" + std::to_string(i), Family::kInet, [&](const NodeResult& r) { count(r.status); });
  }
  resolver->names("host", [&](const NamesResult& r) { count(r.status); });
  resolver->nodes("", [&](const NodesResult& r) { count(r.status); });
  std::this_thread::sleep_for(50ms);  // let some of them reach c-ares
  resolver.reset();
  EXPECT_EQ(cancelled, 12);
  EXPECT_EQ(other, 0);
}

TEST(Resolver, BadNameIsReportedAtOnce) {
  SilentServer server;
  auto resolver = make_resolver(server, 1s);
  EXPECT_EQ(resolver->lookup_node_sync("no-host", Family::kInet).status, Status::kBadName);
  EXPECT_EQ(resolver->lookup_node_sync("a.b@host", Family::kInet).status, Status::kBadName);
  EXPECT_EQ(resolver->names_sync("bad..host").status, Status::kBadName);
}

TEST(Resolver, SilentServerGivesTimeoutFromManyThreads) {
  SilentServer server;
  auto resolver = make_resolver(server, 200ms);
  std::vector<std::future<Status>> results;
  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&resolver, i] {
      return resolver->lookup_node_sync("app@host" + std::to_string(i), Family::kInet6).status;
    }));
  }
  for (auto& result : results) EXPECT_EQ(result.get(), Status::kTimeout);
  const NodeResult r = resolver->lookup_node_sync("app@host", Family::kInet);
  EXPECT_EQ(r.failure, Failure::kTimedOut);
  EXPECT_FALSE(server_answered(r.failure));
}

// No server reachable and time running out are one kind of failure (kTimeout); a server
// that answers SERVFAIL/REFUSED/NOTIMP or nonsense is another (kServerFailure), and
// `failure` says which.
TEST(Resolver, UnreachableServerIsTimeoutNotServerFailure) {
  auto resolver = make_resolver(closed_port_address(), 5s);
  const auto start = std::chrono::steady_clock::now();
  const NodeResult node = resolver->lookup_node_sync("app@host", Family::kInet);
  EXPECT_EQ(node.status, Status::kTimeout);
  EXPECT_EQ(node.failure, Failure::kUnreachable);
  EXPECT_EQ(failure_name(node.failure), "unreachable");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);  // refused at once, not waited out
  const NamesResult names = resolver->names_sync("host");
  EXPECT_EQ(names.status, Status::kTimeout);
  EXPECT_EQ(names.failure, Failure::kUnreachable);
  const NodesResult nodes = resolver->nodes_sync("");
  EXPECT_EQ(nodes.status, Status::kTimeout);
  EXPECT_EQ(nodes.failure, Failure::kUnreachable);
}

TEST(Resolver, ServerAnswersAreServerFailures) {
  const struct {
    uint8_t rcode;
    bool malformed;
    Failure failure;
  } cases[] = {
      {2, false, Failure::kServFail},  {5, false, Failure::kRefused},   {4, false, Failure::kNotImp},
      {1, false, Failure::kBadRcode},  {0, true, Failure::kMalformed},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(failure_name(c.failure)));
    RcodeServer server(c.rcode, c.malformed);
    auto resolver = make_resolver(server.address(), 2s);
    const NodeResult node = resolver->lookup_node_sync("app@host", Family::kInet);
    EXPECT_EQ(node.status, Status::kServerFailure);
    EXPECT_EQ(node.failure, c.failure);
    EXPECT_TRUE(server_answered(node.failure));
    const NamesResult names = resolver->names_sync("host");
    EXPECT_EQ(names.status, Status::kServerFailure);
    EXPECT_EQ(names.failure, c.failure);
    const NodesResult nodes = resolver->nodes_sync("");
    EXPECT_EQ(nodes.status, Status::kServerFailure);
    EXPECT_EQ(nodes.failure, c.failure);
  }
}

TEST(Resolver, RefusedByTheFirstUnreachableSecondIsAServerFailure) {
  // c-ares reports the last error a server gave; a REFUSED answer is remembered across an
  // unreachable server after it.
  RcodeServer refusing(5);
  auto resolver = make_resolver(refusing.address() + "," + closed_port_address(), 2s);
  const NodeResult node = resolver->lookup_node_sync("app@host", Family::kInet);
  EXPECT_EQ(node.status, Status::kServerFailure);
  EXPECT_EQ(node.failure, Failure::kRefused);
}

TEST(Resolver, NotFoundAndOkHaveNoFailure) {
  RcodeServer nxdomain(3);
  auto resolver = make_resolver(nxdomain.address(), 2s);
  const NodeResult node = resolver->lookup_node_sync("app@host", Family::kInet);
  EXPECT_EQ(node.status, Status::kNotFound);
  EXPECT_EQ(node.failure, Failure::kNone);
  EXPECT_EQ(failure_name(node.failure), "");
}

// A burst far larger than the window: every lookup answered, the server never sees more
// than the window at once, and the queries it sees at once never share a DNS ID.
TEST(Resolver, BurstIsSentThroughABoundedWindowWithDistinctIds) {
  RcodeServer nxdomain(3);
  auto resolver = make_resolver(nxdomain.address(), 20s, 16);
  constexpr int kLookups = 2000;
  std::atomic<int> not_found{0}, left{kLookups};
  std::promise<void> done;
  for (int i = 0; i < kLookups; ++i) {
    resolver->lookup_node("n" + std::to_string(i) + "@h" + std::to_string(i % 7), Family::kInet,
                          [&](const NodeResult& r) {
                            if (r.status == Status::kNotFound) ++not_found;
                            if (--left == 0) done.set_value();
                          });
  }
  done.get_future().wait();
  EXPECT_EQ(not_found, kLookups);
  EXPECT_EQ(nxdomain.answered(), static_cast<size_t>(kLookups));  // no query sent twice
  EXPECT_LE(nxdomain.largest_batch(), 16u);
  EXPECT_GT(nxdomain.largest_batch(), 1u);  // but more than one at a time
  EXPECT_FALSE(nxdomain.duplicate_ids());
}

// Calls waiting for room in the window keep their own deadline.
TEST(Resolver, QueuedCallsTimeOutAtTheirDeadline) {
  SilentServer server;
  auto resolver = make_resolver(server.address(), 200ms, 1);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::future<NodeResult>> results;
  for (int i = 0; i < 20; ++i) {
    auto promise = std::make_shared<std::promise<NodeResult>>();
    results.push_back(promise->get_future());
    resolver->lookup_node("n" + std::to_string(i) + "@host", Family::kInet,
                          [promise](const NodeResult& r) { promise->set_value(r); });
  }
  for (auto& result : results) {
    const NodeResult r = result.get();
    EXPECT_EQ(r.status, Status::kTimeout);
    EXPECT_EQ(r.failure, Failure::kTimedOut);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);  // not 20 x 200 ms
}

TEST(Resolver, CallbacksMayStartCallsButNotWaitForThem) {
  SilentServer server;
  auto resolver = make_resolver(server, 100ms);
  std::promise<std::pair<Status, Status>> done;
  resolver->lookup_node("app@host", Family::kInet, [&](const NodeResult& first) {
    // Waiting on the resolver thread would wait for itself: refused.
    const Status sync = resolver->lookup_node_sync("app@host", Family::kInet).status;
    EXPECT_EQ(sync, Status::kCancelled);
    resolver->lookup_node("app@host", Family::kInet, [&, first](const NodeResult& second) {
      done.set_value({first.status, second.status});
    });
  });
  auto [first, second] = done.get_future().get();
  EXPECT_EQ(first, Status::kTimeout);
  EXPECT_EQ(second, Status::kTimeout);
}

TEST(Resolver, TryCachedNeverWaitsAndTimeoutsAreNotCached) {
  SilentServer server;
  auto resolver = make_resolver(server, 100ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(resolver->try_cached("app@host", Family::kInet));
  EXPECT_FALSE(resolver->try_cached("no-at-sign", Family::kInet));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_EQ(resolver->lookup_node_sync("app@host", Family::kInet).status, Status::kTimeout);
  EXPECT_FALSE(resolver->try_cached("app@host", Family::kInet));
  EXPECT_EQ(resolver->lookup_node_sync("app@host", Family::kInet).status, Status::kTimeout);
  EXPECT_EQ(resolver->names_sync("host").status, Status::kTimeout);
  EXPECT_EQ(resolver->nodes_sync("").status, Status::kTimeout);
}

TEST(Resolver, CacheCanBeDisabled) {
  SilentServer server;
  ResolverOptions options;
  options.servers = *parse_server_list(server.address());
  options.timeout = 100ms;
  options.cache.enabled = false;
  auto resolver = Resolver::create(options);
  ASSERT_TRUE(resolver.ok());
  EXPECT_FALSE((*resolver)->try_cached("app@host", Family::kInet));
  EXPECT_EQ((*resolver)->lookup_node_sync("app@host", Family::kInet).status, Status::kTimeout);
}

}  // namespace
}  // namespace epmdns::resolver
