#include "query/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "testing/dns_testing.h"
#include "wire/types.h"

namespace epmdns::query {
namespace {

using ::epmdns::testing::describe;
using ::testing::ElementsAre;
namespace rrtype = wire::rrtype;
namespace rcode = wire::rcode;

class ResolveTest : public ::testing::Test {
 protected:
  // The plan's owners point into qname_, which lives until the next call.
  Plan resolve_text(const char* qname, uint16_t qtype, bool minimal_any = true) {
    EXPECT_TRUE(qname_.assign_text(qname)) << qname;
    Plan plan;
    resolve(testing::example_zone(), qname_, qtype, minimal_any, plan);
    return plan;
  }

  wire::Name qname_;
};

TEST_F(ResolveTest, ExactMatchIsAuthoritative) {
  const Plan plan = resolve_text("www.example.com.", rrtype::A);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_THAT(describe(plan.answer), ElementsAre("www.example.com. A"));
  EXPECT_EQ(plan.answer[0].ttl, 300u);
  EXPECT_EQ(plan.authority.size(), 0u);
}

TEST_F(ResolveTest, OwnerKeepsTheQuestionsCase) {
  EXPECT_THAT(describe(resolve_text("WwW.EXAMPLE.com.", rrtype::A).answer), ElementsAre("WwW.EXAMPLE.com. A"));
  EXPECT_THAT(describe(resolve_text("mixed.example.com.", rrtype::A).answer), ElementsAre("mixed.example.com. A"));
}

TEST_F(ResolveTest, NxdomainCarriesTheSoaWithTheNegativeTtl) {
  const Plan plan = resolve_text("nothere.example.com.", rrtype::A);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NXDOMAIN);
  EXPECT_THAT(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  EXPECT_EQ(plan.authority[0].ttl, 300u);  // min(SOA TTL 3600, MINIMUM 300)
}

TEST_F(ResolveTest, NegativeTtlIsTheSoaTtlWhenLower) {
  auto zone = testing::must_load_zone(
      "@ 60 IN SOA ns h 1 2 3 4 900\n@ IN NS ns\nns IN A 192.0.2.1\n", "low.test.");
  ASSERT_TRUE(qname_.assign_text("missing.low.test."));
  Plan plan;
  resolve(*zone, qname_, rrtype::A, true, plan);
  ASSERT_EQ(plan.authority.size(), 1u);
  EXPECT_EQ(plan.authority[0].ttl, 60u);
}

TEST_F(ResolveTest, NodataWhenTheNameHasOtherTypes) {
  const Plan plan = resolve_text("mail.example.com.", rrtype::AAAA);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_EQ(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  EXPECT_EQ(plan.authority[0].ttl, 300u);
}

TEST_F(ResolveTest, EmptyNonTerminalIsNodata) {
  for (const char* ent : {"b.ent.example.com.", "ent.example.com."}) {
    const Plan plan = resolve_text(ent, rrtype::A);
    EXPECT_EQ(plan.rcode, rcode::NOERROR) << ent;
    EXPECT_EQ(plan.answer.size(), 0u) << ent;
    EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA")) << ent;
  }
  EXPECT_EQ(resolve_text("x.ent.example.com.", rrtype::A).rcode, rcode::NXDOMAIN);
}

TEST_F(ResolveTest, WildcardSynthesisUsesTheQname) {
  Plan plan = resolve_text("Host.wild.example.com.", rrtype::A);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_THAT(describe(plan.answer), ElementsAre("Host.wild.example.com. A"));
  // More than one label below the closest encloser.
  plan = resolve_text("a.b.c.wild.example.com.", rrtype::TXT);
  EXPECT_THAT(describe(plan.answer), ElementsAre("a.b.c.wild.example.com. TXT"));
  // Wildcard node without the type: NODATA.
  plan = resolve_text("x.wild.example.com.", rrtype::MX);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_EQ(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  // The wildcard name itself matches literally.
  EXPECT_THAT(describe(resolve_text("*.wild.example.com.", rrtype::A).answer), ElementsAre("*.wild.example.com. A"));
}

TEST_F(ResolveTest, ExistingNamesBlockTheWildcard) {
  // b.wild exists: it answers for itself, and names below it are not covered by *.wild.
  Plan plan = resolve_text("b.wild.example.com.", rrtype::A);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_EQ(plan.answer.size(), 0u);
  plan = resolve_text("x.b.wild.example.com.", rrtype::A);
  EXPECT_EQ(plan.rcode, rcode::NXDOMAIN);
  EXPECT_EQ(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  // Not a wildcard at all above "wild".
  EXPECT_EQ(resolve_text("x.example.com.", rrtype::A).rcode, rcode::NXDOMAIN);
}

TEST_F(ResolveTest, CnameChainInsideTheZone) {
  const Plan plan = resolve_text("Alias.example.com.", rrtype::A);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_THAT(describe(plan.answer),
              ElementsAre("Alias.example.com. CNAME", "alias2.example.com. CNAME", "www.example.com. A"));
}

TEST_F(ResolveTest, CnameQueriedDirectlyIsNotFollowed) {
  EXPECT_THAT(describe(resolve_text("alias.example.com.", rrtype::CNAME).answer),
              ElementsAre("alias.example.com. CNAME"));
}

TEST_F(ResolveTest, CnameLoopTerminates) {
  Plan plan = resolve_text("loop1.example.com.", rrtype::A);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_THAT(describe(plan.answer), ElementsAre("loop1.example.com. CNAME", "loop2.example.com. CNAME"));
  plan = resolve_text("self.example.com.", rrtype::A);
  EXPECT_THAT(describe(plan.answer), ElementsAre("self.example.com. CNAME"));
}

TEST_F(ResolveTest, LongCnameChainStopsAtTheHopLimit) {
  const Plan plan = resolve_text("chain0.example.com.", rrtype::A);
  EXPECT_EQ(plan.answer.size(), 16u);
  for (size_t i = 0; i < plan.answer.size(); ++i) EXPECT_EQ(plan.answer[i].rrset->type, rrtype::CNAME);
}

TEST_F(ResolveTest, CnameLeavingTheZoneStops) {
  const Plan plan = resolve_text("out.example.com.", rrtype::A);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_THAT(describe(plan.answer), ElementsAre("out.example.com. CNAME"));
  EXPECT_EQ(plan.authority.size(), 0u);
}

TEST_F(ResolveTest, CnameToAMissingName) {
  const Plan plan = resolve_text("dangling.example.com.", rrtype::A);
  EXPECT_EQ(plan.rcode, rcode::NXDOMAIN);
  EXPECT_THAT(describe(plan.answer), ElementsAre("dangling.example.com. CNAME"));
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
}

TEST_F(ResolveTest, ReferralAtAndBelowACut) {
  for (const char* name :
       {"sub.example.com.", "host.sub.example.com.", "a.b.sub.example.com.", "ns.sub.example.com."}) {
    for (uint16_t qtype : {rrtype::A, rrtype::NS, rrtype::ANY, rrtype::SOA}) {
      const Plan plan = resolve_text(name, qtype);
      EXPECT_FALSE(plan.authoritative) << name << " " << qtype;
      EXPECT_EQ(plan.rcode, rcode::NOERROR) << name;
      EXPECT_EQ(plan.answer.size(), 0u) << name;
      EXPECT_THAT(describe(plan.authority), ElementsAre("sub.example.com. NS")) << name << " " << qtype;
    }
  }
}

TEST_F(ResolveTest, DsAtTheCutIsAnsweredFromTheParent) {
  Plan plan = resolve_text("sub.example.com.", rrtype::DS);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_THAT(describe(plan.answer), ElementsAre("sub.example.com. DS"));
  EXPECT_EQ(plan.authority.size(), 0u);
  // No DS at the cut: NODATA from the parent, not a referral.
  plan = resolve_text("nods.example.com.", rrtype::DS);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_EQ(plan.rcode, rcode::NOERROR);
  EXPECT_EQ(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  // DS below the cut belongs to the child: a referral.
  plan = resolve_text("x.sub.example.com.", rrtype::DS);
  EXPECT_FALSE(plan.authoritative);
  EXPECT_THAT(describe(plan.authority), ElementsAre("sub.example.com. NS"));
}

TEST_F(ResolveTest, CnameIntoADelegationKeepsAuthorityForTheAlias) {
  // The server is authoritative for the question's name (RFC 1035 §4.1.1), so AA stays set even
  // though the chain ends in a referral.
  const Plan plan = resolve_text("tosub.example.com.", rrtype::A);
  EXPECT_THAT(describe(plan.answer), ElementsAre("tosub.example.com. CNAME"));
  EXPECT_THAT(describe(plan.authority), ElementsAre("sub.example.com. NS"));
  EXPECT_TRUE(plan.authoritative);
}

TEST_F(ResolveTest, AnyIsMinimalOrComplete) {
  Plan plan = resolve_text("www.example.com.", rrtype::ANY, true);
  EXPECT_THAT(describe(plan.answer), ElementsAre("www.example.com. A"));
  plan = resolve_text("www.example.com.", rrtype::ANY, false);
  EXPECT_THAT(describe(plan.answer), ElementsAre("www.example.com. A", "www.example.com. AAAA"));
  plan = resolve_text("example.com.", rrtype::ANY, false);
  EXPECT_THAT(describe(plan.answer), ElementsAre("example.com. NS", "example.com. SOA", "example.com. MX"));
  EXPECT_TRUE(plan.authoritative);
}

TEST_F(ResolveTest, AnyAtAnEmptyNonTerminalOrAlias) {
  Plan plan = resolve_text("ent.example.com.", rrtype::ANY, false);
  EXPECT_EQ(plan.answer.size(), 0u);
  EXPECT_THAT(describe(plan.authority), ElementsAre("example.com. SOA"));
  plan = resolve_text("alias.example.com.", rrtype::ANY, false);
  EXPECT_THAT(describe(plan.answer), ElementsAre("alias.example.com. CNAME"));
  plan = resolve_text("nothere.example.com.", rrtype::ANY, false);
  EXPECT_EQ(plan.rcode, rcode::NXDOMAIN);
}

TEST_F(ResolveTest, ApexQueries) {
  Plan plan = resolve_text("example.com.", rrtype::SOA);
  EXPECT_THAT(describe(plan.answer), ElementsAre("example.com. SOA"));
  plan = resolve_text("EXAMPLE.COM.", rrtype::NS);
  EXPECT_TRUE(plan.authoritative);
  EXPECT_THAT(describe(plan.answer), ElementsAre("EXAMPLE.COM. NS"));
}

}  // namespace
}  // namespace epmdns::query
