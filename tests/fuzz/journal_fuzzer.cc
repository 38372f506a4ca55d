// Fuzz target: update::decode_entry on journal bytes, as start-up reads them after a crash.
// A decoded entry must re-encode to exactly the bytes it came from.
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "testing/dns_testing.h"
#include "update/journal.h"
#include "wire/types.h"

namespace epmdns::fuzz {

const char* target_name() { return "journal_fuzzer"; }

std::vector<std::string> seeds() {
  using update::Change;
  std::string out;
  update::encode_entry(testing::wire_name("erl.internal."),
                       {{Change::Op::kAdd, testing::wire_name("h.erl.internal."), wire::rrtype::A, 60, 99,
                         std::string("\x0a\0\0\x01", 4)},
                        {Change::Op::kRemove, testing::wire_name("g.erl.internal."), wire::rrtype::TXT, 60, 0, "\x01x"}},
                       out);
  return {out};
}

std::vector<std::string> dictionary() { return {"EPJ1", std::string("\0\0\0\0", 4)}; }

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace epmdns;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::string apex;
  update::ChangeSet changes;
  const size_t used = update::decode_entry(bytes, apex, changes);
  if (used == 0) return 0;
  FUZZ_CHECK(used <= size);
  std::string again;
  update::encode_entry(apex, changes, again);
  FUZZ_CHECK(again == bytes.substr(0, used));
  return 0;
}
