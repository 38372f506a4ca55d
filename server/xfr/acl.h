// Who may transfer zones: addresses and prefixes, and TSIG keys, for every zone or one zone.
// Nothing is allowed by default.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "wire/tsig_key.h"

namespace epmdns::xfr {

// "erl.internal=ITEM" scopes ITEM to one zone; a bare "ITEM" is for every zone.
struct ZoneScoped {
  std::string zone;  // lower-case wire name; empty: every zone
  std::string_view item;
};
absl::StatusOr<ZoneScoped> split_zone_scope(std::string_view entry);

class TransferAcl {
 public:
  // Adds one entry: "ADDR", "ADDR/LEN" (IPv4 or IPv6), or "key:NAME" for a TSIG key of
  // `keyring` (which must hold it), each optionally scoped as "ZONE=...". Errors say what
  // is wrong with the entry.
  absl::Status add(std::string_view entry, const wire::Keyring& keyring);

  // A transfer of the zone at lower-case wire `apex` is allowed from a listed address
  // (signed or not: a valid signature is checked before), or with a valid signature by a
  // listed key (from any address), when the entry is for every zone or for this one.
  bool permits(const sockaddr_storage& peer, const wire::TsigKey* key, std::string_view apex) const;
  bool empty() const { return prefixes_.empty() && keys_.empty(); }
  // The zones named by scoped entries (lower-case wire), so that start-up can check them.
  std::vector<std::string> scoped_zones() const;

 private:
  struct Prefix {
    std::string zone;
    int family = 0;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> address{};
    int length = 0;  // bits
  };
  struct Key {
    std::string zone;
    std::string name;  // lower-case wire
  };
  std::vector<Prefix> prefixes_;
  std::vector<Key> keys_;
};

}  // namespace epmdns::xfr
