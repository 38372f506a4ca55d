#include "update/request.h"

#include <gtest/gtest.h>

#include "update_testing.h"

namespace epmdns::update {
namespace {

using namespace epmdns::testing;
namespace rrtype = wire::rrtype;
namespace rrclass = wire::rrclass;
namespace rcode = wire::rcode;

constexpr uint16_t kUpdateFlags = wire::opcode::UPDATE << 11;

Packet update_header(uint16_t zocount, uint16_t prcount, uint16_t upcount, uint16_t adcount) {
  Packet p;
  p.header(0x4242, kUpdateFlags, zocount, prcount, upcount, adcount);
  return p;
}

TEST(RequestTest, ParsesZonePrerequisitesUpdatesAndLease) {
  Packet p = update_header(1, 1, 1, 1);
  p.question("erl.internal.", rrtype::SOA);
  p.name("host1.erl.internal.").u16(rrtype::A).u16(rrclass::ANY).u32(0).u16(0);
  // SRV whose target is compressed against the zone name at offset 12: names are decompressed.
  p.name("app._erlang-dist._tcp.host1.erl.internal.").u16(rrtype::SRV).u16(rrclass::IN).u32(60).u16(8);
  p.raw({0, 0, 0, 0, 0x11, 0x12, 0xC0, 12});
  p.opt(1232, 0, std::string("\x00\x02\x00\x04\x00\x00\x0e\x10", 8));
  Request request;
  ASSERT_EQ(parse_request(p.bytes(), request), rcode::NOERROR);
  EXPECT_EQ(request.zone.to_text(), "erl.internal.");
  ASSERT_EQ(request.prerequisites.size(), 1u);
  ASSERT_EQ(request.updates.size(), 1u);
  EXPECT_EQ(request.updates[0].rdata, srv_rdata(0x1112, "erl.internal."));
  EXPECT_TRUE(request.edns.has_lease);
  EXPECT_EQ(request.edns.lease, 3600u);
}

TEST(RequestTest, MalformedUpdatesAreFormErr) {
  Request request;
  Packet two_zones = update_header(2, 0, 0, 0);
  two_zones.question("erl.internal.", rrtype::SOA).question("erl.internal.", rrtype::SOA);
  EXPECT_EQ(parse_request(two_zones.bytes(), request), rcode::FORMERR);

  Packet not_soa = update_header(1, 0, 0, 0);
  not_soa.question("erl.internal.", rrtype::A);
  EXPECT_EQ(parse_request(not_soa.bytes(), request), rcode::FORMERR);

  Packet short_a = update_header(1, 0, 1, 0);
  short_a.question("erl.internal.", rrtype::SOA);
  short_a.name("h.erl.internal.").u16(rrtype::A).u16(rrclass::IN).u32(60).u16(3).raw({1, 2, 3});
  EXPECT_EQ(parse_request(short_a.bytes(), request), rcode::FORMERR);

  Packet lying_count = update_header(1, 0, 2, 0);
  lying_count.question("erl.internal.", rrtype::SOA);
  lying_count.name("h.erl.internal.").u16(rrtype::A).u16(rrclass::IN).u32(60).u16(4).raw({1, 2, 3, 4});
  EXPECT_EQ(parse_request(lying_count.bytes(), request), rcode::FORMERR);

  Packet trailing = update_header(1, 0, 0, 0);
  trailing.question("erl.internal.", rrtype::SOA).raw({0});
  EXPECT_EQ(parse_request(trailing.bytes(), request), rcode::FORMERR);

  Packet bad_lease = update_header(1, 0, 0, 1);
  bad_lease.question("erl.internal.", rrtype::SOA).opt(1232, 0, std::string("\x00\x02\x00\x03\x00\x00\x0e", 7));
  EXPECT_EQ(parse_request(bad_lease.bytes(), request), rcode::FORMERR);
}

TEST(RequestTest, TsigMustBeLast) {
  Request request;
  Packet p = update_header(1, 0, 0, 2);
  p.question("erl.internal.", rrtype::SOA);
  p.name("key.").u16(rrtype::TSIG).u16(rrclass::ANY).u32(0).u16(0);
  p.opt(1232);
  EXPECT_EQ(parse_request(p.bytes(), request), rcode::FORMERR);
}

}  // namespace
}  // namespace epmdns::update
