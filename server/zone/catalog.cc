#include "zone/catalog.h"

namespace epmdns::zone {

bool Catalog::add(std::unique_ptr<Zone> zone) {
  const std::string apex = zone->apex();
  return zones_.try_emplace(apex, std::move(zone)).second;
}

const Zone* Catalog::find_zone(const wire::Name& lower_name) const {
  for (size_t skip = 0; skip <= lower_name.label_count(); ++skip) {
    const std::string_view suffix = lower_name.suffix(skip);
    auto it = zones_.find(absl::string_view(suffix.data(), suffix.size()));
    if (it != zones_.end()) return it->second.get();
  }
  return nullptr;
}

Zone* Catalog::find_apex(std::string_view lower_apex) {
  auto it = zones_.find(absl::string_view(lower_apex.data(), lower_apex.size()));
  return it == zones_.end() ? nullptr : it->second.get();
}

std::vector<const Zone*> Catalog::zones() const {
  std::vector<const Zone*> out;
  for (const auto& [apex, zone] : zones_) out.push_back(zone.get());
  return out;
}

}  // namespace epmdns::zone
