#include "update/updater.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>

#include "common/thread_name.h"
#include "update/apply.h"
#include "update/prerequisites.h"
#include "update/request.h"
#include "update/response.h"
#include "wire/name.h"
#include "wire/tsig.h"
#include "wire/types.h"

namespace epmdns::update {
namespace {

using namespace wire;

uint64_t unix_now() { return static_cast<uint64_t>(std::time(nullptr)); }

uint32_t grant_lease(const LeaseLimits& limits, const Edns& edns) {
  if (!edns.has_lease) return limits.fallback;
  if (edns.lease < limits.min) return limits.min;
  return edns.lease > limits.max ? limits.max : edns.lease;
}

}  // namespace

// What one UPDATE came to, kept until the batch is durable.
struct Updater::Outcome {
  Request request;
  bool zone_parsed = false;
  uint16_t rcode = rcode::NOERROR;
  std::optional<uint32_t> lease;
  std::optional<Signature> signature;
  zone::Zone* zone = nullptr;
  ChangeSet changes;
};

// A processed batch on its way to disk: applied, its journal entries encoded, not yet answered.
struct Updater::Commit {
  std::vector<Pending> batch;
  std::vector<Outcome> outcomes;
  Journal::Range journal;  // its entries, written before any query could see them
  uint64_t now = 0;
  absl::Status status;
};

// Applies replayed journal entries to `catalog`, counting those for zones it lacks.
struct Replayer {
  zone::Catalog& catalog;
  ChangeListener* listener = nullptr;
  size_t skipped = 0;
  void operator()(std::string_view apex, const ChangeSet& changes) {
    zone::Zone* zone = catalog.find_apex(apex);
    if (zone == nullptr) {
      ++skipped;
      return;
    }
    for (const Change& change : changes) apply_change(*zone, change);
    if (listener != nullptr) listener->changed(apex, changes, false);
  }
  void report() const {
    if (skipped > 0) {
      std::fprintf(stderr, "epmdnsd: journal: %zu entries are for zones no longer served; ignored\n", skipped);
    }
  }
};

absl::StatusOr<std::unique_ptr<Updater>> Updater::start(zone::Catalog& catalog, zone::RwLock& lock,
                                                        const wire::Keyring& keyring, Policy policy, UpdaterConfig config) {
  if (config.listener != nullptr) config.listener->replay_started();
  Replayer replayer{catalog, config.listener};
  absl::StatusOr<Journal> journal = Journal::open(config.state_dir, std::ref(replayer));
  if (!journal.ok()) return journal.status();
  replayer.report();
  if (config.listener != nullptr) config.listener->replay_finished(catalog);
  journal->set_flush_to_disk(config.flush_to_disk);
  std::unique_ptr<Updater> updater(
      new Updater(catalog, lock, keyring, std::move(policy), std::move(config), std::move(*journal)));
  updater->expire_leases(static_cast<uint32_t>(unix_now()));
  updater->sync_thread_ = std::thread([u = updater.get()] {
    name_this_thread("epmdns-sync");
    u->sync_loop();
  });
  updater->thread_ = std::thread([u = updater.get()] {
    name_this_thread("epmdns-update");
    u->run();
  });
  return updater;
}

Updater::Updater(zone::Catalog& catalog, zone::RwLock& lock, const wire::Keyring& keyring, Policy policy,
                 UpdaterConfig config, Journal journal)
    : catalog_(catalog),
      lock_(lock),
      keyring_(keyring),
      policy_(std::move(policy)),
      config_(std::move(config)),
      journal_(std::move(journal)) {}

Updater::~Updater() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();  // it settles the last batch before it leaves
  {
    std::lock_guard<std::mutex> guard(sync_mutex_);
    sync_stopping_ = true;
  }
  sync_wake_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  wait_for_compaction();
}

void Updater::wait_for_compaction() {
  if (compactor_.joinable()) compactor_.join();
}

