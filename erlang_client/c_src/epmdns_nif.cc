// epmdns_nif: the NIF under epmdns_nif.erl. One resource holds one Resolver (its own thread)
// and one worker thread for registration UPDATEs, which block; nothing here blocks a
// scheduler. Answers that are not ready at once come back as a message {Ref, Result} to the
// calling process.
//
//   new(Servers, Domain, TimeoutMs)          -> {ok, Res} | {error, Reason}
//   lookup(Res, Node, Family, Ref)           -> Result | wait       (Result: {ok, Ip, Port, Vsn} | {error, R})
//   names(Res, Host, Ref)                    -> Result | wait       (Result: {ok, [{Name, Port}]} | {error, R})
//   register(Res, Node, Port, Family, KeyFile, Lease, Address, Ref) -> ok   ({Ref, ok | {error, Msg}} later)
//   unregister(Res, Ref)                     -> ok                  ({Ref, ok | {error, Msg}} later)
#include <erl_nif.h>

#include <condition_variable>
#include <cstring>
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
#include "resolver/update_client.h"
#include "resolver/update_message.h"

namespace {

using namespace epmdns::resolver;

ErlNifResourceType* g_type = nullptr;

struct State {
  std::unique_ptr<Resolver> resolver;
  ServerList servers;
  std::string domain;

  // Registration: jobs run on `worker`; client and registrar are touched only there (and in
  // the destructor, after the worker has been joined).
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread worker;
  std::unique_ptr<UpdateClient> client;
  std::unique_ptr<Registrar> registrar;

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
    resolver.reset();  // pending lookups get kCancelled
  }
};

struct Handle {
  State* state;
};

void destroy(ErlNifEnv*, void* obj) {
  auto* h = static_cast<Handle*>(obj);
  delete h->state;
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
  if (argc != 3 || !get_text(env, argv[0], &servers_text) || !get_text(env, argv[1], &domain) ||
      !enif_get_int(env, argv[2], &timeout_ms) || timeout_ms <= 0) {
    return enif_make_badarg(env);
  }
  auto servers = parse_server_list(servers_text);
  if (!servers) return error_text(env, "bad server list: " + servers_text);
  ResolverOptions options;
  options.servers = *servers;
  options.domain = domain;
  options.timeout = std::chrono::milliseconds(timeout_ms);
  auto resolver = Resolver::create(options);
  if (!resolver.ok()) return error_text(env, std::string(resolver.status().message()));

  auto state = std::make_unique<State>();
  state->resolver = std::move(*resolver);
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

// The registration, built on the worker thread (the key file is read there too).
struct RegisterArgs {
  std::string node, key_file, address;
  unsigned port = 0;
  Family family = Family::kInet;
  unsigned lease = 0;
};

UpdateResult failure(std::string message) {
  UpdateResult r;
  r.status = UpdateStatus::kError;
  r.message = std::move(message);
  return r;
}

UpdateResult do_register(State& s, const RegisterArgs& a) {
  if (s.registrar) s.registrar->stop(false);
  s.registrar.reset();
  s.client.reset();
  auto key = load_first_key(a.key_file);
  if (!key.ok()) return failure(std::string(key.status().message()));
  auto names = node_names(a.node, s.domain);
  if (!names.ok()) return failure(std::string(names.status().message()));
  UpdateClientOptions options;
  options.servers = s.servers;
  if (!s.servers.empty()) options.primary = s.servers.front();
  s.client = std::make_unique<UpdateClient>(options, *key);

  Registration r;
  r.names = *names;
  r.port = static_cast<uint16_t>(a.port);
  r.lease = a.lease;
  if (!a.address.empty()) {
    auto parsed = parse_address(a.address);
    if (!parsed) return failure("bad address " + a.address);
    std::tie(r.family, r.address) = *parsed;
  } else {
    auto primary = s.client->primary(names->zone);
    if (!primary.ok()) return failure(std::string(primary.status().message()));
    auto local = local_address_towards(*primary);
    if (!local.ok()) return failure(std::string(local.status().message()));
    std::tie(r.family, r.address) = *local;
  }
  // Not strict: a previous incarnation's records (a crash within its lease) are replaced.
  // The delete and the add are two UPDATEs; strict mode (kNameFree) is for later.
  UpdateResult cleared = s.client->unregister_node(r.names);
  if (cleared.status == UpdateStatus::kAuthFailure || cleared.status == UpdateStatus::kTimeout) return cleared;
  s.registrar = std::make_unique<Registrar>(*s.client, r);
  UpdateResult first = s.registrar->start(Precondition::kNone);
  if (!first.ok()) s.registrar.reset();
  return first;
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
  auto reply = std::make_shared<Reply>(env, argv[7]);
  state->post([state, reply, a] {
    UpdateResult r = do_register(*state, a);
    reply->send(update_term(reply->env(), r));
  });
  return atom(env, "ok");
}

ERL_NIF_TERM nif_unregister(ErlNifEnv* env, int argc, const ERL_NIF_TERM argv[]) {
  State* state = nullptr;
  if (argc != 2 || !get_state(env, argv[0], &state) || !enif_is_ref(env, argv[1])) return enif_make_badarg(env);
  auto reply = std::make_shared<Reply>(env, argv[1]);
  state->post([state, reply] {
    std::optional<UpdateResult> r;
    if (state->registrar) r = state->registrar->stop(true);
    state->registrar.reset();
    reply->send(r ? update_term(reply->env(), *r) : atom(reply->env(), "ok"));
  });
  return atom(env, "ok");
}

int load(ErlNifEnv* env, void**, ERL_NIF_TERM) {
  auto flags = static_cast<ErlNifResourceFlags>(ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER);
  g_type = enif_open_resource_type(env, nullptr, "epmdns_resolver", destroy, flags, nullptr);
  return g_type == nullptr ? 1 : 0;
}

int upgrade(ErlNifEnv* env, void** priv, void**, ERL_NIF_TERM info) { return load(env, priv, info); }

ErlNifFunc functions[] = {
    {"new", 3, nif_new, 0},
    {"lookup", 4, nif_lookup, 0},
    {"names", 3, nif_names, 0},
    {"register", 8, nif_register, 0},
    {"unregister", 2, nif_unregister, 0},
};

}  // namespace

ERL_NIF_INIT(epmdns_nif, functions, load, nullptr, upgrade, nullptr)
