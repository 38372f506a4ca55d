#include "zone/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/dns_testing.h"
#include "wire/types.h"

namespace epmdns::zone {
namespace {

using ::epmdns::testing::wire_name;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace rrtype = wire::rrtype;

// Lines 1-5 of most test zones.
constexpr const char* kHead =
    "$ORIGIN example.com.\n"
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n"
    "@ IN NS ns1\n"
    "ns1 IN A 192.0.2.1\n";

absl::StatusOr<std::unique_ptr<Zone>> load(std::string_view text, const std::string& origin = "example.com.") {
  return load_zone_text(text, "test.zone", origin);
}

std::unique_ptr<Zone> must_load(std::string_view text, const std::string& origin = "example.com.") {
  auto zone = load(text, origin);
  EXPECT_TRUE(zone.ok()) << zone.status();
  return zone.ok() ? std::move(*zone) : nullptr;
}

std::vector<std::string> rdata_of(const Zone& zone, const char* owner, uint16_t type) {
  std::vector<std::string> out;
  const Node* node = zone.find(wire_name(owner));
  if (node == nullptr || node->find(type) == nullptr) return out;
  for (std::string_view data : *node->find(type)) out.emplace_back(data);
  return out;
}

TEST(LoaderTest, LoadsASmallZone) {
  auto zone = must_load(std::string(kHead) +
                        "www 60 IN A 192.0.2.10\n"
                        "    IN AAAA 2001:db8::10\n"
                        "mail IN MX 10 www\n"
                        "txt IN TXT \"hello world\" \"two\"\n");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->apex(), wire_name("example.com."));
  EXPECT_EQ(zone->apex_labels(), 2u);
  ASSERT_NE(zone->soa(), nullptr);
  EXPECT_EQ(zone->soa()->ttl, 300u);
  EXPECT_EQ(zone->node_count(), 5u);
  EXPECT_THAT(rdata_of(*zone, "www.example.com.", rrtype::A),
              ::testing::ElementsAre(std::string("\xC0\x00\x02\x0A", 4)));
  EXPECT_EQ(zone->find(wire_name("www.example.com."))->find(rrtype::A)->ttl, 60u);
  // A blank owner repeats the previous one; the default TTL applies.
  ASSERT_EQ(rdata_of(*zone, "www.example.com.", rrtype::AAAA).size(), 1u);
  EXPECT_EQ(zone->find(wire_name("www.example.com."))->find(rrtype::AAAA)->ttl, 300u);
  // Names in data are stored uncompressed and absolute.
  EXPECT_THAT(rdata_of(*zone, "example.com.", rrtype::NS), ::testing::ElementsAre(wire_name("ns1.example.com.")));
  EXPECT_THAT(rdata_of(*zone, "mail.example.com.", rrtype::MX),
              ::testing::ElementsAre(std::string("\x00\x0a", 2) + wire_name("www.example.com.")));
  EXPECT_THAT(rdata_of(*zone, "txt.example.com.", rrtype::TXT),
              ::testing::ElementsAre("\x0bhello world\x03two"));
  EXPECT_FALSE(zone->has_delegations());
}

TEST(LoaderTest, DefaultOriginAppliesWithoutOriginDirective) {
  auto zone = must_load(
      "@ IN SOA ns hostmaster 1 2 3 4 5\n"
      "@ IN NS ns\n"
      "ns IN A 192.0.2.1\n",
      "erl.internal.");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->apex(), wire_name("erl.internal."));
  EXPECT_THAT(rdata_of(*zone, "erl.internal.", rrtype::NS), ::testing::ElementsAre(wire_name("ns.erl.internal.")));
}

TEST(LoaderTest, OriginCanChangeMidFile) {
  auto zone = must_load(std::string(kHead) +
                        "$ORIGIN sub.example.com.\n"
                        "host IN A 192.0.2.20\n"
                        "@ IN TXT \"at sub\"\n");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(rdata_of(*zone, "host.sub.example.com.", rrtype::A).size(), 1u);
  EXPECT_EQ(rdata_of(*zone, "sub.example.com.", rrtype::TXT).size(), 1u);
}

