#include "resolver/registrar.h"

#include <algorithm>
#include <random>

namespace epmdns::resolver {

Registrar::Registrar(UpdateClient& client, Registration registration, RenewalOptions options, Observer observer)
    : client_(client), registration_(std::move(registration)), options_(options), observer_(std::move(observer)) {}

Registrar::~Registrar() { stop(false); }

std::chrono::milliseconds Registrar::renewal_interval(uint32_t lease_seconds, double jitter) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  const double half = lease_seconds * 500.0;
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return std::chrono::milliseconds(std::max<long>(100, static_cast<long>(half * factor(rng))));
}

UpdateResult Registrar::start(Precondition precondition) {
  if (thread_.joinable()) {
    UpdateResult busy;
    busy.message = "the registrar is already running";
    return busy;
  }
  UpdateResult result = client_.register_node(registration_, precondition);
  if (!result.ok()) return result;
  const uint32_t lease = result.lease.value_or(registration_.lease.value_or(0));
  if (lease == 0) return result;  // nothing lapses: nothing to renew
  std::lock_guard lock(mutex_);
  stopping_ = false;
  thread_ = std::thread([this, lease] { run(lease); });
  return result;
}

void Registrar::run(uint32_t lease) {
  const Precondition renew = registration_.token.empty() ? Precondition::kNone : Precondition::kOwnToken;
  auto wait = renewal_interval(lease, options_.jitter);
  auto backoff = options_.min_backoff;
  const auto backoff_cap = std::min(options_.max_backoff, std::chrono::milliseconds(std::max(lease * 250L, 100L)));
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
    UpdateResult result = client_.register_node(registration_, renew);
    if (observer_) observer_(result);
    if (result.ok()) {
      {
        std::lock_guard lock(mutex_);
        ++renewals_;
      }
      wait = renewal_interval(result.lease.value_or(lease), options_.jitter);
      backoff = options_.min_backoff;
    } else {
      wait = std::max(options_.min_backoff, std::min(backoff, backoff_cap));
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

std::optional<UpdateResult> Registrar::stop(bool unregister) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!unregister) return std::nullopt;
  return client_.unregister_node(registration_.names, registration_.token);
}

int Registrar::renewals() const {
  std::lock_guard lock(mutex_);
  return renewals_;
}

}  // namespace epmdns::resolver
