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

// Where the names sit in a type's RDATA: fixed bytes before them, how many, and the
// fixed size after them (or -1 for "anything").
struct NameLayout {
  size_t prefix;
  int names;
  int suffix;
};

bool name_layout(uint16_t type, NameLayout& layout) {
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR: layout = {0, 1, 0}; return true;
    case rrtype::MX: layout = {2, 1, 0}; return true;
    case rrtype::SRV: layout = {6, 1, 0}; return true;
    case rrtype::SOA: layout = {0, 2, 20}; return true;
    default: return false;
  }
}

}  // namespace

bool read_rdata(Reader& reader, uint16_t type, uint16_t rdlength, std::string& out) {
  out.clear();
  const size_t end = reader.pos() + rdlength;
  if (rdlength > reader.remaining()) return false;
  if (rdlength == 0) return true;  // whether empty data is allowed depends on the section
  NameLayout layout;
  if (!name_layout(type, layout)) {
    std::span<const uint8_t> bytes;
    if (!reader.bytes(rdlength, bytes)) return false;
    if ((type == rrtype::A && rdlength != 4) || (type == rrtype::AAAA && rdlength != 16)) return false;
    out.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return true;
  }
  std::span<const uint8_t> fixed;
  if (!reader.bytes(layout.prefix, fixed)) return false;
  out.assign(reinterpret_cast<const char*>(fixed.data()), fixed.size());
  for (int i = 0; i < layout.names; ++i) {
    Name name;
    if (!read_name(reader, name) || reader.pos() > end) return false;
    name.to_lower();
    out.append(name.wire());
  }
  if (reader.pos() > end) return false;
  const size_t rest = end - reader.pos();
  if (layout.suffix >= 0 && rest != static_cast<size_t>(layout.suffix)) return false;
  if (!reader.bytes(rest, fixed)) return false;
  out.append(reinterpret_cast<const char*>(fixed.data()), fixed.size());
  return true;
}

bool rdata_well_formed(uint16_t type, std::string_view rdata) {
  if (type == rrtype::A) return rdata.size() == 4;
  if (type == rrtype::AAAA) return rdata.size() == 16;
  NameLayout layout;
  if (!name_layout(type, layout)) return true;
  size_t pos = layout.prefix;
  if (rdata.size() < pos) return false;
  for (int i = 0; i < layout.names; ++i) {
    const size_t length = wire_name_length(rdata.substr(pos));
    if (length == 0) return false;
    pos += length;
  }
  return layout.suffix < 0 || rdata.size() - pos == static_cast<size_t>(layout.suffix);
}

void canonicalize_rdata(uint16_t type, std::string& rdata) {
  NameLayout layout;
  if (!name_layout(type, layout)) return;
  size_t pos = layout.prefix;
  for (int i = 0; i < layout.names && pos < rdata.size(); ++i) {
    const size_t length = wire_name_length(std::string_view(rdata).substr(pos));
    if (length == 0) return;
    lower_into(std::string_view(rdata).substr(pos, length), rdata.data() + pos);
    pos += length;
  }
}

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

uint32_t soa_serial(std::string_view rdata) {
  if (rdata.size() < 20) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(rdata.data() + rdata.size() - 20);
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

void set_soa_serial(std::string& rdata, uint32_t serial) {
  if (rdata.size() < 20) return;
  const size_t at = rdata.size() - 20;
  for (int i = 0; i < 4; ++i) rdata[at + i] = static_cast<char>(serial >> (24 - 8 * i));
}

bool serial_newer(uint32_t a, uint32_t b) {
  return a != b && static_cast<int32_t>(a - b) > 0;
}

}  // namespace epmdns::wire
