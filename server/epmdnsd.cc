// epmdnsd: authoritative DNS for Erlang node records.
#include <sys/eventfd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "default_zone.h"
#include "net/endpoint.h"
#include "net/tcp_server.h"
#include "net/udp_worker.h"
#include "wire/name.h"
#include "zone/loader.h"

ABSL_FLAG(std::vector<std::string>, listen, {"127.0.0.1:8053"},
          "Address to serve DNS on over UDP and TCP, as ADDR:PORT or [IPv6]:PORT. Repeat the flag "
          "(or separate with commas) for several addresses.");
ABSL_FLAG(std::string, zones, "",
          "Zone file, or directory of *.zone files (one zone each, RFC 1035 master format). "
          "Empty: the built-in copy of zones/erl.internal.zone.");
ABSL_FLAG(int, threads, 0, "UDP worker threads per listen address (0: one per CPU).");
ABSL_FLAG(int, max_udp_size, 1232,
          "Largest UDP answer in bytes (512-4096); caps the requester's EDNS buffer size.");
ABSL_FLAG(int, tcp_idle_timeout, 10, "Seconds before an idle TCP connection is closed.");
ABSL_FLAG(int, tcp_max_connections, 1000, "Most TCP connections open at once.");

namespace {

using namespace epmdns;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "epmdnsd: %s\n", message.c_str());
  std::exit(1);
}

// Abseil keeps only the last value of a repeated flag and knows only underscores:
// make `--listen a --listen b` add up, and accept `--max-udp-size` for `--max_udp_size`.
std::vector<std::string> normalize_args(int argc, char** argv) {
  std::vector<std::string> args;
  std::vector<std::string> listen;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.starts_with("-") && arg != "--") {
      const size_t dashes = arg.starts_with("--") ? 2 : 1;
      const size_t end = std::min(arg.find('='), arg.size());
      for (size_t k = dashes; k < end; ++k) {
        if (arg[k] == '-') arg[k] = '_';
      }
      const std::string_view name = std::string_view(arg).substr(dashes, end - dashes);
      if (name == "listen") {
        if (end < arg.size()) {
          listen.push_back(arg.substr(end + 1));
          continue;
        }
        if (i + 1 < argc) {
          listen.emplace_back(argv[++i]);
          continue;
        }
      }
    }
    args.push_back(std::move(arg));
  }
  if (!listen.empty()) args.insert(args.begin() + 1, "--listen=" + absl::StrJoin(listen, ","));
  return args;
}

// Prints the usage and every epmdnsd flag to stdout (Abseil's --help exits with status 1).
[[noreturn]] void print_help() {
  std::printf("epmdnsd: %s\n\n", std::string(absl::ProgramUsageMessage()).c_str());
  std::vector<std::pair<std::string, const absl::CommandLineFlag*>> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (std::string(flag->Filename()).ends_with("epmdnsd.cc")) flags.emplace_back(std::string(name), flag);
  }
  std::sort(flags.begin(), flags.end());
  for (const auto& [name, flag] : flags) {
    std::string spelled = name;
    std::replace(spelled.begin(), spelled.end(), '_', '-');
    std::printf("  --%s (default: %s)\n      %s\n", spelled.c_str(), flag->DefaultValue().c_str(),
                flag->Help().c_str());
  }
  std::exit(0);
}

// One clear line for a flag given without its value (Abseil would print two).
void check_values_present(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!arg.starts_with("-") || arg == "--" || arg.find('=') != std::string::npos) continue;
    std::string name = arg.substr(arg.starts_with("--") ? 2 : 1);
    if (name == "help" || name == "h") print_help();
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || flag->IsOfType<bool>()) continue;
    if (i + 1 == args.size() || args[i + 1].starts_with("--")) {
      std::replace(name.begin(), name.end(), '_', '-');
      fail(absl::StrCat("--", name, " needs a value (see --help)"));
    }
    ++i;
  }
}

