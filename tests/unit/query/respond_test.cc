#include "query/respond.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/dns_testing.h"
#include "wire/types.h"

namespace epmdns::query {
namespace {

using ::epmdns::testing::Bytes;
using ::epmdns::testing::HostilePacket;
using ::epmdns::testing::make_query;
using ::epmdns::testing::Message;
using ::epmdns::testing::opcode_flags;
using ::epmdns::testing::QueryOptions;
using ::epmdns::testing::to_strings;
using ::testing::ElementsAre;
using ::testing::SizeIs;
namespace flag = wire::flag;
namespace rcode = wire::rcode;
namespace rrtype = wire::rrtype;

constexpr const char* kNegativeSoa =
    "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 300";

// Responds and parses strictly; a failed parse fails the test.
Message respond_and_parse(const zone::Catalog& catalog, const Bytes& request, Transport transport = Transport::kUdp,
                 const Limits& limits = {}) {
  const Bytes response = testing::respond_bytes(catalog, request, transport, limits);
  std::string error;
  auto message = testing::parse_message(response, &error);
  EXPECT_TRUE(message.has_value()) << "unparseable response (" << response.size() << " bytes): " << error;
  return message.value_or(Message{});
}

class RespondTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { catalog_ = new zone::Catalog(testing::example_catalog()); }
  static void TearDownTestSuite() {
    delete catalog_;
    catalog_ = nullptr;
  }

  Message ask(std::string_view qname, uint16_t qtype, const QueryOptions& options = {},
              Transport transport = Transport::kUdp, const Limits& limits = {}) {
    return respond_and_parse(*catalog_, make_query(qname, qtype, options), transport, limits);
  }

