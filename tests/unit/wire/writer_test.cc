#include "wire/writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/dns_testing.h"
#include "wire/name.h"
#include "wire/reader.h"

namespace epmdns::wire {
namespace {

using ::epmdns::testing::wire_name;

std::string written(const Writer& writer, size_t from = 0) {
  const auto data = writer.data();
  return std::string(reinterpret_cast<const char*>(data.data()) + from, data.size() - from);
}

// Decompresses the name at `offset` of what the writer holds.
std::string read_back(const Writer& writer, size_t offset) {
  Reader reader(writer.data());
  Name name;
  if (!reader.seek(offset) || !read_name(reader, name)) return "<unreadable>";
  return name.to_text();
}

// Every compression pointer in the wire name at `offset`, as target offsets.
std::vector<size_t> pointers_in(const Writer& writer, size_t offset) {
  std::vector<size_t> out;
  const auto data = writer.data();
  size_t pos = offset;
  while (pos < data.size() && data[pos] != 0) {
    if ((data[pos] & 0xC0) == 0xC0) {
      out.push_back(static_cast<size_t>(data[pos] & 0x3F) << 8 | data[pos + 1]);
      break;
    }
    pos += 1 + data[pos];
  }
  return out;
}

// A writer that has written a zeroed 12-byte header.
struct Fixture {
  std::vector<uint8_t> buffer = std::vector<uint8_t>(kMaxMessageSize);
  Writer writer{buffer};
  Fixture() {
    for (int i = 0; i < 6; ++i) writer.put_u16(0);
  }
};

TEST(WriterTest, IntegersAreBigEndian) {
  uint8_t buffer[7];
  Writer writer(buffer);
  ASSERT_TRUE(writer.put_u8(0x01));
  ASSERT_TRUE(writer.put_u16(0x0203));
  ASSERT_TRUE(writer.put_u32(0x04050607));
  EXPECT_EQ(written(writer), std::string("\x01\x02\x03\x04\x05\x06\x07", 7));
  writer.patch_u16(1, 0xA0B0);
  EXPECT_EQ(written(writer), std::string("\x01\xA0\xB0\x04\x05\x06\x07", 7));
}

TEST(WriterTest, WritesStopAtTheBufferEnd) {
  uint8_t buffer[10];
  Writer writer(buffer);
  EXPECT_EQ(writer.limit(), 10u);
  EXPECT_TRUE(writer.put_u32(1));
  EXPECT_TRUE(writer.put_u32(2));
  EXPECT_FALSE(writer.put_u32(3));
  EXPECT_EQ(writer.size(), 8u);
  EXPECT_FALSE(writer.put_bytes("abc"));
  EXPECT_EQ(writer.size(), 8u);
  EXPECT_TRUE(writer.put_u16(3));
  EXPECT_FALSE(writer.put_u8(4));
  EXPECT_FALSE(writer.put_u16(4));
  EXPECT_TRUE(writer.put_bytes(""));
  EXPECT_EQ(writer.size(), 10u);
}

TEST(WriterTest, LimitCapsWrites) {
  uint8_t buffer[32];
  Writer writer(buffer);
  writer.set_limit(100);
  EXPECT_EQ(writer.limit(), 32u);  // never beyond the buffer
  writer.set_limit(6);
  EXPECT_TRUE(writer.put_u32(1));
  EXPECT_FALSE(writer.put_u32(2));
  EXPECT_TRUE(writer.put_u16(2));
  EXPECT_FALSE(writer.put_u8(3));
  writer.set_limit(7);
  EXPECT_TRUE(writer.put_u8(3));
  EXPECT_EQ(writer.size(), 7u);
}

TEST(WriterTest, LimitBelowTheCurrentSizeStopsWrites) {
  uint8_t buffer[16];
  Writer writer(buffer);
  ASSERT_TRUE(writer.put_u32(1));
  ASSERT_TRUE(writer.put_u32(2));
  writer.set_limit(4);  // below what is already written
  EXPECT_FALSE(writer.put_u8(3));
  EXPECT_FALSE(writer.put_u16(3));
  EXPECT_FALSE(writer.put_u32(3));
  EXPECT_FALSE(writer.put_bytes("x"));
  EXPECT_EQ(writer.size(), 8u);
}

TEST(WriterTest, NameThatDoesNotFitLeavesNoTrace) {
  uint8_t buffer[20];
  Writer writer(buffer);
  ASSERT_TRUE(writer.put_name(wire_name("example.com.")));  // 13 bytes
  EXPECT_FALSE(writer.put_name(wire_name("other.org.")));   // 11 more: too many
  EXPECT_EQ(writer.size(), 13u);
  EXPECT_FALSE(writer.put_name(wire_name("abcdef.example.com.")));  // 7 + pointer 2: too many
  EXPECT_EQ(writer.size(), 13u);
  EXPECT_TRUE(writer.put_name(wire_name("abcd.example.com.")));  // 5 + 2 = 20: fits exactly
  EXPECT_EQ(writer.size(), 20u);
  EXPECT_EQ(read_back(writer, 13), "abcd.example.com.");
}

TEST(WriterTest, RejectsImpossibleNames) {
  uint8_t buffer[512];
  Writer writer(buffer);
  EXPECT_FALSE(writer.put_name(""));
  EXPECT_FALSE(writer.put_name(std::string(256, '\x01')));
  EXPECT_EQ(writer.size(), 0u);
}

TEST(WriterCompressionTest, SecondOccurrenceBecomesAPointer) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));  // at 12
  const size_t second = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  EXPECT_EQ(written(f.writer, second), std::string("\xC0\x0C", 2));
}

