// The zone transfer layer: message building and multi-message TSIG, the IXFR history, the
// chunked zone copy, the access list, and respond_transfer end to end (no sockets).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <ctime>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/dns_testing.h"
#include "update/change.h"
#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/tsig.h"
#include "wire/types.h"
#include "xfr/acl.h"
#include "xfr/copy.h"
#include "xfr/history.h"
#include "xfr/transfer.h"
#include "zone/loader.h"

namespace epmdns::xfr {
namespace {

using testing::Bytes;
using update::Change;
using update::ChangeSet;
using wire::rrtype::A;
using wire::rrtype::SOA;

constexpr char kOrigin[] = "big.test.";

std::string zone_text(int nodes) {
  std::string text =
      "$TTL 60\n@ IN SOA ns1 hostmaster 100 3600 600 86400 30\n@ IN NS ns1\nns1 IN A 127.0.0.1\n";
  for (int i = 0; i < nodes; ++i) {
    const std::string n = std::to_string(i);
    text += "host" + n + " IN A 10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + "\n";
    text += "app" + n + "._erlang-dist._tcp.host" + n + " IN SRV 0 0 4370 host" + n + "\n";
    text += "_erlang-dist._tcp IN PTR app" + n + "._erlang-dist._tcp.host" + n + "\n";
  }
  return text;
}

zone::Catalog catalog_of(int nodes) {
  zone::Catalog catalog;
  catalog.add(testing::must_load_zone(zone_text(nodes), kOrigin));
  return catalog;
}

sockaddr_storage v4(const char* text) {
  sockaddr_storage out{};
  auto& sin = reinterpret_cast<sockaddr_in&>(out);
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, text, &sin.sin_addr);
  return out;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage out{};
  auto& sin6 = reinterpret_cast<sockaddr_in6&>(out);
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &sin6.sin6_addr);
  return out;
}

std::string soa_rdata(uint32_t serial) {
  std::string rdata = testing::wire_name("ns1.big.test.") + testing::wire_name("hostmaster.big.test.");
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 30u}) {
    for (int shift = 24; shift >= 0; shift -= 8) rdata.push_back(static_cast<char>(v >> shift));
  }
  return rdata;
}

std::string a(uint8_t last) { return std::string{10, 0, 0, static_cast<char>(last)}; }

Change change(Change::Op op, std::string_view owner, uint16_t type, std::string rdata, uint32_t ttl = 60) {
  return {op, testing::wire_name(owner), type, ttl, 0, std::move(rdata)};
}

// An UPDATE's journal entry: the changes, then the SOA from `from` to `from + 1`.
ChangeSet entry(uint32_t from, ChangeSet changes) {
  changes.push_back(change(Change::Op::kRemove, kOrigin, SOA, soa_rdata(from)));
  changes.push_back(change(Change::Op::kAdd, kOrigin, SOA, soa_rdata(from + 1)));
  return changes;
}

// All records of all messages, checking each parses.
std::vector<testing::Record> answers(const std::vector<Message>& messages) {
  std::vector<testing::Record> out;
  for (const Message& m : messages) {
    std::string error;
    auto parsed = testing::parse_message(m, &error);
    EXPECT_TRUE(parsed) << error;
    if (!parsed) continue;
    out.insert(out.end(), parsed->answer.begin(), parsed->answer.end());
  }
  return out;
}

// --- TSIG across messages

TEST(MessageBuilder, SplitsLargeZonesAndChainsTsig) {
  zone::Catalog catalog = catalog_of(2000);
  zone::RwLock lock;
  std::optional<ZoneCopy> copy = copy_zone(catalog, lock, testing::wire_name(kOrigin));
  ASSERT_TRUE(copy);
  wire::TsigKey key;
  key.name.assign_text("xfr-key.");
  key.secret = std::string(32, 'k');
  const Bytes request = testing::make_query(kOrigin, wire::rrtype::AXFR);
  wire::Query query;
  ASSERT_EQ(wire::parse_query(request, query), wire::ParseStatus::kOk);
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  MessageBuilder builder(query, &key, "request-mac-0123456789abcdef", now, 16384);
  build_full(*copy, builder);
  const std::vector<Message> messages = builder.finish();
  ASSERT_GT(messages.size(), 5u);
  std::string prior = "request-mac-0123456789abcdef";
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_LE(messages[i].size(), 16384u) << i;
    wire::TsigRecord record;
    ASSERT_EQ(wire::find_tsig(messages[i], record), wire::TsigFind::kFound) << i;
    const wire::TsigCheck check = i == 0 ? wire::verify_response(messages[i], record, key, prior, now)
                                         : wire::verify_subsequent(messages[i], record, key, prior, now);
    ASSERT_EQ(check.rcode, wire::rcode::NOERROR) << "message " << i;
    // A message verified against the wrong chain fails.
    if (i > 0) {
      EXPECT_EQ(wire::verify_subsequent(messages[i], record, key, "other", now).rcode, wire::rcode::NOTAUTH);
    }
    prior = std::string(record.mac);
  }
  const auto records = answers(messages);
  ASSERT_EQ(records.size(), 2u + 2 + 3 * 2000);  // SOA twice, NS, ns1 A, three per node
  EXPECT_EQ(records.front().type, SOA);
  EXPECT_EQ(records.back().type, SOA);
  std::set<std::string> unique;
  for (const auto& r : records) unique.insert(r.to_string());
  EXPECT_EQ(unique.size(), records.size() - 1);  // only the SOA repeats
}

