#include "update/journal.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "update_testing.h"

namespace epmdns::update {
namespace {

using namespace epmdns::testing;
namespace rrtype = wire::rrtype;

Change add_a(std::string_view owner, uint8_t last_octet, uint32_t expiry = 0) {
  return {Change::Op::kAdd, wire_name(owner), rrtype::A, 60, expiry, a_rdata(10, 0, 0, last_octet)};
}

struct Replayed {
  std::vector<std::pair<std::string, ChangeSet>> entries;
  ReplayFn fn() {
    return [this](std::string_view apex, const ChangeSet& changes) { entries.emplace_back(apex, changes); };
  }
};

const std::string kApex = wire_name("erl.internal.");

std::vector<std::filesystem::path> files_in(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) out.push_back(entry.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(JournalTest, EntriesRoundTrip) {
  std::string bytes;
  encode_entry(kApex, {add_a("a.erl.internal.", 1, 77)}, bytes);
  std::string apex;
  ChangeSet changes;
  ASSERT_EQ(decode_entry(bytes, apex, changes), bytes.size());
  EXPECT_EQ(apex, kApex);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].expiry, 77u);
  EXPECT_EQ(changes[0].rdata, a_rdata(10, 0, 0, 1));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(decode_entry(std::string_view(bytes).substr(0, cut), apex, changes), 0u) << cut;
  }
  bytes[bytes.size() - 1] ^= 1;
  EXPECT_EQ(decode_entry(bytes, apex, changes), 0u) << "the CRC catches a flipped bit";
}

TEST(JournalTest, SyncedEntriesAreReplayedOnOpen) {
  TempDir dir;
  {
    Replayed none;
    auto journal = Journal::open(dir.path() + "/state", none.fn());
    ASSERT_TRUE(journal.ok()) << journal.status();
    ASSERT_TRUE(journal->append(kApex, {add_a("a.erl.internal.", 1)}).ok());
    ASSERT_TRUE(journal->append(kApex, {add_a("b.erl.internal.", 2)}).ok());
    ASSERT_TRUE(journal->sync().ok());
    // Written, never synced: the kernel has it, so it survives the server (not the machine).
    ASSERT_TRUE(journal->append(kApex, {add_a("c.erl.internal.", 3)}).ok());
  }
  Replayed replayed;
  auto journal = Journal::open(dir.path() + "/state", replayed.fn());
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_EQ(replayed.entries.size(), 3u);
  EXPECT_EQ(replayed.entries[1].second[0].owner, wire_name("b.erl.internal."));
}

TEST(JournalTest, ATornTailIsCutAndLaterEntriesStayReadable) {
  TempDir dir;
  const std::string state = dir.path() + "/state";
  {
    Replayed none;
    auto journal = Journal::open(state, none.fn());
    ASSERT_TRUE(journal->append(kApex, {add_a("a.erl.internal.", 1)}).ok());
    ASSERT_TRUE(journal->sync().ok());
  }
  const std::string file = state + "/" + files_in(state).at(0).string();
  std::string partial;
  encode_entry(kApex, {add_a("torn.erl.internal.", 9)}, partial);
  {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << partial.substr(0, partial.size() / 2);
  }
  {
    Replayed replayed;
    auto journal = Journal::open(state, replayed.fn());
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_EQ(replayed.entries.size(), 1u);
    ASSERT_TRUE(journal->append(kApex, {add_a("b.erl.internal.", 2)}).ok());
    ASSERT_TRUE(journal->sync().ok());
  }
  Replayed replayed;
  ASSERT_TRUE(Journal::open(state, replayed.fn()).ok());
  EXPECT_EQ(replayed.entries.size(), 2u);
}