zone::Catalog load_zones(const std::string& path) {
  if (!path.empty()) {
    absl::StatusOr<zone::Catalog> catalog = zone::load_catalog(path);
    if (!catalog.ok()) fail(std::string(catalog.status().message()));
    return std::move(*catalog);
  }
  auto zone = zone::load_zone_text(kDefaultZoneText, kDefaultZoneSource, kDefaultZoneOrigin);
  if (!zone.ok()) fail(std::string(zone.status().message()));
  zone::Catalog catalog;
  catalog.add(std::move(*zone));
  return catalog;
}

int int_flag_in(const absl::Flag<int>& flag, const std::string& name, int low, int high) {
  const int value = absl::GetFlag(flag);
  if (value < low || value > high) fail(absl::StrCat("--", name, " must be between ", low, " and ", high));
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "authoritative DNS server for Erlang distribution (epmdns).\n"
      "Usage: epmdnsd [--listen ADDR:PORT]... [--zones PATH] [--threads N]\n"
      "Flags may be written with dashes or underscores (--max-udp-size).");
  std::vector<std::string> normalized = normalize_args(argc, argv);
  check_values_present(normalized);
  std::vector<char*> args;
  for (std::string& arg : normalized) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size() - 1), args.data());
  if (rest.size() > 1) fail(absl::StrCat("unexpected argument '", std::string(rest[1]), "' (see --help)"));

  query::Limits limits;
  limits.max_udp_size = static_cast<size_t>(int_flag_in(FLAGS_max_udp_size, "max_udp_size", 512, 4096));
  int threads = int_flag_in(FLAGS_threads, "threads", 0, 256);
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  net::TcpOptions tcp;
  tcp.idle_timeout = std::chrono::seconds(int_flag_in(FLAGS_tcp_idle_timeout, "tcp_idle_timeout", 1, 3600));
  tcp.max_connections = static_cast<size_t>(int_flag_in(FLAGS_tcp_max_connections, "tcp_max_connections", 1, 1000000));

  std::vector<net::Endpoint> endpoints;
  for (const std::string& text : absl::GetFlag(FLAGS_listen)) {
    absl::StatusOr<net::Endpoint> endpoint = net::parse_endpoint(text);
    if (!endpoint.ok()) fail(absl::StrCat("--listen: ", std::string(endpoint.status().message())));
    endpoints.push_back(std::move(*endpoint));
  }
  if (endpoints.empty()) fail("--listen: at least one address is needed");

  const zone::Catalog catalog = load_zones(absl::GetFlag(FLAGS_zones));

  // Signals go to sigwait below, not to the serving threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
  std::vector<UniqueFd> tcp_listeners;
  std::vector<UniqueFd> udp_sockets;
  for (const net::Endpoint& endpoint : endpoints) {
    absl::StatusOr<UniqueFd> listener = net::listen_tcp(endpoint);
    if (!listener.ok()) fail(std::string(listener.status().message()));
    tcp_listeners.push_back(std::move(*listener));
    for (int i = 0; i < threads; ++i) {
      absl::StatusOr<UniqueFd> socket = net::bind_udp(endpoint);
      if (!socket.ok()) fail(std::string(socket.status().message()));
      udp_sockets.push_back(std::move(*socket));
    }
  }
  {
    std::vector<std::unique_ptr<net::UdpWorker>> workers;
    for (UniqueFd& socket : udp_sockets) {
      workers.push_back(std::make_unique<net::UdpWorker>(std::move(socket), stop.get(), catalog, limits));
    }
    net::TcpServer tcp_server(std::move(tcp_listeners), stop.get(), catalog, limits, tcp);

    std::vector<std::string> zone_names;
    for (const zone::Zone* z : catalog.zones()) zone_names.push_back(wire::wire_to_text(z->apex()));
    std::vector<std::string> listen_names;
    for (const net::Endpoint& e : endpoints) listen_names.push_back(e.text);
    std::fprintf(stderr, "epmdnsd: ready: zones %s; listening on %s (UDP and TCP), %d UDP threads each\n",
                 absl::StrJoin(zone_names, ", ").c_str(), absl::StrJoin(listen_names, ", ").c_str(), threads);

    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "epmdnsd: stopping on signal %d\n", signal);
    const uint64_t one = 1;
    if (::write(stop.get(), &one, sizeof one) < 0) return 1;
  }  // workers and the TCP thread join here
  return 0;
}
