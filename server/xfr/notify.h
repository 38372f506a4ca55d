// NOTIFY (RFC 1996) to the configured secondaries, from a thread of its own.
//
// zone_changed() only marks the zone (a mutex and an eventfd write): the updater never waits
// on the network. The thread sends at most one NOTIFY per zone per `min_interval` (a burst of
// changes becomes one NOTIFY, the next one going out once the interval has passed), and resends
// each until its target answers, waiting `first_retry`, then twice as long each time up to
// `max_retry`, so that a secondary that was down hears of the change soon after it is back.
// A newer NOTIFY for the same zone and target replaces one still unanswered.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/unique_fd.h"
#include "wire/tsig_key.h"

namespace epmdns::xfr {

struct NotifyTarget {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;                   // as configured, for the log
  std::string zone;                   // lower-case wire apex; empty: every zone
  std::optional<wire::TsigKey> key;  // signs the NOTIFY (RFC 8945) when set
};

struct NotifyOptions {
  std::chrono::milliseconds min_interval{100};
  std::chrono::milliseconds first_retry{500};
  std::chrono::milliseconds max_retry{60000};  // the doubling stops here; resends go on
  int tries_before_warning = 6;                // then one line in the log
};

class Notifier {
 public:
  Notifier(std::vector<NotifyTarget> targets, NotifyOptions options = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // The zone at lower-case wire `apex` changed: notify its targets (soon, coalesced).
  void zone_changed(std::string_view apex);

  // Counters, for tests and the log.
  uint64_t sent() const;
  uint64_t acknowledged() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Outstanding {
    std::string apex;
    size_t target = 0;
    uint16_t id = 0;
    int tries = 0;
    Clock::time_point next_try;
    std::vector<uint8_t> message;
  };

  void run();
  void send(Outstanding& out);
  void receive(int fd);

  std::vector<NotifyTarget> targets_;
  NotifyOptions options_;
  UniqueFd socket4_, socket6_;
  UniqueFd wake_;  // eventfd
  std::thread thread_;

  mutable std::mutex mutex_;
  absl::flat_hash_set<std::string> dirty_;
  bool stopping_ = false;
  uint64_t sent_ = 0, acknowledged_ = 0;

  // Owned by the thread.
  absl::flat_hash_map<std::string, Clock::time_point> last_sent_;
  std::vector<Outstanding> outstanding_;
};

}  // namespace epmdns::xfr
