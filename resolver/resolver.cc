#include "resolver/resolver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "resolver/ares_channel.h"
#include "resolver/browse_lookup.h"
#include "resolver/node_lookup.h"
#include "resolver/node_name.h"

namespace epmdns::resolver {

std::string_view status_name(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kNotFound: return "not_found";
    case Status::kTimeout: return "timeout";
    case Status::kServerFailure: return "server_failure";
    case Status::kBadName: return "bad_name";
    case Status::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

Status ares_status(int status) {
  switch (status) {
    case ARES_SUCCESS: return Status::kOk;
    case ARES_ETIMEOUT: return Status::kTimeout;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return Status::kCancelled;
    default: return Status::kServerFailure;  // ESERVFAIL, EREFUSED, ECONNREFUSED, EBADRESP...
  }
}

}  // namespace

// The resolver thread: a poll loop over c-ares' sockets and an eventfd that wakes it for new
// operations and for shutdown. Everything but submit() runs on that thread.
class Resolver::Impl : public QuerySender {
 public:
  Impl(std::unique_ptr<AresChannel> channel, ResolverOptions options, wire::Name domain, int wake_fd)
      : options_(std::move(options)), domain_(domain), wake_fd_(wake_fd), channel_(std::move(channel)),
        ids_(std::random_device{}()) {
    if (options_.cache.enabled) make_caches();
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
    close(wake_fd_);
  }

  void start_thread() { thread_ = std::thread([this] { run(); }); }
  bool on_resolver_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  Clock::time_point deadline() const { return Clock::now() + options_.timeout; }
  const wire::Name& domain() const { return domain_; }

  // The caches in front of the lookups (null when disabled). Keys: the lower-case wire
  // name of the instance plus '4' or '6' for nodes; the browse name for names and nodes.
  LookupCache<NodeResult>* node_cache() { return node_cache_.get(); }
  LookupCache<NamesResult>* names_cache() { return names_cache_.get(); }
  LookupCache<NodesResult>* nodes_cache() { return nodes_cache_.get(); }

  // Any thread: hands an operation to the resolver thread.
  void submit(std::shared_ptr<Operation> op) {
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
      if (!stopping) incoming_.push_back(op);
    }
    if (stopping) {
      op->fail(Status::kCancelled);
      return;
    }
    wake();
  }

  void send(std::shared_ptr<Operation> op, int tag, const wire::Name& qname, uint16_t qtype) override {
    const auto query = build_query(static_cast<uint16_t>(ids_()), qname, qtype, options_.udp_payload);
    auto* pending = new PendingQuery{std::move(op), tag, this};
    ares_send(channel_->get(), query.data(), static_cast<int>(query.size()), &Impl::on_ares_answer, pending);
  }

 private:
  void make_caches() {
    node_cache_ = std::make_unique<LookupCache<NodeResult>>(
        options_.cache, [this](const std::string& key, NodeCallback done) {
          wire::Name instance;
          instance.assign_wire(std::string_view(key).substr(0, key.size() - 1));
          const Family family = key.back() == '4' ? Family::kInet : Family::kInet6;
          submit(std::make_shared<NodeLookup>(deadline(), instance, family, std::move(done)));
        });
    names_cache_ = std::make_unique<LookupCache<NamesResult>>(
        options_.cache, [this](const std::string& key, NamesCallback done) {
          wire::Name browse;
          browse.assign_wire(key);
          submit(std::make_shared<NamesLookup>(deadline(), browse, std::move(done)));
        });
    nodes_cache_ = std::make_unique<LookupCache<NodesResult>>(
        options_.cache, [this](const std::string& key, NodesCallback done) {
          wire::Name browse;
          browse.assign_wire(key);
          submit(std::make_shared<NodesLookup>(deadline(), browse, std::move(done)));
        });
  }

  struct PendingQuery {
    std::shared_ptr<Operation> op;
    int tag;
    Impl* impl;
  };

