// Knowledge of the few record types whose data holds domain names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wire/reader.h"

#include "wire/writer.h"

namespace epmdns::wire {

// Writes RDLENGTH and RDATA. Names inside NS, CNAME, PTR, MX and SOA data are compressed
// (RFC 3597 §4 allows it only for those); all other data is copied as is.
bool put_rdata(Writer& writer, uint16_t type, std::string_view rdata);

// Reads RDATA from a message into canonical form: names inside decompressed and lower-cased
// (RFC 4034 §6.2 list, as far as we know the type), fixed-size data checked. False if malformed.
bool read_rdata(Reader& reader, uint16_t type, uint16_t rdlength, std::string& out);
// Whether trusted uncompressed RDATA fits its type's layout (A/AAAA sizes, names where
// the type has them); for data from zone files, where RFC 3597 syntax can say anything.
bool rdata_well_formed(uint16_t type, std::string_view rdata);
// Lower-cases the names inside trusted uncompressed RDATA of the types read_rdata knows.
void canonicalize_rdata(uint16_t type, std::string& rdata);

// The name a record points at (NS, CNAME, PTR, MX exchange, SRV target), or empty.
std::string_view rdata_target(uint16_t type, std::string_view rdata);

// SOA MINIMUM field, the negative-caching TTL (RFC 2308).
uint32_t soa_minimum(std::string_view rdata);
// SOA SERIAL, read and written in place (uncompressed RDATA).
uint32_t soa_serial(std::string_view rdata);
void set_soa_serial(std::string& rdata, uint32_t serial);
// RFC 1982 serial number arithmetic: is `a` newer than `b`?
bool serial_newer(uint32_t a, uint32_t b);

}  // namespace epmdns::wire
