#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace epmdns {
namespace {

// RFC 3720 appendix B.4 test vectors.
TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, FastPathMatchesTableForEveryLengthAndSplit) {
  std::string data;
  for (int i = 0; i < 100; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  for (size_t n = 0; n <= data.size(); ++n) {
    const std::string_view part(data.data(), n);
    ASSERT_EQ(crc32c(part), crc32c_portable(part)) << n;
    // Continuing a checksum over a split gives the checksum of the whole.
    ASSERT_EQ(crc32c(part.substr(n / 3), crc32c(part.substr(0, n / 3))), crc32c(part)) << n;
  }
}

}  // namespace
}  // namespace epmdns
