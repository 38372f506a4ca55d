#include "zone/zone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/dns_testing.h"
#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::zone {
namespace {

using ::epmdns::testing::wire_name;
using ::testing::UnorderedElementsAre;
namespace rrtype = wire::rrtype;

// SOA data with the given serial: two names and five 32-bit fields.
std::string soa_data(uint32_t serial) {
  std::string data = wire_name("ns.example.com.") + wire_name("h.example.com.");
  for (uint32_t v : {serial, 2u, 3u, 4u, 5u}) {
    for (int shift = 24; shift >= 0; shift -= 8) data.push_back(static_cast<char>(v >> shift));
  }
  return data;
}

std::vector<std::string> node_names(const Zone& zone) {
  std::vector<std::string> out;
  zone.for_each_node([&](const Node& node) { out.push_back(wire::wire_to_text(wire::lower_copy(node.owner()))); });
  return out;
}

TEST(CountLabelsTest, CountsUpToTheRoot) {
  EXPECT_EQ(count_labels(wire_name(".")), 0u);
  EXPECT_EQ(count_labels(wire_name("com.")), 1u);
  EXPECT_EQ(count_labels(wire_name("a.b.example.com.")), 4u);
}

TEST(ZoneTest, ApexOnly) {
  Zone zone(wire_name("example.com."));
  EXPECT_EQ(zone.apex(), wire_name("example.com."));
  EXPECT_EQ(zone.apex_labels(), 2u);
  EXPECT_EQ(zone.apex_node(), nullptr);
  EXPECT_EQ(zone.soa(), nullptr);
  EXPECT_EQ(zone.serial(), 0u);
  EXPECT_EQ(zone.node_count(), 0u);
  Node& apex = zone.get_or_add(wire_name("Example.COM."));
  apex.get_or_add(rrtype::SOA, 60).insert(soa_data(7));
  EXPECT_EQ(zone.apex_node(), &apex);
  ASSERT_NE(zone.soa(), nullptr);
  EXPECT_EQ(zone.soa()->ttl, 60u);
  EXPECT_EQ(zone.serial(), 7u);
  EXPECT_EQ(zone.node_count(), 1u);
}

TEST(ZoneTest, SetSerialRewritesTheSoa) {
  Zone zone(wire_name("example.com."));
  zone.get_or_add(wire_name("example.com.")).get_or_add(rrtype::SOA, 60).insert(soa_data(41));
  zone.set_serial(42);
  EXPECT_EQ(zone.serial(), 42u);
  ASSERT_EQ(zone.soa()->size(), 1u);
  EXPECT_EQ((*zone.soa())[0], soa_data(42));
}

TEST(ZoneTest, GetOrAddCreatesEmptyNonTerminals) {
  Zone zone(wire_name("example.com."));
  Node& leaf = zone.get_or_add(wire_name("A.b.C.example.com."));
  leaf.get_or_add(rrtype::A, 60).insert("\x01\x02\x03\x04");
  EXPECT_EQ(zone.node_count(), 4u);  // a.b.c, b.c, c and the apex
  for (const char* name : {"b.c.example.com.", "c.example.com.", "example.com."}) {
    const Node* node = zone.find(wire_name(name));
    ASSERT_NE(node, nullptr) << name;
    EXPECT_TRUE(node->rrsets.empty()) << name;
    EXPECT_EQ(node->children, 1u) << name;
  }
  // Found by the name in any case; the owner keeps the case it was written in.
  const Node* found = zone.find(wire_name("a.b.c.example.com."));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->owner(), wire_name("A.b.C.example.com."));
  EXPECT_EQ(found->children, 0u);
  EXPECT_EQ(zone.find(wire_name("A.B.c.EXAMPLE.com.")), found);
  EXPECT_EQ(zone.find(wire_name("d.example.com.")), nullptr);
  EXPECT_THAT(node_names(zone), UnorderedElementsAre("a.b.c.example.com.", "b.c.example.com.", "c.example.com.",
                                                     "example.com."));
}

TEST(ZoneTest, ChildrenCountDirectDescendants) {
  Zone zone(wire_name("example.com."));
  zone.get_or_add(wire_name("a.x.example.com."));
  zone.get_or_add(wire_name("b.x.example.com."));
  zone.get_or_add(wire_name("b.x.example.com."));  // already there
  zone.get_or_add(wire_name("y.example.com."));
  EXPECT_EQ(zone.find(wire_name("x.example.com."))->children, 2u);
  EXPECT_EQ(zone.apex_node()->children, 2u);
}