TEST(JournalTest, PreparedZerosAreFreeSpaceAndAFinishedFileIsCut) {
  TempDir dir;
  const std::string state = dir.path() + "/state";
  std::string one;
  encode_entry(kApex, {add_a("a.erl.internal.", 1)}, one);
  std::string file;
  {
    Replayed none;
    auto journal = Journal::open(state, none.fn());
    ASSERT_TRUE(journal->append(kApex, {add_a("a.erl.internal.", 1)}).ok());
    ASSERT_TRUE(journal->sync().ok());
    file = state + "/" + files_in(state).at(0).string();
    EXPECT_GE(std::filesystem::file_size(file), kPreallocation) << "zero-filled ahead";
    EXPECT_EQ(journal->size(), one.size());
  }
  {
    // A crash in the middle of the next entry: part of it over the zeros.
    std::string partial;
    encode_entry(kApex, {add_a("torn.erl.internal.", 9)}, partial);
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(static_cast<std::streamoff>(one.size()));
    out << partial.substr(0, partial.size() / 2);
  }
  {
    Replayed replayed;
    auto journal = Journal::open(state, replayed.fn());
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_EQ(replayed.entries.size(), 1u);
    EXPECT_EQ(journal->size(), one.size());
    ASSERT_TRUE(journal->append(kApex, {add_a("b.erl.internal.", 2)}).ok());
    ASSERT_TRUE(journal->sync().ok());
  }
  {
    Replayed replayed;
    auto journal = Journal::open(state, replayed.fn());  // zeros after two entries: no damage
    ASSERT_TRUE(journal.ok()) << journal.status();
    ASSERT_EQ(replayed.entries.size(), 2u);
    EXPECT_EQ(replayed.entries[1].second[0].owner, wire_name("b.erl.internal."));
    const uint64_t entries = journal->size();
    ASSERT_TRUE(journal->rotate().ok());
    EXPECT_EQ(std::filesystem::file_size(file), entries) << "a finished file holds its entries only";
  }
  Replayed replayed;
  ASSERT_TRUE(Journal::open(state, replayed.fn()).ok());
  EXPECT_EQ(replayed.entries.size(), 2u);
}

TEST(JournalTest, DamageBeforeIntactEntriesRefusesToStart) {
  TempDir dir;
  const std::string state = dir.path() + "/state";
  {
    Replayed none;
    auto journal = Journal::open(state, none.fn());
    ASSERT_TRUE(journal->append(kApex, {add_a("a.erl.internal.", 1)}).ok());
    ASSERT_TRUE(journal->append(kApex, {add_a("b.erl.internal.", 2)}).ok());
    ASSERT_TRUE(journal->sync().ok());
  }
  const std::string file = state + "/" + files_in(state).at(0).string();
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(20);
    io.put('\x7f');
  }
  Replayed replayed;
  auto journal = Journal::open(state, replayed.fn());
  ASSERT_FALSE(journal.ok());
  EXPECT_NE(std::string(journal.status().message()).find("refusing"), std::string::npos) << journal.status();
}

TEST(JournalTest, CompactionKeepsTheLastChangeOfEachRecord) {
  TempDir dir;
  const std::string state = dir.path() + "/state";
  Replayed none;
  auto journal = Journal::open(state, none.fn());
  ASSERT_TRUE(journal.ok());
  Change removed = add_a("gone.erl.internal.", 5);
  ASSERT_TRUE(journal->append(kApex, {add_a("kept.erl.internal.", 1), removed}).ok());
  removed.op = Change::Op::kRemove;
  Change removed_static = add_a("static.erl.internal.", 6);
  removed_static.op = Change::Op::kRemove;
  ASSERT_TRUE(journal->append(kApex, {removed, removed_static, add_a("lapsed.erl.internal.", 7, /*expiry=*/100)}).ok());
  auto finished = journal->rotate();
  ASSERT_TRUE(finished.ok());
  ASSERT_TRUE(journal->append(kApex, {add_a("after.erl.internal.", 8)}).ok());
  ASSERT_TRUE(journal->sync().ok());

  const StaticCheck is_static = [](std::string_view, const Change& change) {
    return change.owner == wire_name("static.erl.internal.");
  };
  ASSERT_TRUE(compact(state, *finished, is_static, /*now=*/200).ok());
  EXPECT_EQ(files_in(state), (std::vector<std::filesystem::path>{"journal.0000000002", "snapshot"}));

  Replayed replayed;
  ASSERT_TRUE(Journal::open(state, replayed.fn()).ok());
  std::vector<std::string> seen;
  for (const auto& [apex, changes] : replayed.entries) {
    for (const Change& change : changes) {
      seen.push_back((change.op == Change::Op::kAdd ? "+" : "-") + wire::wire_to_text(change.owner));
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"+kept.erl.internal.", "-static.erl.internal.", "+after.erl.internal."}));
}

}  // namespace
}  // namespace epmdns::update
