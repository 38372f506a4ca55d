#include "update/prerequisites.h"

#include <gtest/gtest.h>

#include "update_testing.h"

namespace epmdns::update {
namespace {

using namespace epmdns::testing;
namespace rrtype = wire::rrtype;
namespace rrclass = wire::rrclass;
namespace rcode = wire::rcode;

class PrerequisitesTest : public ::testing::Test {
 protected:
  std::unique_ptr<zone::Zone> zone = must_load_zone(kUpdateZone, "erl.internal.");

  uint16_t check(Record prerequisite) {
    Request request = request_for("erl.internal.");
    request.prerequisites.push_back(std::move(prerequisite));
    return check_prerequisites(*zone, request);
  }
};

TEST_F(PrerequisitesTest, NameInUse) {
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::ANY, rrclass::ANY, 0)), rcode::NOERROR);
  EXPECT_EQ(check(record("nope.erl.internal.", rrtype::ANY, rrclass::ANY, 0)), rcode::NXDOMAIN);
  // An empty non-terminal owns no records, so it is not in use.
  EXPECT_EQ(check(record("_tcp.host1.erl.internal.", rrtype::ANY, rrclass::ANY, 0)), rcode::NXDOMAIN);
}

TEST_F(PrerequisitesTest, NameNotInUse) {
  EXPECT_EQ(check(record("nope.erl.internal.", rrtype::ANY, rrclass::NONE, 0)), rcode::NOERROR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::ANY, rrclass::NONE, 0)), rcode::YXDOMAIN);
}

TEST_F(PrerequisitesTest, RRsetExists) {
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 0)), rcode::NOERROR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::AAAA, rrclass::ANY, 0)), rcode::NXRRSET);
}

TEST_F(PrerequisitesTest, RRsetDoesNotExist) {
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::AAAA, rrclass::NONE, 0)), rcode::NOERROR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::NONE, 0)), rcode::YXRRSET);
}

TEST_F(PrerequisitesTest, RRsetExistsWithExactlyTheseRecords) {
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::IN, 0, a_rdata(10, 0, 0, 1))), rcode::NOERROR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::IN, 0, a_rdata(10, 0, 0, 9))), rcode::NXRRSET);
  Request two = request_for("erl.internal.");
  two.prerequisites.push_back(record("host1.erl.internal.", rrtype::A, rrclass::IN, 0, a_rdata(10, 0, 0, 1)));
  two.prerequisites.push_back(record("host1.erl.internal.", rrtype::A, rrclass::IN, 0, a_rdata(10, 0, 0, 2)));
  EXPECT_EQ(check_prerequisites(*zone, two), rcode::NXRRSET) << "a superset is not the RRset";
}

TEST_F(PrerequisitesTest, MalformedOnesAreFormErrOrNotZone) {
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 30)), rcode::FORMERR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::ANY, 0, a_rdata(1, 1, 1, 1))), rcode::FORMERR);
  EXPECT_EQ(check(record("host1.erl.internal.", rrtype::A, rrclass::CH, 0)), rcode::FORMERR);
  EXPECT_EQ(check(record("www.example.com.", rrtype::A, rrclass::ANY, 0)), rcode::NOTZONE);
}

}  // namespace
}  // namespace epmdns::update
