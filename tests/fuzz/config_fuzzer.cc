// Fuzz target: the text parsers of operator files, BIND key files and the update policy.
// Both must either reject the text with a "SOURCE:LINE: " message or produce usable data.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_target.h"
#include "update/policy.h"
#include "wire/tsig_key.h"

namespace epmdns::fuzz {

const char* target_name() { return "config_fuzzer"; }

std::vector<std::string> seeds() {
  return {
      "key \"cluster\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\";\n};\n",
      "key a { algorithm hmac-sha512; secret \"AAAA\"; }; /* c */ key \"b\" { algorithm hmac-sha1; secret \"AA==\"; };",
      "# policy\ngrant cluster zone erl.internal.\ngrant host7 host host7.erl.internal.\n",
  };
}

std::vector<std::string> dictionary() {
  return {"key", "algorithm", "secret", "hmac-sha256", "hmac-sha1", "hmac-md5", "grant", "zone", "host", "{", "};",
          "\"", "//", "/*", "*/", "#"};
}

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace epmdns;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto keys = wire::parse_key_file(text, "keys.conf");
  if (keys.ok()) {
    for (const wire::TsigKey& key : *keys) FUZZ_CHECK(!key.name.wire().empty());
  } else {
    FUZZ_CHECK(std::string(keys.status().message()).starts_with("keys.conf"));
  }
  auto policy = update::Policy::parse(text, "policy.conf");
  if (!policy.ok()) FUZZ_CHECK(std::string(policy.status().message()).starts_with("policy.conf:"));
  return 0;
}
