// epmdnsd: authoritative DNS for Erlang node records.
#include <sys/eventfd.h>

#include <algorithm>
#include <csignal>
#include <map>
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
#include "update/updater.h"
#include "wire/tsig_key.h"
#include "xfr/acl.h"
#include "xfr/history.h"
#include "xfr/notify.h"
#include "xfr/transfer.h"
#include "zone/loader.h"
#include "zone/rw_lock.h"

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
ABSL_FLAG(std::string, state_dir, "",
          "Directory for the journal of dynamic updates. Without it, DNS UPDATE is refused.");
ABSL_FLAG(std::string, keys, "",
          "File of TSIG keys in BIND's format (tsig-keygen output); updates signed with them are accepted.");
ABSL_FLAG(std::string, update_policy, "",
          "File of 'grant KEY zone ZONE' / 'grant KEY host HOST' lines. Empty: every key may update every zone.");
ABSL_FLAG(std::string, journal_sync, "disk",
          "When an update counts as durable: 'disk' (fdatasync before answering; survives power loss) or "
          "'os' (written to the kernel; survives a crash or kill -9 of epmdnsd, not of the machine).");
ABSL_FLAG(int, journal_max_mb, 64,
          "Journal size in MiB beyond which it is folded into a snapshot (in the background).");
ABSL_FLAG(bool, allow_unsigned_updates, false, "Accept UPDATE messages without TSIG (testing only).");
ABSL_FLAG(int, lease_min, 30, "Shortest lease granted (RFC 9664 UPDATE-LEASE), in seconds.");
ABSL_FLAG(int, lease_max, 86400, "Longest lease granted, in seconds.");
ABSL_FLAG(std::vector<std::string>, allow_transfer, {},
          "Who may transfer zones (AXFR/IXFR over TCP): an address, a prefix (10.0.0.0/8, fd00::/8) or "
          "key:NAME for a TSIG key of --keys; ZONE=ENTRY (erl.internal=key:xfr) limits an entry to one zone. "
          "Repeat the flag or separate with commas. Empty: every transfer is refused.");
ABSL_FLAG(std::vector<std::string>, notify, {},
          "Secondary to send NOTIFY to after every change, as [ZONE=]ADDR:PORT[/key:NAME] ([IPv6]:PORT for "
          "IPv6): ZONE= limits it to one zone, /key:NAME signs it with a key of --keys. Repeat the flag or "
          "separate with commas.");
ABSL_FLAG(int, ixfr_history_mb, 64,
          "MiB of recent changes per zone kept in memory to answer IXFR; older clients get the whole zone.");
ABSL_FLAG(int, lease_default, 0,
          "Lease for records added without an UPDATE-LEASE option, in seconds; 0: they do not lapse.");

namespace {

using namespace epmdns;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "epmdnsd: %s\n", message.c_str());
  std::exit(1);
}

// Abseil keeps only the last value of a repeated flag and knows only underscores:
// make `--listen a --listen b` (and --allow-transfer, --notify) add up, and accept `--max-udp-size` for `--max_udp_size`.
std::vector<std::string> normalize_args(int argc, char** argv) {
  std::vector<std::string> args;
  std::map<std::string, std::vector<std::string>> repeated;  // listen, allow_transfer, notify
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.starts_with("-") && arg != "--") {
      const size_t dashes = arg.starts_with("--") ? 2 : 1;
      const size_t end = std::min(arg.find('='), arg.size());
      for (size_t k = dashes; k < end; ++k) {
        if (arg[k] == '-') arg[k] = '_';
      }
      const std::string name(std::string_view(arg).substr(dashes, end - dashes));
      if (name == "listen" || name == "allow_transfer" || name == "notify") {
        if (end < arg.size()) {
          repeated[name].push_back(arg.substr(end + 1));
          continue;
        }
        if (i + 1 < argc) {
          repeated[name].emplace_back(argv[++i]);
          continue;
        }
      }
    }
    args.push_back(std::move(arg));
  }
  for (const auto& [name, values] : repeated) args.insert(args.begin() + 1, "--" + name + "=" + absl::StrJoin(values, ","));
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

int int_flag_in(const absl::Flag<int>& flag, const std::string& name, int low, int high) {
  const int value = absl::GetFlag(flag);
  if (value < low || value > high) fail(absl::StrCat("--", name, " must be between ", low, " and ", high));
  return value;
}

absl::StatusOr<zone::Catalog> load_zones(const std::string& path) {
  if (!path.empty()) return zone::load_catalog(path);
  auto zone = zone::load_zone_text(kDefaultZoneText, kDefaultZoneSource, kDefaultZoneOrigin);
  if (!zone.ok()) return zone.status();
  zone::Catalog catalog;
  catalog.add(std::move(*zone));
  return catalog;
}