void Updater::maybe_compact() {
  if (journal_.size() < config_.journal_max_size) return;
  settle();
  wait_for_compaction();
  absl::StatusOr<uint64_t> finished = journal_.rotate();
  if (!finished.ok()) {
    std::fprintf(stderr, "epmdnsd: journal rotation failed: %s\n", std::string(finished.status().message()).c_str());
    return;
  }
  compactor_ = std::thread([dir = journal_.dir(), through = *finished, loader = config_.zone_loader] {
    name_this_thread("epmdns-compact");
    std::optional<zone::Catalog> files;
    if (loader) {
      absl::StatusOr<zone::Catalog> loaded = loader();
      if (loaded.ok()) files = std::move(*loaded);
    }
    // Without the zone files at hand every removal is kept: correct, only larger.
    const StaticCheck is_static = [&](std::string_view apex, const Change& change) {
      if (!files) return true;
      const zone::Zone* zone = files->find_apex(apex);
      if (zone == nullptr) return false;
      const zone::Node* node = zone->find(wire::lower_copy(change.owner));
      const zone::RRset* set = node ? node->find(change.type) : nullptr;
      return set != nullptr && set->contains(change.rdata);
    };
    const absl::Status status = compact(dir, through, is_static, static_cast<uint32_t>(unix_now()));
    if (!status.ok()) std::fprintf(stderr, "epmdnsd: journal compaction failed: %s\n", std::string(status.message()).c_str());
  });
}

void Updater::submit(std::span<const uint8_t> message, Reply reply) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    queue_.push_back({std::vector<uint8_t>(message.begin(), message.end()), ReplyTo{.callback = std::move(reply)}});
  }
  wake_.notify_one();
}

void Updater::submit(std::vector<Submission>& submissions) {
  if (submissions.empty()) return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    queue_.insert(queue_.end(), std::make_move_iterator(submissions.begin()),
                  std::make_move_iterator(submissions.end()));
  }
  submissions.clear();
  wake_.notify_one();
}

void Updater::reload(ZoneLoader loader) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    reloads_.push_back(std::move(loader));
  }
  wake_.notify_one();
}

void Updater::reload_now(const ZoneLoader& loader) {
  settle();
  wait_for_compaction();  // it renames and removes the files replay reads
  auto failed = [](const absl::Status& status) {
    std::fprintf(stderr, "epmdnsd: reload failed, keeping the zones served: %s\n",
                 std::string(status.message()).c_str());
  };
  absl::StatusOr<zone::Catalog> fresh = loader();
  if (!fresh.ok()) return failed(fresh.status());
  if (config_.listener != nullptr) config_.listener->replay_started();
  Replayer replayer{*fresh, config_.listener};
  if (absl::Status replayed = journal_.replay(std::ref(replayer)); !replayed.ok()) return failed(replayed);
  replayer.report();
  if (config_.listener != nullptr) config_.listener->replay_finished(*fresh);
  with_write_lock([&] { catalog_ = std::move(*fresh); });
  next_expiry_ = 0;  // the replay may have brought back leases: look at all of them once
  expire_leases(static_cast<uint32_t>(unix_now()));
  std::fprintf(stderr, "epmdnsd: zones reloaded\n");
}

void Updater::run() {
  std::vector<Pending> batch;
  std::vector<ZoneLoader> reloads;
  uint64_t last_sweep = unix_now();
  while (true) {
    {
      std::unique_lock<std::mutex> guard(mutex_);
      wake_.wait_for(guard, std::chrono::milliseconds(250),
                     [&] { return stopping_ || sync_failed_ || !queue_.empty() || !reloads_.empty(); });
      sync_failed_ = false;
      reloads.swap(reloads_);
      // Drain what is queued even when stopping: those clients are waiting.
      const size_t take = std::min(queue_.size(), config_.max_batch);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + take));
      queue_.erase(queue_.begin(), queue_.begin() + take);
      if (stopping_ && batch.empty()) break;
    }
    if (batch.empty()) {
      settle();  // nothing new: see the last batch through (answering SERVFAIL if it failed)
    } else {
      process_batch(batch);
    }
    for (const ZoneLoader& loader : reloads) reload_now(loader);
    reloads.clear();
    const uint64_t now = unix_now();
    if (now != last_sweep) {
      expire_leases(static_cast<uint32_t>(now));
      last_sweep = now;
    }
    maybe_compact();
  }
  settle();
}

void Updater::sync_loop() {
  while (true) {
    Commit* commit;
    {
      std::unique_lock<std::mutex> guard(sync_mutex_);
      sync_wake_.wait(guard, [&] { return sync_stopping_ || (in_flight_ && !in_flight_done_); });
      if (!in_flight_ || in_flight_done_) return;  // stopping, nothing left
      commit = in_flight_.get();
    }
    if (commit->journal.begin != commit->journal.end) commit->status = journal_.sync_file();
    if (commit->status.ok() && config_.listener != nullptr) {
      for (const Outcome& out : commit->outcomes) {
        if (!out.changes.empty()) config_.listener->changed(out.zone->apex(), out.changes, true);
      }
    }
    if (commit->status.ok()) send_replies(*commit);
    {
      std::lock_guard<std::mutex> guard(sync_mutex_);
      in_flight_done_ = true;
    }
    sync_wake_.notify_all();
    if (!commit->status.ok()) {
      {
        std::lock_guard<std::mutex> guard(mutex_);
        sync_failed_ = true;
      }
      wake_.notify_one();
    }
  }
}

