// epmdnsctl: look up, register and unregister Erlang nodes in DNS (see resolver/README.md).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "resolver/registrar.h"
#include "resolver/json_text.h"
#include "resolver/resolver.h"
#include "resolver/update_client.h"
#include "resolver/update_message.h"
#include "wire/tsig_key.h"
#include "wire/types.h"

namespace {

using namespace epmdns::resolver;

enum Exit { kOk = 0, kNotFound = 1, kUsage = 2, kRefused = 3, kTimeout = 4, kFailure = 5 };

constexpr const char* kHelp = R"(usage: epmdnsctl [OPTIONS] COMMAND [ARGS]

commands:
  resolve NODE                  address, port and version of NAME@HOST
  names HOST                    the nodes registered on HOST (net_adm:names)
  nodes [ZONE]                  every node of the cluster (default: --domain)
  register NODE PORT --key FILE [--address A] [--lease S] [--ttl S] [--if-free]
                                [--token T] [--renew-for S]
                                publish NODE (A/AAAA, SRV, TXT, two PTRs) with one UPDATE
  unregister NODE --key FILE [--token T]
                                delete NODE's SRV, TXT and PTRs (the host's address stays)
  lease NODE                    seconds left on NODE's lease, asked of the zone's primary
                                (epmdnsd; a standard secondary keeps no leases)
  keygen NAME [--algorithm A]   print a new BIND-format TSIG key (hmac-sha256 by default)

options:
  --server LIST      DNS servers (host:port, [v6]:port, comma-separated); default
                     /etc/resolv.conf. UPDATEs go to the first one, unless --primary-port.
  --primary-port P   send UPDATEs to the zone's primary (SOA MNAME, as nsupdate does) on port P
                     (the default when no --server is given, with port 53)
  --domain Z         zone of short host names and of UPDATEs (default erl.internal.)
  --timeout S        time bound of each call in seconds (default 3)
  --json             print JSON instead of lines
  --inet6            resolve: look up the AAAA address
  --address A        register: the address to publish (default: the local address of the
                     route towards the server)
  --lease S          register: ask for a lease of S seconds (RFC 9664 UPDATE-LEASE)
  --ttl S            register: TTL of the records (default 60)
  --if-free          register: only if NODE is not registered yet (else YXDOMAIN)
  --token T          register/unregister: TXT "vsn=6" "token=T"; renewals and unregister
                     happen only while the TXT still holds T (else NXRRSET)
  --renew-for S      register: keep renewing every lease/2 for S seconds, then stop and
                     let the lease lapse (0: until SIGINT/SIGTERM, then unregister)

exit codes: 0 ok, 1 not found, 2 usage or bad input (names, key file), 3 refused by the
server (an rcode such as REFUSED/YXDOMAIN/NXRRSET, or a TSIG error: BADKEY, BADSIG, BADTIME),
4 timeout or server unreachable (no server answered), 5 a server answered a lookup with
SERVFAIL/REFUSED/NOTIMP or a malformed answer, or another failure.
)";

struct Options {
  std::vector<std::string> args;
  ServerList servers;
  bool servers_given = false;
  std::optional<uint16_t> primary_port;
  std::string domain = "erl.internal.";
  int timeout_s = 3;
  bool json = false;
  bool inet6 = false;
  std::string key_file, address, token, algorithm = "hmac-sha256";
  std::optional<uint32_t> lease;
  uint32_t ttl = 60;
  bool if_free = false;
  std::optional<int> renew_for;
};

template <typename Text>
int fail(int code, const Text& message) {
  std::cerr << "epmdnsctl: " << message << "\n";
  return code;
}

std::string quoted(std::string_view text) { return epmdns::resolver::json_quote(text); }

template <typename T>
bool parse_number(const char* text, T& out, T low, T high) {
  long long value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < static_cast<long long>(low) || value > static_cast<long long>(high)) {
    return false;
  }
  out = static_cast<T>(value);
  return true;
}

