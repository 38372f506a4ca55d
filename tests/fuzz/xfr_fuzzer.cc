// Fuzz target: xfr::respond_transfer (and the IXFR request parser under it) on arbitrary
// requests from an allowed client, against a small zone with an IXFR history. Every answer
// must be a well-formed message sequence: one message for errors, SOA first for transfers.
#include <netinet/in.h>

#include <string>
#include <vector>

#include "fuzz_target.h"
#include "testing/dns_testing.h"
#include "wire/types.h"
#include "xfr/transfer.h"

namespace epmdns::fuzz {
namespace {

constexpr const char* kZone =
    "$ORIGIN erl.internal.\n$TTL 60\n@ IN SOA ns1 hostmaster 10 3600 600 86400 30\n@ IN NS ns1\n"
    "ns1 IN A 127.0.0.1\nhost1 IN A 10.0.0.1\napp1._erlang-dist._tcp.host1 IN SRV 0 0 4370 host1\n";

std::string soa(uint32_t serial) {
  std::string rdata = testing::wire_name("ns1.erl.internal.") + testing::wire_name("hostmaster.erl.internal.");
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 30u}) {
    for (int shift = 24; shift >= 0; shift -= 8) rdata.push_back(static_cast<char>(v >> shift));
  }
  return rdata;
}

std::string ixfr(uint32_t serial) {
  testing::Packet p;
  p.header(0x4242, 0, 1, 0, 1, 0);
  p.question("erl.internal.", wire::rrtype::IXFR);
  const std::string rdata = soa(serial);
  p.name("erl.internal.").u16(wire::rrtype::SOA).u16(1).u32(60).u16(static_cast<uint16_t>(rdata.size())).raw(rdata);
  return std::string(p.bytes().begin(), p.bytes().end());
}

struct State {
  zone::Catalog catalog;
  zone::RwLock lock;
  xfr::History history{1 << 20};
  xfr::TransferAcl acl;
  wire::Keyring keyring;
  xfr::TransferServices services{catalog, lock, &history, acl, &keyring, 1024, xfr::CopyOptions{}};
  sockaddr_storage peer{};
  State() {
    catalog.add(testing::must_load_zone(kZone, "erl.internal."));
    FUZZ_CHECK(acl.add("127.0.0.1", keyring).ok());
    const std::string apex = testing::wire_name("erl.internal.");
    update::ChangeSet changes = {
        {update::Change::Op::kAdd, testing::wire_name("h2.erl.internal."), wire::rrtype::A, 60, 0,
         std::string("\x0a\0\0\x02", 4)},
        {update::Change::Op::kRemove, apex, wire::rrtype::SOA, 60, 0, soa(9)},
        {update::Change::Op::kAdd, apex, wire::rrtype::SOA, 60, 0, soa(10)}};
    history.changed(apex, changes, false);
    auto& sin = reinterpret_cast<sockaddr_in&>(peer);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
};

}  // namespace

const char* target_name() { return "xfr_fuzzer"; }

std::vector<std::string> seeds() {
  const testing::Bytes axfr = testing::make_query("erl.internal.", wire::rrtype::AXFR);
  return {std::string(axfr.begin(), axfr.end()), ixfr(9), ixfr(10), ixfr(3)};
}

std::vector<std::string> dictionary() {
  return {std::string("\x00\xfc", 2), std::string("\x00\xfb", 2), std::string("\x00\x06", 2),
          std::string("\xc0\x0c", 2)};
}

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static epmdns::fuzz::State* const state = new epmdns::fuzz::State();
  const std::span<const uint8_t> request(data, size);
  uint32_t serial;
  epmdns::xfr::ixfr_client_serial(request, serial);
  epmdns::xfr::is_transfer(request);
  const auto messages = epmdns::xfr::respond_transfer(state->services, request, state->peer);
  for (const auto& m : messages) {
    FUZZ_CHECK(m.size() >= epmdns::wire::kHeaderSize && m.size() <= epmdns::wire::kMaxMessageSize);
    FUZZ_CHECK(epmdns::testing::parse_message(m).has_value());
  }
  return 0;
}
