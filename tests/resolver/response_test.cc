// Parsing of hand-built responses: the one-answer path (additional section present), the
// fallback cases (additional missing, TXT missing) and malformed packets.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "resolver/node_answer.h"
#include "resolver/node_name.h"
#include "resolver/response.h"
#include "wire/message.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::resolver {
namespace {

namespace rrtype = wire::rrtype;

wire::Name name(std::string_view text) {
  wire::Name out;
  EXPECT_TRUE(out.assign_text(text)) << text;
  return out;
}

std::string u16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)}; }
std::string srv_rdata(uint16_t priority, uint16_t weight, uint16_t port, std::string_view target) {
  return u16(priority) + u16(weight) + u16(port) + std::string(name(target).wire());
}
std::string a_rdata(const char* text) {
  std::string out(4, '\0');
  inet_pton(AF_INET, text, out.data());
  return out;
}
std::string aaaa_rdata(const char* text) {
  std::string out(16, '\0');
  inet_pton(AF_INET6, text, out.data());
  return out;
}
std::string txt_rdata(std::string_view text) { return std::string(1, static_cast<char>(text.size())) + std::string(text); }

struct Rr {
  std::string owner;
  uint16_t type;
  uint32_t ttl;
  std::string rdata;
};

// A response to one question, owners compressed by the Writer; RDATA copied as given.
std::vector<uint8_t> packet(std::string_view qname, uint16_t qtype, uint16_t rcode, const std::vector<Rr>& answer,
                            const std::vector<Rr>& additional, uint16_t extra_flags = 0) {
  std::vector<uint8_t> buf(4096);
  wire::Writer w(buf);
  w.put_u16(0x1234);
  w.put_u16(wire::flag::QR | wire::flag::AA | extra_flags | rcode);
  w.put_u16(1);
  w.put_u16(static_cast<uint16_t>(answer.size()));
  w.put_u16(0);
  w.put_u16(static_cast<uint16_t>(additional.size()));
  w.put_name(name(qname).wire());
  w.put_u16(qtype);
  w.put_u16(wire::rrclass::IN);
  for (const auto* section : {&answer, &additional}) {
    for (const Rr& rr : *section) {
      w.put_name(name(rr.owner).wire());
      w.put_u16(rr.type);
      w.put_u16(wire::rrclass::IN);
      w.put_u32(rr.ttl);
      w.put_u16(static_cast<uint16_t>(rr.rdata.size()));
      w.put_bytes(rr.rdata);
    }
  }
  buf.resize(w.size());
  return buf;
}

constexpr std::string_view kInstance = "app1._erlang-dist._tcp.host1.erl.internal.";
constexpr std::string_view kHost = "host1.erl.internal.";

Response parse(const std::vector<uint8_t>& bytes) {
  auto response = parse_response(bytes);
  EXPECT_TRUE(response);
  return response ? *response : Response{};
}

TEST(Response, AdditionalSectionCarriesEverything) {
  auto r = parse(packet(kInstance, rrtype::SRV, 0, {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(0, 0, 4370, kHost)}},
                        {{std::string(kHost), rrtype::A, 30, a_rdata("127.0.0.1")},
                         {std::string(kHost), rrtype::AAAA, 40, aaaa_rdata("::1")},
                         {std::string(kInstance), rrtype::TXT, 50, txt_rdata("vsn=5")}}));
  EXPECT_EQ(rcode_status(r), Status::kOk);
  auto srv = find_srv(r, name(kInstance));
  ASSERT_TRUE(srv);
  EXPECT_EQ(srv->port, 4370);
  EXPECT_EQ(srv->ttl, 60u);
  EXPECT_EQ(srv->target, name(kHost));
  auto a = find_address(r, srv->target, Family::kInet);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bytes[0], 127);
  EXPECT_EQ(a->bytes[3], 1);
  EXPECT_EQ(a->ttl, 30u);
  auto aaaa = find_address(r, srv->target, Family::kInet6);
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->bytes[15], 1);
  auto version = find_version(r, name(kInstance));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->version, 5);
  EXPECT_EQ(version->ttl, 50u);
}

TEST(Response, AdditionalSectionMissing) {
  auto r = parse(packet(kInstance, rrtype::SRV, 0, {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(0, 0, 4370, kHost)}}, {}));
  ASSERT_TRUE(find_srv(r, name(kInstance)));
  EXPECT_FALSE(find_address(r, name(kHost), Family::kInet));
  EXPECT_FALSE(find_version(r, name(kInstance)));
}

