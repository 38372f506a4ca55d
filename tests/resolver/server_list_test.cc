#include "resolver/server_list.h"

#include <gtest/gtest.h>

namespace epmdns::resolver {
namespace {

TEST(ServerList, HostAndPort) {
  auto list = parse_server_list("127.0.0.1:8053");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_FALSE((*list)[0].ipv6);
  EXPECT_EQ((*list)[0].port, 8053);
  EXPECT_EQ((*list)[0].to_string(), "127.0.0.1:8053");
}

TEST(ServerList, BareAddressesUsePort53) {
  auto list = parse_server_list("10.0.0.1 ::1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].to_string(), "10.0.0.1:53");
  EXPECT_EQ((*list)[1].to_string(), "[::1]:53");
}

TEST(ServerList, BracketedIpv6) {
  auto list = parse_server_list("[::1]:5353,[fe80::1]");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].ipv6);
  EXPECT_EQ((*list)[0].port, 5353);
  EXPECT_EQ((*list)[0].address[15], 1);
  EXPECT_EQ((*list)[1].port, 53);
}

TEST(ServerList, SeveralKeepTheirOrder) {
  auto list = parse_server_list("127.0.0.1:1, 127.0.0.2:2,[::1]:3");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].to_string(), "127.0.0.1:1");
  EXPECT_EQ((*list)[1].to_string(), "127.0.0.2:2");
  EXPECT_EQ((*list)[2].to_string(), "[::1]:3");
}

TEST(ServerList, EmptyMeansResolvConf) {
  auto list = parse_server_list("  ");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST(ServerList, RejectsMalformed) {
  for (const char* bad : {"localhost:53", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
                          "[::1", "[::1]x", "[127.0.0.1]:53", "1.2.3:53", "127.0.0.1:53:1", "[::1]:"}) {
    EXPECT_FALSE(parse_server_list(bad)) << bad;
  }
}

}  // namespace
}  // namespace epmdns::resolver
