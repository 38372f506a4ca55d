// The Resolver object itself, in process: shutdown cancels, the time bound holds, callbacks
// may call back in. The only server is a loopback UDP socket that never answers.
#include "resolver/resolver.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
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
