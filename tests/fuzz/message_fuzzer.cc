// Fuzz target: wire::parse_query, then query::respond over UDP and TCP on the unit tests'
// example zone, with one TSIG key known. Besides crashes, it checks that every response is
// well formed and consistent with the request.
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "query/respond.h"
#include "testing/dns_testing.h"
#include "wire/message.h"
#include "wire/tsig.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::fuzz {
namespace {

using query::Transport;
namespace rrtype = wire::rrtype;

const zone::Catalog& catalog() {
  static const zone::Catalog* const instance = new zone::Catalog(testing::example_catalog());
  return *instance;
}

wire::TsigKey make_key(const char* name, std::string secret) {
  wire::TsigKey key;
  key.name.assign_text(name);
  key.algorithm = wire::TsigAlgorithm::kHmacSha256;
  key.secret = std::move(secret);
  return key;
}

const wire::Keyring& keyring() {
  static const wire::Keyring* const instance = [] {
    auto* keys = new wire::Keyring;
    keys->add(make_key("fuzz-key.", std::string(32, 'k')));
    return keys;
  }();
  return *instance;
}

// `query` with a TSIG record appended, signed by `key` at `time_signed`.
testing::Bytes sign_query(const testing::Bytes& query, const wire::TsigKey& key, uint64_t time_signed) {
  testing::Bytes buffer(query.size() + 512);
  wire::Writer writer(buffer);
  writer.put_bytes(std::string_view(reinterpret_cast<const char*>(query.data()), query.size()));
  wire::sign(writer, key, time_signed, wire::kTsigDefaultFudge, "", 0, "");
  buffer.resize(writer.size());
  return buffer;
}

size_t udp_limit(const wire::Query& query, const query::Limits& limits) {
  if (!query.edns.present) return wire::kMinUdpSize;
  const size_t asked = query.edns.udp_size < wire::kMinUdpSize ? wire::kMinUdpSize : query.edns.udp_size;
  return asked < limits.max_udp_size ? asked : limits.max_udp_size;
}

void check_response(const wire::Query& query, wire::ParseStatus status, std::span<const uint8_t> response,
                    Transport transport, const query::Limits& limits) {
  FUZZ_CHECK(response.size() >= wire::kHeaderSize);
  if (transport == Transport::kUdp) FUZZ_CHECK(response.size() <= udp_limit(query, limits));
  std::string error;
  const auto message = testing::parse_message(response, &error);
  if (!message) std::fprintf(stderr, "unparseable response: %s\n", error.c_str());
  FUZZ_CHECK(message.has_value());
  FUZZ_CHECK(message->header.id == query.header.id);
  FUZZ_CHECK(message->has(wire::flag::QR));
  FUZZ_CHECK(message->opcode() == query.header.opcode());
  if (status == wire::ParseStatus::kFormErr && query.header.opcode() == wire::opcode::QUERY) {
    FUZZ_CHECK(message->rcode() == wire::rcode::FORMERR);
  }
  if (message->question) {
    FUZZ_CHECK(query.has_question);
    FUZZ_CHECK(message->question->owner == query.qname.to_text());
    FUZZ_CHECK(message->question->type == query.qtype);
  }
  if (transport == Transport::kTcp) FUZZ_CHECK(!message->has(wire::flag::TC));
}

}  // namespace

const char* target_name() { return "message_fuzzer"; }

