#include "wire/name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/dns_testing.h"

namespace epmdns::wire {
namespace {

using ::epmdns::testing::wire_name;

std::string label_of(size_t length, char c = 'a') { return std::string(length, c); }

Name from_text(std::string_view text, const Name* origin = nullptr) {
  Name name;
  EXPECT_TRUE(name.assign_text(text, origin)) << text;
  return name;
}

// Reads the name at `offset` of `packet` with read_name.
bool read_at(std::string_view packet, size_t offset, Name& out, size_t* end = nullptr) {
  Reader reader(std::span(reinterpret_cast<const uint8_t*>(packet.data()), packet.size()));
  if (!reader.seek(offset) || !read_name(reader, out)) return false;
  if (end) *end = reader.pos();
  return true;
}

class CanonicalTextTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CanonicalTextTest, RoundTripsThroughWire) {
  Name name;
  ASSERT_TRUE(name.assign_text(GetParam()));
  EXPECT_EQ(name.to_text(), GetParam());
  Name again;
  ASSERT_TRUE(again.assign_wire(name.wire()));
  EXPECT_EQ(again.to_text(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Names, CanonicalTextTest,
                         ::testing::Values(".", "com.", "example.com.", "www.Example.COM.", "a\\.b.example.",
                                           "back\\\\slash.", "quote\\\".x.", "semi\\;colon.", "\\(paren\\).",
                                           "\\@.x.", "\\$x.", "\\000.x.", "sp\\032ace.x.", "tab\\009.",
                                           "\\127.", "\\255\\128.", "_srv._tcp.x.", "*.example.com."));

TEST(NameTextTest, WireLayout) {
  EXPECT_EQ(wire_name("ab.c."), std::string("\x02" "ab" "\x01" "c" "\x00", 6));
  EXPECT_EQ(wire_name("."), std::string("\x00", 1));
  EXPECT_EQ(wire_name("a\\.b."), std::string("\x03" "a.b" "\x00", 5));
  EXPECT_EQ(wire_name("\\065\\066."), std::string("\x02" "AB" "\x00", 4));
}

TEST(NameTextTest, NonCanonicalEscapesNormalise) {
  EXPECT_EQ(from_text("\\065bc.").to_text(), "Abc.");
  EXPECT_EQ(from_text("a\\ b.").to_text(), "a\\032b.");
  EXPECT_EQ(from_text("\\x.").to_text(), "x.");
}

TEST(NameTextTest, RelativeNamesUseTheOrigin) {
  const Name origin = from_text("example.com.");
  EXPECT_EQ(from_text("www", &origin).to_text(), "www.example.com.");
  EXPECT_EQ(from_text("a.b", &origin).to_text(), "a.b.example.com.");
  EXPECT_EQ(from_text("@", &origin), origin);
  EXPECT_EQ(from_text("www.other.", &origin).to_text(), "www.other.");
  Name name;
  EXPECT_FALSE(name.assign_text("@"));
  EXPECT_EQ(from_text("www").to_text(), "www.");
}

TEST(NameTextTest, RejectsMalformedText) {
  for (const char* text : {"a..b.", ".a.", "..", "a.b..", "\\", "a\\", "\\25", "\\2a5.", "\\256.", "\\999."}) {
    Name name;
    EXPECT_FALSE(name.assign_text(text)) << text;
  }
}

TEST(NameTextTest, LabelLengthLimit) {
  Name name;
  EXPECT_TRUE(name.assign_text(label_of(63) + "."));
  EXPECT_EQ(name.length(), 65u);
  EXPECT_FALSE(name.assign_text(label_of(64) + "."));
  EXPECT_FALSE(name.assign_text(label_of(64)));
  // Escapes count as one byte each.
  std::string escaped;
  for (int i = 0; i < 63; ++i) escaped += "\\065";
  EXPECT_TRUE(name.assign_text(escaped + "."));
  EXPECT_FALSE(name.assign_text(escaped + "\\065."));
}

TEST(NameTextTest, NameLengthLimit) {
  const std::string three = label_of(63) + "." + label_of(63) + "." + label_of(63) + ".";
  Name name;
  ASSERT_TRUE(name.assign_text(three + label_of(61) + "."));  // 3*64 + 62 + 1 = 255
  EXPECT_EQ(name.length(), 255u);
  EXPECT_EQ(name.label_count(), 4u);
  EXPECT_FALSE(name.assign_text(three + label_of(62) + "."));  // 256
  // Through an origin too.
  const Name origin = from_text(three);
  EXPECT_TRUE(name.assign_text(label_of(61), &origin));
  EXPECT_FALSE(name.assign_text(label_of(62), &origin));
}

TEST(NameTextTest, MostLabels) {
  std::string text;
  for (int i = 0; i < 127; ++i) text += "a.";
  Name name;
  ASSERT_TRUE(name.assign_text(text));  // 127 * 2 + 1 = 255 bytes
  EXPECT_EQ(name.label_count(), 127u);
  EXPECT_FALSE(name.assign_text("a." + text));
}

TEST(NameLabelsTest, OffsetsAndSuffixes) {
  const Name name = from_text("www.Example.com.");
  ASSERT_EQ(name.label_count(), 3u);
  EXPECT_EQ(name.label(0), "www");
  EXPECT_EQ(name.label(1), "Example");
  EXPECT_EQ(name.label(2), "com");
  EXPECT_EQ(name.suffix(0), name.wire());
  EXPECT_EQ(name.suffix(1), wire_name("Example.com."));
  EXPECT_EQ(name.suffix(2), wire_name("com."));
  EXPECT_EQ(name.suffix(3), wire_name("."));
  EXPECT_EQ(name.suffix(9), wire_name("."));
  EXPECT_FALSE(name.is_root());
  EXPECT_TRUE(from_text(".").is_root());
  EXPECT_EQ(from_text(".").suffix(0), wire_name("."));
}

TEST(NameLabelsTest, ToLowerOnlyTouchesAsciiLetters) {
  Name name = from_text("WwW.\\200A.Z\\@[.");
  name.to_lower();
  EXPECT_EQ(name.to_text(), "www.\\200a.z\\@[.");
  EXPECT_EQ(name.label_count(), 3u);
  EXPECT_EQ(from_text("A.B."), from_text("A.B."));
  EXPECT_FALSE(from_text("A.B.") == from_text("a.b."));
}

TEST(NameWireTest, AssignWireValidates) {
  Name name;
  EXPECT_TRUE(name.assign_wire(wire_name("a.b.")));
  EXPECT_FALSE(name.assign_wire(""));
  EXPECT_FALSE(name.assign_wire(std::string("\x01" "a", 2)));             // no terminator
  EXPECT_FALSE(name.assign_wire(std::string("\x01" "a\x00\x00", 4)));     // bytes after the root
  EXPECT_FALSE(name.assign_wire(std::string("\x05" "a\x00", 3)));         // label past the end
  EXPECT_FALSE(name.assign_wire("\x40" + label_of(64) + std::string(1, '\0')));  // label type 01
  EXPECT_FALSE(name.assign_wire(std::string("\xC0\x0C", 2)));             // a pointer
  EXPECT_FALSE(name.assign_wire(std::string(256, '\0')));
}

TEST(NameWireTest, WireNameLength) {
  EXPECT_EQ(wire_name_length(std::string("\x03" "www\x00" "rest", 9)), 5u);
  EXPECT_EQ(wire_name_length(std::string("\x00", 1)), 1u);
  EXPECT_EQ(wire_name_length(""), 0u);
  EXPECT_EQ(wire_name_length(std::string("\x03" "www", 4)), 0u);
  EXPECT_EQ(wire_name_length(std::string("\x09" "ab\x00", 4)), 0u);
  EXPECT_EQ(wire_name_length(std::string("\xC0\x0C", 2)), 0u);
  EXPECT_EQ(wire_name_length("\x40" + label_of(64) + std::string(1, '\0')), 0u);
  const Name longest = from_text(label_of(63) + "." + label_of(63) + "." + label_of(63) + "." + label_of(61) + ".");
  EXPECT_EQ(wire_name_length(longest.wire()), 255u);
  const std::string too_long = "\x01" "a" + std::string(longest.wire());  // 257 bytes, well formed labels
  EXPECT_EQ(wire_name_length(too_long), 0u);
}

TEST(NameCompareTest, CaseHelpers) {
  EXPECT_EQ(ascii_lower('Q'), 'q');
  EXPECT_EQ(ascii_lower('['), '[');
  EXPECT_EQ(ascii_lower('\xC1'), '\xC1');
  EXPECT_TRUE(equal_ignore_case("ExAmPle", "example"));
  EXPECT_FALSE(equal_ignore_case("example", "exampl"));
  EXPECT_FALSE(equal_ignore_case("@", "`"));  // differ by 0x20 but are not letters
  char out[4];
  lower_into("AbC1", out);
  EXPECT_EQ(std::string(out, 4), "abc1");
}

TEST(NameCompareTest, IsSubdomainRespectsLabelBoundaries) {
  const std::string zone = wire_name("example.com.");
  EXPECT_TRUE(is_subdomain(wire_name("example.com."), zone));
  EXPECT_TRUE(is_subdomain(wire_name("www.example.com."), zone));
  EXPECT_TRUE(is_subdomain(wire_name("a.b.c.example.com."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("xample.com."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("aexample.com."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("com."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("example.org."), zone));
  // One label whose bytes end with the zone's wire form: a byte suffix, not a label suffix.
  EXPECT_FALSE(is_subdomain(wire_name("x\\007example\\003com."), zone));
  EXPECT_FALSE(is_subdomain(wire_name("a\\003com."), wire_name("com.")));
  // Everything is below the root.
  EXPECT_TRUE(is_subdomain(wire_name("example.com."), wire_name(".")));
  EXPECT_TRUE(is_subdomain(wire_name("."), wire_name(".")));
}

TEST(NameTextTest, WireToText) {
  EXPECT_EQ(wire_to_text(std::string("\x00", 1)), ".");
  EXPECT_EQ(wire_to_text(""), ".");
  EXPECT_EQ(wire_to_text(wire_name("a.b.")), "a.b.");
}

// read_name on compressed and hostile input.

TEST(ReadNameTest, FollowsBackwardPointers) {
  std::string packet = wire_name("www.example.com.");  // at 0
  packet += std::string("\x04" "mail\xC0\x04", 7);   // at 17: mail + pointer to "example.com."
  Name name;
  size_t end = 0;
  ASSERT_TRUE(read_at(packet, 17, name, &end));
  EXPECT_EQ(name.to_text(), "mail.example.com.");
  EXPECT_EQ(end, packet.size());  // resumes after the first pointer
  EXPECT_EQ(name.label_count(), 3u);
  EXPECT_EQ(name.suffix(1), wire_name("example.com."));
}

TEST(ReadNameTest, ChainedPointers) {
  std::string packet = wire_name("com.");              // 0..4
  packet += std::string("\x07" "example\xC0\x00", 10);  // 5: example.com.
  packet += std::string("\x03" "www\xC0\x05", 6);       // 15: www.example.com.
  Name name;
  ASSERT_TRUE(read_at(packet, 15, name));
  EXPECT_EQ(name.to_text(), "www.example.com.");
}

TEST(ReadNameTest, RejectsLoopsAndForwardPointers) {
  Name name;
  EXPECT_FALSE(read_at(std::string("\xC0\x00", 2), 0, name));                    // itself
  EXPECT_FALSE(read_at(std::string("\x01" "a\xC0\x00", 4), 0, name));           // its own start
  EXPECT_FALSE(read_at(std::string("\xC0\x02\xC0\x00", 4), 0, name));           // each other
  EXPECT_FALSE(read_at(std::string("\xC0\x02\xC0\x00", 4), 2, name));           // each other, entered at 2
  EXPECT_FALSE(read_at(std::string("\xC0\x02\x00", 3), 0, name));               // forward
  EXPECT_FALSE(read_at(std::string("\x00\x01" "a\xC0\x01", 5), 1, name));       // back into its own label
  EXPECT_FALSE(read_at(std::string("\x00\xC0", 2), 1, name));                   // truncated pointer
  EXPECT_FALSE(read_at(std::string("\x00\xFF\xFF", 3), 1, name));               // past the end
}

TEST(ReadNameTest, RejectsExtendedLabelTypes) {
  for (int type : {0x40, 0x41, 0x7F, 0x80, 0xBF}) {
    std::string packet(1, static_cast<char>(type));
    packet += label_of(type) + std::string(1, '\0');
    Name name;
    EXPECT_FALSE(read_at(packet, 0, name)) << type;
  }
}

TEST(ReadNameTest, LengthLimitCountsDecompressedBytes) {
  // Base name: 3 labels of 63 (193 bytes) at offset 0.
  const std::string base = wire_name(label_of(63) + "." + label_of(63) + "." + label_of(63) + ".");
  auto with_prefix = [&](size_t label_length) {
    std::string packet = base;
    packet.push_back(static_cast<char>(label_length));
    packet += label_of(label_length) + std::string("\xC0\x00", 2);
    return packet;
  };
  Name name;
  ASSERT_TRUE(read_at(with_prefix(61), base.size(), name));  // 62 + 193 = 255
  EXPECT_EQ(name.length(), 255u);
  EXPECT_FALSE(read_at(with_prefix(62), base.size(), name));  // 256
  EXPECT_FALSE(read_at(with_prefix(63), base.size(), name));  // 257
  EXPECT_FALSE(read_at("\x3f" + label_of(63) + base, 0, name));  // 257 bytes, uncompressed
}

TEST(ReadNameTest, ManyShortLabels) {
  std::string packet;
  for (int i = 0; i < 127; ++i) packet += std::string("\x01" "a", 2);
  packet.push_back('\0');
  Name name;
  ASSERT_TRUE(read_at(packet, 0, name));
  EXPECT_EQ(name.label_count(), 127u);
  EXPECT_EQ(name.label(126), "a");
  EXPECT_FALSE(read_at(std::string("\x01" "a", 2) + packet, 0, name));
}

TEST(LowerTest, WordAtATimeMatchesByteAtATime) {
  // Every byte value, in the 8-byte words and in the tail, in place and into another buffer.
  std::string in;
  for (int c = 0; c < 256; ++c) in.push_back(static_cast<char>(c));
  in += "TAIL-Zz";  // 263 bytes: 32 words and 7 left over
  std::string expected;
  for (char c : in) expected.push_back(ascii_lower(c));
  std::string out(in.size(), '\0');
  lower_into(in, out.data());
  EXPECT_EQ(out, expected);
  std::string same = in;
  lower_into(same, same.data());
  EXPECT_EQ(same, expected);
}

}  // namespace
}  // namespace epmdns::wire
