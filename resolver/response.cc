#include "resolver/response.h"

#include <algorithm>

#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::resolver {

std::optional<Response> parse_response(std::span<const uint8_t> packet) {
  auto reader = wire::Reader::message(packet);
  wire::Header header;
  if (!wire::read_header(reader, header) || !header.qr() || header.qdcount != 1) return std::nullopt;
  Response out;
  out.id = header.id;
  out.rcode = header.flags & 0xF;
  out.truncated = header.flags & wire::flag::TC;
  uint16_t qclass = 0;
  if (!wire::read_name(reader, out.qname) || !reader.u16(out.qtype) || !reader.u16(qclass)) return std::nullopt;
  out.qname.to_lower();
  const Section sections[] = {Section::kAnswer, Section::kAuthority, Section::kAdditional};
  const uint16_t counts[] = {header.ancount, header.nscount, header.arcount};
  // One allocation, no moves of ~400-byte records as the vector grows (a record takes at
  // least 11 bytes of the packet, which bounds a lying count).
  out.records.reserve(std::min<size_t>(size_t{header.ancount} + header.nscount + header.arcount, packet.size() / 11));
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      Record record{sections[s], {}, 0, 0, 0, {}};
      uint16_t rdlength = 0;
      if (!wire::read_name(reader, record.owner) || !reader.u16(record.type) || !reader.u16(record.rrclass) ||
          !reader.u32(record.ttl) || !reader.u16(rdlength)) {
        return std::nullopt;
      }
      if (!wire::read_rdata(reader, record.type, rdlength, record.rdata)) return std::nullopt;
      if (record.type == wire::rrtype::OPT) continue;
      record.owner.to_lower();
      out.records.push_back(std::move(record));
    }
  }
  // Trailing bytes are tolerated: a response is judged by what it says, not by padding.
  return out;
}

std::vector<uint8_t> build_query(uint16_t id, const wire::Name& qname, uint16_t qtype, uint16_t udp_payload) {
  std::vector<uint8_t> buf(wire::kHeaderSize + wire::kMaxNameLength + 4 + 11);
  wire::Writer writer(buf);
  writer.put_u16(id);
  writer.put_u16(wire::flag::RD);
  writer.put_u16(1);
  writer.put_u16(0);
  writer.put_u16(0);
  writer.put_u16(udp_payload ? 1 : 0);
  writer.put_name(qname.wire(), false);
  writer.put_u16(qtype);
  writer.put_u16(wire::rrclass::IN);
  if (udp_payload) {
    writer.put_u8(0);  // root owner
    writer.put_u16(wire::rrtype::OPT);
    writer.put_u16(udp_payload);
    writer.put_u32(0);  // extended rcode, version 0, no flags
    writer.put_u16(0);  // no options
  }
  buf.resize(writer.size());
  return buf;
}

}  // namespace epmdns::resolver
