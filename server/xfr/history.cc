#include "xfr/history.h"

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::xfr {
namespace {

using update::Change;

struct Net {
  size_t order = 0;  // first seen: keeps the output in the entry's order
  const Change* first = nullptr;
  const Change* last = nullptr;
};

Record record_of(const Change& change) { return {change.owner, change.type, change.ttl, change.rdata}; }

}  // namespace

uint32_t Step::old_serial() const { return wire::soa_serial(old_soa.rdata); }
uint32_t Step::new_serial() const { return wire::soa_serial(new_soa.rdata); }

size_t Step::bytes() const {
  size_t total = sizeof(Step) + old_soa.owner.size() + old_soa.rdata.size() + new_soa.owner.size() +
                 new_soa.rdata.size();
  for (const auto* list : {&removed, &added}) {
    for (const Record& r : *list) total += sizeof(Record) + r.owner.size() + r.rdata.size();
  }
  return total;
}

bool make_step(const update::ChangeSet& changes, Step& out) {
  const Change* old_soa = nullptr;
  const Change* new_soa = nullptr;
  absl::flat_hash_map<std::string, Net> net;
  for (const Change& change : changes) {
    if (change.type == wire::rrtype::SOA) {
      if (change.op == Change::Op::kRemove && old_soa == nullptr) old_soa = &change;
      if (change.op == Change::Op::kAdd) new_soa = &change;
      continue;
    }
    std::string key = wire::lower_copy(change.owner);
    key.push_back(static_cast<char>(change.type >> 8));
    key.push_back(static_cast<char>(change.type));
    key += change.rdata;
    auto [it, inserted] = net.try_emplace(std::move(key));
    if (inserted) {
      it->second.order = net.size();
      it->second.first = &change;
    }
    it->second.last = &change;
  }
  if (old_soa == nullptr || new_soa == nullptr) return false;
  out = Step{};
  out.old_soa = record_of(*old_soa);
  out.new_soa = record_of(*new_soa);
  std::vector<const Net*> ordered(net.size());
  for (const auto& [key, entry] : net) ordered[entry.order - 1] = &entry;
  for (const Net* entry : ordered) {
    // Before the entry the record was there iff its first change removed it; after it, iff
    // its last change added it (the updater removes a record before adding it again).
    const bool before = entry->first->op == Change::Op::kRemove;
    const bool after = entry->last->op == Change::Op::kAdd;
    if (before && after && entry->first->ttl == entry->last->ttl) continue;  // renewal only
    if (before) out.removed.push_back(record_of(*entry->first));
    if (after) out.added.push_back(record_of(*entry->last));
  }
  return true;
}

History::History(size_t max_bytes, std::function<void(std::string_view)> on_live_change)
    : max_bytes_(max_bytes), on_live_change_(std::move(on_live_change)) {}

void History::replay_started() {
  std::lock_guard<std::mutex> guard(mutex_);
  zones_.clear();
}

void History::add(std::string_view apex, std::shared_ptr<const Step> step) {
  std::lock_guard<std::mutex> guard(mutex_);
  ZoneHistory& zone = zones_[std::string(apex)];
  if (step == nullptr) {  // an entry that is not a step: the chain breaks here
    zone.steps.clear();
    zone.bytes = 0;
    return;
  }
  if (!zone.steps.empty() && zone.steps.back()->new_serial() != step->old_serial()) {
    zone.steps.clear();
    zone.bytes = 0;
  }
  zone.bytes += step->bytes();
  zone.steps.push_back(std::move(step));
  while (zone.bytes > max_bytes_ && !zone.steps.empty()) {
    zone.bytes -= zone.steps.front()->bytes();
    zone.steps.pop_front();
  }
}

void History::changed(std::string_view apex, const update::ChangeSet& changes, bool live) {
  auto step = std::make_shared<Step>();
  const bool ok = make_step(changes, *step);
  // An entry that changed nothing visible but the SOA is still a step (the serial moved).
  add(apex, ok && step->old_serial() != step->new_serial() ? std::move(step) : nullptr);
  if (live && on_live_change_) on_live_change_(apex);
}

void History::replay_finished(const zone::Catalog& catalog) {
  if (++replays_ > 1 && on_live_change_) {
    for (const zone::Zone* zone : catalog.zones()) on_live_change_(zone->apex());
  }
  std::lock_guard<std::mutex> guard(mutex_);
  for (auto it = zones_.begin(); it != zones_.end();) {
    const zone::Zone* zone = nullptr;
    for (const zone::Zone* z : catalog.zones()) {
      if (z->apex() == it->first) zone = z;
    }
    // The zone file's SOA may have won over the journal's (a serial raised by hand).
    if (zone == nullptr || it->second.steps.empty() || it->second.steps.back()->new_serial() != zone->serial()) {
      zones_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool History::steps_since(std::string_view apex, uint32_t serial, std::vector<std::shared_ptr<const Step>>& out) const {
  out.clear();
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = zones_.find(absl::string_view(apex.data(), apex.size()));
  if (it == zones_.end()) return false;
  const auto& steps = it->second.steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i]->old_serial() != serial) continue;
    out.assign(steps.begin() + static_cast<ptrdiff_t>(i), steps.end());
    return true;
  }
  return false;
}

bool History::newest_serial(std::string_view apex, uint32_t& serial) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = zones_.find(absl::string_view(apex.data(), apex.size()));
  if (it == zones_.end() || it->second.steps.empty()) return false;
  serial = it->second.steps.back()->new_serial();
  return true;
}

size_t History::step_count(std::string_view apex) const {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = zones_.find(absl::string_view(apex.data(), apex.size()));
  return it == zones_.end() ? 0 : it->second.steps.size();
}

}  // namespace epmdns::xfr