wire::Keyring load_keys() {
  wire::Keyring keyring;
  const std::string path = absl::GetFlag(FLAGS_keys);
  if (path.empty()) return keyring;
  absl::StatusOr<std::vector<wire::TsigKey>> keys = wire::load_key_file(path);
  if (!keys.ok()) fail(std::string(keys.status().message()));
  for (wire::TsigKey& key : *keys) keyring.add(std::move(key));
  return keyring;
}

std::unique_ptr<update::Updater> start_updater(zone::Catalog& catalog, zone::RwLock& lock,
                                               const wire::Keyring& keyring, update::ChangeListener* listener) {
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const std::string keys_path = absl::GetFlag(FLAGS_keys);
  const std::string policy_path = absl::GetFlag(FLAGS_update_policy);
  if (state_dir.empty()) {
    if (!keys_path.empty() || !policy_path.empty() || absl::GetFlag(FLAGS_allow_unsigned_updates)) {
      fail("updates need --state-dir: an acknowledged update must be in the journal");
    }
    return nullptr;
  }
  update::Policy policy = update::Policy::any_key_any_zone();
  if (!policy_path.empty()) {
    absl::StatusOr<update::Policy> loaded = update::Policy::load(policy_path);
    if (!loaded.ok()) fail(std::string(loaded.status().message()));
    policy = std::move(*loaded);
  }
  update::UpdaterConfig config;
  config.state_dir = state_dir;
  config.allow_unsigned = absl::GetFlag(FLAGS_allow_unsigned_updates);
  config.listener = listener;
  config.zone_loader = [path = absl::GetFlag(FLAGS_zones)] { return load_zones(path); };
  config.journal_max_size = static_cast<uint64_t>(int_flag_in(FLAGS_journal_max_mb, "journal-max-mb", 1, 1 << 20)) << 20;
  const std::string journal_sync = absl::GetFlag(FLAGS_journal_sync);
  if (journal_sync != "disk" && journal_sync != "os") fail("--journal-sync must be 'disk' or 'os'");
  config.flush_to_disk = journal_sync == "disk";
  config.leases.min = static_cast<uint32_t>(int_flag_in(FLAGS_lease_min, "lease-min", 1, 1 << 30));
  config.leases.max = static_cast<uint32_t>(int_flag_in(FLAGS_lease_max, "lease-max", 1, 1 << 30));
  config.leases.fallback = static_cast<uint32_t>(int_flag_in(FLAGS_lease_default, "lease-default", 0, 1 << 30));
  if (config.leases.min > config.leases.max) fail("--lease-min must not exceed --lease-max");
  absl::StatusOr<std::unique_ptr<update::Updater>> updater =
      update::Updater::start(catalog, lock, keyring, std::move(policy), config);
  if (!updater.ok()) fail(std::string(updater.status().message()));
  return std::move(*updater);
}


// A "ZONE=..." entry of `flag` must name a zone the server serves.
void check_zone_served(const std::string& apex, const zone::Catalog& catalog, std::string_view flag) {
  for (const zone::Zone* z : catalog.zones()) {
    if (z->apex() == apex) return;
  }
  fail(absl::StrCat(std::string(flag), ": no zone ", wire::wire_to_text(apex), " is served from --zones"));
}

xfr::TransferAcl load_transfer_acl(const wire::Keyring& keyring, const zone::Catalog& catalog) {
  xfr::TransferAcl acl;
  for (const std::string& entry : absl::GetFlag(FLAGS_allow_transfer)) {
    if (entry.empty()) continue;
    const absl::Status added = acl.add(entry, keyring);
    if (!added.ok()) fail(absl::StrCat("--allow-transfer: ", std::string(added.message())));
  }
  for (const std::string& apex : acl.scoped_zones()) check_zone_served(apex, catalog, "--allow-transfer");
  return acl;
}

// "[ZONE=]ADDR:PORT[/key:NAME]".
xfr::NotifyTarget parse_notify_target(std::string_view text, const wire::Keyring& keyring,
                                      const zone::Catalog& catalog) {
  const std::string quoted = absl::StrCat("--notify '", std::string(text), "'");
  absl::StatusOr<xfr::ZoneScoped> scoped = xfr::split_zone_scope(text);
  if (!scoped.ok()) fail(absl::StrCat(quoted, ": ", std::string(scoped.status().message())));
  xfr::NotifyTarget target;
  target.zone = scoped->zone;
  if (!target.zone.empty()) check_zone_served(target.zone, catalog, quoted);
  std::string_view address = scoped->item;
  const size_t slash = address.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view key_text = address.substr(slash + 1);
    wire::Name key_name;
    if (!key_text.starts_with("key:") || !key_name.assign_text(key_text.substr(4))) {
      fail(absl::StrCat(quoted, ": after '/' comes key:NAME"));
    }
    key_name.to_lower();
    const wire::TsigKey* key = keyring.find(key_name.wire());
    if (key == nullptr) fail(absl::StrCat(quoted, ": no such key in --keys"));
    target.key = *key;
    address = address.substr(0, slash);
  }
  absl::StatusOr<net::Endpoint> endpoint = net::parse_endpoint(std::string(address));
  if (!endpoint.ok()) fail(absl::StrCat(quoted, ": ", std::string(endpoint.status().message())));
  target.address = endpoint->address;
  target.length = endpoint->length;
  target.text = std::string(text);
  return target;
}