TEST(WriterCompressionTest, SharedSuffixBecomesAPointer) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));  // example at 16, com at 24
  const size_t mail = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("mail.example.com.")));
  EXPECT_EQ(written(f.writer, mail), std::string("\x04" "mail\xC0\x10", 7));
  const size_t org = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("xample.com.")));  // a byte suffix of "example": only "com" matches
  EXPECT_EQ(written(f.writer, org), std::string("\x06" "xample\xC0\x18", 9));
  EXPECT_EQ(read_back(f.writer, org), "xample.com.");
  // A name written with a pointer is itself a target for later names.
  const size_t deeper = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("a.mail.example.com.")));
  EXPECT_EQ(written(f.writer, deeper), std::string("\x01" "a\xC0", 3) + static_cast<char>(mail));
}

TEST(WriterCompressionTest, MatchesIgnoreCaseAndKeepTheFirstSpelling) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("WWW.Example.COM.")));
  const size_t second = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  EXPECT_EQ(written(f.writer, second), std::string("\xC0\x0C", 2));
  EXPECT_EQ(read_back(f.writer, second), "WWW.Example.COM.");
  const size_t third = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("Mail.EXAMPLE.com.")));
  EXPECT_EQ(written(f.writer, third), std::string("\x04" "Mail\xC0\x10", 7));  // own labels keep their case
}

TEST(WriterCompressionTest, UncompressedNamesAreStillRemembered) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("example.com.")));
  const size_t literal = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("host.example.com."), false));
  EXPECT_EQ(written(f.writer, literal), wire_name("host.example.com."));
  const size_t later = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("host.example.com.")));
  EXPECT_EQ(written(f.writer, later), std::string("\xC0", 1) + static_cast<char>(literal));
}

TEST(WriterCompressionTest, RootIsNeverAPointer) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name(".")));
  ASSERT_TRUE(f.writer.put_name(wire_name("com.")));
  const size_t root = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name(".")));
  EXPECT_EQ(written(f.writer, root), std::string(1, '\0'));
}

TEST(WriterCompressionTest, NoPointerTargetBeyond0x3FFF) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_bytes(std::string(0x3FF0 - 12, 'x')));
  // At 0x3FF0: the first label is addressable, "example.com." (at 0x3FFC) is too, "com." (0x4004) is not.
  ASSERT_TRUE(f.writer.put_name(wire_name("longlabel01.example.com.")));
  ASSERT_TRUE(f.writer.put_bytes(std::string(64, 'y')));
  const size_t far = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("far.away.org.")));  // entirely beyond 0x3FFF
  struct Case {
    const char* name;
    std::vector<size_t> pointers;
  } cases[] = {
      {"longlabel01.example.com.", {0x3FF0}},
      {"other.example.com.", {0x3FFC}},
      {"other.com.", {}},
      {"far.away.org.", {}},
      {"away.org.", {}},
  };
  for (const Case& c : cases) {
    const size_t at = f.writer.size();
    ASSERT_TRUE(f.writer.put_name(wire_name(c.name)));
    EXPECT_EQ(pointers_in(f.writer, at), c.pointers) << c.name;
    EXPECT_EQ(read_back(f.writer, at), c.name);
  }
  EXPECT_EQ(read_back(f.writer, far), "far.away.org.");
}

TEST(WriterRollbackTest, ForgetsNamesWrittenAfterTheMark) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  const size_t mark = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("other.org.")));
  ASSERT_TRUE(f.writer.put_name(wire_name("b.example.com.")));
  f.writer.rollback(mark);
  EXPECT_EQ(f.writer.size(), mark);
  // Overwrite the forgotten bytes, then write the same names again.
  ASSERT_TRUE(f.writer.put_bytes(std::string(32, '\x3F')));
  const size_t other = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("other.org.")));
  EXPECT_EQ(written(f.writer, other), wire_name("other.org."));
  const size_t b = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("b.example.com.")));
  EXPECT_EQ(written(f.writer, b), std::string("\x01" "b\xC0\x10", 4));  // only the name before the mark
  EXPECT_EQ(read_back(f.writer, b), "b.example.com.");
}

TEST(WriterRollbackTest, ToTheStartForgetsEverything) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  f.writer.rollback(12);
  ASSERT_TRUE(f.writer.put_bytes("\x01x"));
  const size_t again = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  EXPECT_EQ(written(f.writer, again), wire_name("www.example.com."));
}

