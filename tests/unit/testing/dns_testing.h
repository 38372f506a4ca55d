// Shared helpers for the unit tests and fuzz targets: packet and query building, a strict
// response parser, the example zone, and a table of hostile requests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "query/plan.h"
#include "query/respond.h"
#include "wire/message.h"
#include "wire/name.h"
#include "wire/types.h"
#include "zone/catalog.h"
#include "zone/zone.h"

namespace epmdns::testing {

using Bytes = std::vector<uint8_t>;

// Wire form of a presentation-format name (absolute if it ends in '.'); aborts if malformed.
std::string wire_name(std::string_view text);
std::string type_name(uint16_t type);

// Byte-level packet assembly for hand-made, often malformed, messages.
class Packet {
 public:
  Packet& u8(uint8_t v);
  Packet& u16(uint16_t v);
  Packet& u32(uint32_t v);
  Packet& raw(std::initializer_list<uint8_t> bytes);
  Packet& raw(std::string_view bytes);
  Packet& name(std::string_view text);  // uncompressed
  Packet& header(uint16_t id, uint16_t flags, uint16_t qdcount, uint16_t ancount, uint16_t nscount,
                 uint16_t arcount);
  Packet& question(std::string_view qname, uint16_t qtype, uint16_t qclass = wire::rrclass::IN);
  // An OPT record owned by the root.
  Packet& opt(uint16_t udp_size, uint32_t ttl = 0, std::string_view rdata = {});
  size_t size() const { return bytes_.size(); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

inline constexpr uint16_t opcode_flags(uint8_t opcode) { return static_cast<uint16_t>(opcode << 11); }

struct QueryOptions {
  uint16_t id = 0x1234;
  uint16_t flags = 0;  // header flags, opcode bits included
  uint16_t qclass = wire::rrclass::IN;
  bool edns = false;
  uint16_t udp_size = 1232;
  uint8_t edns_version = 0;
  bool dnssec_ok = false;
};
// A one-question request built with wire::Writer.
Bytes make_query(std::string_view qname, uint16_t qtype, const QueryOptions& options = {});
// The same for a name in wire form; empty if the name is malformed.
Bytes make_query_wire(std::string_view qname_wire, uint16_t qtype, const QueryOptions& options = {});

struct Record {
  std::string owner;  // presentation form, case as sent
  uint16_t type = 0;
  uint16_t rrclass = 0;
  uint32_t ttl = 0;
  std::string rdata;  // presentation form, names decompressed
  // "OWNER TTL CLASS TYPE RDATA", e.g. "www.example.com. 300 IN A 192.0.2.10".
  std::string to_string() const;
};

struct OptRecord {
  uint16_t udp_size = 0;
  uint8_t extended_rcode = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  uint16_t rdlength = 0;
};

struct Message {
  wire::Header header;
  std::optional<Record> question;  // owner, type and class only
  std::vector<Record> answer, authority, additional;  // the OPT record is kept apart
  std::optional<OptRecord> opt;
  size_t size = 0;

  bool has(uint16_t flag) const { return (header.flags & flag) != 0; }
  uint8_t opcode() const { return header.opcode(); }
  uint16_t header_rcode() const { return header.flags & 0xF; }
  uint16_t rcode() const;  // including the OPT's extended bits
};

// Strict parse of a response: exact counts, at most one OPT (root, additional section),
// every record's data consistent with its RDLENGTH, no trailing bytes.
std::optional<Message> parse_message(std::span<const uint8_t> packet, std::string* error = nullptr);

std::vector<std::string> to_strings(const std::vector<Record>& records);

// Runs query::respond into a 64 KiB buffer; returns what it wrote (empty: dropped).
Bytes respond_bytes(const zone::Catalog& catalog, std::span<const uint8_t> request,
                    query::Transport transport, const query::Limits& limits = {});

// A zone exercising every answer path; see dns_testing.cc for its contents.
std::string example_zone_text();
inline constexpr const char* kExampleOrigin = "example.com.";
// Loads trusted test zone text; aborts with the loader's message on failure.
std::unique_ptr<zone::Zone> must_load_zone(std::string_view text, const std::string& origin);
// The example zone, loaded once and kept for the life of the process.
const zone::Zone& example_zone();
zone::Catalog example_catalog();

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `text` to the file `name` in the directory; returns the file's path.
  std::string write(const std::string& name, std::string_view text) const;

 private:
  std::string path_;
};

struct HostilePacket {
  std::string name;
  Bytes bytes;
  wire::ParseStatus expected;  // kFormErr or kDrop
};
std::vector<HostilePacket> hostile_packets();
// Names a test parameter in GoogleTest's output.
inline void PrintTo(const HostilePacket& packet, std::ostream* out) { *out << packet.name; }

// "owner TYPE" for each item of a plan section.
template <size_t N>
std::vector<std::string> describe(const query::Section<N>& section) {
  std::vector<std::string> out;
  for (size_t i = 0; i < section.size(); ++i) {
    out.push_back(wire::wire_to_text(section[i].owner) + " " + type_name(section[i].rrset->type));
  }
  return out;
}

}  // namespace epmdns::testing
