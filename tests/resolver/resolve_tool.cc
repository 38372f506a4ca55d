// epmdns_resolve: runs one Resolver call and prints its result as one JSON line, for the
// integration tests (tests/resolver/test_resolver.py).
//
//   epmdns_resolve [--servers LIST | --resolv-conf FILE] [--domain D] [--timeout-ms N] [--udp-payload N] [--parallel N]
//                  [--no-cache] [--stale-for-s N]
//                  node NAME@HOST [inet|inet6] | names HOST | nodes [ZONE] | script
//                  | many COUNT TEMPLATE [inet|inet6]
// --parallel N makes N node lookups at once and adds "ok_count": how many came back kOk.
// many COUNT TEMPLATE [inet|inet6]: COUNT lookups at once, of TEMPLATE with "{i}" replaced by
// 0..COUNT-1 (say n{i}@h{i}); prints one summary JSON line, then "i status port address
// version" for each lookup, in order.
// script: one Resolver (and so one cache) for many calls: reads one command a line from
// stdin ("node app1@host1", "names host1", ...) and prints one JSON line for each.
#include <atomic>
#include <chrono>
#include <future>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/json_text.h"
#include "resolver/resolver.h"

namespace {

using epmdns::resolver::Family;
using epmdns::resolver::Status;

std::string quoted(std::string_view text) { return epmdns::resolver::json_quote(text); }

int usage() {
  std::cerr << "usage: epmdns_resolve [--servers LIST | --resolv-conf FILE] [--domain D] [--timeout-ms N] [--udp-payload N] [--parallel N]\n"
               "                      [--no-cache] [--stale-for-s N]\n"
               "                      node NAME@HOST [inet|inet6] | names HOST | nodes [ZONE] | script\n"
               "                      | many COUNT TEMPLATE [inet|inet6]\n";
  return 2;
}

std::string tail(uint32_t ttl, bool stale, epmdns::resolver::Failure failure) {
  return ", \"ttl\": " + std::to_string(ttl) + ", \"stale\": " + (stale ? "true" : "false") +
         ", \"failure\": " + quoted(failure_name(failure));
}

// COUNT lookups started at once from this thread; the summary line and one line per lookup.
std::string many(epmdns::resolver::Resolver& resolver, int count, const std::string& pattern, Family family) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<epmdns::resolver::NodeResult> results(static_cast<size_t>(count));
  std::atomic<int> left{count};
  std::promise<void> all_done;
  for (int i = 0; i < count; ++i) {
    std::string node = pattern;
    for (size_t at; (at = node.find("{i}")) != std::string::npos;) node.replace(at, 3, std::to_string(i));
    resolver.lookup_node(node, family, [&, i](const epmdns::resolver::NodeResult& r) {
      results[static_cast<size_t>(i)] = r;
      if (--left == 0) all_done.set_value();
    });
  }
  const auto submitted = std::chrono::steady_clock::now();
  all_done.get_future().wait();
  const auto end = std::chrono::steady_clock::now();
  int ok_count = 0;
  for (const auto& r : results) ok_count += r.status == Status::kOk;
  using ms = std::chrono::milliseconds;
  std::string out = "{\"count\": " + std::to_string(count) + ", \"ok_count\": " + std::to_string(ok_count) +
                    ", \"submit_ms\": " + std::to_string(std::chrono::duration_cast<ms>(submitted - start).count()) +
                    ", \"elapsed_ms\": " + std::to_string(std::chrono::duration_cast<ms>(end - start).count()) + "}\n";
  for (int i = 0; i < count; ++i) {
    const auto& r = results[static_cast<size_t>(i)];
    out += std::to_string(i) + " " + std::string(status_name(r.status)) + " " + std::to_string(r.port) + " " +
           (r.address_text.empty() ? "-" : r.address_text) + " " + std::to_string(r.version) + "\n";
  }
  out.pop_back();
  return out;
}

