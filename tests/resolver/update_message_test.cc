// The registration UPDATE builder: parsed back with the wire library, TSIG checked with the key.
#include "resolver/update_message.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include "resolver/registrar.h"
#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/tsig.h"
#include "wire/types.h"

namespace epmdns::resolver {
namespace {

struct Rr {
  std::string owner;
  uint16_t type, rrclass;
  uint32_t ttl;
  std::string rdata;  // canonical
};

struct Parsed {
  wire::Header header;
  std::string zone;
  std::vector<Rr> prerequisites, updates, additional;
};

Parsed parse(const std::vector<uint8_t>& message) {
  Parsed out;
  auto reader = wire::Reader::message(message);
  EXPECT_TRUE(wire::read_header(reader, out.header));
  wire::Name zone;
  uint16_t type = 0, cls = 0;
  EXPECT_TRUE(wire::read_name(reader, zone) && reader.u16(type) && reader.u16(cls));
  EXPECT_EQ(type, wire::rrtype::SOA);
  EXPECT_EQ(cls, wire::rrclass::IN);
  out.zone = zone.to_text();
  auto read = [&](uint16_t count, std::vector<Rr>& into) {
    for (uint16_t i = 0; i < count; ++i) {
      wire::Name owner;
      Rr rr{};
      uint16_t rdlength = 0;
      ASSERT_TRUE(wire::read_name(reader, owner) && reader.u16(rr.type) && reader.u16(rr.rrclass) &&
                  reader.u32(rr.ttl) && reader.u16(rdlength));
      if (rr.type == wire::rrtype::TSIG || rr.type == wire::rrtype::OPT) {
        std::span<const uint8_t> bytes;
        ASSERT_TRUE(reader.bytes(rdlength, bytes));
        rr.rdata.assign(bytes.begin(), bytes.end());
      } else {
        ASSERT_TRUE(wire::read_rdata(reader, rr.type, rdlength, rr.rdata));
      }
      rr.owner = owner.to_text();
      into.push_back(rr);
    }
  };
  read(out.header.ancount, out.prerequisites);
  read(out.header.nscount, out.updates);
  read(out.header.arcount, out.additional);
  EXPECT_EQ(reader.remaining(), 0u);
  return out;
}

Registration registration() {
  auto names = node_names("App1@Host1", "erl.internal");
  EXPECT_TRUE(names.ok()) << names.status();
  Registration r;
  r.names = *names;
  r.port = 4370;
  r.family = Family::kInet;
  inet_pton(AF_INET, "10.0.0.7", r.address.data());
  r.ttl = 30;
  return r;
}

std::string name_wire(const char* text) {
  wire::Name name;
  EXPECT_TRUE(name.assign_text(text));
  return std::string(name.wire());
}

TEST(UpdateMessage, NodeNamesLayout) {
  auto n = node_names("app1@host1", "erl.internal.");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->zone.to_text(), "erl.internal.");
  EXPECT_EQ(n->host.to_text(), "host1.erl.internal.");
  EXPECT_EQ(n->instance.to_text(), "app1._erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(n->host_browse.to_text(), "_erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(n->zone_browse.to_text(), "_erlang-dist._tcp.erl.internal.");
  EXPECT_FALSE(node_names("app1", "erl.internal").ok());
  EXPECT_FALSE(node_names("app1@host1.other.test", "erl.internal").ok());  // not in the zone
}

TEST(UpdateMessage, RegisterReplacesSrvAndTxtAndAddsFiveRecords) {
  auto message = build_register(registration(), Precondition::kNone, 0x1234);
  ASSERT_TRUE(message.ok());
  Parsed p = parse(*message);
  EXPECT_EQ(p.header.id, 0x1234);
  EXPECT_EQ(p.header.opcode(), wire::opcode::UPDATE);
  EXPECT_FALSE(p.header.qr());
  EXPECT_EQ(p.zone, "erl.internal.");
  EXPECT_TRUE(p.prerequisites.empty());
  ASSERT_EQ(p.updates.size(), 7u);
  EXPECT_TRUE(p.additional.empty());
  const std::string instance = "app1._erlang-dist._tcp.host1.erl.internal.";
  EXPECT_EQ(p.updates[0].owner, "host1.erl.internal.");
  EXPECT_EQ(p.updates[0].type, wire::rrtype::A);
  EXPECT_EQ(p.updates[0].rdata, std::string("\x0a\x00\x00\x07", 4));
  // The old SRV and TXT sets go first, in the same message.
  for (int i : {1, 2}) {
    EXPECT_EQ(p.updates[i].owner, instance);
    EXPECT_EQ(p.updates[i].rrclass, wire::rrclass::ANY);
    EXPECT_EQ(p.updates[i].ttl, 0u);
    EXPECT_TRUE(p.updates[i].rdata.empty());
  }
  EXPECT_EQ(p.updates[1].type, wire::rrtype::SRV);
  EXPECT_EQ(p.updates[2].type, wire::rrtype::TXT);
  EXPECT_EQ(p.updates[3].owner, instance);
  EXPECT_EQ(p.updates[3].type, wire::rrtype::SRV);
  EXPECT_EQ(p.updates[3].rdata, std::string("\0\0\0\0\x11\x12", 6) + name_wire("host1.erl.internal."));
  EXPECT_EQ(p.updates[4].type, wire::rrtype::TXT);
  EXPECT_EQ(p.updates[4].rdata, "\x05vsn=6");
  EXPECT_EQ(p.updates[5].owner, "_erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(p.updates[5].type, wire::rrtype::PTR);
  EXPECT_EQ(p.updates[5].rdata, name_wire(instance.c_str()));
  EXPECT_EQ(p.updates[6].owner, "_erlang-dist._tcp.erl.internal.");
  EXPECT_EQ(p.updates[6].rdata, name_wire(instance.c_str()));
  for (int i : {0, 3, 4, 5, 6}) {
    EXPECT_EQ(p.updates[i].rrclass, wire::rrclass::IN);
    EXPECT_EQ(p.updates[i].ttl, 30u);
  }
}

TEST(UpdateMessage, Aaaa) {
  Registration r = registration();
  r.family = Family::kInet6;
  inet_pton(AF_INET6, "2001:db8::7", r.address.data());
  Parsed p = parse(*build_register(r, Precondition::kNone, 1));
  EXPECT_EQ(p.updates[0].type, wire::rrtype::AAAA);
  EXPECT_EQ(p.updates[0].rdata.size(), 16u);
}

TEST(UpdateMessage, LeaseOption) {
  Registration r = registration();
  r.lease = 120;
  auto message = build_register(r, Precondition::kNone, 1);
  ASSERT_TRUE(message.ok());
  wire::Query query;
  ASSERT_EQ(wire::parse_query(*message, query), wire::ParseStatus::kOk);
  EXPECT_TRUE(query.edns.present);
  EXPECT_TRUE(query.edns.has_lease);
  EXPECT_EQ(query.edns.lease, 120u);
  Parsed p = parse(*message);
  ASSERT_EQ(p.additional.size(), 1u);
  EXPECT_EQ(p.additional[0].type, wire::rrtype::OPT);
  EXPECT_EQ(p.additional[0].rdata, std::string("\0\x02\0\x04\0\0\0\x78", 8));
}

TEST(UpdateMessage, TtlIsAtMostTheLease) {
  Registration r = registration();  // TTL 30
  for (const auto& [lease, ttl] : std::vector<std::pair<std::optional<uint32_t>, uint32_t>>{
           {std::nullopt, 30}, {120, 30}, {10, 10}, {0, 30}}) {
    r.lease = lease;
    Parsed p = parse(*build_register(r, Precondition::kNone, 1));
    for (int i : {0, 3, 4, 5, 6}) EXPECT_EQ(p.updates[i].ttl, ttl) << (lease ? *lease : -1);
  }
}

TEST(UpdateMessage, Prerequisites) {
  Registration r = registration();
  Parsed free = parse(*build_register(r, Precondition::kNameFree, 1));
  ASSERT_EQ(free.prerequisites.size(), 1u);
  EXPECT_EQ(free.prerequisites[0].owner, "app1._erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(free.prerequisites[0].type, wire::rrtype::ANY);
  EXPECT_EQ(free.prerequisites[0].rrclass, wire::rrclass::NONE);
  EXPECT_TRUE(free.prerequisites[0].rdata.empty());

  EXPECT_FALSE(build_register(r, Precondition::kOwnToken, 1).ok());  // no token
  r.token = "abc123";
  Parsed own = parse(*build_register(r, Precondition::kOwnToken, 1));
  ASSERT_EQ(own.prerequisites.size(), 1u);
  EXPECT_EQ(own.prerequisites[0].type, wire::rrtype::TXT);
  EXPECT_EQ(own.prerequisites[0].rrclass, wire::rrclass::IN);
  EXPECT_EQ(own.prerequisites[0].ttl, 0u);
  EXPECT_EQ(own.prerequisites[0].rdata, std::string("\x05vsn=6\x0ctoken=abc123"));
  EXPECT_EQ(own.updates[4].rdata, own.prerequisites[0].rdata);  // the TXT we add is the one we check
  r.token = std::string(250, 'x');
  EXPECT_FALSE(build_register(r, Precondition::kNone, 1).ok());
}

TEST(UpdateMessage, UnregisterKeepsTheHost) {
  auto n = node_names("app1@host1", "erl.internal");
  Parsed p = parse(*build_unregister(*n, "", 7));
  EXPECT_TRUE(p.prerequisites.empty());
  ASSERT_EQ(p.updates.size(), 3u);
  EXPECT_EQ(p.updates[0].owner, "app1._erlang-dist._tcp.host1.erl.internal.");
  EXPECT_EQ(p.updates[0].type, wire::rrtype::ANY);
  EXPECT_EQ(p.updates[0].rrclass, wire::rrclass::ANY);
  for (int i : {1, 2}) {
    EXPECT_EQ(p.updates[i].type, wire::rrtype::PTR);
    EXPECT_EQ(p.updates[i].rrclass, wire::rrclass::NONE);
    EXPECT_EQ(p.updates[i].ttl, 0u);
    EXPECT_EQ(p.updates[i].rdata, name_wire("app1._erlang-dist._tcp.host1.erl.internal."));
  }
  for (const Rr& rr : p.updates) EXPECT_NE(rr.owner, "host1.erl.internal.");
  Parsed guarded = parse(*build_unregister(*n, "t0k", 7));
  ASSERT_EQ(guarded.prerequisites.size(), 1u);
  EXPECT_EQ(guarded.prerequisites[0].rdata, std::string("\x05vsn=6\x09token=t0k"));
}

TEST(UpdateMessage, SignedMessageVerifiesWithTheKey) {
  auto key = wire::generate_key("k1.erl.internal", wire::TsigAlgorithm::kHmacSha256);
  ASSERT_TRUE(key.ok());
  Registration r = registration();
  r.lease = 60;
  auto message = build_register(r, Precondition::kNameFree, 9);
  ASSERT_TRUE(message.ok());
  const size_t unsigned_size = message->size();
  const uint64_t now = 1700000000;
  auto mac = sign_message(*message, *key, now);
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->size(), 32u);
  EXPECT_GT(message->size(), unsigned_size);

  wire::TsigRecord record;
  ASSERT_EQ(wire::find_tsig(*message, record), wire::TsigFind::kFound);
  EXPECT_EQ(record.mac, *mac);
  EXPECT_EQ(record.time_signed, now);
  wire::Keyring keyring;
  keyring.add(*key);
  EXPECT_EQ(wire::verify_request(*message, record, keyring, now + 10).rcode, wire::rcode::NOERROR);
  // The OPT with the lease comes before the TSIG, which is last.
  wire::Query query;
  ASSERT_EQ(wire::parse_query(*message, query), wire::ParseStatus::kOk);
  EXPECT_TRUE(query.has_tsig);
  EXPECT_EQ(query.edns.lease, 60u);

  // Another secret under the same name: BADSIG. A flipped byte: BADSIG too.
  auto other = wire::generate_key("k1.erl.internal", wire::TsigAlgorithm::kHmacSha256);
  wire::Keyring wrong;
  wrong.add(*other);
  EXPECT_EQ(wire::verify_request(*message, record, wrong, now).error, wire::tsig_error::BADSIG);
  (*message)[20] ^= 1;
  ASSERT_EQ(wire::find_tsig(*message, record), wire::TsigFind::kFound);
  EXPECT_EQ(wire::verify_request(*message, record, keyring, now).error, wire::tsig_error::BADSIG);
}

TEST(UpdateMessage, KeyFileRoundTrip) {
  auto key = wire::generate_key("node.keys", wire::TsigAlgorithm::kHmacSha256);
  ASSERT_TRUE(key.ok());
  auto parsed = wire::parse_key_file(wire::format_key_file(*key), "test");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].secret, key->secret);
  EXPECT_EQ(random_token().size(), 16u);
  EXPECT_NE(random_token(), random_token());
}

TEST(Registrar, RenewalIntervalIsHalfTheLeaseWithJitter) {
  for (int i = 0; i < 100; ++i) {
    auto ms = Registrar::renewal_interval(60, 0.1).count();
    EXPECT_GE(ms, 27000);
    EXPECT_LE(ms, 33000);
  }
  EXPECT_GE(Registrar::renewal_interval(0, 0.1).count(), 100);
}

}  // namespace
}  // namespace epmdns::resolver
