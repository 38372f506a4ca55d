// JSON string literals, for the --json output of epmdnsctl and the test tools.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace epmdns::resolver {

inline std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace epmdns::resolver
