#include "testing/dns_testing.h"

#include <arpa/inet.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "wire/reader.h"
#include "wire/writer.h"
#include "zone/loader.h"

namespace epmdns::testing {
namespace {

using wire::rrclass::IN;
namespace rrtype = wire::rrtype;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "dns_testing: %s\n", message.c_str());
  std::abort();
}

std::string class_name(uint16_t rrclass) {
  switch (rrclass) {
    case wire::rrclass::IN: return "IN";
    case wire::rrclass::CH: return "CH";
    case wire::rrclass::ANY: return "ANY";
    default: return "CLASS" + std::to_string(rrclass);
  }
}

std::string quoted(std::span<const uint8_t> bytes) {
  std::string out = "\"";
  for (uint8_t c : bytes) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03u", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

// Renders the data of one record as text; false if it is inconsistent with `rdlength`.
bool read_rdata(wire::Reader& reader, uint16_t type, uint16_t rdlength, std::string& text) {
  if (rdlength > reader.remaining()) return false;
  const size_t end = reader.pos() + rdlength;
  auto name = [&]() {
    wire::Name n;
    if (!wire::read_name(reader, n) || reader.pos() > end) return false;
    text += n.to_text();
    return true;
  };
  auto number16 = [&]() {
    uint16_t v;
    if (reader.pos() + 2 > end || !reader.u16(v)) return false;
    text += std::to_string(v);
    return true;
  };
  auto number32 = [&]() {
    uint32_t v;
    if (reader.pos() + 4 > end || !reader.u32(v)) return false;
    text += std::to_string(v);
    return true;
  };
  std::span<const uint8_t> raw;
  switch (type) {
    case rrtype::A:
    case rrtype::AAAA: {
      const size_t size = type == rrtype::A ? 4 : 16;
      if (rdlength != size || !reader.bytes(size, raw)) return false;
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(type == rrtype::A ? AF_INET : AF_INET6, raw.data(), buf, sizeof buf);
      text = buf;
      break;
    }
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      if (!name()) return false;
      break;
    case rrtype::MX:
      if (!number16()) return false;
      text += " ";
      if (!name()) return false;
      break;
    case rrtype::SOA:
      if (!name()) return false;
      text += " ";
      if (!name()) return false;
      for (int i = 0; i < 5; ++i) {
        text += " ";
        if (!number32()) return false;
      }
      break;
    case rrtype::SRV:
      for (int i = 0; i < 3; ++i) {
        if (!number16()) return false;
        text += " ";
      }
      if (!name()) return false;
      break;
    case rrtype::TXT:
      while (reader.pos() < end) {
        uint8_t length;
        if (!reader.u8(length) || reader.pos() + length > end || !reader.bytes(length, raw)) return false;
        if (!text.empty()) text += " ";
        text += quoted(raw);
      }
      break;
    default: {
      if (!reader.bytes(rdlength, raw)) return false;
      text = "\\# " + std::to_string(rdlength);
      if (rdlength > 0) text += " ";
      for (uint8_t b : raw) {
        char buf[3];
        std::snprintf(buf, sizeof buf, "%02X", b);
        text += buf;
      }
      break;
    }
  }
  return reader.pos() == end;
}

// A name made of `labels` labels of `label_length` copies of 'a', uncompressed, root-terminated.
std::string long_name(size_t labels, uint8_t label_length) {
  std::string out;
  for (size_t i = 0; i < labels; ++i) {
    out.push_back(static_cast<char>(label_length));
    out.append(label_length, 'a');
  }
  out.push_back('\0');
  return out;
}

}  // namespace

std::string wire_name(std::string_view text) {
  wire::Name name;
  if (!name.assign_text(text)) die("bad name text: " + std::string(text));
  return std::string(name.wire());
}

std::string type_name(uint16_t type) {
  switch (type) {
    case rrtype::A: return "A";
    case rrtype::NS: return "NS";
    case rrtype::CNAME: return "CNAME";
    case rrtype::SOA: return "SOA";
    case rrtype::PTR: return "PTR";
    case rrtype::MX: return "MX";
    case rrtype::TXT: return "TXT";
    case rrtype::AAAA: return "AAAA";
    case rrtype::SRV: return "SRV";
    case rrtype::OPT: return "OPT";
    case rrtype::DS: return "DS";
    case rrtype::ANY: return "ANY";
    default: return "TYPE" + std::to_string(type);
  }
}

