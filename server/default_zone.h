// The bundled zone zones/erl.internal.zone, compiled in as the server's default.
#pragma once

#include <string_view>

namespace epmdns {

extern const std::string_view kDefaultZoneText;
inline constexpr const char* kDefaultZoneOrigin = "erl.internal.";
inline constexpr const char* kDefaultZoneSource = "built-in zones/erl.internal.zone";

}  // namespace epmdns
