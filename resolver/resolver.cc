#include "resolver/resolver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
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

std::string_view failure_name(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "";
    case Failure::kTimedOut: return "timed_out";
    case Failure::kUnreachable: return "unreachable";
    case Failure::kServFail: return "servfail";
    case Failure::kRefused: return "refused";
    case Failure::kNotImp: return "notimp";
    case Failure::kBadRcode: return "bad_rcode";
    case Failure::kMalformed: return "malformed";
    case Failure::kLocal: return "local";
  }
  return "unknown";
}

namespace {

// True while this thread holds a Resolver's channel lock in submit (c-ares callbacks that
// come at once are then deferred, and nested calls queue).
thread_local bool t_holding_channel = false;

// What a c-ares status means. c-ares moves on to the next server after a timeout, a refused
// connection, SERVFAIL, REFUSED and NOTIMP, and reports the last of these when every server
// has had its tries.
Failure ares_failure(int status) {
  switch (status) {
    case ARES_SUCCESS: return Failure::kNone;
    case ARES_ETIMEOUT: return Failure::kTimedOut;
    case ARES_ECONNREFUSED: return Failure::kUnreachable;
    case ARES_ESERVFAIL: return Failure::kServFail;
    case ARES_EREFUSED: return Failure::kRefused;
    case ARES_ENOTIMP: return Failure::kNotImp;
    case ARES_EFORMERR: return Failure::kBadRcode;
    case ARES_EBADRESP: return Failure::kMalformed;
    default: return Failure::kLocal;  // ENOMEM, no servers, ...
  }
}

// At most ResolverOptions::max_queries_in_flight queries are handed to c-ares at once; more
// wait in the Resolver's queue. It keeps a burst (say 100,000 lookups) from overflowing the
// socket buffers on either side (epmdnsd's default 208 KiB holds about 200 queries; a dropped
// datagram costs a whole attempt timeout), keeps c-ares' per-query scans short (1.18.1 walks
// every query for each timeout computation), and lets every query in flight have its own DNS
// ID. Loopback needs fewer than that to stay busy.
constexpr size_t kDefaultQueriesInFlight = 128;
constexpr size_t kMaxQueriesInFlight = 16384;

}  // namespace