TEST(MessageBuilder, KeepsSmallRRsetsWholeAndSplitsHugeOnes) {
  const Bytes request = testing::make_query(kOrigin, wire::rrtype::AXFR);
  wire::Query query;
  ASSERT_EQ(wire::parse_query(request, query), wire::ParseStatus::kOk);
  MessageBuilder builder(query, nullptr, {}, 0, 1024);
  std::vector<std::string> big;
  for (int i = 0; i < 300; ++i) {
    const std::string text = "record-" + std::to_string(i);
    big.push_back(static_cast<char>(text.size()) + text);  // one TXT string each
  }
  std::vector<std::string_view> big_views(big.begin(), big.end());
  const std::string owner = testing::wire_name("x.big.test.");
  for (int i = 0; i < 30; ++i) builder.add(owner, A, 60, a(static_cast<uint8_t>(i)));
  const std::vector<std::string> pair = {a(1), a(2)};
  builder.add_rrset(testing::wire_name("pair.big.test."), A, 60, {pair[0], pair[1]});
  builder.add_rrset(owner, wire::rrtype::TXT, 60, big_views);
  const auto messages = builder.finish();
  ASSERT_GT(messages.size(), 3u);
  size_t pair_messages = 0;
  for (const Message& m : messages) {
    EXPECT_LE(m.size(), 1024u);
    std::string error;
    auto parsed = testing::parse_message(m, &error);
    ASSERT_TRUE(parsed) << error;
    size_t pair_here = 0;
    for (const auto& r : parsed->answer) pair_here += r.owner == "pair.big.test.";
    if (pair_here > 0) {
      EXPECT_EQ(pair_here, 2u);
      ++pair_messages;
    }
  }
  EXPECT_EQ(pair_messages, 1u);
  EXPECT_EQ(answers(messages).size(), 30u + 2 + 300);
}

// --- history

TEST(History, NetEffectOfAnEntry) {
  Step step;
  ASSERT_TRUE(make_step(entry(5, {change(Change::Op::kAdd, "h1.big.test.", A, a(1)),
                                  // renewal: removed and added again with the same TTL
                                  change(Change::Op::kRemove, "h2.big.test.", A, a(2)),
                                  change(Change::Op::kAdd, "h2.big.test.", A, a(2)),
                                  // TTL change: both
                                  change(Change::Op::kRemove, "h3.big.test.", A, a(3), 60),
                                  change(Change::Op::kAdd, "h3.big.test.", A, a(3), 120),
                                  // added then removed: nothing
                                  change(Change::Op::kAdd, "h4.big.test.", A, a(4)),
                                  change(Change::Op::kRemove, "h4.big.test.", A, a(4)),
                                  change(Change::Op::kRemove, "h5.big.test.", A, a(5))}),
                        step));
  EXPECT_EQ(step.old_serial(), 5u);
  EXPECT_EQ(step.new_serial(), 6u);
  ASSERT_EQ(step.removed.size(), 2u);
  EXPECT_EQ(step.removed[0].rdata, a(3));
  EXPECT_EQ(step.removed[0].ttl, 60u);
  EXPECT_EQ(step.removed[1].rdata, a(5));
  ASSERT_EQ(step.added.size(), 2u);
  EXPECT_EQ(step.added[0].rdata, a(1));
  EXPECT_EQ(step.added[1].rdata, a(3));
  EXPECT_EQ(step.added[1].ttl, 120u);
  // No SOA change: not a step.
  EXPECT_FALSE(make_step({change(Change::Op::kAdd, "h1.big.test.", A, a(1))}, step));
}

