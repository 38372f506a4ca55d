// epmdns_nif: the NIF under epmdns_nif.erl. One resource holds one Resolver (its own thread)
// and one worker thread for registration UPDATEs, which block; nothing here blocks a
// scheduler. Answers that are not ready at once come back as a message {Ref, Result} to the
// calling process.
//
//   new(Servers, Domain, TimeoutMs, Cache)   -> {ok, Res} | {error, Reason}   (Cache: false turns
//       the lookup cache off: every lookup asks DNS; for measurements)
//   lookup(Res, Node, Family, Ref)           -> Result | wait       (Result: {ok, Ip, Port, Vsn} | {error, R})
//   names(Res, Host, Ref)                    -> Result | wait       (Result: {ok, [{Name, Port}]} | {error, R})
//   nodes(Res, Ref)                          -> Result | wait       (Result: {ok, ["name@host"]} | {error, R})
//   register(Res, Node, Port, Family, KeyFile, Lease, Address, Ref) -> ok
//       later {Ref, ok | {error, {Kind, Text}}}, Kind: taken (a live node holds the name),
//       unreachable (no answer from the server), failed (anything else)
//   unregister(Res, Ref)                     -> ok                  ({Ref, ok | {error, Msg}} later)
//   log(Text)                                -> ok                  (one line on stderr)
//
// Registration (one UPDATE each, no gap): the name is registered if it is free (kNameFree),
// or renewed if its TXT still holds this resource's token (kOwnToken). If another token
// holds it, the old SRV target:port is probed (300 ms): a distribution handshake reads the
// name of the Erlang node listening there (live_endpoint). That node itself, still alive,
// refuses the registration, as EPMD refuses a taken name, and so does a listener that
// accepts but does not answer in time (a busy node), refuses the probe or speaks TLS. Only
// a refused or unreachable port, junk, or another node on a reused IP and port counts as
// the old node being dead, and the name is taken over in one UPDATE
// whose prerequisite is the old TXT, so of two nodes restarting under one name one wins.
// A renewal that finds its token gone (the lease lapsed while the server was away)
// registers again and tells the registering process {epmdns_nif, reregistered, Result}.
#include <erl_nif.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <random>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "resolver/registrar.h"
#include "resolver/resolver.h"
#include "resolver/response.h"
#include "resolver/update_client.h"
#include "resolver/update_message.h"
#include "wire/types.h"

namespace {

using namespace epmdns::resolver;
namespace wire = epmdns::wire;

ErlNifResourceType* g_type = nullptr;

// The registration asked by the Erlang side (built on the worker thread: the key file is
// read there too).
struct RegisterArgs {
  std::string node, key_file, address;
  unsigned port = 0;
  Family family = Family::kInet;
  unsigned lease = 0;
};

struct State {
  std::unique_ptr<Resolver> resolver;
  ResolverOptions options;
  ServerList servers;
  std::string domain;
  // This VM's instance token, in the TXT of its registration: the same for every
  // (re-)registration of this resource, so a retry after a lost answer is a renewal.
  const std::string token = random_token();

  // nodes(): a resolver without a cache (created on first use), so that nodes coming and
  // going show at once rather than after the browse record's TTL.
  std::mutex nodes_mutex;
  std::unique_ptr<Resolver> nodes_resolver;

  // Registration: jobs run on `worker`; client and registrar are touched only there (and in
  // the destructor, after the worker has been joined).
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread worker;
  std::unique_ptr<UpdateClient> client;
  std::unique_ptr<Registrar> registrar;
  // Worker only: the registration to redo when a renewal finds its token gone, and a
  // generation that makes jobs posted for an older registration do nothing.
  std::optional<RegisterArgs> current;
  uint64_t generation = 0;
  std::atomic<bool> reregister_posted{false};
  // The process that registered: told about re-registrations.
  std::mutex owner_mutex;
  std::optional<ErlNifPid> owner;

  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (stopping) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }

  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex);
      jobs.push_back(std::move(job));
    }
    wake.notify_one();
  }

  ~State() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_one();
    if (worker.joinable()) worker.join();
    if (registrar) registrar->stop(false);  // the lease lapses by itself
    registrar.reset();
    client.reset();
    nodes_resolver.reset();
    resolver.reset();  // pending lookups get kCancelled
  }
};

struct Handle {
  State* state;
};

// Deletes States away from the scheduler threads: tearing one down joins threads that may
// be in the middle of a network call (a renewal UPDATE can take seconds), and the garbage
// collector frees the resource on whatever scheduler it runs on.
class Janitor {
 public:
  static void dispose(State* state) {
    // Never destroyed: its thread must not find it gone while exit() runs destructors.
    static Janitor* janitor = new Janitor();
    janitor->post(state);
  }

 private:
  Janitor() {
    std::thread([this] { run(); }).detach();
  }
  void post(State* state) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(state);
    }
    wake_.notify_one();
  }
  [[noreturn]] void run() {
    while (true) {
      State* state;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        state = queue_.front();
        queue_.pop_front();
      }
      delete state;
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<State*> queue_;
};