// The resolver thread: a poll loop over c-ares' sockets and an eventfd that wakes it for new
// operations and for shutdown. Everything but submit() runs on that thread.
class Resolver::Impl : public QuerySender {
 public:
  Impl(std::unique_ptr<AresChannel> channel, ResolverOptions options, wire::Name domain, int wake_fd)
      : options_(std::move(options)), domain_(domain), wake_fd_(wake_fd), channel_(std::move(channel)),
        random_(std::random_device{}()), ids_in_use_(65536, false),
        max_in_flight_(options_.max_queries_in_flight == 0
                           ? kDefaultQueriesInFlight
                           : std::min(options_.max_queries_in_flight, kMaxQueriesInFlight)),
        max_sleep_(std::max(std::chrono::milliseconds(1), std::min(channel_->attempt_timeout(), options_.timeout))) {
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

  // Any thread: starts an operation. When the resolver thread is waiting in poll (the
  // channel lock is free), the caller starts it itself: its query is on the wire at once,
  // and the resolver thread is not even woken unless c-ares changed its sockets (it never
  // sleeps longer than max_sleep_, shorter than any new query's first timer, so it sees
  // the new timers in time; the answer wakes it through the socket it already watches).
  // That leaves one thread hand-off per uncached lookup (the answer) instead of two.
  // Otherwise (the resolver thread is busy, or this is a callback) the operation is queued
  // for the resolver thread, which is woken.
  void submit(std::shared_ptr<Operation> op) {
    if (!t_holding_channel && !on_resolver_thread() && channel_mutex_.try_lock()) {
      std::unique_lock channel(channel_mutex_, std::adopt_lock);
      bool stopping;
      {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
      }
      if (!stopping) {
        const uint64_t generation = channel_->socket_generation();
        t_holding_channel = true;
        activate(op);
        op->start(*this);  // answers that c-ares gives at once are deferred (on_ares_answer)
        t_holding_channel = false;
        const bool wake_needed = channel_->socket_generation() != generation || !deferred_.empty();
        channel.unlock();
        if (wake_needed) wake();
        return;
      }
    } else {
      bool stopping;
      {
        std::lock_guard lock(mutex_);
        stopping = stopping_;
        if (!stopping) incoming_.push_back(op);
      }
      if (!stopping) {
        wake();
        return;
      }
    }
    op->fail(Status::kCancelled, Failure::kNone);
  }

  // Resolver thread: sends at once while fewer than max_in_flight_ are out, else queues.
  void send(std::shared_ptr<Operation> op, int tag, const wire::Name& qname, uint16_t qtype) override {
    Query query{std::move(op), tag, build_query(0, qname, qtype, options_.udp_payload)};
    if (in_flight_ < max_in_flight_ && waiting_.empty()) return transmit(std::move(query));
    waiting_.push_back(std::move(query));
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

  // A query not yet handed to c-ares: its bytes, with the ID filled in when it is sent.
  struct Query {
    std::shared_ptr<Operation> op;
    int tag;
    std::vector<uint8_t> packet;
  };

  // A query in c-ares' hands.
  struct PendingQuery {
    std::shared_ptr<Operation> op;
    int tag;
    uint16_t id;
    Impl* impl;
  };

  // A random DNS ID that no query in flight has (c-ares matches answers by ID, then
  // question: two queries with one ID would lose one answer).
  uint16_t take_id() {
    for (;;) {
      const auto id = static_cast<uint16_t>(random_());
      if (!ids_in_use_[id]) {
        ids_in_use_[id] = true;
        channel_->clear_error_rcode(id);
        return id;
      }
    }
  }

  void transmit(Query query) {
    const uint16_t id = take_id();
    query.packet[0] = static_cast<uint8_t>(id >> 8);
    query.packet[1] = static_cast<uint8_t>(id & 0xFF);
    ++in_flight_;
    auto* pending = new PendingQuery{std::move(query.op), query.tag, id, this};
    // c-ares copies the packet; its callback may run before ares_send returns.
    ares_send(channel_->get(), query.packet.data(), static_cast<int>(query.packet.size()), &Impl::on_ares_answer,
              pending);
  }

  // Hands waiting queries to c-ares as room frees up; those of finished operations (past
  // their deadline while waiting) are dropped unsent.
  void send_waiting() {
    while (in_flight_ < max_in_flight_ && !waiting_.empty()) {
      Query query = std::move(waiting_.front());
      waiting_.pop_front();
      if (!query.op->finished()) transmit(std::move(query));
    }
  }

  static void on_ares_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<PendingQuery> pending(static_cast<PendingQuery*>(arg));
    Impl* impl = pending->impl;
    --impl->in_flight_;
    impl->ids_in_use_[pending->id] = false;
    if (pending->op->finished()) return;
    if (t_holding_channel) {
      // Inside a caller's submit (c-ares failed at once): operations run their callbacks on
      // the resolver thread, never under a caller's channel lock.
      const auto* bytes = abuf;
      impl->deferred_.push_back(
          Deferred{std::move(pending), status, std::vector<uint8_t>(bytes, bytes + std::max(alen, 0))});
      return;
    }
    answer_query(std::move(pending), status, abuf, alen);
  }

  static void answer_query(std::unique_ptr<PendingQuery> pending, int status, const unsigned char* abuf, int alen) {
    Impl* impl = pending->impl;
    Answer answer;
    answer.failure = ares_failure(status);
    if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
      answer.status = Status::kCancelled;
      answer.failure = Failure::kNone;
    } else if (answer.failure != Failure::kNone) {
      // A server that answered SERVFAIL/REFUSED/NOTIMP makes it a server failure, whatever
      // c-ares reports after trying the others (1.18.1: "connection refused").
      switch (impl->channel_->error_rcode(pending->id)) {
        case 2: answer.failure = Failure::kServFail; break;
        case 4: answer.failure = Failure::kNotImp; break;
        case 5: answer.failure = Failure::kRefused; break;
        default: break;
      }
      answer.status = failure_status(answer.failure);
    } else {
      answer.status = Status::kOk;
      answer.response = parse_response({abuf, static_cast<size_t>(std::max(alen, 0))});
      if (!answer.response) {
        answer.status = Status::kServerFailure;
        answer.failure = Failure::kMalformed;
      }
    }
    pending->op->on_answer(*impl, pending->tag, answer);
  }

