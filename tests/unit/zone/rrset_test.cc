#include "zone/rrset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace epmdns::zone {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> records(const RRset& set) {
  std::vector<std::string> out;
  for (std::string_view data : set) out.emplace_back(data);
  return out;
}

TEST(RRsetTest, StartsEmpty) {
  const RRset set(16, 300);
  EXPECT_EQ(set.type, 16);
  EXPECT_EQ(set.ttl, 300u);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.begin() != set.end());
  EXPECT_FALSE(set.has_leases());
}

TEST(RRsetTest, InsertKeepsOrderAndDropsDuplicates) {
  RRset set;
  EXPECT_TRUE(set.insert("abc"));
  EXPECT_TRUE(set.insert("abd"));
  EXPECT_FALSE(set.insert("abc"));
  EXPECT_TRUE(set.insert("ab"));
  EXPECT_TRUE(set.insert(""));
  EXPECT_FALSE(set.insert(""));
  EXPECT_EQ(set.size(), 4u);
  EXPECT_THAT(records(set), ElementsAre("abc", "abd", "ab", ""));
  EXPECT_EQ(set[1], "abd");
  EXPECT_TRUE(set.contains("ab"));
  EXPECT_FALSE(set.contains("a"));
}

TEST(RRsetTest, BinaryAndLongData) {
  RRset set;
  const std::string binary("\x00\x01\x00", 3);
  const std::string longest(65535, 'y');
  set.insert(binary);
  set.insert(longest);
  EXPECT_THAT(records(set), ElementsAre(binary, longest));
  EXPECT_TRUE(set.contains(std::string("\x00\x01\x00", 3)));
  EXPECT_FALSE(set.contains(std::string("\x00\x01", 2)));
}

TEST(RRsetTest, EraseKeepsTheOrderOfASmallSet) {
  RRset set;
  for (const char* data : {"a", "b", "c", "d"}) set.insert(data);
  EXPECT_TRUE(set.erase("b"));
  EXPECT_FALSE(set.erase("b"));
  EXPECT_THAT(records(set), ElementsAre("a", "c", "d"));
  EXPECT_TRUE(set.erase("c"));
  EXPECT_THAT(records(set), ElementsAre("a", "d"));
  EXPECT_TRUE(set.erase("a"));
  EXPECT_TRUE(set.erase("d"));
  EXPECT_TRUE(set.empty());
  EXPECT_TRUE(set.insert("a"));
}

TEST(RRsetTest, LeasesAreTrackedPerRecord) {
  RRset set;
  set.insert("static");
  EXPECT_FALSE(set.has_leases());
  EXPECT_EQ(set.expiry(0), RRset::kNoLease);
  set.insert("leased", 1000);
  EXPECT_TRUE(set.has_leases());
  EXPECT_EQ(set.expiry(0), RRset::kNoLease);
  EXPECT_EQ(set.expiry(1), 1000u);
  // Re-inserting renews the lease; the record is not new.
  EXPECT_FALSE(set.insert("leased", 2000));
  EXPECT_EQ(set.expiry(1), 2000u);
  set.insert("later");
  EXPECT_EQ(set.expiry(2), RRset::kNoLease);
  // Erasing keeps each lease with its record.
  set.erase("static");
  EXPECT_THAT(records(set), ElementsAre("leased", "later"));
  EXPECT_EQ(set.expiry(0), 2000u);
  EXPECT_EQ(set.expiry(1), RRset::kNoLease);
  // A lease can be dropped by inserting again without one.
  set.insert("leased");
  EXPECT_EQ(set.expiry(0), RRset::kNoLease);
}

TEST(RRsetTest, LargeSetsKeepLeasesThroughGrowthAndErasure) {
  RRset set;
  for (uint32_t i = 0; i < 40; ++i) set.insert("r" + std::to_string(i), i % 2 ? 1000 + i : RRset::kNoLease);
  ASSERT_EQ(set.size(), 40u);
  EXPECT_TRUE(set.has_leases());
  for (uint32_t i = 0; i < 40; i += 3) EXPECT_TRUE(set.erase("r" + std::to_string(i)));
  EXPECT_FALSE(set.erase("r0"));
  size_t seen = 0;
  for (size_t i = 0; i < set.size(); ++i) {
    const std::string data(set[i]);
    const uint32_t n = static_cast<uint32_t>(std::stoul(data.substr(1)));
    EXPECT_NE(n % 3, 0u) << data;
    EXPECT_EQ(set.expiry(i), n % 2 ? 1000 + n : RRset::kNoLease) << data;
    EXPECT_EQ(set.find(data), i);
    ++seen;
  }
  EXPECT_EQ(seen, 40u - 14u);
  EXPECT_EQ(records(set).size(), seen);  // iteration agrees with indexing
  EXPECT_FALSE(set.insert("r1", 5));     // renewal, not new
  EXPECT_EQ(set.expiry(set.find("r1")), 5u);
  set.replace_all("only");
  EXPECT_THAT(records(set), ElementsAre("only"));
  EXPECT_FALSE(set.has_leases());
}

TEST(RRsetTest, ReplaceAllLeavesOneRecordWithoutLease) {
  RRset set;
  set.insert("a", 5);
  set.insert("b", 6);
  set.replace_all("soa");
  EXPECT_THAT(records(set), ElementsAre("soa"));
  EXPECT_FALSE(set.has_leases());
  EXPECT_TRUE(set.contains("soa"));
  EXPECT_FALSE(set.contains("a"));
}

// Past 16 records the set keeps a hash index; it must agree with the records through
// inserts, duplicate inserts, erases and a replace_all.
TEST(RRsetTest, LargeSetsStayConsistent) {
  RRset set;
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    const std::string data = "record-" + std::to_string(i);
    EXPECT_TRUE(set.insert(data, i % 3 == 0 ? 100u + i : RRset::kNoLease));
    expected.push_back(data);
  }
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(set.insert("record-" + std::to_string(i), 100u + i));
  EXPECT_EQ(set.size(), 100u);
  for (int i = 0; i < 100; i += 2) {
    ASSERT_TRUE(set.erase("record-" + std::to_string(i)));
    expected.erase(std::find(expected.begin(), expected.end(), "record-" + std::to_string(i)));
  }
  EXPECT_THAT(records(set), UnorderedElementsAreArray(expected));
  for (size_t i = 0; i < set.size(); ++i) {
    const std::string data(set[i]);
    EXPECT_TRUE(set.contains(data));
    EXPECT_EQ(set.expiry(i), 100u + std::stoul(data.substr(7))) << data;
  }
  for (int i = 0; i < 100; i += 2) EXPECT_FALSE(set.contains("record-" + std::to_string(i)));
  // Shrinking below the threshold and growing again.
  for (const std::string& data : expected) ASSERT_TRUE(set.erase(data));
  EXPECT_TRUE(set.empty());
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(set.insert("again-" + std::to_string(i)));
  EXPECT_TRUE(set.contains("again-39"));
  set.replace_all("only");
  EXPECT_TRUE(set.contains("only"));
  EXPECT_FALSE(set.contains("again-39"));
  EXPECT_TRUE(set.insert("again-39"));
  EXPECT_EQ(set.size(), 2u);
}

}  // namespace
}  // namespace epmdns::zone