std::unique_ptr<xfr::Notifier> start_notifier(const wire::Keyring& keyring, const zone::Catalog& catalog) {
  std::vector<xfr::NotifyTarget> targets;
  for (const std::string& text : absl::GetFlag(FLAGS_notify)) {
    if (!text.empty()) targets.push_back(parse_notify_target(text, keyring, catalog));
  }
  if (targets.empty()) return nullptr;
  return std::make_unique<xfr::Notifier>(std::move(targets));
}

void notify_all(xfr::Notifier* notifier, zone::Catalog& catalog, zone::RwLock& lock) {
  if (notifier == nullptr) return;
  lock.lock_shared();
  for (const zone::Zone* z : catalog.zones()) notifier->zone_changed(z->apex());
  lock.unlock_shared();
}

// SIGHUP: read the zone files again. The journal is replayed on top by the updater, which
// swaps the zones in; without updates the swap happens here. A broken file keeps the old zones.
void reload_zones(zone::Catalog& catalog, zone::RwLock& lock, update::Updater* updater, xfr::Notifier* notifier) {
  const std::string path = absl::GetFlag(FLAGS_zones);
  if (updater != nullptr) {
    updater->reload([path] { return load_zones(path); });
    return;
  }
  absl::StatusOr<zone::Catalog> fresh = load_zones(path);
  if (!fresh.ok()) {
    std::fprintf(stderr, "epmdnsd: reload failed, keeping the zones served: %s\n",
                 std::string(fresh.status().message()).c_str());
    return;
  }
  lock.lock();
  catalog = std::move(*fresh);
  lock.unlock();
  std::fprintf(stderr, "epmdnsd: zones reloaded\n");
  notify_all(notifier, catalog, lock);
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

  // Signals go to sigwait below, not to the threads started from here on.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<zone::Catalog> loaded = load_zones(absl::GetFlag(FLAGS_zones));
  if (!loaded.ok()) fail(std::string(loaded.status().message()));
  zone::Catalog catalog = std::move(*loaded);
  zone::RwLock zones_lock;
  const wire::Keyring keyring = load_keys();
  const xfr::TransferAcl transfer_acl = load_transfer_acl(keyring, catalog);
  // NOTIFY goes out for every change the history records (once durable), and at start-up.
  std::unique_ptr<xfr::Notifier> notifier = start_notifier(keyring, catalog);
  const size_t history_mb = static_cast<size_t>(int_flag_in(FLAGS_ixfr_history_mb, "ixfr-history-mb", 0, 1 << 20));
  xfr::History history(history_mb << 20, [n = notifier.get()](std::string_view apex) {
    if (n != nullptr) n->zone_changed(apex);
  });
  std::unique_ptr<update::Updater> updater = start_updater(catalog, zones_lock, keyring, &history);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit makes journal writes fail (SERVFAIL), not the server die

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
  const xfr::TransferServices transfers{catalog, zones_lock, &history, transfer_acl, &keyring,
                                        xfr::kDefaultMessageSize, xfr::CopyOptions{}};
  const net::Services services{catalog, zones_lock, updater.get(), &keyring, limits, &transfers};
  {
    std::vector<std::unique_ptr<net::UdpWorker>> workers;
    for (UniqueFd& socket : udp_sockets) {
      workers.push_back(std::make_unique<net::UdpWorker>(std::move(socket), services));
    }
    net::TcpServer tcp_server(std::move(tcp_listeners), stop.get(), services, tcp);

    std::vector<std::string> zone_names;
    for (const zone::Zone* z : catalog.zones()) zone_names.push_back(wire::wire_to_text(z->apex()));
    std::vector<std::string> listen_names;
    for (const net::Endpoint& e : endpoints) listen_names.push_back(e.text);
    std::fprintf(stderr, "epmdnsd: ready: zones %s; listening on %s (UDP and TCP), %d UDP threads each\n",
                 absl::StrJoin(zone_names, ", ").c_str(), absl::StrJoin(listen_names, ", ").c_str(), threads);

    int signal = 0;
    notify_all(notifier.get(), catalog, zones_lock);
    while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
      reload_zones(catalog, zones_lock, updater.get(), notifier.get());
    }
    std::fprintf(stderr, "epmdnsd: stopping on signal %d\n", signal);
    // Stop reading requests, finish the updates already taken (their answers still go out
    // through the open sockets), then close everything.
    const uint64_t one = 1;
    if (::write(stop.get(), &one, sizeof one) < 0) return 1;
    for (auto& worker : workers) worker->stop();
    for (auto& worker : workers) worker->join();
    tcp_server.join();
    updater.reset();
    notifier.reset();
  }
  return 0;
}
