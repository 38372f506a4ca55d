#include "update/request.h"

#include "wire/rdata.h"
#include "wire/types.h"

namespace epmdns::update {
namespace {

using namespace wire;

bool read_record(Reader& reader, Record& out, uint16_t& rdlength) {
  return read_name(reader, out.owner) && reader.u16(out.type) && reader.u16(out.rrclass) &&
         reader.u32(out.ttl) && reader.u16(rdlength) && read_rdata(reader, out.type, rdlength, out.rdata);
}

bool read_section(Reader& reader, uint16_t count, std::vector<Record>& out) {
  out.resize(count);
  uint16_t rdlength;
  for (Record& record : out) {
    if (!read_record(reader, record, rdlength)) return false;
    if (record.type == rrtype::OPT || record.type == rrtype::TSIG) return false;
    record.lower_owner = lower_copy(record.owner.wire());
  }
  return true;
}

}  // namespace

uint16_t parse_request(std::span<const uint8_t> message, Request& out) {
  Reader reader = Reader::message(message);
  if (!read_header(reader, out.header) || out.header.qdcount != 1) return rcode::FORMERR;
  uint16_t zone_type;
  if (!read_name(reader, out.zone) || !reader.u16(zone_type) || !reader.u16(out.zone_class) ||
      zone_type != rrtype::SOA) {
    return rcode::FORMERR;
  }
  if (!read_section(reader, out.header.ancount, out.prerequisites) ||
      !read_section(reader, out.header.nscount, out.updates)) {
    return rcode::FORMERR;
  }
  for (uint16_t i = 0; i < out.header.arcount; ++i) {
    const size_t start = reader.pos();
    Name owner;
    uint16_t type, cls, rdlength;
    uint32_t ttl;
    if (!read_name(reader, owner) || !reader.u16(type) || !reader.u16(cls) || !reader.u32(ttl) ||
        !reader.u16(rdlength)) {
      return rcode::FORMERR;
    }
    if (type == rrtype::OPT) {
      if (!read_opt(reader, owner, cls, ttl, rdlength, out.edns)) return rcode::FORMERR;
    } else if (type == rrtype::TSIG) {
      if (i + 1 != out.header.arcount || !reader.skip(rdlength)) return rcode::FORMERR;
      out.signed_ = true;
      out.tsig_offset = start;
    } else if (!reader.skip(rdlength)) {
      return rcode::FORMERR;
    }
  }
  return reader.remaining() == 0 ? rcode::NOERROR : rcode::FORMERR;
}

}  // namespace epmdns::update