  static void on_ares_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<PendingQuery> pending(static_cast<PendingQuery*>(arg));
    if (pending->op->finished()) return;
    Answer answer;
    answer.status = ares_status(status);
    if (answer.status == Status::kOk) {
      answer.response = parse_response({abuf, static_cast<size_t>(std::max(alen, 0))});
      if (!answer.response) answer.status = Status::kServerFailure;  // malformed answer
    }
    pending->op->on_answer(*pending->impl, pending->tag, answer);
  }

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }

  void drain_wake() {
    uint64_t value;
    [[maybe_unused]] ssize_t n = read(wake_fd_, &value, sizeof value);
  }

  // Starts new operations; false once shutdown has been asked for.
  bool take_incoming() {
    std::vector<std::shared_ptr<Operation>> batch;
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      batch.swap(incoming_);
      stopping = stopping_;
    }
    for (auto& op : batch) {
      active_.push_back(op);
      if (stopping) {
        op->fail(Status::kCancelled);
      } else {
        op->start(*this);
      }
    }
    return !stopping;
  }

  // Fails operations past their deadline, forgets finished ones; the next deadline, if any.
  std::optional<Clock::time_point> expire() {
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    // fail() may run user code but never touches active_ (submit goes through incoming_).
    for (auto& op : active_) {
      if (!op->finished() && op->deadline() <= now) op->fail(Status::kTimeout);
      if (!op->finished()) next = next ? std::min(*next, op->deadline()) : op->deadline();
    }
    std::erase_if(active_, [](const auto& op) { return op->finished(); });
    return next;
  }

  int poll_timeout_ms(std::optional<Clock::time_point> next_deadline) {
    timeval max{3600, 0};
    timeval tv;
    const timeval* ares_tv = ares_timeout(channel_->get(), &max, &tv);
    long long ms = static_cast<long long>(ares_tv->tv_sec) * 1000 + (ares_tv->tv_usec + 999) / 1000;
    if (next_deadline) {
      const auto until = std::chrono::ceil<std::chrono::milliseconds>(*next_deadline - Clock::now()).count();
      ms = std::min<long long>(ms, std::max<long long>(until, 0));
    }
    return static_cast<int>(std::clamp<long long>(ms, 0, 3600 * 1000));
  }

  void run() {
    std::vector<pollfd> fds;
    while (take_incoming()) {
      const auto next_deadline = expire();
      fds.clear();
      fds.push_back(pollfd{wake_fd_, POLLIN, 0});
      for (const auto& [fd, interest] : channel_->sockets()) {
        fds.push_back(pollfd{fd, static_cast<short>((interest.read ? POLLIN : 0) | (interest.write ? POLLOUT : 0)), 0});
      }
      const int ready = poll(fds.data(), fds.size(), poll_timeout_ms(next_deadline));
      if (ready > 0 && (fds[0].revents & POLLIN)) drain_wake();
      for (size_t i = 1; ready > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        const bool readable = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
        const bool writable = fds[i].revents & (POLLOUT | POLLERR | POLLHUP);
        ares_process_fd(channel_->get(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                        writable ? fds[i].fd : ARES_SOCKET_BAD);
      }
      ares_process_fd(channel_->get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // c-ares' own timeouts
      expire();
    }
    // Shutdown: every caller hears kCancelled, then c-ares ends its queries (their answers
    // find the operations finished).
    for (auto& op : active_) op->fail(Status::kCancelled);
    active_.clear();
    channel_->destroy();
  }

  ResolverOptions options_;
  wire::Name domain_;
  int wake_fd_;
  std::unique_ptr<AresChannel> channel_;
  std::mt19937 ids_;
  std::vector<std::shared_ptr<Operation>> active_;  // resolver thread only

  std::mutex mutex_;
  std::vector<std::shared_ptr<Operation>> incoming_;
  bool stopping_ = false;

  // Alive until the thread has been joined: cancelled operations complete their flights.
  std::unique_ptr<LookupCache<NodeResult>> node_cache_;
  std::unique_ptr<LookupCache<NamesResult>> names_cache_;
  std::unique_ptr<LookupCache<NodesResult>> nodes_cache_;

  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::create(ResolverOptions options) {
  auto domain = domain_name(options.domain);
  if (!domain) return absl::InvalidArgumentError(absl::StrCat("bad domain: ", options.domain));
  if (options.timeout <= std::chrono::milliseconds(0)) return absl::InvalidArgumentError("timeout must be positive");
  // c-ares 1.18.1 reads UDP answers into a 4096-byte buffer.
  if (options.udp_payload != 0 && (options.udp_payload < 512 || options.udp_payload > 4096)) {
    return absl::InvalidArgumentError("udp_payload must be 0 or 512-4096");
  }
  auto channel = AresChannel::create(ChannelOptions{options.servers, options.timeout, options.udp_payload});
  if (!channel.ok()) return channel.status();
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return absl::InternalError("eventfd failed");
  auto impl = std::make_unique<Impl>(std::move(*channel), std::move(options), *domain, wake_fd);
  impl->start_thread();
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

void Resolver::lookup_node(std::string_view node, Family family, NodeCallback callback) {
  if (auto* cache = impl_->node_cache()) {
    auto key = instance_wire(node, impl_->domain());
    if (key) {
      key->push_back(family == Family::kInet ? '4' : '6');
      return cache->lookup(*key, std::move(callback));
    }
  }
  auto instance = instance_name(node, impl_->domain());
  if (!instance) {
    NodeResult result;
    result.status = Status::kBadName;
    result.family = family;
    return callback(result);
  }
  impl_->submit(std::make_shared<NodeLookup>(impl_->deadline(), *instance, family, std::move(callback)));
}

std::optional<NodeResult> Resolver::try_cached(std::string_view node, Family family) {
  auto* cache = impl_->node_cache();
  if (!cache) return std::nullopt;
  auto key = instance_wire(node, impl_->domain());
  if (!key) return std::nullopt;
  key->push_back(family == Family::kInet ? '4' : '6');
  return cache->try_get(*key);
}

void Resolver::names(std::string_view host, NamesCallback callback) {
  auto browse = browse_name(host, impl_->domain());
  if (!browse) return callback(NamesResult{Status::kBadName, {}, 0, false});
  if (auto* cache = impl_->names_cache()) return cache->lookup(browse->wire(), std::move(callback));
  impl_->submit(std::make_shared<NamesLookup>(impl_->deadline(), *browse, std::move(callback)));
}

void Resolver::nodes(std::string_view zone, NodesCallback callback) {
  // A zone is always absolute: "erl.internal" and "erl.internal." mean the same; "" is the domain.
  std::string text = zone.empty() ? impl_->domain().to_text() : std::string(zone);
  if (text.back() != '.') text.push_back('.');
  auto browse = browse_name(text, impl_->domain());
  if (!browse) return callback(NodesResult{Status::kBadName, {}, 0, false});
  if (auto* cache = impl_->nodes_cache()) return cache->lookup(browse->wire(), std::move(callback));
  impl_->submit(std::make_shared<NodesLookup>(impl_->deadline(), *browse, std::move(callback)));
}

namespace {
// Runs an asynchronous call and waits for its callback.
template <typename Result, typename Call>
Result wait_for(bool on_resolver_thread, Call call) {
  if (on_resolver_thread) {
    Result result;
    result.status = Status::kCancelled;  // would wait for itself forever
    return result;
  }
  std::promise<Result> promise;
  auto future = promise.get_future();
  call([&promise](const Result& result) { promise.set_value(result); });
  return future.get();
}
}  // namespace

NodeResult Resolver::lookup_node_sync(std::string_view node, Family family) {
  if (auto cached = try_cached(node, family)) return std::move(*cached);  // no promise, no wait
  return wait_for<NodeResult>(impl_->on_resolver_thread(),
                              [&](NodeCallback cb) { lookup_node(node, family, std::move(cb)); });
}

NamesResult Resolver::names_sync(std::string_view host) {
  return wait_for<NamesResult>(impl_->on_resolver_thread(), [&](NamesCallback cb) { names(host, std::move(cb)); });
}

NodesResult Resolver::nodes_sync(std::string_view zone) {
  return wait_for<NodesResult>(impl_->on_resolver_thread(), [&](NodesCallback cb) { nodes(zone, std::move(cb)); });
}

}  // namespace epmdns::resolver