  static const zone::Catalog* catalog_;
};

const zone::Catalog* RespondTest::catalog_ = nullptr;

TEST_F(RespondTest, AuthoritativeAnswer) {
  const Message m = ask("WwW.Example.com.", rrtype::A, {.id = 0x4242, .flags = flag::RD});
  EXPECT_EQ(m.header.id, 0x4242);
  EXPECT_TRUE(m.has(flag::QR));
  EXPECT_TRUE(m.has(flag::AA));
  EXPECT_TRUE(m.has(flag::RD));
  EXPECT_FALSE(m.has(flag::RA));
  EXPECT_FALSE(m.has(flag::TC));
  EXPECT_EQ(m.opcode(), wire::opcode::QUERY);
  EXPECT_EQ(m.rcode(), rcode::NOERROR);
  ASSERT_TRUE(m.question.has_value());
  EXPECT_EQ(m.question->owner, "WwW.Example.com.");  // the question's case is preserved
  EXPECT_EQ(m.question->type, rrtype::A);
  EXPECT_EQ(m.question->rrclass, wire::rrclass::IN);
  EXPECT_THAT(to_strings(m.answer), ElementsAre("WwW.Example.com. 300 IN A 192.0.2.10"));
  EXPECT_THAT(m.authority, SizeIs(0));
  EXPECT_THAT(m.additional, SizeIs(0));
  EXPECT_FALSE(m.opt.has_value());
}

TEST_F(RespondTest, FlagsCopiedFromTheQuery) {
  const Message m = ask("www.example.com.", rrtype::A, {.flags = flag::RD | flag::CD | flag::AD | flag::RA});
  EXPECT_TRUE(m.has(flag::RD));
  EXPECT_TRUE(m.has(flag::CD));
  EXPECT_FALSE(m.has(flag::AD));
  EXPECT_FALSE(m.has(flag::RA));
  EXPECT_FALSE(ask("www.example.com.", rrtype::A).has(flag::RD));
}

TEST_F(RespondTest, AnswerOwnerIsCompressedAgainstTheQuestion) {
  const Bytes response = testing::respond_bytes(*catalog_, make_query("www.example.com.", rrtype::A), Transport::kUdp);
  // Header, question (17 + 4), one A record owned by a pointer (2 + 10 + 4).
  EXPECT_EQ(response.size(), 12u + 21u + 16u);
  EXPECT_EQ(response[33], 0xC0);
  EXPECT_EQ(response[34], 0x0C);
}

TEST_F(RespondTest, Nxdomain) {
  const Message m = ask("nothere.example.com.", rrtype::A);
  EXPECT_EQ(m.rcode(), rcode::NXDOMAIN);
  EXPECT_TRUE(m.has(flag::AA));
  EXPECT_THAT(m.answer, SizeIs(0));
  EXPECT_THAT(to_strings(m.authority), ElementsAre(kNegativeSoa));
}

TEST_F(RespondTest, NodataAndEmptyNonTerminal) {
  for (const char* name : {"www.example.com.", "ent.example.com.", "b.ent.example.com."}) {
    const Message m = ask(name, rrtype::MX);
    EXPECT_EQ(m.rcode(), rcode::NOERROR) << name;
    EXPECT_TRUE(m.has(flag::AA)) << name;
    EXPECT_THAT(m.answer, SizeIs(0)) << name;
    EXPECT_THAT(to_strings(m.authority), ElementsAre(kNegativeSoa)) << name;
  }
}

TEST_F(RespondTest, WildcardAnswerOwnedByTheQname) {
  const Message m = ask("Some.Host.wild.example.com.", rrtype::TXT);
  EXPECT_TRUE(m.has(flag::AA));
  EXPECT_THAT(to_strings(m.answer), ElementsAre("Some.Host.wild.example.com. 3600 IN TXT \"wild\""));
  EXPECT_EQ(ask("x.b.wild.example.com.", rrtype::TXT).rcode(), rcode::NXDOMAIN);
}

TEST_F(RespondTest, CnameChain) {
  const Message m = ask("alias.example.com.", rrtype::AAAA);
  EXPECT_EQ(m.rcode(), rcode::NOERROR);
  EXPECT_THAT(to_strings(m.answer),
              ElementsAre("alias.example.com. 3600 IN CNAME alias2.example.com.",
                          "alias2.example.com. 3600 IN CNAME www.example.com.",
                          "www.example.com. 300 IN AAAA 2001:db8::10"));
}

TEST_F(RespondTest, CnameLoopAndExitTerminate) {
  EXPECT_THAT(ask("loop2.example.com.", rrtype::A, {}, Transport::kTcp).answer, SizeIs(2));
  EXPECT_THAT(to_strings(ask("out.example.com.", rrtype::A).answer),
              ElementsAre("out.example.com. 3600 IN CNAME www.example.org."));
}

TEST_F(RespondTest, Referral) {
  const Message m = ask("www.sub.example.com.", rrtype::A);
  EXPECT_EQ(m.rcode(), rcode::NOERROR);
  EXPECT_FALSE(m.has(flag::AA));
  EXPECT_THAT(m.answer, SizeIs(0));
  EXPECT_THAT(to_strings(m.authority), ElementsAre("sub.example.com. 3600 IN NS ns.sub.example.com."));
  EXPECT_THAT(to_strings(m.additional), ElementsAre("ns.sub.example.com. 3600 IN A 192.0.2.70"));
}

TEST_F(RespondTest, DsAtTheCut) {
  const Message m = ask("sub.example.com.", rrtype::DS);
  EXPECT_TRUE(m.has(flag::AA));
  ASSERT_THAT(m.answer, SizeIs(1));
  EXPECT_EQ(m.answer[0].type, rrtype::DS);
  EXPECT_THAT(m.authority, SizeIs(0));
}

TEST_F(RespondTest, AnyIsMinimalOverUdpAndCompleteOverTcp) {
  const Message udp = ask("example.com.", rrtype::ANY);
  EXPECT_TRUE(udp.has(flag::AA));
  EXPECT_THAT(udp.answer, SizeIs(2));  // the NS RRset: two records
  EXPECT_EQ(udp.answer[0].type, rrtype::NS);
  const Message tcp = ask("example.com.", rrtype::ANY, {}, Transport::kTcp);
  EXPECT_THAT(tcp.answer, SizeIs(4));  // NS x2, SOA, MX
}

TEST_F(RespondTest, SrvAdditional) {
  const Message m = ask("app1._erlang-dist._tcp.host1.example.com.", rrtype::SRV);
  EXPECT_THAT(to_strings(m.answer),
              ElementsAre("app1._erlang-dist._tcp.host1.example.com. 3600 IN SRV 0 0 4370 host1.example.com."));
  EXPECT_THAT(to_strings(m.additional), ElementsAre("host1.example.com. 3600 IN A 127.0.0.1",
                                                    "host1.example.com. 3600 IN AAAA ::1",
                                                    "app1._erlang-dist._tcp.host1.example.com. 3600 IN TXT \"vsn=6\""));
}

TEST_F(RespondTest, PtrBrowseAdditional) {
  const Message m = ask("_erlang-dist._tcp.example.com.", rrtype::PTR);
  EXPECT_THAT(m.answer, SizeIs(2));
  EXPECT_THAT(to_strings(m.additional),
              ElementsAre("app1._erlang-dist._tcp.host1.example.com. 3600 IN SRV 0 0 4370 host1.example.com.",
                          "host1.example.com. 3600 IN A 127.0.0.1", "host1.example.com. 3600 IN AAAA ::1",
                          "app1._erlang-dist._tcp.host1.example.com. 3600 IN TXT \"vsn=6\"",
                          "app2._erlang-dist._tcp.host2.example.com. 3600 IN SRV 0 0 4371 host2.example.com.",
                          "host2.example.com. 3600 IN A 127.0.0.2",
                          "app2._erlang-dist._tcp.host2.example.com. 3600 IN TXT \"vsn=6\""));
}

TEST_F(RespondTest, TruncatesWhenTheAnswerExceeds512WithoutEdns) {
  const Message m = ask("medium.example.com.", rrtype::A);
  EXPECT_TRUE(m.has(flag::TC));
  EXPECT_LE(m.size, 512u);
  EXPECT_LT(m.answer.size(), 40u);
  const Message edns = ask("medium.example.com.", rrtype::A, {.edns = true, .udp_size = 1232});
  EXPECT_FALSE(edns.has(flag::TC));
  EXPECT_THAT(edns.answer, SizeIs(40));
  EXPECT_GT(edns.size, 512u);
  const Message tcp = ask("medium.example.com.", rrtype::A, {}, Transport::kTcp);
  EXPECT_FALSE(tcp.has(flag::TC));
  EXPECT_THAT(tcp.answer, SizeIs(40));
}

TEST_F(RespondTest, EdnsSizeIsCappedAt1232) {
  const Message m = ask("many.example.com.", rrtype::A, {.edns = true, .udp_size = 4096});
  EXPECT_TRUE(m.has(flag::TC));
  EXPECT_LE(m.size, 1232u);
  ASSERT_TRUE(m.opt.has_value());
  EXPECT_EQ(m.opt->udp_size, 1232);  // advertises the server's own size
  const Message tcp = ask("many.example.com.", rrtype::A, {.edns = true, .udp_size = 4096}, Transport::kTcp);
  EXPECT_FALSE(tcp.has(flag::TC));
  EXPECT_THAT(tcp.answer, SizeIs(100));
  const Message larger = ask("many.example.com.", rrtype::A, {.edns = true, .udp_size = 4096}, Transport::kUdp,
                             Limits{.max_udp_size = 4096});
  EXPECT_FALSE(larger.has(flag::TC));
  EXPECT_THAT(larger.answer, SizeIs(100));
  EXPECT_EQ(larger.opt->udp_size, 4096);
}

TEST_F(RespondTest, EdnsSizeBelow512CountsAs512) {
  for (uint16_t size : {0, 1, 100, 511}) {
    const Message m = ask("few.example.com.", rrtype::A, {.edns = true, .udp_size = size});
    EXPECT_FALSE(m.has(flag::TC)) << size;
    EXPECT_THAT(m.answer, SizeIs(25)) << size;
    EXPECT_GT(m.size, 400u);
    EXPECT_LE(m.size, 512u);
  }
  EXPECT_TRUE(ask("medium.example.com.", rrtype::A, {.edns = true, .udp_size = 100}).has(flag::TC));
}

TEST_F(RespondTest, OptEchoesDnssecOk) {
  Message m = ask("www.example.com.", rrtype::A, {.edns = true, .dnssec_ok = true});
  ASSERT_TRUE(m.opt.has_value());
  EXPECT_TRUE(m.opt->dnssec_ok);
  EXPECT_EQ(m.opt->version, 0);
  EXPECT_EQ(m.opt->extended_rcode, 0);
  EXPECT_EQ(m.header.arcount, 1);
  m = ask("www.example.com.", rrtype::A, {.edns = true});
  ASSERT_TRUE(m.opt.has_value());
  EXPECT_FALSE(m.opt->dnssec_ok);
}

TEST_F(RespondTest, BadVersion) {
  const Message m = ask("www.example.com.", rrtype::A, {.edns = true, .edns_version = 1});
  EXPECT_EQ(m.header_rcode(), 0);
  ASSERT_TRUE(m.opt.has_value());
  EXPECT_EQ(m.opt->extended_rcode, 1);
  EXPECT_EQ(m.rcode(), rcode::BADVERS);
  EXPECT_FALSE(m.has(flag::AA));
  EXPECT_THAT(m.answer, SizeIs(0));
  ASSERT_TRUE(m.question.has_value());
  EXPECT_EQ(m.question->owner, "www.example.com.");
}

TEST_F(RespondTest, NotImplementedOpcodes) {
  for (uint8_t opcode : {wire::opcode::IQUERY, wire::opcode::STATUS, wire::opcode::NOTIFY, uint8_t{15}}) {
    const Message m = ask("www.example.com.", rrtype::A, {.id = 99, .flags = opcode_flags(opcode)});
    EXPECT_EQ(m.header.id, 99);
    EXPECT_EQ(m.rcode(), rcode::NOTIMP) << int{opcode};
    EXPECT_EQ(m.opcode(), opcode);
    EXPECT_FALSE(m.has(flag::AA));
    EXPECT_THAT(m.answer, SizeIs(0));
  }
  // Opcode 2 with no question at all.
  const Message bare = respond_and_parse(*catalog_, testing::Packet().header(5, opcode_flags(2), 0, 0, 0, 0).bytes());
  EXPECT_EQ(bare.rcode(), rcode::NOTIMP);
  EXPECT_FALSE(bare.question.has_value());
}

TEST_F(RespondTest, UpdateIsRefusedWhenUpdatesAreOff) {
  const Message m = ask("example.com.", rrtype::SOA, {.id = 98, .flags = opcode_flags(wire::opcode::UPDATE)});
  EXPECT_EQ(m.header.id, 98);
  EXPECT_EQ(m.rcode(), rcode::REFUSED);
  EXPECT_EQ(m.opcode(), wire::opcode::UPDATE);
  EXPECT_THAT(m.answer, SizeIs(0));
}

TEST_F(RespondTest, RefusedOutsideTheZonesAndForOtherClasses) {
  for (const char* name : {"example.org.", "com.", ".", "xample.com."}) {
    const Message m = ask(name, rrtype::A, {.id = 3});
    EXPECT_EQ(m.rcode(), rcode::REFUSED) << name;
    EXPECT_FALSE(m.has(flag::AA)) << name;
    ASSERT_TRUE(m.question.has_value());
    EXPECT_EQ(m.question->owner, name);
    EXPECT_THAT(m.answer, SizeIs(0));
  }
  for (uint16_t qclass : {wire::rrclass::CH, wire::rrclass::ANY, uint16_t{2}}) {
    const Message m = ask("www.example.com.", rrtype::A, {.qclass = qclass});
    EXPECT_EQ(m.rcode(), rcode::REFUSED) << qclass;
    ASSERT_TRUE(m.question.has_value());
    EXPECT_EQ(m.question->rrclass, qclass);
  }
  EXPECT_EQ(ask("version.bind.", rrtype::TXT, {.qclass = wire::rrclass::CH}).rcode(), rcode::REFUSED);
}

TEST_F(RespondTest, MetaTypes) {
  EXPECT_EQ(ask("www.example.com.", rrtype::OPT).rcode(), rcode::FORMERR);
  EXPECT_EQ(ask("www.example.com.", rrtype::TSIG).rcode(), rcode::FORMERR);
  EXPECT_EQ(ask("www.example.com.", rrtype::TKEY).rcode(), rcode::FORMERR);
  EXPECT_EQ(ask("www.example.com.", rrtype::MAILA).rcode(), rcode::NOTIMP);
  EXPECT_EQ(ask("www.example.com.", rrtype::MAILB).rcode(), rcode::NOTIMP);
  EXPECT_EQ(ask("example.com.", rrtype::AXFR, {}, Transport::kTcp).rcode(), rcode::REFUSED);
  EXPECT_EQ(ask("example.com.", rrtype::IXFR, {}, Transport::kTcp).rcode(), rcode::REFUSED);
}

TEST_F(RespondTest, FormErrEchoesAParsedQuestion) {
  Bytes request = make_query("www.example.com.", rrtype::A, {.id = 0x77});
  request.push_back(0xFF);
  const Message m = respond_and_parse(*catalog_, request);
  EXPECT_EQ(m.header.id, 0x77);
  EXPECT_EQ(m.rcode(), rcode::FORMERR);
  ASSERT_TRUE(m.question.has_value());
  EXPECT_EQ(m.question->owner, "www.example.com.");
  EXPECT_THAT(m.answer, SizeIs(0));
}

TEST(RespondAdditionalFitTest, AdditionalThatDoesNotFitIsDroppedWithoutTruncation) {
  // big-host's 40 addresses do not fit in 512 bytes and are rolled back; x.big-host, written
  // afterwards, must not be compressed against the forgotten name.
  zone::Catalog catalog;
  std::string text =
      "@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n"
      "svc IN PTR a.svc\nsvc IN PTR b.svc\n"
      "a.svc IN SRV 0 0 1 big-host.svc\nb.svc IN SRV 0 0 2 x.big-host.svc\n"
      "x.big-host.svc IN A 192.0.2.9\n";
  for (int i = 1; i <= 40; ++i) text += "big-host.svc IN A 10.1.0." + std::to_string(i) + "\n";
  catalog.add(testing::must_load_zone(text, "dnssd.test."));

  const Message udp = respond_and_parse(catalog, make_query("svc.dnssd.test.", rrtype::PTR));
  EXPECT_FALSE(udp.has(flag::TC));
  EXPECT_THAT(udp.answer, SizeIs(2));
  EXPECT_THAT(to_strings(udp.additional),
              ElementsAre("a.svc.dnssd.test. 3600 IN SRV 0 0 1 big-host.svc.dnssd.test.",
                          "b.svc.dnssd.test. 3600 IN SRV 0 0 2 x.big-host.svc.dnssd.test.",
                          "x.big-host.svc.dnssd.test. 3600 IN A 192.0.2.9"));
  const Message tcp = respond_and_parse(catalog, make_query("svc.dnssd.test.", rrtype::PTR), Transport::kTcp);
  EXPECT_THAT(tcp.additional, SizeIs(2 + 40 + 1));
}

TEST(RespondCatalogTest, LongestZoneAnswers) {
  zone::Catalog catalog;
  catalog.add(testing::must_load_zone("@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nwww IN A 192.0.2.1\n", "parent.test."));
  catalog.add(testing::must_load_zone("@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nwww IN A 192.0.2.2\n",
                                      "child.parent.test."));
  EXPECT_THAT(to_strings(respond_and_parse(catalog, make_query("www.child.parent.test.", rrtype::A)).answer),
              ElementsAre("www.child.parent.test. 3600 IN A 192.0.2.2"));
  EXPECT_THAT(to_strings(respond_and_parse(catalog, make_query("www.parent.test.", rrtype::A)).answer),
              ElementsAre("www.parent.test. 3600 IN A 192.0.2.1"));
}

TEST(RespondEmptyCatalogTest, EverythingIsRefused) {
  const zone::Catalog catalog;
  EXPECT_EQ(respond_and_parse(catalog, make_query("www.example.com.", rrtype::A)).rcode(), rcode::REFUSED);
}

// Hostile requests: no answer at all, or FORMERR echoing the id, over either transport.
class RespondHostileTest : public ::testing::TestWithParam<HostilePacket> {};

TEST_P(RespondHostileTest, DropsOrAnswersFormErr) {
  const zone::Catalog catalog = testing::example_catalog();
  for (Transport transport : {Transport::kUdp, Transport::kTcp}) {
    const Bytes response = testing::respond_bytes(catalog, GetParam().bytes, transport);
    if (GetParam().expected == wire::ParseStatus::kDrop) {
      EXPECT_THAT(response, SizeIs(0));
      continue;
    }
    std::string error;
    const auto m = testing::parse_message(response, &error);
    ASSERT_TRUE(m.has_value()) << error;
    EXPECT_EQ(m->header.id, 0xBEEF);
    EXPECT_TRUE(m->has(flag::QR));
    EXPECT_EQ(m->rcode(), rcode::FORMERR);
    EXPECT_THAT(m->answer, SizeIs(0));
    EXPECT_THAT(m->authority, SizeIs(0));
    EXPECT_LE(m->size, 512u);
  }
}

INSTANTIATE_TEST_SUITE_P(Codec, RespondHostileTest, ::testing::ValuesIn(testing::hostile_packets()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace epmdns::query
