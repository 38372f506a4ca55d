// The set of zones a server is authoritative for.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "wire/name.h"
#include "zone/zone.h"

namespace epmdns::zone {

class Catalog {
 public:
  // False if a zone with the same apex is already present.
  bool add(std::unique_ptr<Zone> zone);
  // The zone with the longest apex that contains `lower_name`, or null.
  const Zone* find_zone(const wire::Name& lower_name) const;
  // The zone whose apex is exactly `lower_apex` (wire form), or null.
  Zone* find_apex(std::string_view lower_apex);
  size_t size() const { return zones_.size(); }
  std::vector<const Zone*> zones() const;

 private:
  absl::flat_hash_map<std::string, std::unique_ptr<Zone>> zones_;
};

}  // namespace epmdns::zone
