#include "zone/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "testing/dns_testing.h"
#include "zone/loader.h"

namespace epmdns::zone {
namespace {

using ::epmdns::testing::wire_name;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string zone_text(const std::string& apex) {
  const std::string below = apex == "." ? "" : apex;  // "ns." + "." would not be a name
  return apex + " IN SOA ns." + below + " h." + below + " 1 2 3 4 5\n" + apex + " IN NS ns." + below + "\n";
}

std::unique_ptr<Zone> zone_at(const std::string& apex) { return testing::must_load_zone(zone_text(apex), apex); }

wire::Name lower_name(const char* text) {
  wire::Name name;
  EXPECT_TRUE(name.assign_text(text));
  name.to_lower();
  return name;
}

std::string apex_of(const Zone* zone) { return zone ? wire::wire_to_text(zone->apex()) : "<none>"; }

TEST(CatalogTest, RejectsASecondZoneWithTheSameApex) {
  Catalog catalog;
  EXPECT_TRUE(catalog.add(zone_at("example.com.")));
  EXPECT_FALSE(catalog.add(zone_at("example.com.")));
  EXPECT_TRUE(catalog.add(zone_at("example.org.")));
  EXPECT_EQ(catalog.size(), 2u);
  EXPECT_EQ(catalog.zones().size(), 2u);
}

TEST(CatalogTest, FindsTheLongestEnclosingApex) {
  Catalog catalog;
  catalog.add(zone_at("example.com."));
  catalog.add(zone_at("sub.example.com."));
  catalog.add(zone_at("org."));
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("example.com."))), "example.com.");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("www.example.com."))), "example.com.");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("sub.example.com."))), "sub.example.com.");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("a.b.sub.example.com."))), "sub.example.com.");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("xsub.example.com."))), "example.com.");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("example.org."))), "org.");
  EXPECT_EQ(catalog.find_zone(lower_name("com.")), nullptr);
  EXPECT_EQ(catalog.find_zone(lower_name("xample.com.")), nullptr);
  EXPECT_EQ(catalog.find_zone(lower_name(".")), nullptr);
  EXPECT_EQ(catalog.find_zone(lower_name("example.net.")), nullptr);
}

TEST(CatalogTest, RootZoneCoversEverything) {
  Catalog catalog;
  catalog.add(zone_at("."));
  catalog.add(zone_at("example.com."));
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("."))), ".");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("anything.net."))), ".");
  EXPECT_EQ(apex_of(catalog.find_zone(lower_name("www.example.com."))), "example.com.");
}

TEST(LoadCatalogTest, LoadsEveryZoneFileInADirectory) {
  const testing::TempDir dir;
  dir.write("example.com.zone", zone_text("example.com."));
  dir.write("b.example.com.zone", zone_text("b.example.com."));
  dir.write("README", "not a zone");
  dir.write("example.org.zone.bak", "not a zone either");
  auto catalog = load_catalog(dir.path());
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->size(), 2u);
  EXPECT_EQ(apex_of(catalog->find_zone(lower_name("x.b.example.com."))), "b.example.com.");
}

TEST(LoadCatalogTest, LoadsASingleFile) {
  const testing::TempDir dir;
  const std::string path = dir.write("example.com.zone", zone_text("example.com."));
  auto catalog = load_catalog(path);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->size(), 1u);
}

TEST(LoadCatalogTest, DuplicateApexAcrossFiles) {
  const testing::TempDir dir;
  dir.write("a.zone", zone_text("example.com."));
  dir.write("b.zone", zone_text("example.com."));
  auto catalog = load_catalog(dir.path());
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(std::string(catalog.status().message()), StartsWith(dir.path() + "/b.zone: "));
  EXPECT_THAT(std::string(catalog.status().message()),
              HasSubstr("zone example.com. is already loaded from another file"));
}

TEST(LoadCatalogTest, FirstBadFileStopsLoading) {
  const testing::TempDir dir;
  dir.write("good.zone", zone_text("good."));
  dir.write("bad.zone", zone_text("bad.") + "www IN A 1.2.3\n");
  auto catalog = load_catalog(dir.path());
  ASSERT_FALSE(catalog.ok());
  EXPECT_THAT(std::string(catalog.status().message()), StartsWith(dir.path() + "/bad.zone:3: "));
}

TEST(LoadCatalogTest, EmptyDirectoryAndMissingPath) {
  const testing::TempDir dir;
  auto empty = load_catalog(dir.path());
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("no *.zone files"));
  auto missing = load_catalog(dir.path() + "/nothing-here");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), StartsWith(dir.path() + "/nothing-here: "));
}

}  // namespace
}  // namespace epmdns::zone
