// Fuzz target: update::parse_request on UPDATE messages, then, for those that parse, the
// check and apply stages on a small zone. A message either changes nothing or leaves a zone
// whose every change reverts cleanly.
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "testing/dns_testing.h"
#include "update/apply.h"
#include "update/prerequisites.h"
#include "update/request.h"
#include "wire/types.h"

namespace epmdns::fuzz {
namespace {

namespace rrtype = wire::rrtype;

constexpr const char* kZone =
    "$ORIGIN erl.internal.\n$TTL 60\n@ IN SOA ns1 hostmaster 10 3600 600 86400 30\n@ IN NS ns1\n"
    "ns1 IN A 127.0.0.1\nhost1 IN A 10.0.0.1\napp1._erlang-dist._tcp.host1 IN SRV 0 0 4370 host1\n"
    "alias IN CNAME host1\n";

std::string seed(uint16_t prcount, uint16_t upcount, const std::string& records) {
  testing::Packet p;
  p.header(0x4242, wire::opcode::UPDATE << 11, 1, prcount, upcount, 0);
  p.question("erl.internal.", rrtype::SOA);
  p.raw(records);
  return std::string(p.bytes().begin(), p.bytes().end());
}

std::string rr(const char* owner, uint16_t type, uint16_t cls, uint32_t ttl, const std::string& rdata) {
  testing::Packet p;
  p.name(owner).u16(type).u16(cls).u32(ttl).u16(static_cast<uint16_t>(rdata.size())).raw(rdata);
  return std::string(p.bytes().begin(), p.bytes().end());
}

}  // namespace

const char* target_name() { return "update_fuzzer"; }

std::vector<std::string> seeds() {
  const std::string a = "\x0a\x00\x00\x02";
  const std::string srv = std::string("\0\0\0\0\x11\x11", 6) + testing::wire_name("host2.erl.internal.");
  return {
      seed(0, 2, rr("host2.erl.internal.", rrtype::A, 1, 60, a) +
                     rr("app2._erlang-dist._tcp.host2.erl.internal.", rrtype::SRV, 1, 60, srv)),
      seed(1, 1, rr("host1.erl.internal.", rrtype::ANY, 255, 0, "") + rr("host1.erl.internal.", rrtype::A, 254, 0, a)),
      seed(1, 1, rr("host1.erl.internal.", rrtype::A, 1, 0, std::string("\x0a\0\0\x01", 4)) +
                     rr("alias.erl.internal.", rrtype::ANY, 255, 0, "")),
      seed(0, 1, rr("erl.internal.", rrtype::ANY, 255, 0, "")),
  };
}

std::vector<std::string> dictionary() {
  return {std::string("\x00\x06", 2), std::string("\x00\xff", 2), std::string("\x00\xfe", 2), std::string("\xc0\x0c", 2),
          std::string("\x00\x21", 2)};
}

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace epmdns;
  static const std::unique_ptr<zone::Zone> pristine = testing::must_load_zone(epmdns::fuzz::kZone, "erl.internal.");
  update::Request request;
  if (update::parse_request(std::span(data, size), request) != wire::rcode::NOERROR) return 0;
  std::unique_ptr<zone::Zone> zone = testing::must_load_zone(epmdns::fuzz::kZone, "erl.internal.");
  if (update::check_prerequisites(*zone, request) != wire::rcode::NOERROR) return 0;
  if (update::prescan(*zone, request) != wire::rcode::NOERROR) return 0;
  const uint32_t serial = zone->serial();
  update::ChangeSet changes;
  update::apply_updates(*zone, request, 0, changes);
  FUZZ_CHECK(changes.empty() == (zone->serial() == serial));
  update::revert(*zone, changes);
  FUZZ_CHECK(zone->serial() == serial);
  FUZZ_CHECK(zone->node_count() == pristine->node_count());
  return 0;
}