TEST(History, ChainsStepsAndForgetsOnGaps) {
  std::vector<std::string> notified;
  History history(1 << 20, [&](std::string_view apex) { notified.emplace_back(apex); });
  const std::string apex = testing::wire_name(kOrigin);
  history.changed(apex, entry(1, {change(Change::Op::kAdd, "h1.big.test.", A, a(1))}), false);
  history.changed(apex, entry(2, {change(Change::Op::kAdd, "h2.big.test.", A, a(2))}), true);
  history.changed(apex, entry(3, {change(Change::Op::kRemove, "h1.big.test.", A, a(1))}), true);
  EXPECT_EQ(notified.size(), 2u);
  std::vector<std::shared_ptr<const Step>> steps;
  ASSERT_TRUE(history.steps_since(apex, 1, steps));
  EXPECT_EQ(steps.size(), 3u);
  ASSERT_TRUE(history.steps_since(apex, 3, steps));
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0]->removed.size(), 1u);
  EXPECT_FALSE(history.steps_since(apex, 4, steps));  // current: nothing to send
  EXPECT_FALSE(history.steps_since(apex, 0, steps));
  // A gap in the serials (say a snapshot entry) starts afresh.
  history.changed(apex, entry(10, {}), false);
  EXPECT_FALSE(history.steps_since(apex, 1, steps));
  EXPECT_TRUE(history.steps_since(apex, 10, steps));
  // An entry without SOA change clears it.
  history.changed(apex, {change(Change::Op::kAdd, "h9.big.test.", A, a(9))}, false);
  EXPECT_EQ(history.step_count(apex), 0u);
}

TEST(History, BoundedBySizeAndCheckedAgainstTheZoneAfterReplay) {
  History history(2000);
  const std::string apex = testing::wire_name(kOrigin);
  for (uint32_t serial = 1; serial < 100; ++serial) {
    history.changed(apex, entry(serial, {change(Change::Op::kAdd, "h.big.test.", A, a(1))}), false);
  }
  EXPECT_LT(history.step_count(apex), 20u);
  EXPECT_GT(history.step_count(apex), 0u);
  uint32_t newest = 0;
  ASSERT_TRUE(history.newest_serial(apex, newest));
  EXPECT_EQ(newest, 100u);
  // The zone (serial 100 in its file) agrees with the replayed history at 100: kept.
  zone::Catalog catalog = catalog_of(1);
  history.replay_finished(catalog);
  EXPECT_GT(history.step_count(apex), 0u);
  // Once the zone file's serial differs, the history no longer describes the zone.
  history.changed(apex, entry(100, {}), false);
  history.replay_finished(catalog);
  EXPECT_EQ(history.step_count(apex), 0u);
}

// --- copy

TEST(Copy, ChunkedCopyEqualsWholeCopy) {
  zone::Catalog catalog = catalog_of(500);
  zone::RwLock lock;
  const std::string apex = testing::wire_name(kOrigin);
  auto whole = copy_zone(catalog, lock, apex, {.chunk_nodes = 1 << 30, .attempts = 0});
  auto chunked = copy_zone(catalog, lock, apex, {.chunk_nodes = 7, .attempts = 4});
  ASSERT_TRUE(whole && chunked);
  EXPECT_EQ(whole->packed, chunked->packed);
  EXPECT_EQ(whole->serial, 100u);
  EXPECT_EQ(whole->records, 2u + 3 * 500);
  EXPECT_FALSE(copy_zone(catalog, lock, testing::wire_name("other.test."), {}));
  EXPECT_FALSE(copy_zone(catalog, lock, testing::wire_name("host1.big.test."), {}));
}

TEST(Copy, WritesBetweenChunksRestartTheCopy) {
  zone::Catalog catalog = catalog_of(50);
  zone::RwLock lock;
  // A write after every chunk: every chunked attempt is disturbed; the last holds the lock.
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      lock.lock();
      lock.unlock();
    }
  });
  auto copy = copy_zone(catalog, lock, testing::wire_name(kOrigin), {.chunk_nodes = 1, .attempts = 2});
  writer.join();
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->records, 2u + 3 * 50);
}

// --- ACL

