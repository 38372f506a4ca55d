#include "wire/message.h"

namespace epmdns::wire {

bool read_opt(Reader& reader, const Name& owner, uint16_t udp_size, uint32_t ttl, uint16_t rdlength, Edns& edns) {
  if (edns.present || !owner.is_root()) return false;
  edns.present = true;
  edns.udp_size = udp_size;
  edns.version = static_cast<uint8_t>(ttl >> 16);
  edns.dnssec_ok = (ttl & 0x8000) != 0;
  std::span<const uint8_t> rdata;
  if (!reader.bytes(rdlength, rdata)) return false;
  Reader options(rdata);
  while (options.remaining() > 0) {
    uint16_t code, length;
    std::span<const uint8_t> value;
    if (!options.u16(code) || !options.u16(length) || !options.bytes(length, value)) return false;
    if (code == kOptionUpdateLease && length == 0) {
      edns.asks_lease = true;
    } else if (code == kOptionUpdateLease) {
      Reader lease(value);
      if ((length != 4 && length != 8) || !lease.u32(edns.lease)) return false;
      edns.has_lease = true;
    }
  }
  return true;
}

namespace {

// Skips one resource record, recording EDNS if it is an OPT and noting a TSIG.
bool read_record(Reader& reader, bool additional, Edns& edns, bool* tsig = nullptr) {
  Name owner;
  uint16_t type, cls, rdlength;
  uint32_t ttl;
  if (!read_name(reader, owner) || !reader.u16(type) || !reader.u16(cls) || !reader.u32(ttl) ||
      !reader.u16(rdlength)) {
    return false;
  }
  if (type == rrtype::OPT) {
    return additional && read_opt(reader, owner, cls, ttl, rdlength, edns);
  }
  if (type == rrtype::TSIG) {
    if (tsig == nullptr) return false;
    *tsig = true;
  }
  return reader.skip(rdlength);
}

}  // namespace

bool read_header(Reader& reader, Header& out) {
  return reader.u16(out.id) && reader.u16(out.flags) && reader.u16(out.qdcount) &&
         reader.u16(out.ancount) && reader.u16(out.nscount) && reader.u16(out.arcount);
}

ParseStatus parse_query(std::span<const uint8_t> packet, Query& out) {
  Reader reader = Reader::message(packet);
  out.has_question = false;
  out.edns = Edns{};
  if (!read_header(reader, out.header)) return ParseStatus::kDrop;
  if (out.header.qr()) return ParseStatus::kDrop;
  if (out.header.qdcount != 1) return ParseStatus::kFormErr;
  if (!read_name(reader, out.qname) || !reader.u16(out.qtype) || !reader.u16(out.qclass)) {
    return ParseStatus::kFormErr;
  }
  out.has_question = true;
  const uint32_t records = uint32_t{out.header.ancount} + out.header.nscount;
  for (uint32_t i = 0; i < records; ++i) {
    if (!read_record(reader, false, out.edns)) return ParseStatus::kFormErr;
  }
  out.has_tsig = false;
  for (uint16_t i = 0; i < out.header.arcount; ++i) {
    const bool last = i + 1 == out.header.arcount;
    if (!read_record(reader, true, out.edns, last ? &out.has_tsig : nullptr)) return ParseStatus::kFormErr;
  }
  if (reader.remaining() != 0) return ParseStatus::kFormErr;
  return ParseStatus::kOk;
}

}  // namespace epmdns::wire
