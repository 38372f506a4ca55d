#include "update/updater.h"

#include <algorithm>
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

// Applies replayed journal entries to `catalog`, counting those for zones it lacks.
struct Replayer {
  zone::Catalog& catalog;
  size_t skipped = 0;
  void operator()(std::string_view apex, const ChangeSet& changes) {
    zone::Zone* zone = catalog.find_apex(apex);
    if (zone == nullptr) {
      ++skipped;
      return;
    }
    for (const Change& change : changes) apply_change(*zone, change);
  }
  void report() const {
    if (skipped > 0) {
      std::fprintf(stderr, "epmdnsd: journal: %zu entries are for zones no longer served; ignored\n", skipped);
    }
  }
};

absl::StatusOr<std::unique_ptr<Updater>> Updater::start(zone::Catalog& catalog, zone::RwLock& lock,
                                                        const wire::Keyring& keyring, Policy policy, UpdaterConfig config) {
  Replayer replayer{catalog};
  absl::StatusOr<Journal> journal = Journal::open(config.state_dir, std::ref(replayer));
  if (!journal.ok()) return journal.status();
  replayer.report();
  journal->set_flush_to_disk(config.flush_to_disk);
  std::unique_ptr<Updater> updater(
      new Updater(catalog, lock, keyring, std::move(policy), std::move(config), std::move(*journal)));
  updater->expire_leases(static_cast<uint32_t>(unix_now()));
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
  if (thread_.joinable()) thread_.join();
  wait_for_compaction();
}

void Updater::wait_for_compaction() {
  if (compactor_.joinable()) compactor_.join();
}

void Updater::maybe_compact() {
  if (journal_.size() < config_.journal_max_size) return;
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
    queue_.push_back({std::vector<uint8_t>(message.begin(), message.end()), std::move(reply)});
  }
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
  wait_for_compaction();  // it renames and removes the files replay reads
  auto failed = [](const absl::Status& status) {
    std::fprintf(stderr, "epmdnsd: reload failed, keeping the zones served: %s\n",
                 std::string(status.message()).c_str());
  };
  absl::StatusOr<zone::Catalog> fresh = loader();
  if (!fresh.ok()) return failed(fresh.status());
  Replayer replayer{*fresh};
  if (absl::Status replayed = journal_.replay(std::ref(replayer)); !replayed.ok()) return failed(replayed);
  replayer.report();
  with_write_lock([&] { catalog_ = std::move(*fresh); });
  next_expiry_ = 0;  // the replay may have brought back leases: look at all of them once
  expire_leases(static_cast<uint32_t>(unix_now()));
  std::fprintf(stderr, "epmdnsd: zones reloaded\n");
}

void Updater::with_write_lock(const std::function<void()>& f) {
  lock_.lock();
  f();
  lock_.unlock();
}

void Updater::run() {
  std::vector<Pending> batch;
  std::vector<ZoneLoader> reloads;
  uint64_t last_sweep = unix_now();
  while (true) {
    {
      std::unique_lock<std::mutex> guard(mutex_);
      wake_.wait_for(guard, std::chrono::milliseconds(250),
                     [&] { return stopping_ || !queue_.empty() || !reloads_.empty(); });
      reloads.swap(reloads_);
      // Drain what is queued even when stopping: those clients are waiting.
      const size_t take = std::min(queue_.size(), config_.max_batch);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + take));
      queue_.erase(queue_.begin(), queue_.begin() + take);
      if (stopping_ && batch.empty()) return;
    }
    if (!batch.empty()) process_batch(batch);
    for (const ZoneLoader& loader : reloads) reload_now(loader);
    reloads.clear();
    const uint64_t now = unix_now();
    if (now != last_sweep) {
      expire_leases(static_cast<uint32_t>(now));
      last_sweep = now;
    }
    maybe_compact();
  }
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
  with_write_lock([&] { apply_updates(*out.zone, out.request, expiry, out.changes); });
  if (expiry != 0) next_expiry_ = std::min(next_expiry_, expiry);
  // Journal (made durable for the whole batch at once).
  if (!out.changes.empty()) journal_.append(out.zone->apex(), out.changes);
  return out;
}

void Updater::process_batch(std::vector<Pending>& batch) {
  const uint64_t now = unix_now();
  std::vector<Outcome> outcomes;
  outcomes.reserve(batch.size());
  for (const Pending& pending : batch) outcomes.push_back(process(pending, now));

  const absl::Status synced = journal_.sync();
  if (!synced.ok()) {
    std::fprintf(stderr, "epmdnsd: updates failed, nothing changed: %s\n", std::string(synced.message()).c_str());
    with_write_lock([&] {
      for (auto it = outcomes.rbegin(); it != outcomes.rend(); ++it) {
        if (it->changes.empty()) continue;
        revert(*it->zone, it->changes);
        it->rcode = rcode::SERVFAIL;
        it->lease.reset();
      }
    });
  }
  uint8_t buffer[1024];
  for (size_t i = 0; i < batch.size(); ++i) {
    const Outcome& out = outcomes[i];
    const size_t length = write_response(out.request, out.zone_parsed, out.rcode, out.lease,
                                         out.signature ? &*out.signature : nullptr, now, buffer);
    batch[i].reply(std::span<const uint8_t>(buffer, length));
  }
  batch.clear();
}

void Updater::expire_leases(uint32_t now) {
  if (now < next_expiry_) return;
  next_expiry_ = UINT32_MAX;
  for (const zone::Zone* const_zone : catalog_.zones()) {
    zone::Zone* zone = catalog_.find_apex(const_zone->apex());
    ChangeSet expired;
    zone->for_each_node([&](std::string_view, const zone::Node& node) {
      for (const zone::RRset& set : node.rrsets) {
        if (!set.has_leases()) continue;
        for (size_t i = 0; i < set.size(); ++i) {
          const uint32_t expiry = set.expiry(i);
          if (expiry == zone::RRset::kNoLease) continue;
          if (expiry <= now) {
            expired.push_back({Change::Op::kRemove, node.owner, set.type, set.ttl, expiry, std::string(set[i])});
          } else {
            next_expiry_ = std::min(next_expiry_, expiry);
          }
        }
      }
    });
    if (expired.empty()) continue;
    with_write_lock([&] {
      for (const Change& change : expired) apply_change(*zone, change);
      bump_serial(*zone, expired);
    });
    journal_.append(zone->apex(), expired);
    const absl::Status synced = journal_.sync();
    if (!synced.ok()) {
      // Put the records (and the serial) back; the next sweep tries again.
      with_write_lock([&] { revert(*zone, expired); });
      next_expiry_ = now + 1;
      std::fprintf(stderr, "epmdnsd: lease expiry not journaled, retrying: %s\n",
                   std::string(synced.message()).c_str());
    }
  }
}

}  // namespace epmdns::update