Packet& Packet::u8(uint8_t v) {
  bytes_.push_back(v);
  return *this;
}
Packet& Packet::u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
Packet& Packet::u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
Packet& Packet::raw(std::initializer_list<uint8_t> bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  return *this;
}
Packet& Packet::raw(std::string_view bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  return *this;
}
Packet& Packet::name(std::string_view text) { return raw(wire_name(text)); }
Packet& Packet::header(uint16_t id, uint16_t flags, uint16_t qdcount, uint16_t ancount, uint16_t nscount,
                       uint16_t arcount) {
  return u16(id).u16(flags).u16(qdcount).u16(ancount).u16(nscount).u16(arcount);
}
Packet& Packet::question(std::string_view qname, uint16_t qtype, uint16_t qclass) {
  return name(qname).u16(qtype).u16(qclass);
}
Packet& Packet::opt(uint16_t udp_size, uint32_t ttl, std::string_view rdata) {
  return u8(0).u16(rrtype::OPT).u16(udp_size).u32(ttl).u16(static_cast<uint16_t>(rdata.size())).raw(rdata);
}

Bytes make_query_wire(std::string_view qname_wire, uint16_t qtype, const QueryOptions& options) {
  wire::Name qname;
  if (!qname.assign_wire(qname_wire)) return {};
  std::array<uint8_t, 512> buffer{};
  wire::Writer writer(buffer);
  bool ok = writer.put_u16(options.id) && writer.put_u16(options.flags) && writer.put_u16(1) &&
            writer.put_u16(0) && writer.put_u16(0) && writer.put_u16(options.edns ? 1 : 0) &&
            writer.put_name(qname.wire()) && writer.put_u16(qtype) && writer.put_u16(options.qclass);
  if (options.edns) {
    const uint32_t ttl = uint32_t{options.edns_version} << 16 | (options.dnssec_ok ? 0x8000u : 0u);
    ok = ok && writer.put_u8(0) && writer.put_u16(rrtype::OPT) && writer.put_u16(options.udp_size) &&
         writer.put_u32(ttl) && writer.put_u16(0);
  }
  if (!ok) return {};
  return Bytes(writer.data().begin(), writer.data().end());
}

Bytes make_query(std::string_view qname, uint16_t qtype, const QueryOptions& options) {
  Bytes query = make_query_wire(wire_name(qname), qtype, options);
  if (query.empty()) die("query does not fit: " + std::string(qname));
  return query;
}

std::string Record::to_string() const {
  return owner + " " + std::to_string(ttl) + " " + class_name(rrclass) + " " + type_name(type) + " " + rdata;
}

uint16_t Message::rcode() const {
  return static_cast<uint16_t>(header_rcode() | (opt ? opt->extended_rcode << 4 : 0));
}

std::optional<Message> parse_message(std::span<const uint8_t> packet, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Message> {
    if (error) *error = why;
    return std::nullopt;
  };
  wire::Reader reader = wire::Reader::message(packet);  // no pointers into the header
  Message message;
  message.size = packet.size();
  if (!wire::read_header(reader, message.header)) return fail("short header");
  if (message.header.qdcount > 1) return fail("more than one question");
  if (message.header.qdcount == 1) {
    wire::Name qname;
    Record question;
    if (!wire::read_name(reader, qname) || !reader.u16(question.type) || !reader.u16(question.rrclass)) {
      return fail("malformed question");
    }
    question.owner = qname.to_text();
    message.question = question;
  }
  struct {
    std::vector<Record>* records;
    uint16_t count;
    const char* name;
  } sections[] = {{&message.answer, message.header.ancount, "answer"},
                  {&message.authority, message.header.nscount, "authority"},
                  {&message.additional, message.header.arcount, "additional"}};
  for (auto& section : sections) {
    for (uint16_t i = 0; i < section.count; ++i) {
      const std::string where = std::string(section.name) + " record " + std::to_string(i);
      wire::Name owner;
      Record record;
      uint16_t rdlength;
      if (!wire::read_name(reader, owner) || !reader.u16(record.type) || !reader.u16(record.rrclass) ||
          !reader.u32(record.ttl) || !reader.u16(rdlength)) {
        return fail("malformed " + where);
      }
      if (record.type == rrtype::OPT) {
        if (section.records != &message.additional || message.opt || !owner.is_root() ||
            !reader.skip(rdlength)) {
          return fail("misplaced or malformed OPT at " + where);
        }
        message.opt = OptRecord{record.rrclass, static_cast<uint8_t>(record.ttl >> 24),
                                static_cast<uint8_t>(record.ttl >> 16), (record.ttl & 0x8000) != 0, rdlength};
        continue;
      }
      record.owner = owner.to_text();
      if (!read_rdata(reader, record.type, rdlength, record.rdata)) return fail("bad data in " + where);
      section.records->push_back(std::move(record));
    }
  }
  if (reader.remaining() != 0) return fail(std::to_string(reader.remaining()) + " trailing bytes");
  return message;
}

