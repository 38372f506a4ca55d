#include "update/apply.h"

#include <gtest/gtest.h>

#include "update/prerequisites.h"
#include "update_testing.h"

namespace epmdns::update {
namespace {

using namespace epmdns::testing;
using wire::rcode::FORMERR;
using wire::rcode::NOERROR;
using wire::rcode::NOTZONE;
using wire::rcode::REFUSED;
namespace rrtype = wire::rrtype;
namespace rrclass = wire::rrclass;

class ApplyTest : public ::testing::Test {
 protected:
  std::unique_ptr<zone::Zone> zone = must_load_zone(kUpdateZone, "erl.internal.");
  ChangeSet changes;

  void apply(const Request& request, uint32_t expiry = 0) {
    ASSERT_EQ(prescan(*zone, request), NOERROR);
    apply_updates(*zone, request, expiry, changes);
  }
};

TEST_F(ApplyTest, AddsARecordAndRaisesTheSerialOnce) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host2.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 2)));
  request.updates.push_back(record("host2.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 3)));
  apply(request);
  EXPECT_EQ(rrset_of(*zone, "host2.erl.internal.", rrtype::A).size(), 2u);
  EXPECT_EQ(zone->serial(), 11u);
  // Two adds, then the SOA's removal and addition.
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].op, Change::Op::kAdd);
  EXPECT_EQ(changes[3].type, rrtype::SOA);
}

TEST_F(ApplyTest, RepeatingAnAddChangesNothing) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host1.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 1)));
  apply(request);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(zone->serial(), 10u);
}

TEST_F(ApplyTest, RenewingALeaseReplacesTheRecord) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host2.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 2)));
  apply(request, 1000);
  changes.clear();
  apply(request, 2000);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].op, Change::Op::kRemove);
  EXPECT_EQ(changes[0].expiry, 1000u);
  EXPECT_EQ(changes[1].op, Change::Op::kAdd);
  EXPECT_EQ(changes[1].expiry, 2000u);
  wire::Name owner = name_of("host2.erl.internal.");
  const zone::RRset* set = zone->find(owner.wire())->find(rrtype::A);
  EXPECT_EQ(set->expiry(0), 2000u);
}

TEST_F(ApplyTest, DeletesOneRecordAnRRsetAndAName) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("app1._erlang-dist._tcp.host1.erl.internal.", rrtype::TXT, rrclass::NONE, 0,
                                   std::string("\x05vsn=6")));
  apply(request);
  EXPECT_TRUE(rrset_of(*zone, "app1._erlang-dist._tcp.host1.erl.internal.", rrtype::TXT).empty());
  EXPECT_EQ(rrset_of(*zone, "app1._erlang-dist._tcp.host1.erl.internal.", rrtype::SRV).size(), 1u);

  Request whole = request_for("erl.internal.");
  whole.updates.push_back(record("app1._erlang-dist._tcp.host1.erl.internal.", rrtype::ANY, rrclass::ANY, 0));
  apply(whole);
  wire::Name instance = name_of("app1._erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(zone->find(instance.wire()), nullptr) << "the emptied name and its empty parents go";
  wire::Name parent = name_of("_tcp.host1.erl.internal.");
  EXPECT_EQ(zone->find(parent.wire()), nullptr);
  EXPECT_NE(zone->find(name_of("host1.erl.internal.").wire()), nullptr);
}

TEST_F(ApplyTest, ApexSoaAndNsAreProtected) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("erl.internal.", rrtype::ANY, rrclass::ANY, 0));
  request.updates.push_back(record("erl.internal.", rrtype::SOA, rrclass::ANY, 0));
  request.updates.push_back(record("erl.internal.", rrtype::NS, rrclass::NONE, 0, name_rdata("ns1.erl.internal.")));
  apply(request);
  EXPECT_EQ(rrset_of(*zone, "erl.internal.", rrtype::NS).size(), 1u);
  EXPECT_EQ(rrset_of(*zone, "erl.internal.", rrtype::SOA).size(), 1u);
  EXPECT_TRUE(changes.empty());
}

TEST_F(ApplyTest, CnameAndOtherDataDoNotMix) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("alias.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(1, 2, 3, 4)));
  request.updates.push_back(record("host1.erl.internal.", rrtype::CNAME, rrclass::IN, 60, name_rdata("ns1.erl.internal.")));
  apply(request);
  EXPECT_TRUE(rrset_of(*zone, "alias.erl.internal.", rrtype::A).empty());
  EXPECT_TRUE(rrset_of(*zone, "host1.erl.internal.", rrtype::CNAME).empty());

  Request replace = request_for("erl.internal.");
  replace.updates.push_back(record("alias.erl.internal.", rrtype::CNAME, rrclass::IN, 60, name_rdata("ns1.erl.internal.")));
  apply(replace);
  EXPECT_EQ(rrset_of(*zone, "alias.erl.internal.", rrtype::CNAME),
            std::vector<std::string>{name_rdata("ns1.erl.internal.")});
}

TEST_F(ApplyTest, RevertRestoresTheZone) {
  Request request = request_for("erl.internal.");
  request.updates.push_back(record("host2.erl.internal.", rrtype::A, rrclass::IN, 60, a_rdata(10, 0, 0, 2)));
  request.updates.push_back(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 0));
  apply(request);
  revert(*zone, changes);
  EXPECT_EQ(zone->find(name_of("host2.erl.internal.").wire()), nullptr);
  EXPECT_EQ(rrset_of(*zone, "host1.erl.internal.", rrtype::A), std::vector<std::string>{a_rdata(10, 0, 0, 1)});
}

TEST_F(ApplyTest, PrescanRejectsWhatTheRfcForbids) {
  Request outside = request_for("erl.internal.");
  outside.updates.push_back(record("www.example.com.", rrtype::A, rrclass::IN, 60, a_rdata(1, 2, 3, 4)));
  EXPECT_EQ(prescan(*zone, outside), NOTZONE);

  Request ttl_on_delete = request_for("erl.internal.");
  ttl_on_delete.updates.push_back(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 60));
  EXPECT_EQ(prescan(*zone, ttl_on_delete), FORMERR);

  Request meta_add = request_for("erl.internal.");
  meta_add.updates.push_back(record("host1.erl.internal.", rrtype::ANY, rrclass::IN, 60, a_rdata(1, 2, 3, 4)));
  EXPECT_EQ(prescan(*zone, meta_add), FORMERR);

  Request dname = request_for("erl.internal.");
  dname.updates.push_back(record("d.erl.internal.", rrtype::DNAME, rrclass::IN, 60, name_rdata("x.")));
  EXPECT_EQ(prescan(*zone, dname), REFUSED);
}

}  // namespace
}  // namespace epmdns::update
