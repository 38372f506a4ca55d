// The recent history of each zone, as IXFR (RFC 1995) sends it: one step per journal entry,
// from the SOA before it to the SOA after it, with the records it removed and added.
//
// The updater feeds it (update::ChangeListener): journal entries replayed at start-up and
// reload, then every change once it is durable (UPDATEs and lease expiries alike). A step
// is kept only if it continues the chain of serials; anything else (a snapshot entry, a
// zone file whose serial was raised by hand) starts the zone's history afresh, and an IXFR
// from before that falls back to AXFR. The oldest steps go once a zone's history passes
// `max_bytes`. Thread-safe: transfers read it while the updater writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "update/listener.h"

namespace epmdns::xfr {

struct Record {
  std::string owner;  // wire form, case as registered
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;  // uncompressed wire form
};

struct Step {
  Record old_soa;  // the SOA before the step (owner: the apex)
  Record new_soa;  // and after it
  std::vector<Record> removed;
  std::vector<Record> added;
  uint32_t old_serial() const;
  uint32_t new_serial() const;
  size_t bytes() const;
};

// The net effect of one journal entry: removals of records that were there before it, then
// additions of records there after it (a lease renewal, removed and added again with the same
// TTL, is no change at all). False if the entry has no SOA change (old and new), which every
// UPDATE and expiry entry has.
bool make_step(const update::ChangeSet& changes, Step& out);

class History final : public update::ChangeListener {
 public:
  // `on_live_change` (may be empty) is called with the apex after each live change is recorded,
  // and for every zone at the end of a replay after the first (a reload of the zone files).
  explicit History(size_t max_bytes, std::function<void(std::string_view apex)> on_live_change = {});

  void replay_started() override;
  void changed(std::string_view apex, const update::ChangeSet& changes, bool live) override;
  void replay_finished(const zone::Catalog& catalog) override;

  // The steps leading from `serial` to the newest serial known for the zone at lower-case
  // wire `apex`, oldest first. False if the history does not reach back to `serial`.
  bool steps_since(std::string_view apex, uint32_t serial, std::vector<std::shared_ptr<const Step>>& out) const;
  // The newest serial in the zone's history; false if it has none.
  bool newest_serial(std::string_view apex, uint32_t& serial) const;
  size_t step_count(std::string_view apex) const;

 private:
  struct ZoneHistory {
    std::deque<std::shared_ptr<const Step>> steps;
    size_t bytes = 0;
  };
  void add(std::string_view apex, std::shared_ptr<const Step> step);

  const size_t max_bytes_;
  int replays_ = 0;
  const std::function<void(std::string_view)> on_live_change_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<std::string, ZoneHistory> zones_;  // by lower-case apex
};

}  // namespace epmdns::xfr