bool Updater::settle(Commit* later) {
  std::unique_ptr<Commit> done;
  {
    std::unique_lock<std::mutex> guard(sync_mutex_);
    sync_wake_.wait(guard, [&] { return !in_flight_ || in_flight_done_; });
    done = std::move(in_flight_);
    in_flight_done_ = false;
  }
  if (!done) return true;
  if (done->status.ok()) {
    journal_.synced(done->journal.end);
    return true;
  }
  std::fprintf(stderr, "epmdnsd: updates failed, nothing changed: %s\n", std::string(done->status.message()).c_str());
  journal_.cut(done->journal.begin);  // `later` wrote after it: gone too
  if (later != nullptr) take_back(*later);
  take_back(*done);
  return false;
}

void Updater::take_back(Commit& commit) {
  with_write_lock([&] {
    for (auto it = commit.outcomes.rbegin(); it != commit.outcomes.rend(); ++it) {
      if (it->changes.empty()) continue;
      revert(*it->zone, it->changes);
      it->rcode = rcode::SERVFAIL;
      it->lease.reset();
    }
  });
  send_replies(commit);
}

Updater::Outcome Updater::process(const Pending& pending, uint64_t now) {
  Outcome out;
  out.rcode = parse_request(pending.message, out.request);
  out.zone_parsed = out.rcode == rcode::NOERROR;
  if (out.rcode != rcode::NOERROR) return out;

  // ACL: who is asking (TSIG), and may they touch this zone (policy).
  const TsigKey* key = nullptr;
  if (out.request.signed_) {
    Signature signature;
    if (find_tsig(pending.message, signature.record) != TsigFind::kFound) {
      out.rcode = rcode::FORMERR;
      return out;
    }
    signature.check = verify_request(pending.message, signature.record, keyring_, now);
    key = signature.check.key;
    out.rcode = signature.check.rcode;
    out.signature = std::move(signature);
    if (out.rcode != rcode::NOERROR) return out;
  } else if (!config_.allow_unsigned) {
    out.rcode = rcode::REFUSED;
    return out;
  }
  if (out.request.edns.present && out.request.edns.version > 0) {
    out.rcode = rcode::BADVERS;  // RFC 6891 §6.1.3
    return out;
  }
  if (out.request.edns.asks_lease) {  // RFC 9664: an UPDATE's UPDATE-LEASE holds 4 or 8 bytes
    out.rcode = rcode::FORMERR;
    return out;
  }
  Name apex = out.request.zone;
  apex.to_lower();
  out.zone = out.request.zone_class == rrclass::IN ? catalog_.find_apex(apex.wire()) : nullptr;
  if (out.zone == nullptr) {
    out.rcode = rcode::NOTAUTH;
    return out;
  }
  if (!policy_.permits(key, *out.zone, out.request)) {
    out.rcode = rcode::REFUSED;
    return out;
  }
  // Check: prerequisites against the zone as earlier updates in this batch left it, then the updates.
  out.rcode = check_prerequisites(*out.zone, out.request);
  if (out.rcode == rcode::NOERROR) out.rcode = prescan(*out.zone, out.request);
  if (out.rcode != rcode::NOERROR) return out;
  // Apply.
  const uint32_t lease = grant_lease(config_.leases, out.request.edns);
  if (out.request.edns.has_lease) out.lease = lease;
  const uint32_t expiry = lease == 0 ? 0 : static_cast<uint32_t>(now + lease);
  // Apply and journal: the entry is written before queries can see the change, so a crash
  // of the server never undoes what a query saw (the SOA serial never goes back). The sync
  // that makes it survive a crash of the machine comes for the whole batch at once.
  absl::Status written;
  with_write_lock([&] {
    apply_updates(*out.zone, out.request, expiry, out.changes);
    if (out.changes.empty()) return;
    written = journal_.append(out.zone->apex(), out.changes);
    if (!written.ok()) revert(*out.zone, out.changes);
  });
  if (!written.ok()) {
    std::fprintf(stderr, "epmdnsd: update failed, nothing changed: %s\n", std::string(written.message()).c_str());
    out.changes.clear();
    out.lease.reset();
    out.rcode = rcode::SERVFAIL;
    return out;
  }
  if (expiry != 0) next_expiry_ = std::min(next_expiry_, expiry);
  return out;
}

