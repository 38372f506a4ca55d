// Reads RFC 1035 master files (parsed by ldns) into zones, with errors that name file and line.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "zone/catalog.h"
#include "zone/zone.h"

namespace epmdns::zone {

// Parses master-file text. `source` names it in errors ("FILE:LINE: message").
// `default_origin` (text, e.g. "erl.internal.") applies until a $ORIGIN.
absl::StatusOr<std::unique_ptr<Zone>> load_zone_text(std::string_view text, const std::string& source,
                                                     const std::string& default_origin);
// Loads one file; without $ORIGIN, "X.zone" has origin "X.".
absl::StatusOr<std::unique_ptr<Zone>> load_zone_file(const std::string& path);
// Loads a file, or every *.zone file in a directory.
absl::StatusOr<Catalog> load_catalog(const std::string& path);

}  // namespace epmdns::zone
