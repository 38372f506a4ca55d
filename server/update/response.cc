#include "update/response.h"

#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::update {

using namespace wire;

size_t write_response(const Request& request, bool zone_parsed, uint16_t rcode, std::optional<uint32_t> lease,
                      const Signature* signature, uint64_t now, std::span<uint8_t> out) {
  Writer writer(out);
  const uint16_t flags = flag::QR | (request.header.flags & 0x7800) | (rcode & 0xF);
  writer.put_u16(request.header.id);
  writer.put_u16(flags);
  writer.put_u16(zone_parsed ? 1 : 0);
  writer.put_u16(0);
  writer.put_u16(0);
  writer.put_u16(0);
  if (zone_parsed) {
    writer.put_name(request.zone.wire());
    writer.put_u16(rrtype::SOA);
    writer.put_u16(request.zone_class);
  }
  uint16_t additional = 0;
  if (request.edns.present) {
    writer.put_u8(0);
    writer.put_u16(rrtype::OPT);
    writer.put_u16(1232);
    writer.put_u32(uint32_t{static_cast<uint8_t>(rcode >> 4)} << 24);
    if (lease) {
      writer.put_u16(8);
      writer.put_u16(kOptionUpdateLease);
      writer.put_u16(4);
      writer.put_u32(*lease);
    } else {
      writer.put_u16(0);
    }
    ++additional;
  }
  writer.patch_u16(10, additional);
  if (signature != nullptr) sign_response(writer, signature->check, signature->record, now);
  return writer.size();
}

}  // namespace epmdns::update