TEST(WriterRollbackTest, PastTheEndIsANoOp) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  const size_t size = f.writer.size();
  f.writer.rollback(size);
  f.writer.rollback(size + 100);
  EXPECT_EQ(f.writer.size(), size);
  ASSERT_TRUE(f.writer.put_name(wire_name("www.example.com.")));
  EXPECT_EQ(written(f.writer, size), std::string("\xC0\x0C", 2));
}

TEST(WriterRollbackTest, RepeatedWriteAndRollback) {
  Fixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("example.com.")));
  const size_t mark = f.writer.size();
  for (int round = 0; round < 500; ++round) {
    ASSERT_TRUE(f.writer.put_name(wire_name("r" + std::to_string(round) + ".example.com.")));
    ASSERT_TRUE(f.writer.put_name(wire_name("x" + std::to_string(round) + ".test.")));
    f.writer.rollback(mark);
  }
  // Still compressing after many rollbacks: nothing leaked from the discarded names.
  ASSERT_TRUE(f.writer.put_name(wire_name("x7.test.")));
  EXPECT_EQ(written(f.writer, mark), wire_name("x7.test."));
  const size_t last = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("last.example.com.")));
  EXPECT_EQ(written(f.writer, last), std::string("\x04" "last\xC0\x0C", 7));
}

TEST(WriterCompressionTest, ManyDistinctNamesStayCorrect) {
  Fixture f;
  std::vector<std::pair<size_t, std::string>> names;
  for (int i = 0; i < 300; ++i) {
    const std::string name =
        "host-" + std::to_string(i) + std::string(40, 'p') + ".zone" + std::to_string(i % 7) + ".test.";
    names.emplace_back(f.writer.size(), name);
    ASSERT_TRUE(f.writer.put_name(wire_name(name)));
  }
  for (const auto& [offset, name] : names) EXPECT_EQ(read_back(f.writer, offset), name);
}

// --- CompressionIndex: the hashed table zone transfers use

struct IndexedFixture {
  std::vector<uint8_t> buffer = std::vector<uint8_t>(kMaxMessageSize);
  CompressionIndex index;
  Writer writer{buffer, &index};
  IndexedFixture() {
    for (int i = 0; i < 6; ++i) writer.put_u16(0);
  }
};

TEST(CompressionIndexTest, WritesWhatTheSmallTableWrites) {
  Fixture plain;
  IndexedFixture indexed;
  const char* names[] = {"www.example.com.", "WWW.Example.COM.", "mail.example.com.", "example.com.",
                         "a.b.c.example.org.", "c.example.org.", "x.c.EXAMPLE.org.", "."};
  for (int round = 0; round < 3; ++round) {
    const size_t mark = plain.writer.size();
    for (const char* name : names) {
      ASSERT_TRUE(plain.writer.put_name(wire_name(name)));
      ASSERT_TRUE(indexed.writer.put_name(wire_name(name)));
    }
    if (round == 1) {
      plain.writer.rollback(mark);
      indexed.writer.rollback(mark);
    }
    ASSERT_EQ(written(plain.writer), written(indexed.writer)) << "round " << round;
  }
}

// 400 names, some 11 KB: all below 0x4000, where pointers can reach.
TEST(CompressionIndexTest, RemembersFarMoreNamesThanTheSmallTable) {
  IndexedFixture f;
  std::vector<std::string> names;
  for (int i = 0; i < 400; ++i) names.push_back("n" + std::to_string(i) + "._erlang-dist._tcp.h" + std::to_string(i) + ".erl.internal.");
  for (const std::string& name : names) ASSERT_TRUE(f.writer.put_name(wire_name(name)));
  for (const std::string& name : names) {
    const size_t at = f.writer.size();
    ASSERT_TRUE(f.writer.put_name(wire_name(name)));
    EXPECT_EQ(f.writer.size() - at, 2u) << name;  // one pointer
    EXPECT_EQ(read_back(f.writer, at), name);
  }
}

TEST(CompressionIndexTest, ManyRollbacksNeitherCorruptNorHang) {
  IndexedFixture f;
  ASSERT_TRUE(f.writer.put_name(wire_name("example.com.")));
  const size_t mark = f.writer.size();
  for (int round = 0; round < 20000; ++round) {  // more adds than the table has slots
    ASSERT_TRUE(f.writer.put_name(wire_name("r" + std::to_string(round) + ".example.com.")));
    f.writer.rollback(mark);
  }
  ASSERT_TRUE(f.writer.put_bytes(std::string(8, '\x3F')));
  const size_t at = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("r5.example.com.")));
  EXPECT_EQ(read_back(f.writer, at), "r5.example.com.");
  f.index.clear();  // a new message: full use again
  const size_t again = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("new.test.")));
  const size_t repeat = f.writer.size();
  ASSERT_TRUE(f.writer.put_name(wire_name("new.test.")));
  EXPECT_EQ(written(f.writer, repeat), std::string("\xC0", 1) + static_cast<char>(again));
}

}  // namespace
}  // namespace epmdns::wire
