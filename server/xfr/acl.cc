#include "xfr/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace epmdns::xfr {

namespace {

bool in_scope(const std::string& zone, std::string_view apex) { return zone.empty() || zone == apex; }

}  // namespace

absl::StatusOr<ZoneScoped> split_zone_scope(std::string_view entry) {
  ZoneScoped scoped{{}, entry};
  const size_t equals = entry.find('=');
  if (equals == std::string_view::npos) return scoped;
  wire::Name zone;
  if (equals == 0 || !zone.assign_text(entry.substr(0, equals))) {
    return absl::InvalidArgumentError(absl::StrCat("bad zone name in '", std::string(entry), "'"));
  }
  zone.to_lower();
  scoped.zone = std::string(zone.wire());
  scoped.item = entry.substr(equals + 1);
  return scoped;
}

std::vector<std::string> TransferAcl::scoped_zones() const {
  std::vector<std::string> zones;
  for (const Prefix& prefix : prefixes_) {
    if (!prefix.zone.empty()) zones.push_back(prefix.zone);
  }
  for (const Key& key : keys_) {
    if (!key.zone.empty()) zones.push_back(key.zone);
  }
  return zones;
}

absl::Status TransferAcl::add(std::string_view scoped_entry, const wire::Keyring& keyring) {
  const absl::StatusOr<ZoneScoped> scoped = split_zone_scope(scoped_entry);
  if (!scoped.ok()) return scoped.status();
  const std::string_view entry_view = scoped->item;
  const std::string entry(scoped_entry);  // this Abseil takes absl::string_view only
  if (entry_view.starts_with("key:")) {
    wire::Name name;
    if (!name.assign_text(entry_view.substr(4))) return absl::InvalidArgumentError(absl::StrCat("bad key name in '", entry, "'"));
    name.to_lower();
    if (keyring.find(name.wire()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("'", entry, "': no such key in --keys"));
    }
    keys_.push_back({scoped->zone, std::string(name.wire())});
    return absl::OkStatus();
  }
  Prefix prefix;
  prefix.zone = scoped->zone;
  std::string_view address = entry_view;
  const size_t slash = entry_view.find('/');
  if (slash != std::string_view::npos) address = entry_view.substr(0, slash);
  const std::string text(address);
  if (::inet_pton(AF_INET, text.c_str(), prefix.address.data()) == 1) {
    prefix.family = AF_INET;
    prefix.length = 32;
  } else if (::inet_pton(AF_INET6, text.c_str(), prefix.address.data()) == 1) {
    prefix.family = AF_INET6;
    prefix.length = 128;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("'", entry, "' is neither an address, a prefix nor key:NAME"));
  }
  if (slash != std::string_view::npos) {
    int length = 0;
    if (!absl::SimpleAtoi(std::string(entry_view.substr(slash + 1)), &length) || length < 0 || length > prefix.length) {
      return absl::InvalidArgumentError(absl::StrCat("bad prefix length in '", entry, "'"));
    }
    prefix.length = length;
  }
  prefixes_.push_back(prefix);
  return absl::OkStatus();
}

bool TransferAcl::permits(const sockaddr_storage& peer, const wire::TsigKey* key, std::string_view apex) const {
  if (key != nullptr) {
    wire::Name name = key->name;
    name.to_lower();
    for (const Key& allowed : keys_) {
      if (allowed.name == name.wire() && in_scope(allowed.zone, apex)) return true;
    }
  }
  int family = peer.ss_family;
  std::array<uint8_t, 16> address{};
  if (family == AF_INET) {
    std::memcpy(address.data(), &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, 4);
  } else if (family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      family = AF_INET;
      std::memcpy(address.data(), v6.s6_addr + 12, 4);
    } else {
      std::memcpy(address.data(), v6.s6_addr, 16);
    }
  } else {
    return false;
  }
  for (const Prefix& prefix : prefixes_) {
    if (prefix.family != family || !in_scope(prefix.zone, apex)) continue;
    const int full = prefix.length / 8, rest = prefix.length % 8;
    if (std::memcmp(address.data(), prefix.address.data(), static_cast<size_t>(full)) != 0) continue;
    if (rest != 0) {
      const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
      if ((address[static_cast<size_t>(full)] & mask) != (prefix.address[static_cast<size_t>(full)] & mask)) continue;
    }
    return true;
  }
  return false;
}

}  // namespace epmdns::xfr