TEST(Response, TxtMissingOrWithoutVersion) {
  auto r = parse(packet(kInstance, rrtype::SRV, 0, {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(0, 0, 4370, kHost)}},
                        {{std::string(kHost), rrtype::A, 30, a_rdata("127.0.0.1")}}));
  EXPECT_TRUE(find_address(r, name(kHost), Family::kInet));
  EXPECT_FALSE(find_address(r, name(kHost), Family::kInet6));
  EXPECT_FALSE(find_version(r, name(kInstance)));

  auto other = parse(packet(kInstance, rrtype::TXT, 0, {{std::string(kInstance), rrtype::TXT, 60, txt_rdata("x=1") + txt_rdata("vsn=")}}, {}));
  auto version = find_version(other, name(kInstance));
  ASSERT_TRUE(version);
  EXPECT_EQ(version->version, kDefaultVersion);
}

TEST(Response, NamesAreMatchedCaseInsensitively) {
  auto r = parse(packet("App1._Erlang-Dist._TCP.Host1.ERL.internal.", rrtype::SRV, 0,
                        {{"APP1._erlang-dist._tcp.HOST1.erl.internal.", rrtype::SRV, 60, srv_rdata(0, 0, 1, "HOST1.erl.internal.")}},
                        {{"host1.ERL.internal.", rrtype::A, 30, a_rdata("127.0.0.1")}}));
  EXPECT_EQ(r.qname, name(kInstance));
  auto srv = find_srv(r, name(kInstance));
  ASSERT_TRUE(srv);
  EXPECT_TRUE(find_address(r, srv->target, Family::kInet));
}

TEST(Response, LowestPrioritySrvWins) {
  auto r = parse(packet(kInstance, rrtype::SRV, 0,
                        {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(10, 0, 1111, kHost)},
                         {std::string(kInstance), rrtype::SRV, 60, srv_rdata(5, 0, 2222, kHost)}},
                        {}));
  EXPECT_EQ(find_srv(r, name(kInstance))->port, 2222);
}

TEST(Response, AddressFollowsCname) {
  auto r = parse(packet(kHost, rrtype::A, 0,
                        {{std::string(kHost), rrtype::CNAME, 20, std::string(name("real.erl.internal.").wire())},
                         {"real.erl.internal.", rrtype::A, 90, a_rdata("10.0.0.7")}},
                        {}));
  auto a = find_address(r, name(kHost), Family::kInet);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bytes[3], 7);
  EXPECT_EQ(a->ttl, 20u);
}

TEST(Response, Rcodes) {
  EXPECT_EQ(rcode_status(parse(packet(kInstance, rrtype::SRV, wire::rcode::NXDOMAIN, {}, {}))), Status::kNotFound);
  EXPECT_EQ(rcode_status(parse(packet(kInstance, rrtype::SRV, wire::rcode::SERVFAIL, {}, {}))), Status::kServerFailure);
  EXPECT_EQ(rcode_status(parse(packet(kInstance, rrtype::SRV, wire::rcode::REFUSED, {}, {}))), Status::kServerFailure);
  auto nodata = parse(packet(kInstance, rrtype::SRV, 0, {}, {}));
  EXPECT_EQ(rcode_status(nodata), Status::kOk);
  EXPECT_FALSE(find_srv(nodata, name(kInstance)));
}

TEST(Response, BrowseAnswer) {
  const std::string browse = "_erlang-dist._tcp.host1.erl.internal.";
  const std::string app2 = "app2._erlang-dist._tcp.host1.erl.internal.";
  auto r = parse(packet(browse, rrtype::PTR, 0,
                        {{browse, rrtype::PTR, 60, std::string(name(kInstance).wire())},
                         {browse, rrtype::PTR, 60, std::string(name(app2).wire())}},
                        {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(0, 0, 4370, kHost)}}));
  auto targets = find_ptr_targets(r, name(browse));
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0], name(kInstance));
  EXPECT_EQ(find_srv_port(r, targets[0]), 4370);
  EXPECT_FALSE(find_srv_port(r, targets[1]));
  EXPECT_EQ(split_instance(targets[1])->name, "app2");
}

