// DNS constants: record types, classes, opcodes, rcodes and header flags.
#pragma once

#include <cstdint>

namespace epmdns::wire {

namespace rrtype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16,
                          AAAA = 28, SRV = 33, DNAME = 39, OPT = 41, DS = 43, RRSIG = 46,
                          TKEY = 249, TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253,
                          MAILA = 254, ANY = 255;
}
namespace rrclass {
inline constexpr uint16_t IN = 1, CH = 3, NONE = 254, ANY = 255;
}
namespace opcode {
inline constexpr uint8_t QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5;
}
namespace rcode {
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4,
                          REFUSED = 5, YXDOMAIN = 6, YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9,
                          NOTZONE = 10, BADVERS = 16;
}
namespace flag {
inline constexpr uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080,
                          AD = 0x0020, CD = 0x0010;
}

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMinUdpSize = 512;
inline constexpr size_t kMaxMessageSize = 65535;

}  // namespace epmdns::wire
