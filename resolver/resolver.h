// Resolver: finds Erlang nodes in DNS (README "How Erlang nodes appear in DNS") with c-ares.
// One c-ares channel and one event-loop thread per Resolver; every call is asynchronous
// with a total time bound, and callbacks run on the resolver thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "resolver/cache.h"
#include "resolver/result.h"
#include "resolver/server_list.h"

namespace epmdns::resolver {

struct ResolverOptions {
  ServerList servers;                        // failover order; empty: those of resolv_conf
  std::string resolv_conf;                   // where servers come from when none are given; empty: /etc/resolv.conf
  std::string domain = "erl.internal.";      // appended to short (dotless) host names
  std::chrono::milliseconds timeout{1000};   // total bound of each call, whatever servers do
  uint16_t udp_payload = 1232;               // EDNS(0) UDP size, 512-4096; 0: no EDNS, 512-byte answers
  CacheOptions cache;                        // answers kept for their TTL (cache.enabled = false: none)
  // Queries handed to c-ares at once; the others wait in order (each call keeps its own
  // deadline). Bounded so that a burst cannot overflow a server's socket buffer: a dropped
  // datagram costs a whole attempt timeout. 0 means the default.
  size_t max_queries_in_flight = 128;
};

class Resolver {
 public:
  using NodeCallback = std::function<void(const NodeResult&)>;
  using NamesCallback = std::function<void(const NamesResult&)>;
  using NodesCallback = std::function<void(const NodesResult&)>;

  // Starts the channel and the resolver thread; an error for a bad domain or c-ares failure.
  static absl::StatusOr<std::unique_ptr<Resolver>> create(ResolverOptions options);
  // Cancels what is pending (callbacks get kCancelled) and joins the thread. Must not be
  // called from a callback.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The port, address and version of "name@host". The callback runs exactly once, on the
  // resolver thread (kBadName and cached answers come before this returns, on the caller's
  // thread).
  void lookup_node(std::string_view node, Family family, NodeCallback callback);
  // net_adm:names(Host): the node names and ports listed at _erlang-dist._tcp.Host.
  void names(std::string_view host, NamesCallback callback);
  // Every node listed at _erlang-dist._tcp.Zone ("" means the configured domain).
  void nodes(std::string_view zone, NodesCallback callback);

  // Blocking forms, for callers without an event loop. Not from a callback (kCancelled).
  NodeResult lookup_node_sync(std::string_view node, Family family);
  NamesResult names_sync(std::string_view host);
  NodesResult nodes_sync(std::string_view zone);

  // The cached, fresh answer for a node lookup, or nullopt; never waits for the network
  // (for callers that must not block, such as an Erlang NIF on a scheduler thread). A hot
  // entry is refreshed in the background. nullopt when the cache is disabled.
  std::optional<NodeResult> try_cached(std::string_view node, Family family);

  class Impl;

 private:
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace epmdns::resolver
