// Benchmarks of the client resolver (resolver/): the cache on its own (no network), and a
// real Resolver against epmdnsd on loopback: cached, uncached (latency percentiles), and
// 100,000 lookups at once on one channel (rate). Not run by ctest.
//
//   build/bench/resolver_bench                                   # cache only
//   EPMDNSD=build/server/epmdnsd build/bench/resolver_bench      # and against epmdnsd
//
// epmdnsd serves tests/resolver/zones/ (EPMDNS_SOURCE_DIR, else the source tree this was
// built from) on a free loopback port, and a generated 100,000-node zone on another;
// without EPMDNSD those benchmarks are skipped.
//
// BM_ResolverUncachedLookup reports p50/p90/p99 in µs as counters: each repetition warms up
// (1,000 lookups), then times 20,000 one by one; the aggregate lines give the median (and
// spread) of each percentile over 5 repetitions, which is the number to quote.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
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
  // Serving tests/resolver/zones/ (resolver.test.).
  static Epmdnsd* get() {
    static Epmdnsd server(test_zones(), "resolver.test.", "app1@host1");
    return server.pid_ > 0 ? &server : nullptr;
  }
  // Serving a generated zone bulk.test. of kBulkNodes nodes: n<i>@h<i>, port 10000 + i % 50000.
  static Epmdnsd* bulk() {
    static const std::string zone = bulk_zone();
    static Epmdnsd server(zone, "bulk.test.", "n0@h0");
    std::remove(zone.c_str());  // loaded by now
    return server.pid_ > 0 ? &server : nullptr;
  }
  static constexpr int kBulkNodes = 100000;
  const std::string& address() const { return address_; }
  ~Epmdnsd() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

 private:
  static std::string test_zones() {
    const char* source = std::getenv("EPMDNS_SOURCE_DIR");
    return std::string(source ? source : EPMDNS_SOURCE_DIR) + "/tests/resolver/zones";
  }

  static std::string bulk_zone() {
    const std::string path = "/tmp/resolver_bench-bulk-" + std::to_string(getpid()) + ".zone";
    std::ofstream out(path);
    out << "$ORIGIN bulk.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n@ IN NS ns1\n"
           "ns1 IN A 127.0.0.1\n";
    for (int i = 0; i < kBulkNodes; ++i) {
      out << "h" << i << " IN A 10." << ((i >> 16) & 255) << "." << ((i >> 8) & 255) << "." << (i & 255) << "\n"
          << "n" << i << "._erlang-dist._tcp.h" << i << " IN SRV 0 0 " << 10000 + i % 50000 << " h" << i << "\n"
          << "n" << i << "._erlang-dist._tcp.h" << i << " IN TXT \"vsn=6\"\n";
    }
    return path;
  }

  Epmdnsd(const std::string& zones, const std::string& domain, const std::string& probe) : domain_(domain) {
    const char* binary = std::getenv("EPMDNSD");
    if (!binary || access(binary, X_OK) != 0) return;
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
    options.domain = domain;
    options.cache.enabled = false;
    auto resolver = Resolver::create(options);
    for (int i = 0; i < 100 && resolver.ok(); ++i) {
      if ((*resolver)->lookup_node_sync(probe, Family::kInet).status == Status::kOk) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  std::string address_;
  std::string domain_;

 public:
  const std::string& domain() const { return domain_; }
};

std::unique_ptr<Resolver> resolver_for(const Epmdnsd& server, bool cache) {
  ResolverOptions options;
  options.servers = *parse_server_list(server.address());
  options.domain = server.domain();
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

// One SRV query over loopback at a time, timed one by one: p50/p90/p99 (µs) as counters.
// Each repetition has its own Resolver, warms up, then runs a fixed number of lookups, so the
// percentiles of the repetitions are comparable; quote the median aggregate.
void BM_ResolverUncachedLookup(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::get();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  auto resolver = resolver_for(*server, false);
  for (int i = 0; i < 1000; ++i) {
    if (resolver->lookup_node_sync("app1@host1", Family::kInet).status != Status::kOk) {
      return state.SkipWithError("epmdnsd did not answer");
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto r = resolver->lookup_node_sync("app1@host1", Family::kInet);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (r.status != Status::kOk) return state.SkipWithError("lookup failed");
  }
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p90_us"] = us[us.size() * 9 / 10];
    state.counters["p99_us"] = us[us.size() * 99 / 100];
  }
}
BENCHMARK(BM_ResolverUncachedLookup)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(20000)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

// The floor under BM_ResolverUncachedLookup: the same SRV query, built once, over a
// connected blocking UDP socket from this thread, without c-ares or a resolver thread. The
// difference between the two p50s is what the Resolver adds (two thread hand-offs, c-ares,
// parsing).
void BM_RawUdpRoundTrip(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::get();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  const std::string& address = server->address();
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // SRV app1._erlang-dist._tcp.host1.resolver.test. with EDNS(0) 1232, as the Resolver sends it.
  static const uint8_t kQuery[] = {
      0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
      4, 'a', 'p', 'p', '1', 12, '_', 'e', 'r', 'l', 'a', 'n', 'g', '-', 'd', 'i', 's', 't',
      4, '_', 't', 'c', 'p', 5, 'h', 'o', 's', 't', '1', 8, 'r', 'e', 's', 'o', 'l', 'v', 'e', 'r',
      4, 't', 'e', 's', 't', 0, 0x00, 0x21, 0x00, 0x01,
      0, 0x00, 0x29, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
  uint8_t answer[4096];
  auto exchange = [&] {
    send(fd, kQuery, sizeof kQuery, 0);
    return recv(fd, answer, sizeof answer, 0) > 12;
  };
  for (int i = 0; i < 1000; ++i) {
    if (!exchange()) {
      close(fd);
      return state.SkipWithError("epmdnsd did not answer");
    }
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = exchange();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (!ok) {
      close(fd);
      return state.SkipWithError("no answer");
    }
  }
  close(fd);
  std::sort(us.begin(), us.end());
  if (!us.empty()) {
    state.counters["p50_us"] = us[us.size() / 2];
    state.counters["p90_us"] = us[us.size() * 9 / 10];
    state.counters["p99_us"] = us[us.size() * 99 / 100];
  }
}
BENCHMARK(BM_RawUdpRoundTrip)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(20000)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

// Issue 4: 100,000 lookups at once on one channel (one Resolver), each of a different node of
// a generated zone, from one thread; the time until the last callback. items_per_second is
// the rate. arg 0: the cache off; 1: on (every name is new, so every lookup still queries).
void BM_Resolver100kConcurrentLookups(benchmark::State& state) {
  Epmdnsd* server = Epmdnsd::bulk();
  if (!server) return state.SkipWithError("set EPMDNSD to the epmdnsd binary to run this benchmark");
  constexpr int kCount = Epmdnsd::kBulkNodes;
  std::vector<std::string> nodes;
  nodes.reserve(kCount);
  for (int i = 0; i < kCount; ++i) nodes.push_back("n" + std::to_string(i) + "@h" + std::to_string(i));
  int64_t ok_total = 0;
  for (auto _ : state) {
    ResolverOptions options;
    options.servers = *parse_server_list(server->address());
    options.domain = server->domain();
    options.timeout = std::chrono::seconds(30);
    options.cache.enabled = state.range(0) != 0;
    auto resolver = std::move(*Resolver::create(options));
    std::atomic<int> left{kCount}, ok{0};
    std::promise<void> done;
    for (const std::string& node : nodes) {
      resolver->lookup_node(node, Family::kInet, [&](const NodeResult& r) {
        if (r.status == Status::kOk) ok.fetch_add(1, std::memory_order_relaxed);
        if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) done.set_value();
      });
    }
    done.get_future().wait();
    state.PauseTiming();
    ok_total += ok.load();
    resolver.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kCount);
  state.counters["failed"] = static_cast<double>(state.iterations() * kCount - ok_total);
}
BENCHMARK(BM_Resolver100kConcurrentLookups)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
