#include "wire/rdata.h"

#include "wire/name.h"
#include "wire/types.h"

namespace epmdns::wire {
namespace {

bool put_names_then_rest(Writer& writer, std::string_view rdata, size_t prefix, int names) {
  if (!writer.put_bytes(rdata.substr(0, prefix))) return false;
  size_t pos = prefix;
  for (int i = 0; i < names; ++i) {
    const size_t length = wire_name_length(rdata.substr(pos));
    if (length == 0) return false;
    if (!writer.put_name(rdata.substr(pos, length))) return false;
    pos += length;
  }
  return writer.put_bytes(rdata.substr(pos));
}

}  // namespace

bool put_rdata(Writer& writer, uint16_t type, std::string_view rdata) {
  const size_t length_at = writer.size();
  if (!writer.put_u16(0)) return false;
  bool ok;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: ok = put_names_then_rest(writer, rdata, 0, 1); break;
    case rrtype::MX: ok = rdata.size() > 2 && put_names_then_rest(writer, rdata, 2, 1); break;
    case rrtype::SOA: ok = put_names_then_rest(writer, rdata, 0, 2); break;
    default: ok = writer.put_bytes(rdata); break;
  }
  if (!ok) return false;
  writer.patch_u16(length_at, static_cast<uint16_t>(writer.size() - length_at - 2));
  return true;
}

std::string_view rdata_target(uint16_t type, std::string_view rdata) {
  size_t offset;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: offset = 0; break;
    case rrtype::MX: offset = 2; break;
    case rrtype::SRV: offset = 6; break;
    default: return {};
  }
  if (rdata.size() <= offset) return {};
  const size_t length = wire_name_length(rdata.substr(offset));
  return length == 0 ? std::string_view{} : rdata.substr(offset, length);
}

uint32_t soa_minimum(std::string_view rdata) {
  if (rdata.size() < 4) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(rdata.data() + rdata.size() - 4);
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

}  // namespace epmdns::wire