TEST(ZoneTest, GetOrAddReturnsTheSameNode) {
  Zone zone(wire_name("example.com."));
  zone.get_or_add(wire_name("www.example.com.")).get_or_add(rrtype::A, 60).insert("1234");
  // Many insertions force rehashing; the node and its data survive.
  for (int i = 0; i < 200; ++i) zone.get_or_add(wire_name("h" + std::to_string(i) + ".x.example.com."));
  Node& again = zone.get_or_add(wire_name("WWW.example.com."));
  ASSERT_NE(again.find(rrtype::A), nullptr);
  EXPECT_EQ(again.find(rrtype::A)->size(), 1u);
  EXPECT_EQ(again.owner(), wire_name("www.example.com."));
  EXPECT_EQ(zone.node_count(), 203u);
  EXPECT_EQ(zone.find_mutable(wire_name("www.example.com.")), &again);
}

TEST(NodeTest, RRsetsStaySortedByType) {
  NodePtr owned = Node::make(wire_name("n.example.com."));
  Node& node = *owned;
  node.get_or_add(rrtype::TXT, 1);
  node.get_or_add(rrtype::A, 2);
  node.get_or_add(rrtype::SRV, 3);
  node.get_or_add(rrtype::NS, 4);
  RRset& again = node.get_or_add(rrtype::A, 99);
  EXPECT_EQ(again.ttl, 2u);  // the first TTL stays
  ASSERT_EQ(node.rrsets.size(), 4u);
  EXPECT_EQ(node.rrsets[0].type, rrtype::A);
  EXPECT_EQ(node.rrsets[1].type, rrtype::NS);
  EXPECT_EQ(node.rrsets[2].type, rrtype::TXT);
  EXPECT_EQ(node.rrsets[3].type, rrtype::SRV);
  EXPECT_EQ(node.find(rrtype::SRV)->ttl, 3u);
  EXPECT_EQ(node.find(rrtype::MX), nullptr);
}

TEST(NodeTest, DropEmptyRRsets) {
  NodePtr owned = Node::make(wire_name("n.example.com."));
  Node& node = *owned;
  node.get_or_add(rrtype::A, 1).insert("1234");
  node.get_or_add(rrtype::TXT, 1);
  node.get_or_add(rrtype::MX, 1);
  node.drop_empty_rrsets();
  ASSERT_EQ(node.rrsets.size(), 1u);
  EXPECT_EQ(node.rrsets[0].type, rrtype::A);
}

TEST(ZoneTest, FinishMarksCutsBelowTheApexOnly) {
  Zone zone(wire_name("example.com."));
  zone.get_or_add(wire_name("example.com.")).get_or_add(rrtype::NS, 60).insert("ns");
  zone.get_or_add(wire_name("sub.example.com.")).get_or_add(rrtype::NS, 60).insert("ns");
  zone.get_or_add(wire_name("ns.sub.example.com.")).get_or_add(rrtype::A, 60).insert("1234");
  zone.get_or_add(wire_name("www.example.com.")).get_or_add(rrtype::A, 60).insert("1234");
  EXPECT_FALSE(zone.has_delegations());
  zone.finish();
  EXPECT_TRUE(zone.has_delegations());
  EXPECT_FALSE(zone.apex_node()->delegation);
  EXPECT_TRUE(zone.find(wire_name("sub.example.com."))->delegation);
  EXPECT_FALSE(zone.find(wire_name("ns.sub.example.com."))->delegation);
  EXPECT_FALSE(zone.find(wire_name("www.example.com."))->delegation);
}

TEST(ZoneTest, NoCutsWithoutNsBelowTheApex) {
  Zone zone(wire_name("example.com."));
  zone.get_or_add(wire_name("example.com.")).get_or_add(rrtype::NS, 60).insert("ns");
  zone.get_or_add(wire_name("www.example.com.")).get_or_add(rrtype::A, 60).insert("1234");
  zone.finish();
  EXPECT_FALSE(zone.has_delegations());
}

TEST(ZoneTest, RootZone) {
  Zone zone(wire_name("."));
  EXPECT_EQ(zone.apex_labels(), 0u);
  zone.get_or_add(wire_name("a.b."));
  EXPECT_EQ(zone.node_count(), 3u);
  EXPECT_NE(zone.find(wire_name(".")), nullptr);
}