void destroy(ErlNifEnv*, void* obj) {
  auto* h = static_cast<Handle*>(obj);
  if (h->state != nullptr) Janitor::dispose(h->state);
  h->state = nullptr;
}

// A reply address: the caller's pid and a copy of its Ref in an env of our own.
class Reply {
 public:
  Reply(ErlNifEnv* env, ERL_NIF_TERM ref) : env_(enif_alloc_env()) {
    enif_self(env, &pid_);
    ref_ = enif_make_copy(env_, ref);
  }
  ~Reply() { enif_free_env(env_); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;

  ErlNifEnv* env() const { return env_; }
  // Sends {Ref, result} from a thread that is not a scheduler; result is built in env().
  void send(ERL_NIF_TERM result) {
    ERL_NIF_TERM msg = enif_make_tuple2(env_, ref_, result);
    enif_send(nullptr, &pid_, env_, msg);
    enif_clear_env(env_);
  }

 private:
  ErlNifEnv* env_;
  ErlNifPid pid_;
  ERL_NIF_TERM ref_;
};

ERL_NIF_TERM atom(ErlNifEnv* env, const char* name) { return enif_make_atom(env, name); }

ERL_NIF_TERM error(ErlNifEnv* env, ERL_NIF_TERM reason) { return enif_make_tuple2(env, atom(env, "error"), reason); }

ERL_NIF_TERM error_text(ErlNifEnv* env, const std::string& text) {
  return error(env, enif_make_string_len(env, text.data(), text.size(), ERL_NIF_LATIN1));
}

ERL_NIF_TERM status_atom(ErlNifEnv* env, Status s) {
  switch (s) {
    case Status::kOk: return atom(env, "ok");
    case Status::kNotFound: return atom(env, "not_found");
    case Status::kTimeout: return atom(env, "timeout");
    case Status::kServerFailure: return atom(env, "server_failure");
    case Status::kBadName: return atom(env, "bad_name");
    case Status::kCancelled: return atom(env, "cancelled");
  }
  return atom(env, "server_failure");
}

ERL_NIF_TERM node_term(ErlNifEnv* env, const NodeResult& r) {
  if (r.status != Status::kOk) return error(env, status_atom(env, r.status));
  ERL_NIF_TERM ip;
  if (r.family == Family::kInet) {
    ip = enif_make_tuple4(env, enif_make_uint(env, r.address[0]), enif_make_uint(env, r.address[1]),
                          enif_make_uint(env, r.address[2]), enif_make_uint(env, r.address[3]));
  } else {
    ERL_NIF_TERM parts[8];
    for (int i = 0; i < 8; ++i) {
      parts[i] = enif_make_uint(env, (unsigned(r.address[2 * i]) << 8) | r.address[2 * i + 1]);
    }
    ip = enif_make_tuple_from_array(env, parts, 8);
  }
  return enif_make_tuple4(env, atom(env, "ok"), ip, enif_make_uint(env, r.port), enif_make_int(env, r.version));
}

ERL_NIF_TERM names_term(ErlNifEnv* env, const NamesResult& r) {
  if (r.status != Status::kOk) return error(env, status_atom(env, r.status));
  ERL_NIF_TERM list = enif_make_list(env, 0);
  for (auto it = r.names.rbegin(); it != r.names.rend(); ++it) {
    ERL_NIF_TERM name = enif_make_string_len(env, it->name.data(), it->name.size(), ERL_NIF_LATIN1);
    list = enif_make_list_cell(env, enif_make_tuple2(env, name, enif_make_uint(env, it->port)), list);
  }
  return enif_make_tuple2(env, atom(env, "ok"), list);
}

ERL_NIF_TERM nodes_term(ErlNifEnv* env, const NodesResult& r) {
  if (r.status != Status::kOk) return error(env, status_atom(env, r.status));
  ERL_NIF_TERM list = enif_make_list(env, 0);
  for (auto it = r.nodes.rbegin(); it != r.nodes.rend(); ++it) {
    list = enif_make_list_cell(env, enif_make_string_len(env, it->data(), it->size(), ERL_NIF_LATIN1), list);
  }
  return enif_make_tuple2(env, atom(env, "ok"), list);
}

ERL_NIF_TERM update_term(ErlNifEnv* env, const UpdateResult& r) {
  return r.ok() ? atom(env, "ok") : error_text(env, r.message.empty() ? std::string("update failed") : r.message);
}

bool get_state(ErlNifEnv* env, ERL_NIF_TERM term, State** out) {
  Handle* h = nullptr;
  if (!enif_get_resource(env, term, g_type, reinterpret_cast<void**>(&h)) || h->state == nullptr) return false;
  *out = h->state;
  return true;
}

// A binary or iolist argument as a string.
bool get_text(ErlNifEnv* env, ERL_NIF_TERM term, std::string* out) {
  ErlNifBinary bin;
  if (!enif_inspect_iolist_as_binary(env, term, &bin)) return false;
  out->assign(reinterpret_cast<const char*>(bin.data), bin.size);
  return true;
}

bool get_family(ErlNifEnv* env, ERL_NIF_TERM term, Family* out) {
  char name[16];
  if (enif_get_atom(env, term, name, sizeof name, ERL_NIF_LATIN1) <= 0) return false;
  if (std::strcmp(name, "inet") == 0) {
    *out = Family::kInet;
  } else if (std::strcmp(name, "inet6") == 0) {
    *out = Family::kInet6;
  } else {
    return false;
  }
  return true;
}

// Callbacks of the resolver may run on the calling (scheduler) thread before the call returns
// (cached answers, bad names); those are handed back as the NIF's return value, the others are
// sent as a message.
template <typename Result>
struct Pending {
  Pending(ErlNifEnv* env, ERL_NIF_TERM ref) : reply(env, ref), caller(std::this_thread::get_id()) {}
  Reply reply;
  std::thread::id caller;
  std::mutex mutex;
  bool returned = false;
  std::optional<Result> inline_result;