// Returns an exit code, or -1 when parsing succeeded.
int parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() > 2 && arg.substr(0, 2) == "--") {
      std::string flag(arg.substr(2));
      std::string inline_value;
      bool has_inline = false;
      if (auto eq = flag.find('='); eq != std::string::npos) {
        inline_value = flag.substr(eq + 1);
        flag.resize(eq);
        has_inline = true;
      }
      for (char& c : flag) c = c == '_' ? '-' : c;
      if (flag == "help") {
        std::cout << kHelp;
        return kOk;
      }
      if (flag == "json" || flag == "inet6" || flag == "if-free") {
        (flag == "json" ? o.json : flag == "inet6" ? o.inet6 : o.if_free) = true;
        continue;
      }
      const char* value = has_inline ? inline_value.c_str() : (i + 1 < argc ? argv[++i] : nullptr);
      if (!value) return fail(kUsage, absl::StrCat("--", flag, " needs a value (see --help)"));
      std::string v = value;
      if (flag == "server") {
        auto list = parse_server_list(v);
        if (!list || list->empty()) return fail(kUsage, absl::StrCat("bad --server: ", v));
        o.servers.insert(o.servers.end(), list->begin(), list->end());
        o.servers_given = true;
      } else if (flag == "primary-port") {
        uint16_t port;
        if (!parse_number<uint16_t>(value, port, 1, 65535)) return fail(kUsage, absl::StrCat("bad --primary-port: ", v));
        o.primary_port = port;
      } else if (flag == "domain") {
        o.domain = v;
      } else if (flag == "timeout") {
        if (!parse_number<int>(value, o.timeout_s, 1, 3600)) return fail(kUsage, absl::StrCat("bad --timeout: ", v));
      } else if (flag == "key") {
        o.key_file = v;
      } else if (flag == "address") {
        o.address = v;
      } else if (flag == "token") {
        o.token = v;
      } else if (flag == "algorithm") {
        o.algorithm = v;
      } else if (flag == "lease") {
        uint32_t lease;
        if (!parse_number<uint32_t>(value, lease, 1, 0xFFFFFFFFu)) return fail(kUsage, absl::StrCat("bad --lease: ", v));
        o.lease = lease;
      } else if (flag == "ttl") {
        if (!parse_number<uint32_t>(value, o.ttl, 0, 0x7FFFFFFFu)) return fail(kUsage, absl::StrCat("bad --ttl: ", v));
      } else if (flag == "renew-for") {
        int seconds;
        if (!parse_number<int>(value, seconds, 0, 1 << 30)) return fail(kUsage, absl::StrCat("bad --renew-for: ", v));
        o.renew_for = seconds;
      } else {
        return fail(kUsage, absl::StrCat("unknown option --", flag, " (see --help)"));
      }
    } else {
      o.args.emplace_back(arg);
    }
  }
  return -1;
}

int status_exit(Status status) {
  switch (status) {
    case Status::kOk: return kOk;
    case Status::kNotFound: return kNotFound;
    case Status::kTimeout: return kTimeout;
    case Status::kBadName: return kUsage;
    default: return kFailure;
  }
}

// What the error line says after the status, e.g. "timeout (every server unreachable)".
std::string failure_text(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "";
    case Failure::kTimedOut: return " (no answer in time)";
    case Failure::kUnreachable: return " (every server unreachable)";
    case Failure::kServFail: return " (the server answered SERVFAIL)";
    case Failure::kRefused: return " (the server answered REFUSED)";
    case Failure::kNotImp: return " (the server answered NOTIMP)";
    case Failure::kBadRcode: return " (the server answered an error rcode)";
    case Failure::kMalformed: return " (malformed answer)";
    case Failure::kLocal: return " (local error)";
  }
  return "";
}

int update_exit(const UpdateResult& r) {
  switch (r.status) {
    case UpdateStatus::kOk: return kOk;
    case UpdateStatus::kRejected:
    case UpdateStatus::kAuthFailure: return kRefused;
    case UpdateStatus::kTimeout: return kTimeout;
    case UpdateStatus::kError: return kFailure;
  }
  return kFailure;
}

absl::StatusOr<std::unique_ptr<Resolver>> make_resolver(const Options& o) {
  ResolverOptions options;
  options.servers = o.servers;
  options.domain = o.domain;
  options.timeout = std::chrono::seconds(o.timeout_s);
  return Resolver::create(options);
}