// One call; its JSON line, or "" for a malformed command.
std::string run(epmdns::resolver::Resolver& resolver, const std::vector<std::string>& args, int parallel) {
  const auto start = std::chrono::steady_clock::now();
  std::string out;
  if (args.empty()) return out;
  if (args[0] == "many" && (args.size() == 3 || args.size() == 4) && std::atoi(args[1].c_str()) > 0) {
    const Family family = args.size() == 4 && args[3] == "inet6" ? Family::kInet6 : Family::kInet;
    return many(resolver, std::atoi(args[1].c_str()), args[2], family);
  }
  if (args[0] == "node" && (args.size() == 2 || args.size() == 3)) {
    const Family family = args.size() == 3 && args[2] == "inet6" ? Family::kInet6 : Family::kInet;
    std::atomic<int> ok_count{0};
    if (parallel > 1) {
      std::atomic<int> left{parallel};
      std::promise<void> all_done;
      for (int i = 0; i < parallel; ++i) {
        resolver.lookup_node(args[1], family, [&](const epmdns::resolver::NodeResult& r) {
          if (r.status == Status::kOk) ++ok_count;
          if (--left == 0) all_done.set_value();
        });
      }
      all_done.get_future().wait();
    }
    const auto r = resolver.lookup_node_sync(args[1], family);
    out = "{";
    if (parallel > 1) out += "\"ok_count\": " + std::to_string(ok_count.load()) + ", ";
    out += "\"status\": " + quoted(status_name(r.status)) + ", \"address\": " + quoted(r.address_text) +
           ", \"port\": " + std::to_string(r.port) + ", \"version\": " + std::to_string(r.version) +
           tail(r.ttl, r.stale, r.failure);
  } else if (args[0] == "names" && args.size() == 2) {
    const auto r = resolver.names_sync(args[1]);
    out = "{\"status\": " + quoted(status_name(r.status)) + ", \"names\": [";
    for (size_t i = 0; i < r.names.size(); ++i) {
      out += (i ? ", [" : "[") + quoted(r.names[i].name) + ", " + std::to_string(r.names[i].port) + "]";
    }
    out += "]" + tail(r.ttl, r.stale, r.failure);
  } else if (args[0] == "nodes" && args.size() <= 2) {
    const auto r = resolver.nodes_sync(args.size() == 2 ? args[1] : "");
    out = "{\"status\": " + quoted(status_name(r.status)) + ", \"nodes\": [";
    for (size_t i = 0; i < r.nodes.size(); ++i) out += (i ? ", " : "") + quoted(r.nodes[i]);
    out += "]" + tail(r.ttl, r.stale, r.failure);
  } else {
    return out;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return out + ", \"elapsed_ms\": " + std::to_string(elapsed.count()) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  epmdns::resolver::ResolverOptions options;
  std::vector<std::string> args;
  int parallel = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--parallel") {
      const char* v = value();
      if (!v || std::atoi(v) < 1) return usage();
      parallel = std::atoi(v);
    } else if (arg == "--no-cache") {
      options.cache.enabled = false;
    } else if (arg == "--stale-for-s") {
      const char* v = value();
      if (!v) return usage();
      options.cache.stale_for = std::chrono::seconds(std::atoi(v));
    } else if (arg == "--resolv-conf") {
      const char* v = value();
      if (!v) return usage();
      options.resolv_conf = v;
    } else if (arg == "--servers" || arg == "--domain" || arg == "--timeout-ms" || arg == "--udp-payload") {
      const char* v = value();
      if (!v) return usage();
      if (arg == "--servers") {
        auto list = epmdns::resolver::parse_server_list(v);
        if (!list) {
          std::cerr << "epmdns_resolve: bad server list: " << v << "\n";
          return 2;
        }
        options.servers = *list;
      } else if (arg == "--domain") {
        options.domain = v;
      } else if (arg == "--timeout-ms") {
        options.timeout = std::chrono::milliseconds(std::atoi(v));
      } else {
        options.udp_payload = static_cast<uint16_t>(std::atoi(v));
      }
    } else {
      args.emplace_back(arg);
    }
  }
  if (args.empty()) return usage();
  auto resolver = epmdns::resolver::Resolver::create(options);
  if (!resolver.ok()) {
    std::cerr << "epmdns_resolve: " << resolver.status() << "\n";
    return 2;
  }
  if (args[0] == "script" && args.size() == 1) {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::vector<std::string> command;
      std::istringstream words(line);
      for (std::string word; words >> word;) command.push_back(word);
      if (command.empty()) continue;
      const std::string out = run(**resolver, command, 1);
      std::cout << (out.empty() ? "{\"error\": \"bad command\"}" : out) << std::endl;
    }
    return 0;
  }
  const std::string out = run(**resolver, args, parallel);
  if (out.empty()) return usage();
  std::cout << out << "\n";
  return 0;
}