  // One write per wake-up however many callers ask: wake_pending_ stays set from the first
  // write until the resolver thread has read the eventfd (read first, then cleared, so a
  // waker that sees it set knows the resolver thread has yet to look at the work it left).
  void wake() {
    if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }

  void drain_wake() {
    uint64_t value;
    [[maybe_unused]] ssize_t n = read(wake_fd_, &value, sizeof value);
    wake_pending_.store(false, std::memory_order_release);
  }

  // Answers c-ares gave inside a caller's submit, handed over to the resolver thread.
  void answer_deferred() {
    while (!deferred_.empty()) {
      Deferred d = std::move(deferred_.front());
      deferred_.pop_front();
      if (!d.pending->op->finished()) {
        answer_query(std::move(d.pending), d.status, d.answer.data(), static_cast<int>(d.answer.size()));
      }
    }
  }

  void activate(const std::shared_ptr<Operation>& op) {
    active_.push_back(op);
    std::push_heap(active_.begin(), active_.end(), LaterDeadline{});
  }

  // Operations ordered by deadline, the earliest at the front of the heap.
  struct LaterDeadline {
    bool operator()(const std::shared_ptr<Operation>& a, const std::shared_ptr<Operation>& b) const {
      return a->deadline() > b->deadline();
    }
  };