  // From the callback: true if the result was kept for the caller's return value.
  bool keep_inline(const Result& r) {
    std::lock_guard lock(mutex);
    if (!returned && std::this_thread::get_id() == caller) {
      inline_result = r;
      return true;
    }
    return false;
  }
  // From the NIF after the call: the inline result, if any; later callbacks send.
  std::optional<Result> finish() {
    std::lock_guard lock(mutex);
    returned = true;
    return std::move(inline_result);
  }
};

ERL_NIF_TERM nif_new(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  std::string servers_text, domain;
  int timeout_ms = 0;
  char cache[8];
  if (argc != 4 || !get_text(env, argv[0], &servers_text) || !get_text(env, argv[1], &domain) ||
      !enif_get_int(env, argv[2], &timeout_ms) || timeout_ms <= 0 ||
      enif_get_atom(env, argv[3], cache, sizeof cache, ERL_NIF_LATIN1) <= 0 ||
      (std::strcmp(cache, "true") != 0 && std::strcmp(cache, "false") != 0)) {
    return enif_make_badarg(env);
  }
  auto servers = parse_server_list(servers_text);
  if (!servers) return error_text(env, "bad server list: " + servers_text);
  ResolverOptions options;
  options.servers = *servers;
  options.domain = domain;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  // A node may come back on another port well within its records' TTL (a restart). A
  // connection attempt asks twice (select, then do_setup): an answer older than this is
  // renewed in the background at the first ask, so the second one sees the new port, and
  // neither waits for the network.
  options.cache.refresh_after = std::chrono::milliseconds(1000);
  options.cache.enabled = std::strcmp(cache, "true") == 0;
  auto resolver = Resolver::create(options);
  if (!resolver.ok()) return error_text(env, std::string(resolver.status().message()));

  auto state = std::make_unique<State>();
  state->resolver = std::move(*resolver);
  state->options = options;
  state->servers = *servers;
  state->domain = domain;
  State* raw = state.get();
  state->worker = std::thread([raw] { raw->run(); });

  auto* h = static_cast<Handle*>(enif_alloc_resource(g_type, sizeof(Handle)));
  h->state = state.release();
  ERL_NIF_TERM term = enif_make_resource(env, h);
  enif_release_resource(h);
  return enif_make_tuple2(env, atom(env, "ok"), term);
}

ERL_NIF_TERM nif_lookup(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  std::string node;
  Family family;
  if (argc != 4 || !get_state(env, argv[0], &state) || !get_text(env, argv[1], &node) ||
      !get_family(env, argv[2], &family) || !enif_is_ref(env, argv[3])) {
    return enif_make_badarg(env);
  }
  if (auto hit = state->resolver->try_cached(node, family)) return node_term(env, *hit);

  auto pending = std::make_shared<Pending<NodeResult>>(env, argv[3]);
  state->resolver->lookup_node(node, family, [pending](const NodeResult& r) {
    if (pending->keep_inline(r)) return;
    pending->reply.send(node_term(pending->reply.env(), r));
  });
  if (auto r = pending->finish()) return node_term(env, *r);
  return atom(env, "wait");
}

ERL_NIF_TERM nif_names(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  std::string host;
  if (argc != 3 || !get_state(env, argv[0], &state) || !get_text(env, argv[1], &host) || !enif_is_ref(env, argv[2])) {
    return enif_make_badarg(env);
  }
  auto pending = std::make_shared<Pending<NamesResult>>(env, argv[2]);
  state->resolver->names(host, [pending](const NamesResult& r) {
    if (pending->keep_inline(r)) return;
    pending->reply.send(names_term(pending->reply.env(), r));
  });
  if (auto r = pending->finish()) return names_term(env, *r);
  return atom(env, "wait");
}

ERL_NIF_TERM nif_nodes(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  if (argc != 2 || !get_state(env, argv[0], &state) || !enif_is_ref(env, argv[1])) return enif_make_badarg(env);
  Resolver* resolver = nullptr;
  {
    std::lock_guard lock(state->nodes_mutex);
    if (!state->nodes_resolver) {
      ResolverOptions options = state->options;
      options.cache.enabled = false;
      auto created = Resolver::create(options);
      if (!created.ok()) return error_text(env, std::string(created.status().message()));
      state->nodes_resolver = std::move(*created);
    }
    resolver = state->nodes_resolver.get();
  }
  auto pending = std::make_shared<Pending<NodesResult>>(env, argv[1]);
  resolver->nodes("", [pending](const NodesResult& r) {
    if (pending->keep_inline(r)) return;
    pending->reply.send(nodes_term(pending->reply.env(), r));
  });
  if (auto r = pending->finish()) return nodes_term(env, *r);
  return atom(env, "wait");
}

// ---------------------------------------------------------------------------
// Registration, on the worker thread

enum class Outcome { kOk, kTaken, kUnreachable, kFailed };

struct RegisterOutcome {
  Outcome kind = Outcome::kFailed;
  std::string message;
};

RegisterOutcome outcome(Outcome kind, std::string message) { return {kind, std::move(message)}; }

RegisterOutcome outcome_of(const UpdateResult& r) {
  if (r.ok()) return {Outcome::kOk, {}};
  std::string message = r.message.empty() ? std::string("update failed") : r.message;
  return {r.status == UpdateStatus::kTimeout ? Outcome::kUnreachable : Outcome::kFailed, std::move(message)};
}

ERL_NIF_TERM outcome_term(ErlNifEnv* env, const RegisterOutcome& o) {
  const char* kind = "failed";
  switch (o.kind) {
    case Outcome::kOk: return atom(env, "ok");
    case Outcome::kTaken: kind = "taken"; break;
    case Outcome::kUnreachable: kind = "unreachable"; break;
    case Outcome::kFailed: kind = "failed"; break;
  }
  return error(env, enif_make_tuple2(env, atom(env, kind),
                                     enif_make_string_len(env, o.message.data(), o.message.size(), ERL_NIF_LATIN1)));
}

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

socklen_t to_sockaddr(bool ipv6, const std::array<uint8_t, 16>& address, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (ipv6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    std::memcpy(&sa->sin6_addr, address.data(), 16);
    return sizeof *sa;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  std::memcpy(&sa->sin_addr, address.data(), 4);
  return sizeof *sa;
}

struct Socket {
  explicit Socket(int fd) : fd(fd) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd;
};

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

// One UDP query straight to the primary (no cache, no forwarder in between): the records
// as they are now. nullopt when no answer came by the deadline.
std::optional<Response> query_primary(const ServerAddress& server, const wire::Name& name, uint16_t type,
                                      Clock::time_point deadline) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const uint16_t id = static_cast<uint16_t>(rng());
  std::vector<uint8_t> q = build_query(id, name, type, 1232);
  sockaddr_storage addr;
  const socklen_t len = to_sockaddr(server.ipv6, server.address, server.port, addr);
  Socket sock(::socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.fd < 0 || ::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) return std::nullopt;
  std::vector<uint8_t> buf(65535);
  // Sent again every 200 ms until the deadline (UDP may be lost).
  while (Clock::now() < deadline) {
    if (::send(sock.fd, q.data(), q.size(), 0) < 0 && errno != EINTR) return std::nullopt;
    const auto resend = std::min(deadline, Clock::now() + std::chrono::milliseconds(200));
    while (wait_fd(sock.fd, POLLIN, resend)) {
      ssize_t n = ::recv(sock.fd, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return std::nullopt;  // ECONNREFUSED: nobody there
      }
      auto response = parse_response(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
      if (response && response->id == id) return response;
    }
  }
  return std::nullopt;
}

// What holds an instance name now: its SRV and TXT records and the addresses of the SRV
// target.
struct Holder {
  bool exists = false;
  std::vector<std::string> srv, txt;  // canonical RDATA
  std::optional<uint16_t> port;
  std::string token;  // from TXT "token=..." ("" if none)
  std::vector<std::pair<bool, std::array<uint8_t, 16>>> addresses;  // (ipv6, address)
};

std::string token_of(std::string_view txt) {
  size_t i = 0;
  while (i < txt.size()) {
    const size_t n = static_cast<uint8_t>(txt[i]);
    std::string_view text = txt.substr(i + 1, n);
    if (text.substr(0, 6) == "token=") return std::string(text.substr(6));
    i += 1 + n;
  }
  return {};
}

void add_address(Holder& h, const Record& record, const wire::Name& target) {
  if (!(record.owner == target)) return;
  std::array<uint8_t, 16> bytes{};
  if (record.type == wire::rrtype::A && record.rdata.size() == 4) {
    std::memcpy(bytes.data(), record.rdata.data(), 4);
    h.addresses.emplace_back(false, bytes);
  } else if (record.type == wire::rrtype::AAAA && record.rdata.size() == 16) {
    std::memcpy(bytes.data(), record.rdata.data(), 16);
    h.addresses.emplace_back(true, bytes);
  }
}

// Reads the holder of `names.instance` from the primary; an error text if it does not answer.
std::optional<std::string> read_holder(const ServerAddress& primary, const NodeNames& names, Holder& h) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(1500);
  auto srv = query_primary(primary, names.instance, wire::rrtype::SRV, deadline);
  auto txt = query_primary(primary, names.instance, wire::rrtype::TXT, deadline);
  if (!srv || !txt) return "no answer from " + primary.to_string() + " reading the holder of " + names.instance.to_text();
  wire::Name target;
  for (const Record& record : srv->records) {
    if (record.section != Section::kAnswer || !(record.owner == names.instance)) continue;
    if (record.type == wire::rrtype::SRV && record.rdata.size() > 6) {
      h.srv.push_back(record.rdata);
      h.port = static_cast<uint16_t>(static_cast<uint8_t>(record.rdata[4]) << 8 | static_cast<uint8_t>(record.rdata[5]));
      const std::string_view rest = std::string_view(record.rdata).substr(6);
      const size_t n = wire::wire_name_length(rest);
      if (n == 0 || !target.assign_wire(rest.substr(0, n))) target = wire::Name();
    }
  }
  for (const Record& record : txt->records) {
    if (record.section == Section::kAnswer && record.owner == names.instance && record.type == wire::rrtype::TXT) {
      h.txt.push_back(record.rdata);
      if (h.token.empty()) h.token = token_of(record.rdata);
    }
  }
  h.exists = !h.srv.empty() || !h.txt.empty();
  if (h.srv.empty() || target.is_root()) return std::nullopt;
  for (const Record& record : srv->records) add_address(h, record, target);
  if (h.addresses.empty()) {
    for (uint16_t type : {wire::rrtype::A, wire::rrtype::AAAA}) {
      if (auto answer = query_primary(primary, target, type, deadline)) {
        for (const Record& record : answer->records) add_address(h, record, target);
      }
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Who listens on the holder's port: the first steps of the Erlang distribution handshake
// (OTP 25 kernel/src/dist_util.erl; every handshake message is framed by a 2-byte
// big-endian length). We send the initiator's name message
//   'N' Flags:64 Creation:32 NameLen:16 Name
// and read the acceptor's status ('s' "ok" | "ok_simultaneous" | "nok" | "not_allowed" |
// "alive" | "named:...") and then its challenge, which carries its own node name:
//   'N' Flags:64 Challenge:32 Creation:32 NameLen:16 Name      (version 6, OTP 23+)
//   'n' Version:16 Flags:32 Challenge:32 Name                   (version 5, OTP <= 24)
// Then we close: the acceptor drops the half-done handshake quietly.

// The flags an OTP 25 node offers by default (erts_internal:get_dflags()), without
// DFLAG_PUBLISHED (the probe is a hidden node) and DFLAG_NAME_ME: they hold every flag
// that OTP 23 to 27 require (DFLAG_HANDSHAKE_23 and DFLAG_MANDATORY_25_DIGEST included).
constexpr uint64_t kProbeFlags = 0xd07df7fbcULL;

// What the probe learnt of the listener on one address. Only kNone lets the name be taken
// over; everything else there may be the old node itself, alive.
struct Listener {
  enum Kind {
    kNone,     // it answered something that is no Erlang handshake (nor TLS): not an Erlang node
    kNamed,    // an Erlang node, `text` is its name
    kRefused,  // an Erlang node that would not tell its name: `text` is its status
    kSilent,   // it accepted the connection but gave no complete answer in time (a busy node?)
    kClosed,   // it accepted the connection and closed it without a complete answer
    kTls,      // it answered with a TLS record (inet_tls distribution?): its name is unreadable
  } kind = kNone;
  std::string text;
};

// A handshake frame is at most this long here: a status ("named:" and a name) or a
// challenge (19 bytes and a name of at most 255 + 1 + 255 characters).
constexpr size_t kMaxFrame = 1024;

enum class Frame { kOk, kTimeout, kClosed, kJunk, kTls };

// One handshake frame into `frame`, reading more of the socket into `buffer` as needed.
// `tags`: the first bytes a frame may start with. A frame too long, or starting otherwise,
// is junk (kTls: a TLS record header, 0x14..0x17 0x03).
Frame read_frame(int fd, std::string& buffer, std::string& frame, std::string_view tags, Clock::time_point deadline) {
  for (;;) {
    if (buffer.size() >= 2) {
      const uint8_t b0 = static_cast<uint8_t>(buffer[0]), b1 = static_cast<uint8_t>(buffer[1]);
      if (b0 >= 0x14 && b0 <= 0x17 && b1 == 0x03) return Frame::kTls;
      const size_t n = static_cast<size_t>(b0 << 8 | b1);
      if (n == 0 || n > kMaxFrame) return Frame::kJunk;
      if (buffer.size() >= 3 && tags.find(buffer[2]) == std::string_view::npos) return Frame::kJunk;
      if (buffer.size() >= 2 + n) {
        frame.assign(buffer, 2, n);
        buffer.erase(0, 2 + n);
        return Frame::kOk;
      }
    }
    if (!wait_fd(fd, POLLIN, deadline)) return Frame::kTimeout;
    char chunk[1024];
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got == 0) return Frame::kClosed;
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Frame::kClosed;  // reset
    }
    buffer.append(chunk, static_cast<size_t>(got));
  }
}

uint64_t big_endian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = v << 8 | static_cast<uint8_t>(c);
  return v;
}

// The node name in an acceptor's challenge frame; "" if the frame is not a challenge.
std::string challenge_name(std::string_view frame) {
  if (frame.size() >= 19 && frame[0] == 'N') {
    const size_t n = big_endian(frame.substr(17, 2));
    if (frame.size() >= 19 + n) return std::string(frame.substr(19, n));
  } else if (frame.size() >= 11 && frame[0] == 'n') {
    return std::string(frame.substr(11));
  }
  return {};
}

// What a frame that did not come tells of the listener.
Listener not_read(Frame f) {
  switch (f) {
    case Frame::kTimeout: return {Listener::kSilent, {}};
    case Frame::kClosed: return {Listener::kClosed, {}};
    case Frame::kTls: return {Listener::kTls, {}};
    default: return {Listener::kNone, {}};
  }
}

// Speaks the handshake on a connected socket as the hidden node `probe_name`.
Listener ask_name(int fd, const std::string& probe_name, Clock::time_point deadline) {
  std::string hello(2, '\0');
  hello.push_back('N');
  for (int shift = 56; shift >= 0; shift -= 8) hello.push_back(static_cast<char>(kProbeFlags >> shift));
  static thread_local std::mt19937 rng{std::random_device{}()};
  const uint32_t creation = 4 + rng() % 0xfffffff0u;  // what a static node sends: never 0..3
  for (int shift = 24; shift >= 0; shift -= 8) hello.push_back(static_cast<char>(creation >> shift));
  hello.push_back(static_cast<char>(probe_name.size() >> 8));
  hello.push_back(static_cast<char>(probe_name.size()));
  hello += probe_name;
  hello[0] = static_cast<char>((hello.size() - 2) >> 8);
  hello[1] = static_cast<char>(hello.size() - 2);
  size_t sent = 0;
  while (sent < hello.size()) {
    const ssize_t n = ::send(fd, hello.data() + sent, hello.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (errno != EINTR && !wait_fd(fd, POLLOUT, deadline)) return {Listener::kSilent, {}};
    } else {
      return {Listener::kClosed, {}};
    }
  }
  std::string buffer, frame;
  if (Frame f = read_frame(fd, buffer, frame, "s", deadline); f != Frame::kOk) return not_read(f);
  const std::string status = frame.substr(1);
  if (status != "ok" && status != "ok_simultaneous") {
    static constexpr const char* kStatuses[] = {"nok", "not_allowed", "alive"};
    for (const char* known : kStatuses) {
      if (status == known) return {Listener::kRefused, status};
    }
    if (status.rfind("named:", 0) == 0) return {Listener::kRefused, "named"};
    return {};
  }
  // From here on it is an Erlang node: one that does not finish its challenge in time, or
  // closes before, may be the old node.
  if (Frame f = read_frame(fd, buffer, frame, "Nn", deadline); f != Frame::kOk) {
    return f == Frame::kJunk || f == Frame::kTls ? Listener{} : not_read(f);
  }
  std::string name = challenge_name(frame);
  if (name.find('@') == std::string::npos) return {};
  return {Listener::kNamed, std::move(name)};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Whether the node named `listener` is the node `ours` (registered at `names`): the same DNS
// instance name (DNS is case-insensitive), or failing that the same name with the host part
// compared case-insensitively.
bool same_node(const std::string& listener, const std::string& ours, const NodeNames& names, const std::string& domain) {
  if (auto theirs = node_names(listener, domain); theirs.ok()) {
    wire::Name a = theirs->instance, b = names.instance;
    a.to_lower();
    b.to_lower();
    return a == b;
  }
  const size_t x = listener.find('@'), y = ours.find('@');
  return x != std::string::npos && y != std::string::npos && listener.substr(0, x) == ours.substr(0, y) &&
         lower(listener.substr(x + 1)) == lower(ours.substr(y + 1));
}

// The first address of the holder where the Erlang node `node` may still listen, within
// 300 ms in all, as "127.0.0.1:4370" plus a note on what answered there, skipping our own
// address and port (the old node cannot listen where we listen now). The name is free only
// where the old node is clearly gone: the connection is refused, the address unreachable
// (or no TCP answer at all within the bound), an Erlang node under another name answers
// (its IP and port reused, as Kubernetes reuses pod IPs), or something that is no Erlang
// node answers junk. Whatever accepts the connection and then answers late, not at all or
// with a refusal (net_kernel:allow/1), closes it without an answer, or speaks TLS, may be
// the old node, alive but busy: it holds the name. Taking over a live node's name would be
// worse than refusing a restart.
std::optional<std::string> live_endpoint(const Holder& h, const Registration& ours, const std::string& node,
                                         const std::string& domain, const std::string& token) {
  if (!h.port || *h.port == 0) return std::nullopt;
  const auto deadline = Clock::now() + std::chrono::milliseconds(300);
  const size_t at = node.find('@');
  const std::string probe_name = "epmdns_probe_" + token + "@" + (at == std::string::npos ? "localhost" : node.substr(at + 1));
  for (const auto& [ipv6, address] : h.addresses) {
    const bool ours_v6 = ours.family == Family::kInet6;
    if (*h.port == ours.port && ipv6 == ours_v6 &&
        std::memcmp(address.data(), ours.address.data(), ipv6 ? 16 : 4) == 0) {
      continue;
    }
    sockaddr_storage addr;
    const socklen_t len = to_sockaddr(ipv6, address, *h.port, addr);
    Socket sock(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (sock.fd < 0) continue;
    bool connected = ::connect(sock.fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    if (!connected && errno == EINPROGRESS && wait_fd(sock.fd, POLLOUT, deadline)) {
      int err = 0;
      socklen_t err_len = sizeof err;
      connected = ::getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == 0 && err == 0;
    }
    if (connected) {
      const Listener listener = ask_name(sock.fd, probe_name, deadline);
      std::string note;
      switch (listener.kind) {
        case Listener::kNone: break;
        case Listener::kNamed:
          if (!same_node(listener.text, node, ours.names, domain)) break;
          note = "-";
          break;
        case Listener::kRefused:
          note = "an Erlang node there answered the name probe with \"" + listener.text + "\"";
          break;
        case Listener::kSilent:
          note = "it accepted the connection but did not answer the name probe within 300 ms: a busy node";
          break;
        case Listener::kClosed:
          note = "it accepted the connection and closed it without telling its name";
          break;
        case Listener::kTls:
          note = "it answered the name probe with TLS (inet_tls distribution?): its name cannot be read";
          break;
      }
      if (!note.empty()) {
        ServerAddress where;
        where.ipv6 = ipv6;
        where.address = address;
        where.port = *h.port;
        std::string text = where.to_string();
        if (note != "-") text += " (" + note + ")";
        return text;
      }
    }
    if (Clock::now() >= deadline) break;
  }
  return std::nullopt;
}

void post_reregister(State* state, uint64_t generation);

RegisterOutcome do_register(State& s, const RegisterArgs& a) {
  const uint64_t generation = ++s.generation;
  // The old registrar stops renewing; its records stay (same name: replaced in one UPDATE
  // below; another name: they lapse with their lease).
  if (s.registrar) s.registrar->stop(false);
  s.registrar.reset();
  s.client.reset();
  s.current = a;
  auto key = load_first_key(a.key_file);
  if (!key.ok()) return outcome(Outcome::kFailed, std::string(key.status().message()));
  auto names = node_names(a.node, s.domain);
  if (!names.ok()) return outcome(Outcome::kFailed, std::string(names.status().message()));
  UpdateClientOptions options;
  options.servers = s.servers;
  if (!s.servers.empty()) options.primary = s.servers.front();
  s.client = std::make_unique<UpdateClient>(options, *key);
  auto primary = s.client->primary(names->zone);
  if (!primary.ok()) return outcome(Outcome::kUnreachable, std::string(primary.status().message()));

  Registration r;
  r.names = *names;
  r.port = static_cast<uint16_t>(a.port);
  r.lease = a.lease;
  r.token = s.token;
  if (!a.address.empty()) {
    auto parsed = parse_address(a.address);
    if (!parsed) return outcome(Outcome::kFailed, "bad address " + a.address);
    std::tie(r.family, r.address) = *parsed;
  } else {
    auto local = local_address_towards(*primary);
    if (!local.ok()) return outcome(Outcome::kUnreachable, std::string(local.status().message()));
    std::tie(r.family, r.address) = *local;
  }
  State* raw = &s;
  auto registrar = std::make_unique<Registrar>(*s.client, r, RenewalOptions{}, [raw, generation](const UpdateResult& u) {
    // Our token is gone (the lease lapsed while the server was away, or it lost its
    // state): register again, by the same rules as at first.
    if (u.status == UpdateStatus::kRejected && u.rcode == wire::rcode::NXRRSET) post_reregister(raw, generation);
  });
  const std::string node = a.node;
  // A few rounds: the holder may change between our reads and our UPDATE.
  for (int round = 0; round < 3; ++round) {
    UpdateResult first = registrar->start(Precondition::kNameFree);
    if (first.ok()) {
      s.registrar = std::move(registrar);
      return outcome(Outcome::kOk, {});
    }
    if (first.status != UpdateStatus::kRejected || first.rcode != wire::rcode::YXDOMAIN) return outcome_of(first);
    Holder holder;
    if (auto failed = read_holder(*primary, r.names, holder)) return outcome(Outcome::kUnreachable, *failed);
    if (!holder.exists) continue;  // unregistered meanwhile
    if (holder.token == s.token) {
      UpdateResult renewed = registrar->start(Precondition::kOwnToken);
      if (renewed.ok()) {
        s.registrar = std::move(registrar);
        return outcome(Outcome::kOk, {});
      }
      if (renewed.status == UpdateStatus::kRejected && renewed.rcode == wire::rcode::NXRRSET) continue;
      return outcome_of(renewed);
    }
    if (auto live = live_endpoint(holder, r, node, s.domain, s.token)) {
      return outcome(Outcome::kTaken, "epmdns: name " + node + " is registered by a live node at " + *live);
    }
    const bool by_txt = !holder.txt.empty();
    auto message = build_takeover(r, by_txt ? wire::rrtype::TXT : wire::rrtype::SRV, by_txt ? holder.txt : holder.srv, 0);
    if (!message.ok()) return outcome(Outcome::kFailed, std::string(message.status().message()));
    UpdateResult took = s.client->send(std::move(*message), r.names.zone);
    if (took.ok()) {
      UpdateResult renewing = registrar->start(Precondition::kOwnToken);  // starts the renewals
      if (!renewing.ok()) return outcome_of(renewing);
      s.registrar = std::move(registrar);
      return outcome(Outcome::kOk, {});
    }
    if (took.status == UpdateStatus::kRejected &&
        (took.rcode == wire::rcode::NXRRSET || took.rcode == wire::rcode::YXRRSET ||
         took.rcode == wire::rcode::NXDOMAIN)) {
      continue;  // someone changed the records since we read them: look again
    }
    return outcome_of(took);
  }
  return outcome(Outcome::kFailed, "the records of " + node + " kept changing while registering; will retry");
}

void tell_owner(State& s, const RegisterOutcome& o) {
  std::optional<ErlNifPid> owner;
  {
    std::lock_guard lock(s.owner_mutex);
    owner = s.owner;
  }
  if (!owner) return;
  ErlNifEnv* env = enif_alloc_env();
  ERL_NIF_TERM msg = enif_make_tuple3(env, atom(env, "epmdns_nif"), atom(env, "reregistered"), outcome_term(env, o));
  enif_send(nullptr, &*owner, env, msg);
  enif_free_env(env);
}

// From the renewal thread: at most one re-registration job waits at a time.
void post_reregister(State* state, uint64_t generation) {
  if (state->reregister_posted.exchange(true)) return;
  state->post([state, generation] {
    state->reregister_posted = false;
    if (generation != state->generation || !state->current) return;  // replaced or unregistered since
    const RegisterArgs args = *state->current;
    tell_owner(*state, do_register(*state, args));
  });
}

ERL_NIF_TERM nif_register(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  RegisterArgs a;
  if (argc != 8 || !get_state(env, argv[0], &state) || !get_text(env, argv[1], &a.node) ||
      !enif_get_uint(env, argv[2], &a.port) || a.port > 65535 || !get_family(env, argv[3], &a.family) ||
      !get_text(env, argv[4], &a.key_file) || !enif_get_uint(env, argv[5], &a.lease) || a.lease == 0 ||
      !get_text(env, argv[6], &a.address) || !enif_is_ref(env, argv[7])) {
    return enif_make_badarg(env);
  }
  {
    ErlNifPid self;
    enif_self(env, &self);
    std::lock_guard lock(state->owner_mutex);
    state->owner = self;
  }
  auto reply = std::make_shared<Reply>(env, argv[7]);
  state->post([state, reply, a] {
    RegisterOutcome r = do_register(*state, a);
    reply->send(outcome_term(reply->env(), r));
  });
  return atom(env, "ok");
}

ERL_NIF_TERM nif_unregister(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  if (argc != 2 || !get_state(env, argv[0], &state) || !enif_is_ref(env, argv[1])) return enif_make_badarg(env);
  auto reply = std::make_shared<Reply>(env, argv[1]);
  state->post([state, reply] {
    ++state->generation;
    state->current.reset();
    std::optional<UpdateResult> r;
    if (state->registrar) r = state->registrar->stop(true);
    state->registrar.reset();
    reply->send(r ? update_term(reply->env(), *r) : atom(reply->env(), "ok"));
  });
  return atom(env, "ok");
}

// One line on stderr: for messages at boot, before the logger's handlers exist.
ERL_NIF_TERM nif_log(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  std::string text;
  if (argc != 1 || !get_text(env, argv[0], &text)) return enif_make_badarg(env);
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  return atom(env, "ok");
}

int load(ErlNifEnv* env, void**, ERL_NIF_TERM) {
  auto flags = static_cast<ErlNifResourceFlags>(ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER);
  g_type = enif_open_resource_type(env, nullptr, "epmdns_resolver", destroy, flags, nullptr);
  return g_type == nullptr ? 1 : 0;
}

int upgrade(ErlNifEnv* env, void** priv, void**, ERL_NIF_TERM info) { return load(env, priv, info); }

ErlNifFunc functions[] = {
    {"new", 4, nif_new, 0},
    {"lookup", 4, nif_lookup, 0},
    {"names", 3, nif_names, 0},
    {"register", 8, nif_register, 0},
    {"unregister", 2, nif_unregister, 0},
    {"nodes", 2, nif_nodes, 0},
    {"log", 1, nif_log, 0},
};

}  // namespace

ERL_NIF_INIT(epmdns_nif, functions, load, nullptr, upgrade, nullptr)