std::vector<std::string> to_strings(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const Record& record : records) out.push_back(record.to_string());
  return out;
}

Bytes respond_bytes(const zone::Catalog& catalog, std::span<const uint8_t> request, query::Transport transport,
                    const query::Limits& limits) {
  Bytes out(wire::kMaxMessageSize);
  out.resize(query::respond(catalog, request, out, transport, limits));
  return out;
}

std::string example_zone_text() {
  std::string text = R"(; The unit tests' zone: one name per answer path.
$ORIGIN example.com.
$TTL 3600
@        IN SOA ns1.example.com. hostmaster.example.com. (
                2024010101 ; serial
                7200       ; refresh
                900        ; retry
                1209600    ; expire
                300 )      ; minimum: negative answers get min(3600, 300)
         IN NS   ns1
         IN NS   ns2
         IN MX   10 mail
ns1      IN A    192.0.2.1
ns1      IN AAAA 2001:db8::1
ns2      IN A    192.0.2.2
mail     IN A    192.0.2.3
www  300 IN A    192.0.2.10
www  300 IN AAAA 2001:db8::10
MiXeD    IN A    192.0.2.11
alias    IN CNAME alias2
alias2   IN CNAME www
loop1    IN CNAME loop2
loop2    IN CNAME loop1
self     IN CNAME self
out      IN CNAME www.example.org.
dangling IN CNAME nothere
tosub    IN CNAME host.sub
*.wild   IN A    192.0.2.50
*.wild   IN TXT  "wild"
b.wild   IN TXT  "blocker"
a.b.ent  IN A    192.0.2.60
sub      IN NS   ns.sub
sub      IN DS   12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE0F6C4B45C55D4AC69CBD3CD3
ns.sub   IN A    192.0.2.70
nods     IN NS   ns.example.net.
_services._dns-sd._udp IN PTR _erlang-dist._tcp
_erlang-dist._tcp      IN PTR app1._erlang-dist._tcp.host1
_erlang-dist._tcp      IN PTR app2._erlang-dist._tcp.host2
app1._erlang-dist._tcp.host1 IN SRV 0 0 4370 host1
app1._erlang-dist._tcp.host1 IN TXT "vsn=6"
app2._erlang-dist._tcp.host2 IN SRV 0 0 4371 host2
app2._erlang-dist._tcp.host2 IN TXT "vsn=6"
host1    IN A    127.0.0.1
host1    IN AAAA ::1
host2    IN A    127.0.0.2
)";
  // chain0 -> chain1 -> ... -> chain19 -> www: longer than the resolver's hop limit.
  for (int i = 0; i < 20; ++i) {
    text += "chain" + std::to_string(i) + " IN CNAME " + (i == 19 ? "www" : "chain" + std::to_string(i + 1)) + "\n";
  }
  // Address sets sized around 512 and 1232 bytes: few fits 512, medium only 1232, many neither.
  const struct {
    const char* owner;
    int count;
    int subnet;
  } sets[] = {{"few", 25, 0}, {"medium", 40, 1}, {"many", 100, 2}};
  for (const auto& set : sets) {
    for (int i = 1; i <= set.count; ++i) {
      text += std::string(set.owner) + " IN A 10.0." + std::to_string(set.subnet) + "." + std::to_string(i) + "\n";
    }
  }
  return text;
}

std::unique_ptr<zone::Zone> must_load_zone(std::string_view text, const std::string& origin) {
  auto zone = zone::load_zone_text(text, "test.zone", origin);
  if (!zone.ok()) die("test zone does not load: " + std::string(zone.status().message()));
  return std::move(*zone);
}

const zone::Zone& example_zone() {
  static const zone::Zone* const zone = must_load_zone(example_zone_text(), kExampleOrigin).release();
  return *zone;
}

zone::Catalog example_catalog() {
  zone::Catalog catalog;
  catalog.add(must_load_zone(example_zone_text(), kExampleOrigin));
  return catalog;
}

