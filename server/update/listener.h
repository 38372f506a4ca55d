// What the updater tells others about the changes it makes (zone transfers: the IXFR
// history and NOTIFY). Calls come in journal order, from the updater's threads.
#pragma once

#include <string_view>

#include "update/change.h"
#include "zone/catalog.h"

namespace epmdns::update {

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // The zones are about to be rebuilt from the zone files and the journal (start-up, reload):
  // whatever was said before no longer holds.
  virtual void replay_started() {}
  // One journal entry: replayed (live false), or a change that has just become durable (live true).
  virtual void changed(std::string_view apex, const ChangeSet& changes, bool live) = 0;
  // The replay is over and `catalog` holds its result (read on the updater thread, which is
  // the only writer, so no lock is needed).
  virtual void replay_finished(const zone::Catalog& /*catalog*/) {}
};

}  // namespace epmdns::update
