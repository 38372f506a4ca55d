// Who may transfer zones: addresses and prefixes, and TSIG keys. Nothing is allowed by default.
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

class TransferAcl {
 public:
  // Adds one entry: "ADDR", "ADDR/LEN" (IPv4 or IPv6), or "key:NAME" for a TSIG key of
  // `keyring` (which must hold it). Errors say what is wrong with the entry.
  absl::Status add(std::string_view entry, const wire::Keyring& keyring);

  // A transfer is allowed from a listed address (signed or not: a valid signature is
  // checked before), or with a valid signature by a listed key (from any address).
  bool permits(const sockaddr_storage& peer, const wire::TsigKey* key) const;
  bool empty() const { return prefixes_.empty() && keys_.empty(); }

 private:
  struct Prefix {
    int family = 0;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> address{};
    int length = 0;  // bits
  };
  std::vector<Prefix> prefixes_;
  std::vector<std::string> keys_;  // lower-case wire names
};

}  // namespace epmdns::xfr
