// Keeps one node registered: registers it, re-sends the registration every lease/2 (with
// jitter) on its own thread, retries failures with exponential backoff, and stops cleanly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "resolver/update_client.h"

namespace epmdns::resolver {

struct RenewalOptions {
  std::chrono::milliseconds min_backoff{500};   // first retry after a failed renewal
  std::chrono::milliseconds max_backoff{30000};  // retries double up to this (and lease/4)
  double jitter = 0.1;                          // renewal interval varies by ±jitter
};

class Registrar {
 public:
  // Called on the renewal thread after every renewal attempt.
  using Observer = std::function<void(const UpdateResult&)>;

  // `client` must outlive the Registrar. The registration must ask for a lease.
  Registrar(UpdateClient& client, Registration registration, RenewalOptions options = {}, Observer observer = {});
  ~Registrar();  // stop(false)
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Sends the first registration (with `precondition`) on the caller's thread; when it
  // succeeds, starts the renewal thread. Renewals check the token when there is one.
  UpdateResult start(Precondition precondition);
  // Stops renewing (joins the thread); with `unregister`, deletes the registration and
  // returns that result. Idempotent.
  std::optional<UpdateResult> stop(bool unregister);

  // The interval before the next renewal for a granted lease (lease/2, jittered).
  static std::chrono::milliseconds renewal_interval(uint32_t lease_seconds, double jitter);
  int renewals() const;  // successful renewals so far

 private:
  void run(uint32_t lease);

  UpdateClient& client_;
  Registration registration_;
  RenewalOptions options_;
  Observer observer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int renewals_ = 0;
  std::thread thread_;
};

}  // namespace epmdns::resolver
