// Who may change what: per-key grants over a zone or over one host's Erlang records,
// in the spirit of BIND's update-policy and Knot's update-owner. See docs/update-policy.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "update/request.h"
#include "wire/tsig_key.h"
#include "zone/zone.h"

namespace epmdns::update {

struct Grant {
  enum class Scope { kZone, kHost };
  std::string key;  // lower-case wire name of the TSIG key
  Scope scope = Scope::kZone;
  std::string name;  // lower-case wire: the zone apex, or the host name
};

class Policy {
 public:
  // No policy file: every known key may update every served zone.
  static Policy any_key_any_zone() { return Policy(true, {}); }
  // Parses "grant KEY zone ZONE" / "grant KEY host HOST" lines; errors name SOURCE:LINE.
  static absl::StatusOr<Policy> parse(std::string_view text, const std::string& source);
  static absl::StatusOr<Policy> load(const std::string& path);

  // May `key` (null: an unsigned update the server was told to accept) make every change
  // in `request` to `zone`?
  bool permits(const wire::TsigKey* key, const zone::Zone& zone, const Request& request) const;

 private:
  Policy(bool open, std::vector<Grant> grants) : open_(open), grants_(std::move(grants)) {}
  bool open_;
  std::vector<Grant> grants_;
};

}  // namespace epmdns::update