TempDir::TempDir() {
  char pattern[] = "/tmp/epmdns_test_XXXXXX";
  if (mkdtemp(pattern) == nullptr) die("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, std::string_view text) const {
  const std::string file = path_ + "/" + name;
  std::ofstream(file, std::ios::binary) << text;
  return file;
}

std::vector<HostilePacket> hostile_packets() {
  using wire::ParseStatus;
  constexpr uint16_t kId = 0xBEEF;
  std::vector<HostilePacket> out;
  auto add = [&](std::string name, const Packet& packet, ParseStatus expected) {
    out.push_back({std::move(name), packet.bytes(), expected});
  };
  auto query = [&](uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
    Packet p;
    p.header(kId, 0, 1, an, ns, ar).question("www.example.com.", rrtype::A);
    return p;
  };

  const Bytes valid = query().bytes();
  for (size_t n = 0; n < wire::kHeaderSize; ++n) {
    out.push_back({"header_truncated_to_" + std::to_string(n), Bytes(valid.begin(), valid.begin() + n),
                   ParseStatus::kDrop});
  }
  add("qr_set", Packet().header(kId, wire::flag::QR, 1, 0, 0, 0).question("www.example.com.", rrtype::A),
      ParseStatus::kDrop);
  add("qr_set_lying_counts", Packet().header(kId, wire::flag::QR, 9, 9, 9, 9), ParseStatus::kDrop);

  add("qdcount_zero", Packet().header(kId, 0, 0, 0, 0, 0), ParseStatus::kFormErr);
  add("qdcount_two", Packet().header(kId, 0, 2, 0, 0, 0).question("a.", 1).question("b.", 1),
      ParseStatus::kFormErr);
  add("qdcount_lies", Packet().header(kId, 0, 1, 0, 0, 0), ParseStatus::kFormErr);
  add("question_type_truncated", Packet().header(kId, 0, 1, 0, 0, 0).name("www.example.com.").u8(0),
      ParseStatus::kFormErr);
  add("question_class_missing", Packet().header(kId, 0, 1, 0, 0, 0).name("www.example.com.").u16(1),
      ParseStatus::kFormErr);
  add("ancount_lies", query(1), ParseStatus::kFormErr);
  add("nscount_lies", query(0, 1), ParseStatus::kFormErr);
  add("arcount_lies", query(0, 0, 1), ParseStatus::kFormErr);
  add("all_counts_max", query(0xFFFF, 0xFFFF, 0xFFFF), ParseStatus::kFormErr);
  add("arcount_lies_after_opt", query(0, 0, 2).opt(1232), ParseStatus::kFormErr);

  // Compression pointers. The question name starts at offset 12 (0x0C).
  add("pointer_to_itself", Packet().header(kId, 0, 1, 0, 0, 0).raw({0xC0, 0x0C}).u16(1).u16(IN),
      ParseStatus::kFormErr);
  add("pointer_to_own_name_start", Packet().header(kId, 0, 1, 0, 0, 0).raw({1, 'a', 0xC0, 0x0C}).u16(1).u16(IN),
      ParseStatus::kFormErr);
  // Offset 12 points at 14, 14 points back at 12.
  add("pointers_at_each_other_in_question",
      Packet().header(kId, 0, 1, 0, 0, 0).raw({0xC0, 0x0E, 0xC0, 0x0C}).u16(1).u16(IN), ParseStatus::kFormErr);
  // Question "a." is 12..18; the answer's owner at 19 points at 21, whose bytes point back at 19.
  add("pointers_at_each_other_in_answer",
      Packet().header(kId, 0, 1, 1, 0, 0).name("a.").u16(1).u16(IN).raw({0xC0, 0x15, 0xC0, 0x13}).u16(IN).u32(0).u16(0),
      ParseStatus::kFormErr);
  add("forward_pointer", Packet().header(kId, 0, 1, 0, 0, 0).raw({0xC0, 0x12}).u16(1).u16(IN).u8(0),
      ParseStatus::kFormErr);
  add("pointer_past_end", Packet().header(kId, 0, 1, 0, 0, 0).raw({0xFF, 0xFF}).u16(1).u16(IN),
      ParseStatus::kFormErr);
  add("pointer_truncated", Packet().header(kId, 0, 1, 0, 0, 0).raw({1, 'a', 0xC0}), ParseStatus::kFormErr);
  // Offset 4 holds qdcount's high byte, 0x00: read as a name it is the root.
  add("pointer_into_header", Packet().header(kId, 0, 1, 0, 0, 0).raw({0xC0, 0x04}).u16(1).u16(IN),
      ParseStatus::kFormErr);
  add("pointer_into_header_from_answer",
      Packet().header(kId, 0, 1, 1, 0, 0).name("a.").u16(1).u16(IN).raw({0xC0, 0x04}).u16(rrtype::TXT).u16(IN)
          .u32(0).u16(0),
      ParseStatus::kFormErr);

  // Label types 01 (0x40-0x7F) and 10 (0x80-0xBF), each followed by enough bytes to look whole.
  for (uint8_t type : {0x40, 0x7F, 0x80, 0xBF}) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "%02x", type);
    add(std::string("label_type_0x") + hex,
        Packet().header(kId, 0, 1, 0, 0, 0).u8(type).raw(std::string(type, 'a')).u8(0).u16(1).u16(IN),
        ParseStatus::kFormErr);
  }
  add("label_past_end", Packet().header(kId, 0, 1, 0, 0, 0).raw({5, 'a', 'b'}), ParseStatus::kFormErr);
  add("name_without_terminator", Packet().header(kId, 0, 1, 0, 0, 0).raw({1, 'a', 1, 'b'}), ParseStatus::kFormErr);

  // 3 labels of 63 plus one of 62: 256 bytes, one over the limit.
  add("name_256_bytes",
      Packet().header(kId, 0, 1, 0, 0, 0).raw(long_name(3, 63).substr(0, 192)).raw(long_name(1, 62)).u16(1).u16(IN),
      ParseStatus::kFormErr);
  add("name_257_bytes", Packet().header(kId, 0, 1, 0, 0, 0).raw(long_name(4, 63)).u16(1).u16(IN),
      ParseStatus::kFormErr);
  // Question: 3 labels of 63 (193 bytes). Additional owner: a 62-byte label + pointer = 256 bytes.
  add("name_over_255_through_pointer",
      Packet()
          .header(kId, 0, 1, 0, 0, 1)
          .raw(long_name(3, 63))
          .u16(1)
          .u16(IN)
          .raw(long_name(1, 62).substr(0, 63))
          .raw({0xC0, 0x0C})
          .u16(rrtype::TXT)
          .u16(IN)
          .u32(0)
          .u16(0),
      ParseStatus::kFormErr);
  // Each answer owner adds a 63-byte label in front of the previous name: 65, 129, 193, 257 bytes.
  {
    Packet p;
    p.header(kId, 0, 1, 3, 0, 0).raw(long_name(1, 63)).u16(1).u16(IN);
    size_t previous = 12;
    for (int i = 0; i < 3; ++i) {
      const size_t here = p.size();
      p.raw(long_name(1, 63).substr(0, 64)).u16(static_cast<uint16_t>(0xC000 | previous));
      p.u16(rrtype::TXT).u16(IN).u32(0).u16(0);
      previous = here;
    }
    add("name_over_255_through_pointer_chain", p, ParseStatus::kFormErr);
  }

  add("trailing_byte", query().u8(0), ParseStatus::kFormErr);
  add("trailing_garbage_after_opt", query(0, 0, 1).opt(1232).raw({0xDE, 0xAD, 0xBE, 0xEF}), ParseStatus::kFormErr);

  add("two_opt_records", query(0, 0, 2).opt(1232).opt(1232), ParseStatus::kFormErr);
  add("opt_in_answer", query(1).opt(1232), ParseStatus::kFormErr);
  add("opt_in_authority", query(0, 1).opt(1232), ParseStatus::kFormErr);
  add("opt_not_at_root",
      query(0, 0, 1).name("a.").u16(rrtype::OPT).u16(1232).u32(0).u16(0), ParseStatus::kFormErr);
  add("opt_option_length_lies", query(0, 0, 1).opt(1232, 0, std::string("\x00\x0a\x00\x08" "abcd", 8)),
      ParseStatus::kFormErr);
  add("opt_option_header_truncated", query(0, 0, 1).opt(1232, 0, std::string("\x00\x0a\x00", 3)),
      ParseStatus::kFormErr);
  add("opt_rdlength_lies", query(0, 0, 1).u8(0).u16(rrtype::OPT).u16(1232).u32(0).u16(10).raw({0, 10}),
      ParseStatus::kFormErr);
  add("record_rdlength_lies",
      query(1).name("www.example.com.").u16(rrtype::TXT).u16(IN).u32(0).u16(100).raw({1, 'x'}),
      ParseStatus::kFormErr);
  add("record_fixed_fields_truncated", query(1).name("www.example.com.").u16(rrtype::TXT).u8(0),
      ParseStatus::kFormErr);
  return out;
}

}  // namespace epmdns::testing