TEST(LoaderTest, ApexComesFromTheSoaOwnerInLowerCase) {
  auto zone = must_load(
      "Example.ORG. IN SOA ns.example.org. h.example.org. 1 2 3 4 5\n"
      "Example.ORG. IN NS ns.example.org.\n"
      "WWW.Example.ORG. IN A 192.0.2.1\n");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(zone->apex(), wire_name("example.org."));
  const Node* www = zone->find(wire_name("www.example.org."));
  ASSERT_NE(www, nullptr);
  EXPECT_EQ(www->owner(), wire_name("WWW.Example.ORG."));
}

TEST(LoaderTest, ParenthesisedSoaAndComments) {
  auto zone = must_load(
      "; leading comment\n"
      "\n"
      "$ORIGIN example.com.\n"
      "@ 3600 IN SOA ns1 hostmaster ( ; open\n"
      "    2024010101 ; serial\n"
      "    7200       ; refresh\n"
      "    900 1209600\n"
      "    300 )      ; minimum\n"
      "  IN NS ns1 ; trailing comment\n"
      "ns1 IN A 192.0.2.1\n"
      "; comment at the end without newline");
  ASSERT_NE(zone, nullptr);
  const std::vector<std::string> soa = rdata_of(*zone, "example.com.", rrtype::SOA);
  ASSERT_EQ(soa.size(), 1u);
  EXPECT_EQ(soa[0].substr(soa[0].size() - 4), std::string("\x00\x00\x01\x2c", 4));
  EXPECT_EQ(zone->soa()->ttl, 3600u);
}

TEST(LoaderTest, LastLineWithoutNewline) {
  auto zone = must_load(std::string(kHead) + "www IN A 192.0.2.10");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(rdata_of(*zone, "www.example.com.", rrtype::A).size(), 1u);
}

TEST(LoaderTest, DuplicateRecordsCollapse) {
  auto zone = must_load(std::string(kHead) +
                        "www IN A 192.0.2.10\n"
                        "www IN A 192.0.2.10\n"
                        "WWW IN A 192.0.2.11\n");
  ASSERT_NE(zone, nullptr);
  EXPECT_EQ(rdata_of(*zone, "www.example.com.", rrtype::A).size(), 2u);
}

TEST(LoaderTest, EmptyNonTerminalsAreCreated) {
  auto zone = must_load(std::string(kHead) + "a.b.c IN A 192.0.2.30\n*.w IN TXT \"x\"\n");
  ASSERT_NE(zone, nullptr);
  for (const char* ent : {"b.c.example.com.", "c.example.com.", "w.example.com."}) {
    const Node* node = zone->find(wire_name(ent));
    ASSERT_NE(node, nullptr) << ent;
    EXPECT_TRUE(node->rrsets.empty()) << ent;
  }
  EXPECT_NE(zone->find(wire_name("*.w.example.com.")), nullptr);
}

TEST(LoaderTest, DelegationsAreMarked) {
  auto zone = must_load(std::string(kHead) +
                        "sub IN NS ns.sub\n"
                        "sub IN DS 1 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE0F6C4B45C55D4AC69CBD3CD3\n"
                        "ns.sub IN A 192.0.2.2\n"
                        "deep.below IN NS ns1\n");
  ASSERT_NE(zone, nullptr);
  EXPECT_TRUE(zone->has_delegations());
  EXPECT_FALSE(zone->apex_node()->delegation);
  EXPECT_TRUE(zone->find(wire_name("sub.example.com."))->delegation);
  EXPECT_FALSE(zone->find(wire_name("ns.sub.example.com."))->delegation);
  EXPECT_TRUE(zone->find(wire_name("deep.below.example.com."))->delegation);
  EXPECT_FALSE(zone->find(wire_name("below.example.com."))->delegation);
}

TEST(LoaderTest, BundledZoneLoads) {
  auto zone = must_load(testing::example_zone_text());
  ASSERT_NE(zone, nullptr);
  EXPECT_TRUE(zone->has_delegations());
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string prefix;   // "test.zone:LINE: " or "test.zone: "
  std::string message;  // a substring of the rest
};

void PrintTo(const ErrorCase& error, std::ostream* out) { *out << error.name; }

class LoaderErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(LoaderErrorTest, NamesSourceAndLine) {
  auto zone = load(GetParam().text);
  ASSERT_FALSE(zone.ok());
  EXPECT_EQ(zone.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(zone.status().message());
  EXPECT_THAT(message, StartsWith(GetParam().prefix));
  EXPECT_THAT(message, HasSubstr(GetParam().message));
}

const std::string kMultiLineSoa =
    "$ORIGIN example.com.\n"              // 1
    "$TTL 300\n"                          // 2
    "@ IN SOA ns1 hostmaster (\n"         // 3
    "        2024010101 ; serial\n"       // 4
    "        7200       ; refresh\n"      // 5
    "        900        ; retry\n"        // 6
    "        1209600    ; expire\n"       // 7
    "        60 )       ; minimum\n"      // 8
    "@ IN NS ns1\n";                      // 9

INSTANTIATE_TEST_SUITE_P(
    Zones, LoaderErrorTest,
    ::testing::Values(
        ErrorCase{"syntax_error_line_6", std::string(kHead) + "www IN A not-an-address\n", "test.zone:6: ", ""},
        ErrorCase{"syntax_error_line_8",
                  std::string(kHead) + "www IN A 192.0.2.10\n\nbroken IN AAAA 1.2.3.4\nlater IN A 192.0.2.1\n",
                  "test.zone:8: ", ""},
        ErrorCase{"unknown_type_line_7", std::string(kHead) + "; comment\nwww IN BOGUS 1\n", "test.zone:7: ", ""},
        ErrorCase{"syntax_error_last_line_without_newline", std::string(kHead) + "www IN A 300.1.2.3",
                  "test.zone:6: ", ""},
        ErrorCase{"owner_outside_zone_line_6", std::string(kHead) + "www.example.org. IN A 192.0.2.1\n",
                  "test.zone:6: ", "owner www.example.org. is outside the zone example.com."},
        ErrorCase{"owner_byte_suffix_outside_zone", std::string(kHead) + "xample.com. IN A 192.0.2.1\n",
                  "test.zone:6: ", "outside the zone"},
        ErrorCase{"cname_after_other_data", std::string(kHead) + "www IN A 192.0.2.1\nwww IN CNAME ns1\n",
                  "test.zone:7: ", "CNAME and other data at www.example.com."},
        ErrorCase{"other_data_after_cname", std::string(kHead) + "www IN CNAME ns1\nwww IN TXT \"x\"\n",
                  "test.zone:7: ", "CNAME and other data at www.example.com."},
        ErrorCase{"cname_at_apex", std::string(kHead) + "@ IN CNAME ns1\n", "test.zone:6: ", "CNAME and other data"},
        ErrorCase{"two_cnames", std::string(kHead) + "www IN CNAME ns1\nwww IN CNAME ns2\n", "test.zone:7: ",
                  "more than one CNAME at www.example.com."},
        ErrorCase{"second_soa", std::string(kHead) + "@ IN SOA ns1 hostmaster 2 7200 900 1209600 60\n",
                  "test.zone:6: ", "more than one SOA at example.com."},
        ErrorCase{"soa_below_apex", std::string(kHead) + "sub IN SOA ns1 hostmaster 1 2 3 4 5\n", "test.zone:6: ",
                  "SOA record below the zone apex"},
        ErrorCase{"missing_apex_ns", "$ORIGIN example.com.\n@ IN SOA ns1 h 1 2 3 4 5\nns1 IN A 192.0.2.1\n",
                  "test.zone: ", "no NS record at the zone apex example.com."},
        ErrorCase{"ns_only_below_apex",
                  "$ORIGIN example.com.\n@ IN SOA ns1 h 1 2 3 4 5\nsub IN NS ns1\n", "test.zone: ",
                  "no NS record at the zone apex"},
        ErrorCase{"first_record_not_soa", "$ORIGIN example.com.\n; comment\n\nwww IN A 192.0.2.1\n",
                  "test.zone:4: ", "the first record must be the zone's SOA"},
        ErrorCase{"first_record_not_soa_line_1", "www.example.com. IN A 192.0.2.1\n", "test.zone:1: ",
                  "the first record must be the zone's SOA"},
        ErrorCase{"error_after_multi_line_soa", kMultiLineSoa + "www IN A nonsense\n", "test.zone:10: ", ""},
        ErrorCase{"rule_error_after_multi_line_soa", kMultiLineSoa + "www.example.net. IN A 192.0.2.1\n",
                  "test.zone:10: ", "outside the zone"},
        ErrorCase{"error_right_after_multi_line_soa",
                  "$ORIGIN example.com.\n@ IN SOA ns1 hostmaster (\n 1 2 3\n 4 5 )\nwww IN A bad\n", "test.zone:5: ",
                  ""},
        ErrorCase{"second_soa_multi_line",
                  kMultiLineSoa + "@ IN SOA ns1 hostmaster (\n 2 2 3\n 4 5 )\n", "test.zone:12: ",
                  "more than one SOA at example.com."},
        ErrorCase{"error_after_blank_and_comment_lines",
                  std::string(kHead) + "\n; one\n\n; two\n   \nwww IN A x.y\n", "test.zone:11: ", ""},
        ErrorCase{"include_directive", std::string(kHead) + "$INCLUDE other.zone\n", "test.zone:6: ",
                  "$INCLUDE is not supported"},
        ErrorCase{"class_ch", std::string(kHead) + "version CH TXT \"1\"\n", "test.zone:6: ",
                  "only class IN is served"},
        ErrorCase{"dname", std::string(kHead) + "old IN DNAME new.example.net.\n", "test.zone:6: ",
                  "DNAME records are not supported"},
        // RFC 3597 generic data must still fit the type's layout.
        ErrorCase{"generic_a_without_address", std::string(kHead) + "www IN A \\# 0\n", "test.zone:6: ", ""},
        ErrorCase{"generic_cname_without_target", std::string(kHead) + "www IN CNAME \\# 0\n", "test.zone:6: ", ""},
        ErrorCase{"generic_mx_without_exchange", std::string(kHead) + "www IN MX 10 \\# 0\n", "test.zone:6: ", ""},
        ErrorCase{"generic_srv_without_target", std::string(kHead) + "www IN SRV 0 0 1 \\# 0\n", "test.zone:6: ",
                  ""},
        ErrorCase{"generic_soa_without_rname",
                  "$ORIGIN example.com.\n@ IN SOA ns1 \\# 0 1 7200 900 1209600 60\n@ IN NS ns1\n", "test.zone:2: ",
                  ""},
        ErrorCase{"generic_empty_soa", "$ORIGIN example.com.\n@ IN SOA \\# 0\n@ IN NS ns1\n", "test.zone:2: ", ""},
        ErrorCase{"empty_zone", "", "test.zone: ", "no SOA record"},
        ErrorCase{"only_comments", "; nothing\n\n$TTL 60\n", "test.zone: ", "no SOA record"}),
    [](const auto& info) { return info.param.name; });

TEST(LoaderTest, BadDefaultOrigin) {
  auto zone = load("@ IN SOA ns h 1 2 3 4 5\n", "bad..origin.");
  ASSERT_FALSE(zone.ok());
  EXPECT_THAT(std::string(zone.status().message()), StartsWith("test.zone: bad origin"));
}

TEST(LoaderFileTest, OriginComesFromTheFileName) {
  const testing::TempDir dir;
  const std::string path = dir.write("example.org.zone", "@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n");
  auto zone = load_zone_file(path);
  ASSERT_TRUE(zone.ok()) << zone.status();
  EXPECT_EQ((*zone)->apex(), wire_name("example.org."));
  EXPECT_NE((*zone)->find(wire_name("ns.example.org.")), nullptr);
  const std::string plain = dir.write("erl.internal", "@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\n");
  zone = load_zone_file(plain);
  ASSERT_TRUE(zone.ok()) << zone.status();
  EXPECT_EQ((*zone)->apex(), wire_name("erl.internal."));
}

TEST(LoaderFileTest, ErrorsNameThePath) {
  const testing::TempDir dir;
  const std::string path = dir.write("broken.zone", "@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A nope\n");
  auto zone = load_zone_file(path);
  ASSERT_FALSE(zone.ok());
  EXPECT_THAT(std::string(zone.status().message()), StartsWith(path + ":3: "));
  auto missing = load_zone_file(dir.path() + "/missing.zone");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), StartsWith(dir.path() + "/missing.zone: "));
}

}  // namespace
}  // namespace epmdns::zone