TEST(Response, TruncatedFlag) {
  EXPECT_TRUE(parse(packet(kInstance, rrtype::SRV, 0, {}, {}, wire::flag::TC)).truncated);
}

TEST(Response, Malformed) {
  const auto good = packet(kInstance, rrtype::SRV, 0, {{std::string(kInstance), rrtype::SRV, 60, srv_rdata(0, 0, 4370, kHost)}},
                           {{std::string(kHost), rrtype::A, 30, a_rdata("127.0.0.1")}});
  ASSERT_TRUE(parse_response(good));
  // Every proper prefix is malformed (counts promise more than is there).
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(parse_response(std::span(good).first(n))) << n;
  }
  auto query = good;
  query[2] &= 0x7F;  // QR clear: not a response
  EXPECT_FALSE(parse_response(query));
  auto no_question = good;
  no_question[5] = 0;
  EXPECT_FALSE(parse_response(no_question));
  // An A record with three bytes of data.
  auto short_a = packet(kHost, rrtype::A, 0, {{std::string(kHost), rrtype::A, 30, "\x7f\0\0"}}, {});
  EXPECT_FALSE(parse_response(short_a));
  // A compression pointer to itself (a loop) in the answer owner.
  auto loop = packet(kHost, rrtype::A, 0, {{std::string(kHost), rrtype::A, 30, a_rdata("127.0.0.1")}}, {});
  const size_t answer_owner = wire::kHeaderSize + name(kHost).length() + 4;
  loop[answer_owner] = 0xC0 | static_cast<uint8_t>(answer_owner >> 8);
  loop[answer_owner + 1] = static_cast<uint8_t>(answer_owner & 0xFF);
  EXPECT_FALSE(parse_response(loop));
  // An SRV whose RDLENGTH runs past the end.
  auto overrun = good;
  overrun.resize(overrun.size() - 5);
  EXPECT_FALSE(parse_response(overrun));
}

TEST(Query, BuildsOneQuestionWithEdns) {
  const auto bytes = build_query(77, name(kInstance), rrtype::SRV, 1232);
  wire::Query query;
  ASSERT_EQ(wire::parse_query(bytes, query), wire::ParseStatus::kOk);
  EXPECT_EQ(query.header.id, 77);
  EXPECT_TRUE(query.header.flags & wire::flag::RD);
  EXPECT_EQ(query.qname, name(kInstance));
  EXPECT_EQ(query.qtype, rrtype::SRV);
  EXPECT_TRUE(query.edns.present);
  EXPECT_EQ(query.edns.udp_size, 1232);
  // c-ares strips the last 11 bytes (the OPT) when a server does not know EDNS.
  EXPECT_EQ(bytes.size(), wire::kHeaderSize + name(kInstance).length() + 4 + 11);

  wire::Query plain;
  ASSERT_EQ(wire::parse_query(build_query(1, name(kInstance), rrtype::TXT, 0), plain), wire::ParseStatus::kOk);
  EXPECT_FALSE(plain.edns.present);
}

std::string u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v)); }

TEST(Response, NegativeTtlIsTheSmallerOfSoaTtlAndMinimum) {
  const std::string soa = std::string(name("ns1.erl.internal.").wire()) + std::string(name("h.erl.internal.").wire()) +
                          u32(1) + u32(3600) + u32(600) + u32(86400) + u32(30);
  Response r;
  EXPECT_EQ(negative_ttl(r), 0u);  // no SOA: not to be kept
  EXPECT_EQ(min_data_ttl(r), 0u);
  r.records.push_back(Record{Section::kAuthority, name("erl.internal."), rrtype::SOA, wire::rrclass::IN, 60, soa});
  EXPECT_EQ(negative_ttl(r), 30u);
  EXPECT_EQ(min_data_ttl(r), 30u);  // no data: the negative TTL
  r.records[0].ttl = 10;
  EXPECT_EQ(negative_ttl(r), 10u);
  r.records.push_back(Record{Section::kAnswer, name(kInstance), rrtype::SRV, wire::rrclass::IN, 45, ""});
  r.records.push_back(Record{Section::kAdditional, name(kHost), rrtype::A, wire::rrclass::IN, 50, ""});
  EXPECT_EQ(min_data_ttl(r), 45u);
}

}  // namespace
}  // namespace epmdns::resolver