TEST(Acl, AddressesPrefixesAndKeys) {
  const std::string kZone = testing::wire_name("erl.internal.");
  wire::Keyring keyring;
  wire::TsigKey key;
  key.name.assign_text("xfr-key.");
  key.secret = "secret";
  keyring.add(key);
  TransferAcl acl;
  EXPECT_FALSE(acl.permits(v4("127.0.0.1"), nullptr, kZone));  // empty: nothing allowed
  ASSERT_TRUE(acl.add("192.0.2.7", keyring).ok());
  ASSERT_TRUE(acl.add("10.1.0.0/16", keyring).ok());
  ASSERT_TRUE(acl.add("fd00::/8", keyring).ok());
  ASSERT_TRUE(acl.add("key:XFR-Key", keyring).ok());
  EXPECT_FALSE(acl.add("key:unknown", keyring).ok());
  EXPECT_FALSE(acl.add("10.0.0.0/33", keyring).ok());
  EXPECT_FALSE(acl.add("nonsense", keyring).ok());
  EXPECT_TRUE(acl.permits(v4("192.0.2.7"), nullptr, kZone));
  EXPECT_FALSE(acl.permits(v4("192.0.2.8"), nullptr, kZone));
  EXPECT_TRUE(acl.permits(v4("10.1.255.3"), nullptr, kZone));
  EXPECT_FALSE(acl.permits(v4("10.2.0.1"), nullptr, kZone));
  EXPECT_TRUE(acl.permits(v6("fd12::1"), nullptr, kZone));
  EXPECT_FALSE(acl.permits(v6("fe80::1"), nullptr, kZone));
  EXPECT_TRUE(acl.permits(v6("::ffff:192.0.2.7"), nullptr, kZone));
  EXPECT_TRUE(acl.permits(v4("203.0.113.1"), keyring.find(testing::wire_name("xfr-key.")), kZone));
  wire::TsigKey other;
  other.name.assign_text("other.");
  EXPECT_FALSE(acl.permits(v4("203.0.113.1"), &other, kZone));
}

TEST(Acl, EntriesScopedToOneZone) {
  wire::Keyring keyring;
  wire::TsigKey key;
  key.name.assign_text("xfr-key.");
  key.secret = "secret";
  keyring.add(key);
  const std::string erl = testing::wire_name("erl.internal."), other = testing::wire_name("other.internal.");
  TransferAcl acl;
  ASSERT_TRUE(acl.add("Erl.Internal=192.0.2.7", keyring).ok());
  ASSERT_TRUE(acl.add("erl.internal.=key:xfr-key", keyring).ok());
  ASSERT_TRUE(acl.add("10.0.0.0/8", keyring).ok());  // every zone
  EXPECT_FALSE(acl.add("=192.0.2.7", keyring).ok());
  EXPECT_FALSE(acl.add("erl..internal=192.0.2.7", keyring).ok());
  EXPECT_FALSE(acl.add("erl.internal=key:unknown", keyring).ok());
  EXPECT_TRUE(acl.permits(v4("192.0.2.7"), nullptr, erl));
  EXPECT_FALSE(acl.permits(v4("192.0.2.7"), nullptr, other));
  const wire::TsigKey* signer = keyring.find(testing::wire_name("xfr-key."));
  EXPECT_TRUE(acl.permits(v4("203.0.113.1"), signer, erl));
  EXPECT_FALSE(acl.permits(v4("203.0.113.1"), signer, other));
  EXPECT_TRUE(acl.permits(v4("10.9.8.7"), nullptr, erl));
  EXPECT_TRUE(acl.permits(v4("10.9.8.7"), nullptr, other));
  EXPECT_EQ(acl.scoped_zones(), (std::vector<std::string>{erl, erl}));
}

// --- respond_transfer

struct Fixture {
  zone::Catalog catalog = catalog_of(20);
  zone::RwLock lock;
  History history{1 << 20};
  TransferAcl acl;
  wire::Keyring keyring;
  TransferServices services{catalog, lock, &history, acl, &keyring, kDefaultMessageSize, CopyOptions{}};
  Fixture() { EXPECT_TRUE(acl.add("127.0.0.1", keyring).ok()); }
};

Bytes ixfr_request(uint32_t serial) {
  // Question, then the client's SOA in the authority section.
  Bytes request = testing::make_query(kOrigin, wire::rrtype::IXFR);
  request[9] = 1;  // NSCOUNT
  const std::string owner = testing::wire_name(kOrigin);
  const std::string rdata = soa_rdata(serial);
  request.insert(request.end(), owner.begin(), owner.end());
  const uint8_t fixed[] = {0, 6, 0, 1, 0, 0, 0, 60, 0, static_cast<uint8_t>(rdata.size())};
  request.insert(request.end(), std::begin(fixed), std::end(fixed));
  request.insert(request.end(), rdata.begin(), rdata.end());
  return request;
}