class NodeChangedTest : public ::testing::Test {
 protected:
  NodeChangedTest() : zone_(wire_name("example.com.")) {
    zone_.get_or_add(wire_name("example.com.")).get_or_add(rrtype::NS, 60).insert("data");
    add("a.b.c.example.com.", rrtype::A);
    add("d.c.example.com.", rrtype::A);
    zone_.finish();
  }
  void add(const char* name, uint16_t type) {
    zone_.get_or_add(wire_name(name)).get_or_add(type, 60).insert("data");
    changed(name);
  }
  void remove(const char* name, uint16_t type) {
    zone_.find_mutable(wire_name(name))->find(type)->erase("data");
    changed(name);
  }
  void changed(const char* name) {
    const std::string owner = wire_name(name);  // a copy: the node may go away
    zone_.node_changed(owner);
  }
  Zone zone_;
};

TEST_F(NodeChangedTest, EmptiedLeafGoesAwayWithItsEmptyAncestors) {
  remove("a.b.c.example.com.", rrtype::A);
  EXPECT_EQ(zone_.find(wire_name("a.b.c.example.com.")), nullptr);
  EXPECT_EQ(zone_.find(wire_name("b.c.example.com.")), nullptr);
  // c still has d below it.
  ASSERT_NE(zone_.find(wire_name("c.example.com.")), nullptr);
  EXPECT_EQ(zone_.find(wire_name("c.example.com."))->children, 1u);
  remove("d.c.example.com.", rrtype::A);
  EXPECT_THAT(node_names(zone_), UnorderedElementsAre("example.com."));
  EXPECT_EQ(zone_.apex_node()->children, 0u);
}

TEST_F(NodeChangedTest, NodeWithChildrenStaysAsEmptyNonTerminal) {
  add("c.example.com.", rrtype::TXT);
  remove("c.example.com.", rrtype::TXT);
  const Node* c = zone_.find(wire_name("c.example.com."));
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->rrsets.empty());
  EXPECT_EQ(zone_.node_count(), 5u);
}

TEST_F(NodeChangedTest, ApexStaysWhenEmptied) {
  remove("example.com.", rrtype::NS);
  remove("a.b.c.example.com.", rrtype::A);
  remove("d.c.example.com.", rrtype::A);
  ASSERT_NE(zone_.apex_node(), nullptr);
  EXPECT_EQ(zone_.node_count(), 1u);
}

TEST_F(NodeChangedTest, DelegationFollowsNs) {
  EXPECT_FALSE(zone_.has_delegations());
  add("sub.example.com.", rrtype::NS);
  EXPECT_TRUE(zone_.has_delegations());
  EXPECT_TRUE(zone_.find(wire_name("sub.example.com."))->delegation);
  add("other.example.com.", rrtype::NS);
  remove("sub.example.com.", rrtype::NS);
  EXPECT_TRUE(zone_.has_delegations());
  EXPECT_EQ(zone_.find(wire_name("sub.example.com.")), nullptr);
  remove("other.example.com.", rrtype::NS);
  EXPECT_FALSE(zone_.has_delegations());
  // NS at the apex never makes a cut.
  add("example.com.", rrtype::NS);
  EXPECT_FALSE(zone_.has_delegations());
}

TEST_F(NodeChangedTest, UnknownNameIsIgnored) {
  changed("nothere.example.com.");
  EXPECT_EQ(zone_.node_count(), 5u);
}

TEST(NodeOwnerHashTest, IgnoresCaseOfLettersOnly) {
  const NodeOwnerHash hash;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      // In the last byte of a 9-byte name (the tail) and in the first (a full word).
      const std::string x = "\x07" "abcdefg" + std::string(1, static_cast<char>(a));
      const std::string y = "\x07" "abcdefg" + std::string(1, static_cast<char>(b));
      const bool same = wire::ascii_lower(static_cast<char>(a)) == wire::ascii_lower(static_cast<char>(b));
      ASSERT_EQ(hash(x) == hash(y), same) << a << " " << b;
      ASSERT_EQ(NodeOwnerEq::same_owner(x, y), same) << a << " " << b;
      ASSERT_EQ(hash(std::string(1, static_cast<char>(a)) + "xxxxxxxx") ==
                    hash(std::string(1, static_cast<char>(b)) + "xxxxxxxx"),
                same)
          << a << " " << b;
    }
  }
}

}  // namespace
}  // namespace epmdns::zone