int lookup(const Options& o) {
  const std::string& command = o.args[0];
  if ((command != "nodes" && o.args.size() != 2) || o.args.size() > 2) {
    return fail(kUsage, absl::StrCat(command, ": wrong number of arguments (see --help)"));
  }
  auto resolver = make_resolver(o);
  if (!resolver.ok()) return fail(kUsage, resolver.status().message());
  auto failed = [&](Status s, Failure f, std::string_view what) {
    return fail(status_exit(s), absl::StrCat(std::string(what), ": ", std::string(status_name(s)), failure_text(f)));
  };
  if (command == "resolve") {
    NodeResult r = (*resolver)->lookup_node_sync(o.args[1], o.inet6 ? Family::kInet6 : Family::kInet);
    if (r.status != Status::kOk) return failed(r.status, r.failure, o.args[1]);
    if (o.json) {
      std::cout << "{\"node\":" << quoted(o.args[1]) << ",\"address\":" << quoted(r.address_text)
                << ",\"port\":" << r.port << ",\"version\":" << r.version << ",\"ttl\":" << r.ttl << "}\n";
    } else {
      std::cout << o.args[1] << " address=" << r.address_text << " port=" << r.port << " version=" << r.version
                << " ttl=" << r.ttl << "\n";
    }
    return kOk;
  }
  if (command == "names") {
    NamesResult r = (*resolver)->names_sync(o.args[1]);
    if (r.status != Status::kOk) return failed(r.status, r.failure, o.args[1]);
    if (o.json) {
      std::cout << "[";
      for (size_t i = 0; i < r.names.size(); ++i) {
        std::cout << (i ? "," : "") << "{\"name\":" << quoted(r.names[i].name) << ",\"port\":" << r.names[i].port << "}";
      }
      std::cout << "]\n";
    } else {
      for (const NameEntry& e : r.names) std::cout << e.name << " port=" << e.port << "\n";
    }
    return kOk;
  }
  NodesResult r = (*resolver)->nodes_sync(o.args.size() == 2 ? o.args[1] : "");
  if (r.status != Status::kOk) return failed(r.status, r.failure, o.args.size() == 2 ? o.args[1] : o.domain);
  if (o.json) {
    std::cout << "[";
    for (size_t i = 0; i < r.nodes.size(); ++i) std::cout << (i ? "," : "") << quoted(r.nodes[i]);
    std::cout << "]\n";
  } else {
    for (const std::string& node : r.nodes) std::cout << node << "\n";
  }
  return kOk;
}