TEST(RespondTransfer, RefusesClientsNotListed) {
  Fixture f;
  TransferKind kind;
  auto messages = respond_transfer(f.services, testing::make_query(kOrigin, wire::rrtype::AXFR), v4("127.0.0.2"), &kind);
  ASSERT_EQ(messages.size(), 1u);
  auto parsed = testing::parse_message(messages[0]);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->rcode(), wire::rcode::REFUSED);
  EXPECT_TRUE(parsed->answer.empty());
  EXPECT_EQ(kind, TransferKind::kRefused);
}

TEST(RespondTransfer, AxfrAndNotAuthForNonApex) {
  Fixture f;
  TransferKind kind;
  auto messages = respond_transfer(f.services, testing::make_query(kOrigin, wire::rrtype::AXFR), v4("127.0.0.1"), &kind);
  EXPECT_EQ(kind, TransferKind::kAxfr);
  EXPECT_EQ(answers(messages).size(), 2u + 2 + 3 * 20);
  messages = respond_transfer(f.services, testing::make_query("host1.big.test.", wire::rrtype::AXFR), v4("127.0.0.1"));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(testing::parse_message(messages[0])->rcode(), wire::rcode::NOTAUTH);
}

TEST(RespondTransfer, IxfrFromHistoryElseAxfrStyle) {
  Fixture f;
  const std::string apex = testing::wire_name(kOrigin);
  // The zone is at serial 100; the history knows 98 -> 99 -> 100.
  f.history.changed(apex, entry(98, {change(Change::Op::kAdd, "n1.big.test.", A, a(1))}), true);
  f.history.changed(apex, entry(99, {change(Change::Op::kRemove, "n1.big.test.", A, a(1)),
                                     change(Change::Op::kAdd, "n2.big.test.", A, a(2))}),
                    true);
  uint32_t serial = 0;
  ASSERT_TRUE(ixfr_client_serial(ixfr_request(98), serial));
  EXPECT_EQ(serial, 98u);
  TransferKind kind;
  auto records = answers(respond_transfer(f.services, ixfr_request(98), v4("127.0.0.1"), &kind));
  EXPECT_EQ(kind, TransferKind::kIxfr);
  // Shape: SOA 100, SOA 98, SOA 99, +n1, SOA 99, -n1, SOA 100, +n2, SOA 100.
  ASSERT_EQ(records.size(), 9u);
  for (size_t i : {0, 1, 2, 4, 6, 8}) EXPECT_EQ(records[i].type, SOA) << i;
  EXPECT_EQ(records[3].owner, "n1.big.test.");
  EXPECT_EQ(records[5].owner, "n1.big.test.");
  EXPECT_EQ(records[7].owner, "n2.big.test.");
  EXPECT_NE(records[0].rdata.find(" 100 "), std::string::npos) << records[0].rdata;
  EXPECT_NE(records[1].rdata.find(" 98 "), std::string::npos) << records[1].rdata;
  // Up to date: the SOA alone.
  records = answers(respond_transfer(f.services, ixfr_request(100), v4("127.0.0.1"), &kind));
  EXPECT_EQ(kind, TransferKind::kUpToDate);
  EXPECT_EQ(records.size(), 1u);
  // Older than the history: the whole zone, AXFR-style.
  records = answers(respond_transfer(f.services, ixfr_request(50), v4("127.0.0.1"), &kind));
  EXPECT_EQ(kind, TransferKind::kIxfrAxfrStyle);
  EXPECT_EQ(records.size(), 2u + 2 + 3 * 20);
  // IXFR without the client's SOA: FORMERR.
  auto messages = respond_transfer(f.services, testing::make_query(kOrigin, wire::rrtype::IXFR), v4("127.0.0.1"));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(testing::parse_message(messages[0])->rcode(), wire::rcode::FORMERR);
}

TEST(RespondTransfer, RecognisesTransferRequests) {
  EXPECT_TRUE(is_transfer(testing::make_query(kOrigin, wire::rrtype::AXFR)));
  EXPECT_TRUE(is_transfer(ixfr_request(1)));
  EXPECT_FALSE(is_transfer(testing::make_query(kOrigin, SOA)));
  EXPECT_FALSE(is_transfer(Bytes{1, 2, 3}));
  uint32_t serial;
  Bytes truncated = ixfr_request(1);
  truncated.resize(truncated.size() - 3);
  EXPECT_FALSE(ixfr_client_serial(truncated, serial));
}

}  // namespace
}  // namespace epmdns::xfr
