#include "wire/message.h"

#include <gtest/gtest.h>

#include "testing/dns_testing.h"

namespace epmdns::wire {
namespace {

using ::epmdns::testing::Bytes;
using ::epmdns::testing::HostilePacket;
using ::epmdns::testing::make_query;
using ::epmdns::testing::Packet;
using ::epmdns::testing::QueryOptions;

ParseStatus parse(const Bytes& bytes, Query& query) { return parse_query(bytes, query); }

TEST(ParseQueryTest, PlainQuery) {
  Query query;
  ASSERT_EQ(parse(make_query("WwW.Example.com.", rrtype::AAAA, {.id = 0xABCD, .flags = flag::RD}), query),
            ParseStatus::kOk);
  EXPECT_EQ(query.header.id, 0xABCD);
  EXPECT_EQ(query.header.flags, flag::RD);
  EXPECT_EQ(query.header.opcode(), opcode::QUERY);
  EXPECT_FALSE(query.header.qr());
  EXPECT_TRUE(query.has_question);
  EXPECT_EQ(query.qname.to_text(), "WwW.Example.com.");  // case preserved
  EXPECT_EQ(query.qtype, rrtype::AAAA);
  EXPECT_EQ(query.qclass, rrclass::IN);
  EXPECT_FALSE(query.edns.present);
}

TEST(ParseQueryTest, Edns) {
  Query query;
  ASSERT_EQ(parse(make_query("example.com.", rrtype::A,
                             {.edns = true, .udp_size = 4096, .edns_version = 0, .dnssec_ok = true}),
                  query),
            ParseStatus::kOk);
  EXPECT_TRUE(query.edns.present);
  EXPECT_EQ(query.edns.udp_size, 4096);
  EXPECT_EQ(query.edns.version, 0);
  EXPECT_TRUE(query.edns.dnssec_ok);

  ASSERT_EQ(parse(make_query("example.com.", rrtype::A, {.edns = true, .edns_version = 1}), query),
            ParseStatus::kOk);
  EXPECT_EQ(query.edns.version, 1);
  EXPECT_FALSE(query.edns.dnssec_ok);
}

TEST(ParseQueryTest, EdnsWithOptions) {
  // A cookie option (code 10, 8 bytes) and an empty padding option (code 12).
  const std::string options("\x00\x0a\x00\x08" "12345678" "\x00\x0c\x00\x00", 16);
  Packet packet;
  packet.header(1, 0, 1, 0, 0, 1).question("example.com.", rrtype::A).opt(1400, 0, options);
  Query query;
  ASSERT_EQ(parse(packet.bytes(), query), ParseStatus::kOk);
  EXPECT_EQ(query.edns.udp_size, 1400);
}

TEST(ParseQueryTest, OtherRecordsAreSkipped) {
  // Answer and authority records (as in NOTIFY or UPDATE) parse when well formed, compressed or not.
  Packet packet;
  packet.header(1, 0, 1, 1, 1, 1).question("example.com.", rrtype::SOA);
  packet.raw({0xC0, 0x0C}).u16(rrtype::A).u16(rrclass::IN).u32(60).u16(4).raw({192, 0, 2, 1});
  packet.name("ns.example.com.").u16(rrtype::TXT).u16(rrclass::IN).u32(60).u16(0);
  packet.opt(512);
  Query query;
  EXPECT_EQ(parse(packet.bytes(), query), ParseStatus::kOk);
  EXPECT_TRUE(query.edns.present);
}

TEST(ParseQueryTest, OpcodeIsReported) {
  Query query;
  EXPECT_EQ(parse(make_query("example.com.", rrtype::A, {.flags = testing::opcode_flags(opcode::STATUS)}), query),
            ParseStatus::kOk);
  EXPECT_EQ(query.header.opcode(), opcode::STATUS);
}

TEST(ParseQueryTest, LongestNames) {
  const std::string label(63, 'a');
  const std::string longest = label + "." + label + "." + label + "." + std::string(61, 'b') + ".";
  Query query;
  ASSERT_EQ(parse(make_query(longest, rrtype::A), query), ParseStatus::kOk);
  EXPECT_EQ(query.qname.length(), 255u);
  // And reached through a pointer: a 61-byte label in front of a 193-byte question name.
  Packet packet;
  packet.header(1, 0, 1, 0, 0, 1).question(label + "." + label + "." + label + ".", rrtype::A);
  packet.u8(61).raw(std::string(61, 'c')).raw({0xC0, 0x0C}).u16(rrtype::TXT).u16(rrclass::IN).u32(0).u16(0);
  EXPECT_EQ(parse(packet.bytes(), query), ParseStatus::kOk);
}

TEST(ParseQueryTest, ResetsOutput) {
  Query query;
  ASSERT_EQ(parse(make_query("example.com.", rrtype::A, {.edns = true}), query), ParseStatus::kOk);
  EXPECT_EQ(parse(Packet().header(1, 0, 0, 0, 0, 0).bytes(), query), ParseStatus::kFormErr);
  EXPECT_FALSE(query.has_question);
  EXPECT_FALSE(query.edns.present);
}

TEST(ParseQueryTest, FormErrKeepsTheParsedQuestion) {
  Query query;
  Bytes bytes = make_query("www.example.com.", rrtype::MX, {.id = 7});
  bytes.push_back(0);
  ASSERT_EQ(parse(bytes, query), ParseStatus::kFormErr);
  EXPECT_TRUE(query.has_question);
  EXPECT_EQ(query.header.id, 7);
  EXPECT_EQ(query.qname.to_text(), "www.example.com.");
  EXPECT_EQ(query.qtype, rrtype::MX);
}

TEST(ParseQueryTest, EveryPrefixOfAValidQueryIsRejected) {
  const Bytes full = make_query("www.example.com.", rrtype::A, {.edns = true});
  for (size_t n = 0; n < full.size(); ++n) {
    Query query;
    const ParseStatus status = parse_query(std::span(full).first(n), query);
    EXPECT_EQ(status, n < kHeaderSize ? ParseStatus::kDrop : ParseStatus::kFormErr) << n << " bytes";
  }
}

class HostilePacketTest : public ::testing::TestWithParam<HostilePacket> {};

TEST_P(HostilePacketTest, IsRejected) {
  Query query;
  EXPECT_EQ(parse_query(GetParam().bytes, query), GetParam().expected);
  if (GetParam().expected == ParseStatus::kFormErr) {
    EXPECT_EQ(query.header.id, 0xBEEF);
  }
}

INSTANTIATE_TEST_SUITE_P(Codec, HostilePacketTest, ::testing::ValuesIn(testing::hostile_packets()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace epmdns::wire
