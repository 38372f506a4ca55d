// Fuzz target: zone::load_zone_text on master-file text. A zone that loads must keep the
// model's invariants, and answering questions about its names must yield well-formed responses.
#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_target.h"
#include "query/respond.h"
#include "testing/dns_testing.h"
#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/reader.h"
#include "wire/types.h"
#include "zone/loader.h"

namespace epmdns::fuzz {
namespace {

namespace rrtype = wire::rrtype;

constexpr size_t kMaxText = 16384;
constexpr size_t kMaxNamesAsked = 8;

std::string lower(std::string_view wire) {
  std::string out(wire.size(), '\0');
  wire::lower_into(wire, out.data());
  return out;
}

// Data of the types whose layout the server relies on must be well formed and non-empty.
bool well_formed(uint16_t type, std::string_view data) {
  switch (type) {
    case rrtype::A:
    case rrtype::AAAA:
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::MX:
    case rrtype::SRV:
    case rrtype::SOA: break;
    default: return true;
  }
  if (data.empty() || data.size() > 0xFFFF) return false;
  wire::Reader reader(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  std::string canonical;
  return wire::read_rdata(reader, type, static_cast<uint16_t>(data.size()), canonical) && reader.remaining() == 0;
}

void check_zone(const zone::Zone& zone) {
  const zone::Node* apex = zone.apex_node();
  FUZZ_CHECK(apex != nullptr);
  FUZZ_CHECK(apex->find(rrtype::SOA) != nullptr && apex->find(rrtype::SOA)->size() == 1);
  FUZZ_CHECK(apex->find(rrtype::NS) != nullptr);
  bool any_cut = false;
  zone.for_each_node([&](const zone::Node& node) {
    const std::string lower_owner = lower(node.owner());
    const std::string_view name = lower_owner;
    FUZZ_CHECK(zone.find(name) == &node);
    FUZZ_CHECK(wire::is_subdomain(name, zone.apex()));
    FUZZ_CHECK(std::is_sorted(node.rrsets.begin(), node.rrsets.end(),
                              [](const zone::RRset& a, const zone::RRset& b) { return a.type < b.type; }));
    for (const zone::RRset& set : node.rrsets) {
      FUZZ_CHECK(!set.empty());
      for (std::string_view data : set) FUZZ_CHECK(well_formed(set.type, data));
    }
    const zone::RRset* cname = node.find(rrtype::CNAME);
    FUZZ_CHECK(cname == nullptr || (cname->size() == 1 && node.rrsets.size() == 1));
    FUZZ_CHECK(node.delegation == (name != zone.apex() && node.find(rrtype::NS) != nullptr));
    any_cut |= node.delegation;
    // Every name but the apex has its parent in the zone, which counts it as a child.
    if (name != zone.apex()) {
      const zone::Node* parent = zone.find(name.substr(1 + static_cast<uint8_t>(name[0])));
      FUZZ_CHECK(parent != nullptr && parent->children > 0);
    }
  });
  FUZZ_CHECK(any_cut == zone.has_delegations());
}

// Asks about a few of the zone's names, and one below the apex that is likely absent.
void ask_about(const zone::Catalog& catalog, const zone::Zone& zone) {
  std::vector<std::string> names;
  zone.for_each_node([&](const zone::Node& node) {
    if (names.size() < kMaxNamesAsked) names.emplace_back(node.owner());
  });
  const std::string absent("\x05zz-fz", 6);
  if (zone.apex().size() + absent.size() <= wire::kMaxNameLength) names.push_back(absent + zone.apex());
  static std::vector<uint8_t> out(wire::kMaxMessageSize);
  uint16_t id = 0;
  for (const std::string& name : names) {
    for (uint16_t qtype : {rrtype::A, rrtype::ANY, rrtype::CNAME, rrtype::DS, rrtype::SRV, rrtype::PTR}) {
      const testing::Bytes request = testing::make_query_wire(name, qtype, {.id = ++id});
      FUZZ_CHECK(!request.empty());
      for (query::Transport transport : {query::Transport::kUdp, query::Transport::kTcp}) {
        const size_t written = query::respond(catalog, request, out, transport, {});
        FUZZ_CHECK(written >= wire::kHeaderSize);
        std::string error;
        const auto message = testing::parse_message(std::span(out).first(written), &error);
        if (!message) std::fprintf(stderr, "unparseable response: %s\n", error.c_str());
        FUZZ_CHECK(message.has_value());
        FUZZ_CHECK(message->header.id == id);
        FUZZ_CHECK(message->rcode() == wire::rcode::NOERROR || message->rcode() == wire::rcode::NXDOMAIN);
      }
    }
  }
}

}  // namespace

const char* target_name() { return "zone_text_fuzzer"; }

std::vector<std::string> seeds() {
  const std::string head =
      "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n@ IN NS ns1\n"
      "ns1 IN A 192.0.2.1\n";
  // The unit tests' zone without its long CNAME chain and large address sets, which only slow loading.
  const std::string example = testing::example_zone_text();
  return {
      example.substr(0, example.find("chain0")),
      head,
      head + "www IN A 192.0.2.10\nwww IN AAAA 2001:db8::10\nmail IN MX 10 www\n",
      "$ORIGIN erl.internal.\n$TTL 60\n@ IN SOA ns1.erl.internal. hostmaster.erl.internal. (\n"
      "  1 ; serial\n  3600 600 86400\n  30 )\n  IN NS ns1.erl.internal.\nns1 IN A 127.0.0.1\n  IN AAAA ::1\n"
      "_services._dns-sd._udp IN PTR _erlang-dist._tcp.erl.internal.\n"
      "_erlang-dist._tcp IN PTR app1._erlang-dist._tcp.host1.erl.internal.\n"
      "host1 IN A 127.0.0.1\n"
      "_erlang-dist._tcp.host1 IN PTR app1._erlang-dist._tcp.host1.erl.internal.\n"
      "app1._erlang-dist._tcp.host1 IN SRV 0 0 4370 host1.erl.internal.\n"
      "app1._erlang-dist._tcp.host1 IN TXT \"vsn=6\"\n",
      head + "*.wild IN A 192.0.2.50\nb.wild IN TXT \"x\"\nloop1 IN CNAME loop2\nloop2 IN CNAME loop1\n"
             "alias IN CNAME *.wild\nsub IN NS ns.sub\nns.sub IN A 192.0.2.3\nsub IN DS 1 8 2 "
             "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE0F6C4B45C55D4AC69CBD3CD3\n",
      head + "esc\\.aped\\032name IN TXT \"quote\\\"d\" \"\\255\"\nunk IN TYPE65280 \\# 3 010203\n"
             "long IN TXT \"" + std::string(255, 'x') + "\"\n",
      head + "www IN CNAME ns1\nwww IN A 192.0.2.1\n",
      head + "@ IN SOA ns1 hostmaster 2 7200 900 1209600 60\n",
      "www.example.com. IN A 192.0.2.1\n",
      head + "$INCLUDE other.zone\n",
      head + "version CH TXT \"1\"\n",
      head + "old IN DNAME new.example.net.\n",
      head + "www IN A not-an-address\n",
      "; only comments\n\n",
      "@ 60 IN SOA ns h 1 2 3 4 5\n@ NS ns\nsub NS ns.sub\nns.sub A 192.0.2.1\n"
      "$ORIGIN sub.example.com.\nx A 192.0.2.2\n",
  };
}

std::vector<std::string> dictionary() {
  return {// syntax
          "\n", "\r\n", " ", "\t", "(", ")", ";", "\"", "\\", "\\000", "\\.", "@", "*", ".",
          "$ORIGIN ", "$TTL ", "$INCLUDE ",
          // classes and types, including RFC 3597 generic data
          "IN ", "CH ", "SOA ", "NS ", "A ", "AAAA ", "CNAME ", "DNAME ", "MX ", "TXT ", "SRV ", "PTR ", "DS ",
          "OPT ", "ANY ", "TYPE65280 ", "\\# 0", "\\# 4 01020304",
          // data
          "192.0.2.1", "::1", "example.com.", "sub ", "ns1 ", "www ", "3600 ", "4294967295", "65535 ", "0 0 0 ",
          "1 2 3 4 5"};
}

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace epmdns;
  if (size > fuzz::kMaxText) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = zone::load_zone_text(text, "fuzz.zone", "example.com.");
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.status().message().substr(0, 10) == "fuzz.zone:");
    return 0;
  }
  fuzz::check_zone(**loaded);
  zone::Catalog catalog;
  const zone::Zone* zone = loaded->get();
  catalog.add(std::move(*loaded));
  fuzz::ask_about(catalog, *zone);
  return 0;
}
