// Benchmarks of the client resolver (resolver/): the cache on its own (no network), and a
// real Resolver against epmdnsd on loopback, cached and uncached. Not run by ctest.
//
//   build/bench/resolver_bench                                   # cache only
//   EPMDNSD=build/server/epmdnsd build/bench/resolver_bench      # and against epmdnsd
//
// epmdnsd serves tests/resolver/zones/ (EPMDNS_SOURCE_DIR, else the source tree this was
// built from) on a free loopback port; without EPMDNSD those benchmarks are skipped.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "resolver/cache.h"
#include "resolver/resolver.h"

namespace {

using namespace epmdns::resolver;

// --- The cache alone -----------------------------------------------------------------

std::unique_ptr<LookupCache<NodeResult>> filled_cache(int entries) {
  auto cache = std::make_unique<LookupCache<NodeResult>>(
      CacheOptions{}, [](const std::string&, LookupCache<NodeResult>::Callback done) {
        NodeResult r;
        r.status = Status::kOk;
        r.address_text = "127.0.0.1";
        r.port = 4370;
        r.ttl = 3600;
        done(r);
      });
  for (int i = 0; i < entries; ++i) {
    cache->lookup("\x04" "app" + std::to_string(i) + "\x0c_erlang-dist\x04_tcp\x05host1\x0c" "erl-internal4",
                  [](const NodeResult&) {});
  }
  return cache;
}

void BM_CacheHit(benchmark::State& state) {
  auto cache = filled_cache(static_cast<int>(state.range(0)));
  const std::string key = "\x04" "app7\x0c_erlang-dist\x04_tcp\x05host1\x0c" "erl-internal4";
  uint16_t port = 0;
  for (auto _ : state) {
    cache->lookup(key, [&port](const NodeResult& r) { port = r.port; });
    benchmark::DoNotOptimize(port);
  }
}
BENCHMARK(BM_CacheHit)->Arg(10)->Arg(100000);

void BM_CacheTryGet(benchmark::State& state) {
  auto cache = filled_cache(1000);
  const std::string key = "\x04" "app7\x0c_erlang-dist\x04_tcp\x05host1\x0c" "erl-internal4";
  for (auto _ : state) {
    auto r = cache->try_get(key);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CacheTryGet);

void BM_CacheHitContended(benchmark::State& state) {
  static std::unique_ptr<LookupCache<NodeResult>> cache;
  if (state.thread_index() == 0) cache = filled_cache(100000);
  const std::string key = "\x04" "app" + std::to_string(state.thread_index() * 7) +
                          "\x0c_erlang-dist\x04_tcp\x05host1\x0c" "erl-internal4";
  for (auto _ : state) {
    auto r = cache->try_get(key);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CacheHitContended)->Threads(1)->Threads(4);

// --- A real Resolver against epmdnsd ---------------------------------------------------

uint16_t free_udp_port() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  close(fd);
  return ntohs(sa.sin_port);
}

// epmdnsd on 127.0.0.1 for the whole run; killed at exit.
class Epmdnsd {
 public:
  static Epmdnsd* get() {
    static Epmdnsd server;
    return server.pid_ > 0 ? &server : nullptr;
  }
  const std::string& address() const { return address_; }
  ~Epmdnsd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  Epmdnsd() {
    const char* binary = std::getenv("EPMDNSD");
    if (!binary || access(binary, X_OK) != 0) return;
    const char* source = std::getenv("EPMDNS_SOURCE_DIR");
    const std::string zones = std::string(source ? source : EPMDNS_SOURCE_DIR) + "/tests/resolver/zones";
    const uint16_t port = free_udp_port();
    address_ = "127.0.0.1:" + std::to_string(port);
    pid_ = fork();
    if (pid_ == 0) {
      execl(binary, binary, "--listen", address_.c_str(), "--zones", zones.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready when it answers.
    ResolverOptions options;
    options.servers = *parse_server_list(address_);
    options.domain = "resolver.test.";
    options.cache.enabled = false;
    auto resolver = Resolver::create(options);
    for (int i = 0; i < 50 && resolver.ok(); ++i) {
      if ((*resolver)->lookup_node_sync("app1@host1", Family::kInet).status == Status::kOk) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  std::string address_;
};

std::unique_ptr<Resolver> resolver_for(const Epmdnsd& server, bool cache) {
  ResolverOptions options;
  options.servers = *parse_server_list(server.address());
  options.domain = "resolver.test.";
  options.cache.enabled = cache;
  return std::move(*Resolver::create(options));
}

void BM_ResolverCachedLookup(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::get();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  auto resolver = resolver_for(*server, true);
  if (resolver->lookup_node_sync("app1@host1", Family::kInet).status != Status::kOk) {
    return state.SkipWithError("epmdnsd did not answer");
  }
  for (auto _ : state) {
    auto r = resolver->lookup_node_sync("app1@host1", Family::kInet);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ResolverCachedLookup);

void BM_ResolverTryCached(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::get();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  auto resolver = resolver_for(*server, true);
  resolver->lookup_node_sync("app1@host1", Family::kInet);
  for (auto _ : state) {
    auto r = resolver->try_cached("app1@host1", Family::kInet);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ResolverTryCached);

// One SRV query over loopback per iteration; p50 and p99 as counters (µs).
void BM_ResolverUncachedLookup(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::get();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  auto resolver = resolver_for(*server, false);
  std::vector<double> us;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto r = resolver->lookup_node_sync("app1@host1", Family::kInet);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (r.status != Status::kOk) return state.SkipWithError("lookup failed");
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p99_us"] = us[us.size() * 99 / 100];
  }
}
BENCHMARK(BM_ResolverUncachedLookup)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
