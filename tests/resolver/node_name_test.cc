#include "resolver/node_name.h"

#include <gtest/gtest.h>

namespace epmdns::resolver {
namespace {

wire::Name domain() { return *domain_name("erl.internal"); }

std::string text(const std::optional<wire::Name>& name) { return name ? name->to_text() : "<none>"; }

TEST(NodeName, ShortHostGetsTheDomain) {
  EXPECT_EQ(text(instance_name("app1@host1", domain())), "app1._erlang-dist._tcp.host1.erl.internal.");
}

TEST(NodeName, DottedHostIsAbsolute) {
  EXPECT_EQ(text(instance_name("app1@host1.other.test", domain())), "app1._erlang-dist._tcp.host1.other.test.");
  EXPECT_EQ(text(instance_name("app1@host1.other.test.", domain())), "app1._erlang-dist._tcp.host1.other.test.");
}

TEST(NodeName, LowerCased) {
  EXPECT_EQ(text(instance_name("App1@HOST1", domain())), "app1._erlang-dist._tcp.host1.erl.internal.");
}

TEST(NodeName, BadNames) {
  for (const char* bad : {"app1", "@host1", "app1@", "a.b@host1", "app1@host1..x", "app1@.",
                          "app1@.host", "x y@host1", "app+1@host1", "app1@host 1"}) {
    EXPECT_FALSE(instance_name(bad, domain())) << bad;
  }
  EXPECT_FALSE(instance_name(std::string(64, 'a') + "@h", domain()));
  EXPECT_TRUE(instance_name(std::string(63, 'a') + "@h", domain()));
  std::string long_host;
  for (int i = 0; i < 60; ++i) long_host += "abcd.";
  EXPECT_FALSE(instance_name("a@" + long_host, domain()));
}

TEST(NodeName, BrowseNames) {
  EXPECT_EQ(text(browse_name("host1", domain())), "_erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(text(browse_name("erl.internal.", domain())), "_erlang-dist._tcp.erl.internal.");
}

TEST(NodeName, SplitInstance) {
  auto parts = split_instance(*instance_name("app1@host1", domain()));
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->name, "app1");
  EXPECT_EQ(parts->host, "host1.erl.internal");
  EXPECT_FALSE(split_instance(*host_name("a.b.c.d", domain())));
}

}  // namespace
}  // namespace epmdns::resolver
