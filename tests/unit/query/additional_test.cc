#include "query/additional.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "query/resolve.h"
#include "testing/dns_testing.h"
#include "wire/types.h"

namespace epmdns::query {
namespace {

using ::epmdns::testing::describe;
using ::testing::ElementsAre;
namespace rrtype = wire::rrtype;

class AdditionalTest : public ::testing::Test {
 protected:
  // Resolves, then adds the additional section. The plan points into qname_ until the next call.
  Plan plan_for(const char* qname, uint16_t qtype) {
    EXPECT_TRUE(qname_.assign_text(qname)) << qname;
    Plan plan;
    resolve(testing::example_zone(), qname_, qtype, false, plan);
    add_additional(testing::example_zone(), plan);
    return plan;
  }

  wire::Name qname_;
};

TEST_F(AdditionalTest, SrvBringsTargetAddressesAndOwnerTxt) {
  const Plan plan = plan_for("app1._erlang-dist._tcp.host1.example.com.", rrtype::SRV);
  EXPECT_THAT(describe(plan.answer), ElementsAre("app1._erlang-dist._tcp.host1.example.com. SRV"));
  EXPECT_THAT(describe(plan.additional),
              ElementsAre("host1.example.com. A", "host1.example.com. AAAA",
                          "app1._erlang-dist._tcp.host1.example.com. TXT"));
}

TEST_F(AdditionalTest, SrvAskedInAnotherCaseStillFindsTheOwnerTxt) {
  const Plan plan = plan_for("APP1._erlang-dist._tcp.HOST1.example.com.", rrtype::SRV);
  EXPECT_THAT(describe(plan.additional),
              ElementsAre("host1.example.com. A", "host1.example.com. AAAA",
                          "app1._erlang-dist._tcp.host1.example.com. TXT"));
}

TEST_F(AdditionalTest, PtrBrowseBringsSrvTxtAndAddresses) {
  const Plan plan = plan_for("_erlang-dist._tcp.example.com.", rrtype::PTR);
  EXPECT_THAT(describe(plan.answer), ElementsAre("_erlang-dist._tcp.example.com. PTR"));
  EXPECT_THAT(describe(plan.additional),
              ElementsAre("app1._erlang-dist._tcp.host1.example.com. SRV", "host1.example.com. A",
                          "host1.example.com. AAAA", "app1._erlang-dist._tcp.host1.example.com. TXT",
                          "app2._erlang-dist._tcp.host2.example.com. SRV", "host2.example.com. A",
                          "app2._erlang-dist._tcp.host2.example.com. TXT"));
}

TEST_F(AdditionalTest, ServiceEnumerationPtrHasNoInstanceData) {
  // _services._dns-sd._udp points at a service type, which owns only PTRs.
  const Plan plan = plan_for("_services._dns-sd._udp.example.com.", rrtype::PTR);
  EXPECT_EQ(plan.answer.size(), 1u);
  EXPECT_EQ(plan.additional.size(), 0u);
}

TEST_F(AdditionalTest, NsAndMxBringAddresses) {
  Plan plan = plan_for("example.com.", rrtype::NS);
  EXPECT_THAT(describe(plan.additional),
              ElementsAre("ns1.example.com. A", "ns1.example.com. AAAA", "ns2.example.com. A"));
  plan = plan_for("example.com.", rrtype::MX);
  EXPECT_THAT(describe(plan.additional), ElementsAre("mail.example.com. A"));
}

TEST_F(AdditionalTest, ReferralBringsGlue) {
  const Plan plan = plan_for("host.sub.example.com.", rrtype::A);
  EXPECT_THAT(describe(plan.authority), ElementsAre("sub.example.com. NS"));
  EXPECT_THAT(describe(plan.additional), ElementsAre("ns.sub.example.com. A"));
  // An out-of-zone name server has no glue.
  EXPECT_EQ(plan_for("nods.example.com.", rrtype::A).additional.size(), 0u);
}

TEST_F(AdditionalTest, NegativeAnswersHaveNoAdditional) {
  EXPECT_EQ(plan_for("nothere.example.com.", rrtype::A).additional.size(), 0u);
  EXPECT_EQ(plan_for("mail.example.com.", rrtype::TXT).additional.size(), 0u);
}

TEST_F(AdditionalTest, NothingRepeatsWhatTheAnswerHolds) {
  // ANY at the apex answers NS and MX; the name servers' addresses come once each.
  const Plan plan = plan_for("example.com.", rrtype::ANY);
  EXPECT_THAT(describe(plan.additional),
              ElementsAre("ns1.example.com. A", "ns1.example.com. AAAA", "ns2.example.com. A",
                          "mail.example.com. A"));
  for (size_t i = 0; i < plan.additional.size(); ++i) EXPECT_FALSE(plan.answer.contains(plan.additional[i].rrset));
}

TEST_F(AdditionalTest, AddressRecordsBringNothing) {
  EXPECT_EQ(plan_for("www.example.com.", rrtype::A).additional.size(), 0u);
  EXPECT_EQ(plan_for("alias.example.com.", rrtype::A).additional.size(), 0u);
}

}  // namespace
}  // namespace epmdns::query