  // Starts new operations; false once shutdown has been asked for.
  bool take_incoming() {
    std::vector<std::shared_ptr<Operation>>& batch = batch_;  // swapped with incoming_: both keep their capacity
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      batch.swap(incoming_);
      stopping = stopping_;
    }
    struct Clear {
      std::vector<std::shared_ptr<Operation>>& batch;
      ~Clear() { batch.clear(); }
    } clear{batch};
    for (auto& op : batch) {
      if (stopping) {
        op->fail(Status::kCancelled, Failure::kNone);
        continue;
      }
      activate(op);
      op->start(*this);
    }
    return !stopping;
  }

  // Fails operations past their deadline; the next deadline, if any. Only the front of the
  // heap is looked at, so a loop turn costs O(log n) however many operations are pending;
  // finished ones deeper in the heap are swept out when it has doubled since the last sweep.
  std::optional<Clock::time_point> expire() {
    const auto now = Clock::now();
    while (!active_.empty() && (active_.front()->finished() || active_.front()->deadline() <= now)) {
      std::pop_heap(active_.begin(), active_.end(), LaterDeadline{});
      std::shared_ptr<Operation> op = std::move(active_.back());
      active_.pop_back();
      // May run user code, which may submit (incoming_) but never touches active_.
      if (!op->finished()) op->fail(Status::kTimeout, Failure::kTimedOut);
    }
    if (active_.size() >= sweep_at_) {
      std::erase_if(active_, [](const auto& op) { return op->finished(); });
      std::make_heap(active_.begin(), active_.end(), LaterDeadline{});
      sweep_at_ = std::max<size_t>(kMinSweep, 2 * active_.size());
    }
    if (active_.empty()) return std::nullopt;
    return active_.front()->deadline();
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
    return static_cast<int>(std::clamp<long long>(ms, 0, max_sleep_.count()));
  }

  void run() {
    std::unique_lock channel(channel_mutex_);  // released only while waiting in poll
    std::vector<pollfd> fds;
    while (take_incoming()) {
      answer_deferred();
      send_waiting();
      const auto next_deadline = expire();
      fds.clear();
      fds.push_back(pollfd{wake_fd_, POLLIN, 0});
      for (const auto& [fd, interest] : channel_->sockets()) {
        fds.push_back(pollfd{fd, static_cast<short>((interest.read ? POLLIN : 0) | (interest.write ? POLLOUT : 0)), 0});
      }
      const int timeout_ms = poll_timeout_ms(next_deadline);
      channel.unlock();
      const int ready = poll(fds.data(), fds.size(), timeout_ms);
      channel.lock();
      if (ready > 0 && (fds[0].revents & POLLIN)) drain_wake();
      bool processed = false;
      for (size_t i = 1; ready > 0 && i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        const bool readable = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
        const bool writable = fds[i].revents & (POLLOUT | POLLERR | POLLHUP);
        ares_process_fd(channel_->get(), readable ? fds[i].fd : ARES_SOCKET_BAD,
                        writable ? fds[i].fd : ARES_SOCKET_BAD);
        processed = true;
        send_waiting();
      }
      // c-ares' own timeouts (every ares_process_fd call above has seen to them already).
      if (!processed) ares_process_fd(channel_->get(), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      expire();
    }
    // Shutdown: every caller hears kCancelled, then c-ares ends its queries (their answers
    // find the operations finished).
    waiting_.clear();
    deferred_.clear();
    for (auto& op : active_) op->fail(Status::kCancelled, Failure::kNone);
    active_.clear();
    channel_->destroy();
  }

  static constexpr size_t kMinSweep = 64;

  ResolverOptions options_;
  wire::Name domain_;
  int wake_fd_;
  std::unique_ptr<AresChannel> channel_;

  // Under channel_mutex_: held by the resolver thread except while it waits in poll, and by
  // a caller starting an operation itself (submit).
  std::mutex channel_mutex_;
  std::mt19937 random_;
  std::vector<bool> ids_in_use_;                    // DNS IDs of the queries c-ares has
  size_t max_in_flight_;
  // The longest poll: no new query's first timer (c-ares' attempt timeout, the call's
  // deadline) can come sooner, so callers starting queries need not wake the thread.
  std::chrono::milliseconds max_sleep_;
  size_t in_flight_ = 0;                            // queries c-ares has
  std::deque<Query> waiting_;                       // queries waiting for room
  std::vector<std::shared_ptr<Operation>> active_;  // unfinished operations: a heap by deadline
  size_t sweep_at_ = kMinSweep;
  struct Deferred {
    std::unique_ptr<PendingQuery> pending;
    int status;
    std::vector<uint8_t> answer;
  };
  std::deque<Deferred> deferred_;
  std::atomic<bool> wake_pending_{false};

  std::vector<std::shared_ptr<Operation>> batch_;   // take_incoming's, kept for its capacity

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
  auto channel =
      AresChannel::create(ChannelOptions{options.servers, options.resolv_conf, options.timeout, options.udp_payload});
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
  if (!browse) return callback(NamesResult{Status::kBadName, {}, 0, false, Failure::kNone});
  if (auto* cache = impl_->names_cache()) return cache->lookup(browse->wire(), std::move(callback));
  impl_->submit(std::make_shared<NamesLookup>(impl_->deadline(), *browse, std::move(callback)));
}

void Resolver::nodes(std::string_view zone, NodesCallback callback) {
  // A zone is always absolute: "erl.internal" and "erl.internal." mean the same; "" is the domain.
  std::string text = zone.empty() ? impl_->domain().to_text() : std::string(zone);
  if (text.back() != '.') text.push_back('.');
  auto browse = browse_name(text, impl_->domain());
  if (!browse) return callback(NodesResult{Status::kBadName, {}, 0, false, Failure::kNone});
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