std::string address_text(Family family, const std::array<uint8_t, 16>& bytes) {
  char text[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(family == Family::kInet6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  return text;
}

UpdateClientOptions client_options(const Options& o) {
  UpdateClientOptions options;
  options.servers = o.servers;
  options.timeout = std::chrono::seconds(o.timeout_s);
  if (o.servers_given && !o.primary_port) {
    options.primary = o.servers.front();
  } else if (o.primary_port) {
    options.primary_port = *o.primary_port;
  }
  return options;
}

void print_update(const Options& o, std::string_view what, std::string_view node, const UpdateResult& r,
                  std::string_view extra_text, std::string_view extra_json) {
  if (o.json) {
    std::cout << "{\"result\":" << quoted(what) << ",\"node\":" << quoted(node) << ",\"server\":" << quoted(r.server)
              << extra_json;
    if (r.lease) std::cout << ",\"lease\":" << *r.lease;
    std::cout << "}\n";
  } else {
    std::cout << what << " " << node << extra_text;
    if (r.lease) std::cout << " lease=" << *r.lease;
    std::cout << " server=" << r.server << "\n";
  }
  std::cout.flush();
}

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int update(const Options& o) {
  const std::string& command = o.args[0];
  const size_t want = command == "register" ? 3 : 2;
  if (o.args.size() != want) return fail(kUsage, absl::StrCat(command, ": wrong number of arguments (see --help)"));
  if (o.key_file.empty()) return fail(kUsage, absl::StrCat(command, ": --key FILE is required"));
  auto key = load_first_key(o.key_file);
  if (!key.ok()) return fail(kUsage, key.status().message());
  auto names = node_names(o.args[1], o.domain);
  if (!names.ok()) return fail(kUsage, names.status().message());
  UpdateClient client(client_options(o), *key);
  const std::string node = o.args[1];

  if (command == "unregister") {
    UpdateResult r = client.unregister_node(*names, o.token);
    if (!r.ok()) return fail(update_exit(r), absl::StrCat("unregister ", node, ": ", r.message));
    print_update(o, "unregistered", node, r, "", "");
    return kOk;
  }

  Registration reg;
  reg.names = *names;
  reg.ttl = o.ttl;
  reg.lease = o.lease;
  reg.token = o.token;
  if (!parse_number<uint16_t>(o.args[2].c_str(), reg.port, 1, 65535)) {
    return fail(kUsage, absl::StrCat("bad port: ", o.args[2]));
  }
  if (!o.address.empty()) {
    auto parsed = parse_address(o.address);
    if (!parsed) return fail(kUsage, absl::StrCat("bad --address: ", o.address));
    reg.family = parsed->first;
    reg.address = parsed->second;
  } else {
    auto primary = client.primary(names->zone);
    if (!primary.ok()) return fail(kTimeout, absl::StrCat("register ", node, ": ", primary.status().message()));
    auto local = local_address_towards(*primary);
    if (!local.ok()) return fail(kTimeout, absl::StrCat("register ", node, ": ", local.status().message()));
    reg.family = local->first;
    reg.address = local->second;
  }
  if (o.renew_for && !o.lease) return fail(kUsage, "--renew-for needs --lease");
  const Precondition precondition = o.if_free ? Precondition::kNameFree : Precondition::kNone;
  const std::string text = absl::StrCat(" address=", address_text(reg.family, reg.address), " port=", reg.port);
  const std::string json = absl::StrCat(",\"address\":", quoted(address_text(reg.family, reg.address)),
                                        ",\"port\":", reg.port);
  if (!o.renew_for) {
    UpdateResult r = client.register_node(reg, precondition);
    if (!r.ok()) return fail(update_exit(r), absl::StrCat("register ", node, ": ", r.message));
    print_update(o, "registered", node, r, text, json);
    return kOk;
  }
  Registrar registrar(client, reg, {}, [&](const UpdateResult& r) {
    if (r.ok()) {
      print_update(o, "renewed", node, r, text, json);
    } else {
      std::cerr << "epmdnsctl: renew " << node << ": " << r.message << " (will retry)" << std::endl;
    }
  });
  UpdateResult first = registrar.start(precondition);
  if (!first.ok()) return fail(update_exit(first), absl::StrCat("register ", node, ": ", first.message));
  print_update(o, "registered", node, first, text, json);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(*o.renew_for);
  while (!g_stop && (*o.renew_for == 0 || std::chrono::steady_clock::now() < until)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // --renew-for 0 runs until a signal and then unregisters; a bounded run lets the lease lapse.
  auto last = registrar.stop(*o.renew_for == 0);
  if (last && !last->ok()) return fail(update_exit(*last), absl::StrCat("unregister ", node, ": ", last->message));
  if (last) print_update(o, "unregistered", node, *last, "", "");
  return kOk;
}

int lease(const Options& o) {
  if (o.args.size() != 2) return fail(kUsage, "lease: wrong number of arguments (see --help)");
  auto names = node_names(o.args[1], o.domain);
  if (!names.ok()) return fail(kUsage, names.status().message());
  UpdateClient client(client_options(o), epmdns::wire::TsigKey{});
  const std::string& node = o.args[1];
  UpdateResult r = client.remaining_lease(*names);
  if (r.status == UpdateStatus::kRejected && r.rcode == epmdns::wire::rcode::NXDOMAIN) {
    return fail(kNotFound, absl::StrCat("lease ", node, ": not registered (NXDOMAIN from ", r.server, ")"));
  }
  if (!r.ok()) return fail(update_exit(r), absl::StrCat("lease ", node, ": ", r.message));
  if (o.json) {
    std::cout << "{\"node\":" << quoted(node) << ",\"server\":" << quoted(r.server) << ",\"lease_left\":";
    if (r.lease) {
      std::cout << *r.lease;
    } else {
      std::cout << "null";
    }
    std::cout << "}\n";
  } else if (r.lease) {
    std::cout << node << " lease_left=" << *r.lease << " server=" << r.server << "\n";
  } else {
    std::cout << node << " lease_left=none (the records do not lapse) server=" << r.server << "\n";
  }
  return kOk;
}

int keygen(const Options& o) {
  if (o.args.size() != 2) return fail(kUsage, "keygen: wrong number of arguments (see --help)");
  auto algorithm = epmdns::wire::algorithm_from_text(o.algorithm);
  if (!algorithm.ok()) return fail(kUsage, algorithm.status().message());
  auto key = epmdns::wire::generate_key(o.args[1], *algorithm);
  if (!key.ok()) return fail(kUsage, key.status().message());
  std::cout << epmdns::wire::format_key_file(*key);
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int code = parse(argc, argv, o); code >= 0) return code;
  if (o.args.empty()) return fail(kUsage, "no command (see --help)");
  const std::string& command = o.args[0];
  if (command == "resolve" || command == "names" || command == "nodes") return lookup(o);
  if (command == "register" || command == "unregister") return update(o);
  if (command == "lease") return lease(o);
  if (command == "keygen") return keygen(o);
  if (command == "help") {
    std::cout << kHelp;
    return kOk;
  }
  return fail(kUsage, absl::StrCat("unknown command ", command, " (see --help)"));
}
