// TSIG keys (RFC 8945): algorithms, a keyring, and BIND key files as tsig-keygen writes them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "wire/name.h"

namespace epmdns::wire {

enum class TsigAlgorithm { kHmacSha1, kHmacSha256, kHmacSha512 };

struct TsigKey {
  Name name;  // lower-case
  TsigAlgorithm algorithm = TsigAlgorithm::kHmacSha256;
  std::string secret;  // raw bytes
};

// "hmac-sha256" (BIND's text name).
std::string_view algorithm_text(TsigAlgorithm algorithm);
// "\x0bhmac-sha256\x00" (the wire name, which is also its canonical form).
std::string_view algorithm_wire(TsigAlgorithm algorithm);
// Output size of the HMAC in bytes: 20, 32, 64.
size_t digest_size(TsigAlgorithm algorithm);
// Case-insensitive; hmac-md5 and unknown names are errors with a message saying why.
absl::StatusOr<TsigAlgorithm> algorithm_from_text(std::string_view text);
// Case-insensitive match of an uncompressed wire name; nullopt if not supported.
std::optional<TsigAlgorithm> algorithm_from_wire(std::string_view wire);

class Keyring {
 public:
  // Stores the key under its lower-cased name; false if a key of that name exists.
  bool add(TsigKey key);
  // `lower_wire` is the lower-case wire name; the pointer stays valid while the keyring lives.
  const TsigKey* find(std::string_view lower_wire) const;
  size_t size() const { return keys_.size(); }

 private:
  absl::node_hash_map<std::string, TsigKey> keys_;  // node map: pointers survive rehashing
};

// Parses `key "name" { algorithm hmac-sha256; secret "base64"; };` statements, with #, //
// and /* */ comments. Errors read "SOURCE:LINE: message".
absl::StatusOr<std::vector<TsigKey>> parse_key_file(std::string_view text, const std::string& source);
absl::StatusOr<std::vector<TsigKey>> load_key_file(const std::string& path);
// The key in tsig-keygen's exact layout (tab indent, name without the final dot).
std::string format_key_file(const TsigKey& key);
// A key with a random secret as long as the digest (RAND_bytes); errors on a bad name.
absl::StatusOr<TsigKey> generate_key(std::string_view name, TsigAlgorithm algorithm);

}  // namespace epmdns::wire