std::vector<std::string> seeds() {
  std::vector<std::string> out;
  auto add = [&](const testing::Bytes& bytes) { out.emplace_back(bytes.begin(), bytes.end()); };
  const char* names[] = {"www.example.com.", "WwW.ExAmPlE.cOm.", "example.com.", "alias.example.com.",
                         "loop1.example.com.", "chain0.example.com.", "out.example.com.", "dangling.example.com.",
                         "tosub.example.com.", "x.wild.example.com.", "a.b.c.wild.example.com.",
                         "x.b.wild.example.com.", "b.ent.example.com.", "sub.example.com.", "host.sub.example.com.",
                         "nods.example.com.", "_services._dns-sd._udp.example.com.",
                         "_erlang-dist._tcp.example.com.", "app1._erlang-dist._tcp.host1.example.com.",
                         "few.example.com.", "medium.example.com.", "many.example.com.", "nothere.example.com.",
                         "example.org.", "."};
  const uint16_t types[] = {rrtype::A,   rrtype::AAAA, rrtype::ANY, rrtype::NS,  rrtype::SOA, rrtype::MX,
                            rrtype::TXT, rrtype::SRV,  rrtype::PTR, rrtype::CNAME, rrtype::DS, rrtype::AXFR};
  size_t i = 0;
  for (const char* name : names) {
    for (int variant = 0; variant < 3; ++variant, ++i) {
      testing::QueryOptions options;
      options.id = static_cast<uint16_t>(i * 7919);
      options.flags = (i % 2) ? wire::flag::RD : 0;
      options.edns = variant > 0;
      options.udp_size = variant == 2 ? 4096 : 1232;
      options.dnssec_ok = variant == 2;
      add(testing::make_query(name, types[i % std::size(types)], options));
    }
  }
  add(testing::make_query("www.example.com.", rrtype::A, {.edns = true, .edns_version = 1}));
  add(testing::make_query("www.example.com.", rrtype::A, {.qclass = wire::rrclass::CH}));
  add(testing::make_query("example.com.", rrtype::SOA, {.flags = testing::opcode_flags(wire::opcode::NOTIFY)}));
  add(testing::make_query("example.com.", rrtype::SOA, {.flags = testing::opcode_flags(wire::opcode::UPDATE)}));
  // An UPDATE-LEASE option (RFC 9664) and a cookie.
  add(testing::Packet()
          .header(1, 0, 1, 0, 0, 1)
          .question("www.example.com.", rrtype::A)
          .opt(1232, 0, std::string("\x00\x02\x00\x04\x00\x00\x0e\x10\x00\x0a\x00\x08" "abcdefgh", 20))
          .bytes());
  // Records in every section, compressed.
  add(testing::Packet()
          .header(2, 0, 1, 1, 1, 1)
          .question("example.com.", rrtype::SOA)
          .raw({0xC0, 0x0C})
          .u16(rrtype::A).u16(wire::rrclass::IN).u32(60).u16(4).raw({192, 0, 2, 1})
          .raw({3, 'w', 'w', 'w', 0xC0, 0x0C})
          .u16(rrtype::TXT).u16(wire::rrclass::IN).u32(60).u16(2).raw({1, 'x'})
          .opt(512)
          .bytes());
  // TSIG: valid, stale, unknown key, wrong secret; a signed query with EDNS; a signed UPDATE.
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  const testing::Bytes plain = testing::make_query("www.example.com.", rrtype::A);
  add(sign_query(plain, make_key("fuzz-key.", std::string(32, 'k')), now));
  add(sign_query(plain, make_key("fuzz-key.", std::string(32, 'k')), now - 3600));
  add(sign_query(plain, make_key("other-key.", std::string(32, 'k')), now));
  add(sign_query(plain, make_key("fuzz-key.", std::string(32, 'x')), now));
  add(sign_query(testing::make_query("many.example.com.", rrtype::A, {.edns = true}),
                 make_key("fuzz-key.", std::string(32, 'k')), now));
  const uint16_t update = testing::opcode_flags(wire::opcode::UPDATE);
  add(sign_query(testing::make_query("example.com.", rrtype::SOA, {.flags = update}),
                 make_key("fuzz-key.", std::string(32, 'k')), now));
  for (const testing::HostilePacket& packet : testing::hostile_packets()) add(packet.bytes);
  return out;
}

std::vector<std::string> dictionary() {
  return {std::string("\xC0\x0C", 2),
          std::string("\xC0\x00", 2),
          std::string("\x00\x00\x29\x04\xD0\x00\x00\x00\x00\x00\x00", 11),  // an OPT record
          std::string("\x00\x29", 2),
          std::string("\x00\xFF", 2),
          std::string("\x00\xFA", 2),
          std::string("\x00\x01\x00\x01", 4),
          std::string("\x00\x01\x00\x03", 4),
          std::string("\x03" "www" "\x07" "example" "\x03" "com", 17),
          std::string("\x04" "wild" "\x07" "example" "\x03" "com", 18),
          std::string("\x01*", 2),
          std::string("\x00\x0a\x00\x08", 4),
          std::string("\x00\x02\x00\x04", 4),
          std::string("\x3F", 1),
          std::string("\x40", 1),
          std::string("\xFF\xFF", 2),
          std::string("\x80\x00", 2),
          std::string("\x28\x00", 2),
          std::string("\x00\xFA\x00\xFF\x00\x00\x00\x00", 8),  // TSIG type, class ANY, TTL 0
          std::string("\x0b" "hmac-sha256", 13)};
}

}  // namespace epmdns::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace epmdns;
  if (size > wire::kMaxMessageSize) return 0;
  const std::span<const uint8_t> request(data, size);
  wire::Query query;
  const wire::ParseStatus status = wire::parse_query(request, query);
  static std::vector<uint8_t> out(wire::kMaxMessageSize);
  const query::Limits limits;
  for (query::Transport transport : {query::Transport::kUdp, query::Transport::kTcp}) {
    const size_t written = query::respond(fuzz::catalog(), request, out, transport, limits, &fuzz::keyring());
    FUZZ_CHECK((written == 0) == (status == wire::ParseStatus::kDrop));
    if (written > 0) fuzz::check_response(query, status, std::span(out).first(written), transport, limits);
  }
  return 0;
}