void Updater::process_batch(std::vector<Pending>& batch) {
  auto commit = std::make_unique<Commit>();
  commit->now = unix_now();
  commit->outcomes.reserve(batch.size());
  for (const Pending& pending : batch) commit->outcomes.push_back(process(pending, commit->now));
  commit->batch = std::move(batch);
  batch.clear();
  if (!settle(commit.get())) return;  // this batch was taken back with the one before
  commit->journal = journal_.unsynced();
  {
    std::lock_guard<std::mutex> guard(sync_mutex_);
    in_flight_ = std::move(commit);
  }
  sync_wake_.notify_one();
}

void Updater::send_replies(Commit& commit) {
  std::vector<Pending>& batch = commit.batch;
  const std::vector<Outcome>& outcomes = commit.outcomes;
  const uint64_t now = commit.now;
  constexpr size_t kMaxAnswer = 1024;
  std::vector<uint8_t> answers(batch.size() * kMaxAnswer);
  std::vector<iovec> iov(batch.size());
  std::vector<mmsghdr> udp;  // grouped by socket below, one sendmmsg per socket
  std::vector<int> udp_fds;
  udp.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const Outcome& out = outcomes[i];
    uint8_t* answer = answers.data() + i * kMaxAnswer;
    const size_t length = write_response(out.request, out.zone_parsed, out.rcode, out.lease,
                                         out.signature ? &*out.signature : nullptr, now,
                                         std::span<uint8_t>(answer, kMaxAnswer));
    ReplyTo& to = batch[i].reply_to;
    if (to.udp_fd < 0) {
      to.callback(std::span<const uint8_t>(answer, length));
      continue;
    }
    iov[i] = {answer, length};
    mmsghdr message{};
    message.msg_hdr.msg_name = &to.peer;
    message.msg_hdr.msg_namelen = to.peer_length;
    message.msg_hdr.msg_iov = &iov[i];
    message.msg_hdr.msg_iovlen = 1;
    udp.push_back(message);
    udp_fds.push_back(to.udp_fd);
  }
  size_t start = 0;
  while (start < udp.size()) {
    // Bring every answer for the socket of udp[start] next to it.
    size_t end = start + 1;
    for (size_t j = end; j < udp.size(); ++j) {
      if (udp_fds[j] != udp_fds[start]) continue;
      std::swap(udp[j], udp[end]);
      std::swap(udp_fds[j], udp_fds[end]);
      ++end;
    }
    for (size_t sent = start; sent < end;) {
      const int n = ::sendmmsg(udp_fds[start], udp.data() + sent, static_cast<unsigned>(end - sent), MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      sent += n > 0 ? static_cast<size_t>(n) : 1;  // drop a datagram the kernel refused, go on with the rest
    }
    start = end;
  }
}

void Updater::expire_leases(uint32_t now) {
  if (now < next_expiry_) return;
  settle();  // the journal takes one write at a time
  next_expiry_ = UINT32_MAX;
  for (const zone::Zone* const_zone : catalog_.zones()) {
    zone::Zone* zone = catalog_.find_apex(const_zone->apex());
    ChangeSet expired;
    zone->for_each_node([&](const zone::Node& node) {
      for (const zone::RRset& set : node.rrsets) {
        if (!set.has_leases()) continue;
        for (size_t i = 0; i < set.size(); ++i) {
          const uint32_t expiry = set.expiry(i);
          if (expiry == zone::RRset::kNoLease) continue;
          if (expiry <= now) {
            expired.push_back({Change::Op::kRemove, std::string(node.owner()), set.type, set.ttl, expiry, std::string(set[i])});
          } else {
            next_expiry_ = std::min(next_expiry_, expiry);
          }
        }
      }
    });
    if (expired.empty()) continue;
    absl::Status synced;
    with_write_lock([&] {
      for (const Change& change : expired) apply_change(*zone, change);
      bump_serial(*zone, expired);
      synced = journal_.append(zone->apex(), expired);
      if (!synced.ok()) revert(*zone, expired);
    });
    if (synced.ok()) {
      synced = journal_.sync();
      if (!synced.ok()) with_write_lock([&] { revert(*zone, expired); });  // records and serial back
    }
    if (!synced.ok()) {
      next_expiry_ = now + 1;  // the next sweep tries again
      std::fprintf(stderr, "epmdnsd: lease expiry not journaled, retrying: %s\n",
                   std::string(synced.message()).c_str());
    } else if (config_.listener != nullptr) {
      config_.listener->changed(zone->apex(), expired, true);
    }
  }
}

}  // namespace epmdns::update
