#include "update/policy.h"

#include <gtest/gtest.h>

#include "update_testing.h"

namespace epmdns::update {
namespace {

using namespace epmdns::testing;
namespace rrtype = wire::rrtype;
namespace rrclass = wire::rrclass;

constexpr const char* kPolicy =
    "# cluster and host keys\n"
    "grant cluster zone erl.internal.\n"
    "grant host7-key host host7.erl.internal   # trailing dot optional\n";

wire::TsigKey key_named(std::string_view name) {
  wire::TsigKey key;
  key.name = name_of(name);
  key.name.to_lower();
  return key;
}

class PolicyTest : public ::testing::Test {
 protected:
  std::unique_ptr<zone::Zone> zone = must_load_zone(kUpdateZone, "erl.internal.");
  Policy policy = *Policy::parse(kPolicy, "policy.conf");
  wire::TsigKey host7 = key_named("host7-key.");
  wire::TsigKey cluster = key_named("cluster.");

  bool host7_may(Record change) {
    Request request = request_for("erl.internal.");
    request.updates.push_back(std::move(change));
    return policy.permits(&host7, *zone, request);
  }
};

TEST_F(PolicyTest, AHostKeyRegistersItsOwnNode) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host7.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 7)));
  request.updates.push_back(record("app._erlang-dist._tcp.host7.erl.internal.", rrtype::SRV, rrclass::IN, 60,
                                   srv_rdata(4370, "host7.erl.internal.")));
  request.updates.push_back(record("app._erlang-dist._tcp.host7.erl.internal.", rrtype::TXT, rrclass::IN, 60, "\x05vsn=6"));
  request.updates.push_back(record("_erlang-dist._tcp.host7.erl.internal.", rrtype::PTR, rrclass::IN, 60,
                                   name_rdata("app._erlang-dist._tcp.host7.erl.internal.")));
  request.updates.push_back(record("_erlang-dist._tcp.erl.internal.", rrtype::PTR, rrclass::IN, 60,
                                   name_rdata("app._erlang-dist._tcp.host7.erl.internal.")));
  EXPECT_TRUE(policy.permits(&host7, *zone, request));
}

TEST_F(PolicyTest, AHostKeyCannotTouchAnotherHost) {
  EXPECT_FALSE(host7_may(record("host1.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 7))));
  EXPECT_FALSE(host7_may(record("app._erlang-dist._tcp.host7.erl.internal.", rrtype::SRV, rrclass::IN, 60,
                                srv_rdata(4370, "host1.erl.internal."))))
      << "an SRV of its own node pointing elsewhere";
  EXPECT_FALSE(host7_may(record("_erlang-dist._tcp.erl.internal.", rrtype::PTR, rrclass::IN, 60,
                                name_rdata("app1._erlang-dist._tcp.host1.erl.internal."))));
  EXPECT_FALSE(host7_may(record("_erlang-dist._tcp.erl.internal.", rrtype::PTR, rrclass::ANY, 0)))
      << "the whole cluster list";
  EXPECT_FALSE(host7_may(record("app1._erlang-dist._tcp.host1.erl.internal.", rrtype::ANY, rrclass::ANY, 0)));
  EXPECT_FALSE(host7_may(record("host7.erl.internal.", rrtype::NS, rrclass::IN, 60, name_rdata("evil.example."))))
      << "no delegation of its own name";
  EXPECT_FALSE(host7_may(record("x.host7.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(1, 1, 1, 1))));
}

TEST_F(PolicyTest, AHostKeyMayDeleteItsOwnNames) {
  EXPECT_TRUE(host7_may(record("host7.erl.internal.", rrtype::ANY, rrclass::ANY, 0)));
  EXPECT_TRUE(host7_may(record("app._erlang-dist._tcp.host7.erl.internal.", rrtype::ANY, rrclass::ANY, 0)));
  EXPECT_TRUE(host7_may(record("_erlang-dist._tcp.erl.internal.", rrtype::PTR, rrclass::NONE, 0,
                               name_rdata("app._erlang-dist._tcp.host7.erl.internal."))));
}

TEST_F(PolicyTest, ZoneKeysAndUnknownKeys) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 0));
  EXPECT_TRUE(policy.permits(&cluster, *zone, request));
  wire::TsigKey stranger = key_named("stranger.");
  EXPECT_FALSE(policy.permits(&stranger, *zone, request));
  EXPECT_TRUE(Policy::any_key_any_zone().permits(&stranger, *zone, request));
}

TEST(PolicyParseTest, ErrorsNameFileAndLine) {
  auto bad = Policy::parse("grant a zone x.\n\ngrant b realm y.\n", "p.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()), "p.conf:3: unknown scope 'realm' (zone or host)");
  auto short_line = Policy::parse("grant a zone\n", "p.conf");
  ASSERT_FALSE(short_line.ok());
  EXPECT_NE(std::string(short_line.status().message()).find("p.conf:1: "), std::string::npos);
}

}  // namespace
}  // namespace epmdns::update
