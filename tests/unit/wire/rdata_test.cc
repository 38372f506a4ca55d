#include "wire/rdata.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/dns_testing.h"
#include "wire/name.h"
#include "wire/reader.h"
#include "wire/types.h"

namespace epmdns::wire {
namespace {

using ::epmdns::testing::wire_name;

std::string u16_bytes(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string u32_bytes(uint32_t v) {
  return u16_bytes(static_cast<uint16_t>(v >> 16)) + u16_bytes(static_cast<uint16_t>(v));
}

// A writer that already holds "example.com." at offset 12, as after a question.
struct Fixture {
  uint8_t buffer[512] = {};
  Writer writer{buffer};
  Fixture() {
    for (int i = 0; i < 6; ++i) writer.put_u16(0);
    writer.put_name(wire_name("example.com."));
  }
  std::string from(size_t offset) const {
    return std::string(reinterpret_cast<const char*>(buffer) + offset, writer.size() - offset);
  }
};

TEST(PutRdataTest, OpaqueDataIsCopied) {
  Fixture f;
  const size_t at = f.writer.size();
  ASSERT_TRUE(put_rdata(f.writer, rrtype::A, std::string("\xC0\x00\x02\x01", 4)));
  EXPECT_EQ(f.from(at), std::string("\x00\x04\xC0\x00\x02\x01", 6));
  const size_t txt = f.writer.size();
  ASSERT_TRUE(put_rdata(f.writer, rrtype::TXT, ""));
  EXPECT_EQ(f.from(txt), std::string("\x00\x00", 2));
}

TEST(PutRdataTest, NamesInNsCnamePtrAreCompressed) {
  for (uint16_t type : {rrtype::NS, rrtype::CNAME, rrtype::PTR}) {
    Fixture f;
    const size_t at = f.writer.size();
    ASSERT_TRUE(put_rdata(f.writer, type, wire_name("ns1.Example.com.")));
    EXPECT_EQ(f.from(at), std::string("\x00\x06\x03ns1\xC0\x0C", 8)) << type;
  }
}

TEST(PutRdataTest, MxExchangeIsCompressed) {
  Fixture f;
  const size_t at = f.writer.size();
  ASSERT_TRUE(put_rdata(f.writer, rrtype::MX, u16_bytes(10) + wire_name("example.com.")));
  EXPECT_EQ(f.from(at), std::string("\x00\x04\x00\x0a\xC0\x0C", 6));
  EXPECT_FALSE(put_rdata(f.writer, rrtype::MX, u16_bytes(10)));
}

TEST(PutRdataTest, SoaNamesAreCompressedAndTimersCopied) {
  Fixture f;
  std::string timers;
  for (uint32_t v : {1u, 2u, 3u, 4u, 5u}) timers += u32_bytes(v);
  const size_t at = f.writer.size();
  ASSERT_TRUE(put_rdata(f.writer, rrtype::SOA, wire_name("ns.example.com.") + wire_name("ns.example.com.") + timers));
  // ns + pointer to example.com, then a pointer to the first mname, then 20 bytes of timers.
  const std::string mname_at(1, static_cast<char>(at + 2));
  EXPECT_EQ(f.from(at), u16_bytes(27) + std::string("\x02ns\xC0\x0C", 5) + "\xC0" + mname_at + timers);
}

TEST(PutRdataTest, SrvTargetIsNeverCompressed) {
  Fixture f;
  const std::string rdata = u16_bytes(0) + u16_bytes(5) + u16_bytes(4370) + wire_name("example.com.");
  const size_t at = f.writer.size();
  ASSERT_TRUE(put_rdata(f.writer, rrtype::SRV, rdata));
  EXPECT_EQ(f.from(at), u16_bytes(static_cast<uint16_t>(rdata.size())) + rdata);
}

TEST(PutRdataTest, MalformedNamesFail) {
  Fixture f;
  EXPECT_FALSE(put_rdata(f.writer, rrtype::NS, std::string("\x05" "ab", 3)));
  EXPECT_FALSE(put_rdata(f.writer, rrtype::CNAME, ""));
  EXPECT_FALSE(put_rdata(f.writer, rrtype::SOA, wire_name("a.") + std::string("\x07", 1)));
}

TEST(PutRdataTest, FailsWhenOverTheLimit) {
  uint8_t buffer[8];
  Writer writer(buffer);
  EXPECT_FALSE(put_rdata(writer, rrtype::TXT, std::string(7, 'x')));
  EXPECT_FALSE(put_rdata(writer, rrtype::NS, wire_name("abcdefgh.")));
  Writer fresh(buffer);
  EXPECT_TRUE(put_rdata(fresh, rrtype::TXT, std::string(6, 'x')));
  EXPECT_EQ(fresh.size(), 8u);
}

TEST(RdataTargetTest, FindsTheNameForEachType) {
  const std::string name = wire_name("target.example.");
  EXPECT_EQ(rdata_target(rrtype::NS, name), name);
  EXPECT_EQ(rdata_target(rrtype::CNAME, name), name);
  EXPECT_EQ(rdata_target(rrtype::PTR, name), name);
  EXPECT_EQ(rdata_target(rrtype::MX, u16_bytes(5) + name), name);
  EXPECT_EQ(rdata_target(rrtype::SRV, u16_bytes(0) + u16_bytes(0) + u16_bytes(80) + name), name);
  EXPECT_EQ(rdata_target(rrtype::A, "\x01\x02\x03\x04"), "");
  EXPECT_EQ(rdata_target(rrtype::TXT, name), "");
}

TEST(RdataTargetTest, MalformedOrShortDataHasNoTarget) {
  EXPECT_EQ(rdata_target(rrtype::NS, ""), "");
  EXPECT_EQ(rdata_target(rrtype::NS, std::string("\x03" "ab", 3)), "");
  EXPECT_EQ(rdata_target(rrtype::MX, u16_bytes(5)), "");
  EXPECT_EQ(rdata_target(rrtype::SRV, std::string(6, '\0')), "");
  EXPECT_EQ(rdata_target(rrtype::SRV, std::string(5, '\0')), "");
  EXPECT_EQ(rdata_target(rrtype::CNAME, std::string("\xC0\x0C", 2)), "");
}

TEST(SoaMinimumTest, ReadsTheLastField) {
  const std::string soa = wire_name("ns.") + wire_name("host.") + u32_bytes(1) + u32_bytes(2) + u32_bytes(3) +
                          u32_bytes(4) + u32_bytes(0x01020304);
  EXPECT_EQ(soa_minimum(soa), 0x01020304u);
  EXPECT_EQ(soa_minimum("abc"), 0u);
}

// read_rdata parses RDATA out of a message: `packet` holds "example.com." at offset 0, then
// the data under test.
struct ReadCase {
  std::string packet;
  size_t rdata_at;
};

ReadCase with_prefix(const std::string& rdata) {
  const std::string prefix = wire_name("Example.COM.");
  return {prefix + rdata, prefix.size()};
}

bool read(const ReadCase& c, uint16_t type, size_t rdlength, std::string& out, size_t* end = nullptr) {
  Reader reader(std::span(reinterpret_cast<const uint8_t*>(c.packet.data()), c.packet.size()));
  reader.seek(c.rdata_at);
  const bool ok = read_rdata(reader, type, static_cast<uint16_t>(rdlength), out);
  if (end) *end = reader.pos();
  return ok;
}

TEST(ReadRdataTest, AddressesMustHaveTheirSize) {
  std::string out;
  const ReadCase four = with_prefix("\x01\x02\x03\x04");
  ASSERT_TRUE(read(four, rrtype::A, 4, out));
  EXPECT_EQ(out, "\x01\x02\x03\x04");
  EXPECT_FALSE(read(four, rrtype::A, 3, out));
  EXPECT_FALSE(read(four, rrtype::AAAA, 4, out));
  EXPECT_TRUE(read(with_prefix(std::string(16, 'x')), rrtype::AAAA, 16, out));
}

TEST(ReadRdataTest, NamesAreDecompressedAndLowerCased) {
  std::string out;
  size_t end = 0;
  const ReadCase ns = with_prefix(std::string("\x03" "NS1\xC0\x00", 6));
  ASSERT_TRUE(read(ns, rrtype::NS, 6, out, &end));
  EXPECT_EQ(out, wire_name("ns1.example.com."));
  EXPECT_EQ(end, ns.packet.size());
  const ReadCase mx = with_prefix(u16_bytes(10) + std::string("\xC0\x00", 2));
  ASSERT_TRUE(read(mx, rrtype::MX, 4, out));
  EXPECT_EQ(out, u16_bytes(10) + wire_name("example.com."));
  const ReadCase srv = with_prefix(u16_bytes(1) + u16_bytes(2) + u16_bytes(3) + wire_name("Host."));
  ASSERT_TRUE(read(srv, rrtype::SRV, 6 + 6, out));
  EXPECT_EQ(out, u16_bytes(1) + u16_bytes(2) + u16_bytes(3) + wire_name("host."));
}

TEST(ReadRdataTest, SoaNeedsExactlyTwentyBytesAfterItsNames) {
  std::string timers;
  for (uint32_t v : {1u, 2u, 3u, 4u, 5u}) timers += u32_bytes(v);
  std::string out;
  const std::string names = std::string("\xC0\x00", 2) + wire_name("h.");
  ASSERT_TRUE(read(with_prefix(names + timers), rrtype::SOA, names.size() + 20, out));
  EXPECT_EQ(out, wire_name("example.com.") + wire_name("h.") + timers);
  EXPECT_FALSE(read(with_prefix(names + timers.substr(0, 19)), rrtype::SOA, names.size() + 19, out));
  EXPECT_FALSE(read(with_prefix(names + timers + "x"), rrtype::SOA, names.size() + 21, out));
}

TEST(ReadRdataTest, RejectsDataInconsistentWithItsLength) {
  std::string out;
  // The name runs past RDLENGTH.
  EXPECT_FALSE(read(with_prefix(wire_name("abc.")), rrtype::CNAME, 3, out));
  // Bytes left over after a name.
  EXPECT_FALSE(read(with_prefix(wire_name("abc.") + "zz"), rrtype::CNAME, 7, out));
  // RDLENGTH past the end of the message.
  EXPECT_FALSE(read(with_prefix("\x01\x02"), rrtype::TXT, 3, out));
  // A pointer to itself and a forward pointer inside the data (which starts at offset 13).
  EXPECT_FALSE(read(with_prefix(std::string("\xC0\x0D", 2)), rrtype::NS, 2, out));
  EXPECT_FALSE(read(with_prefix(std::string("\xC0\x10\x00\x00", 4)), rrtype::NS, 4, out));
  // MX or SRV without room for the name.
  EXPECT_FALSE(read(with_prefix(u16_bytes(10)), rrtype::MX, 2, out));
  EXPECT_FALSE(read(with_prefix(std::string(5, '\0')), rrtype::SRV, 5, out));
}

TEST(ReadRdataTest, OtherTypesAreCopied) {
  std::string out;
  ASSERT_TRUE(read(with_prefix("\x03" "abc"), rrtype::TXT, 4, out));
  EXPECT_EQ(out, "\x03" "abc");
  ASSERT_TRUE(read(with_prefix(std::string("\xC0\x00", 2)), 65280, 2, out));
  EXPECT_EQ(out, std::string("\xC0\x00", 2));  // not a name for an unknown type
  ASSERT_TRUE(read(with_prefix(""), rrtype::TXT, 0, out));
  EXPECT_EQ(out, "");
}

TEST(CanonicalizeRdataTest, LowerCasesOnlyTheNames) {
  std::string soa = wire_name("NS.Example.") + wire_name("Host.Example.") + std::string(20, 'A');
  canonicalize_rdata(rrtype::SOA, soa);
  EXPECT_EQ(soa, wire_name("ns.example.") + wire_name("host.example.") + std::string(20, 'A'));
  std::string mx = "AB" + wire_name("MX.Example.");
  canonicalize_rdata(rrtype::MX, mx);
  EXPECT_EQ(mx, "AB" + wire_name("mx.example."));
  std::string srv = "ABCDEF" + wire_name("Target.");
  canonicalize_rdata(rrtype::SRV, srv);
  EXPECT_EQ(srv, "ABCDEF" + wire_name("target."));
  std::string txt = "\x05" "UPPER";
  canonicalize_rdata(rrtype::TXT, txt);
  EXPECT_EQ(txt, "\x05" "UPPER");
  std::string broken = "\x09" "AB";
  canonicalize_rdata(rrtype::NS, broken);
  EXPECT_EQ(broken, "\x09" "AB");
}

TEST(SoaSerialTest, ReadAndWriteInPlace) {
  std::string soa = wire_name("ns.") + wire_name("h.") + u32_bytes(2024010101) + std::string(16, '\0');
  EXPECT_EQ(soa_serial(soa), 2024010101u);
  set_soa_serial(soa, 0xFFFFFFFF);
  EXPECT_EQ(soa_serial(soa), 0xFFFFFFFFu);
  EXPECT_EQ(soa.substr(0, 7), wire_name("ns.") + wire_name("h."));
  std::string short_data(19, 'x');
  set_soa_serial(short_data, 5);
  EXPECT_EQ(short_data, std::string(19, 'x'));
  EXPECT_EQ(soa_serial(short_data), 0u);
}

TEST(SerialNewerTest, Rfc1982Arithmetic) {
  EXPECT_TRUE(serial_newer(2, 1));
  EXPECT_FALSE(serial_newer(1, 2));
  EXPECT_FALSE(serial_newer(7, 7));
  EXPECT_TRUE(serial_newer(0, 0xFFFFFFFF));  // wraps around
  EXPECT_TRUE(serial_newer(5, 0xFFFFFFF0));
  EXPECT_TRUE(serial_newer(0x7FFFFFFF, 0));
  // Exactly 2^31 apart the order is undefined: neither counts as newer.
  EXPECT_FALSE(serial_newer(0x80000000, 0));
  EXPECT_FALSE(serial_newer(0, 0x80000000));
}

}  // namespace
}  // namespace epmdns::wire
