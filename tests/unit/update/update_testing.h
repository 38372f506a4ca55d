// Builders for UPDATE requests and zone inspection, shared by the update unit tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "testing/dns_testing.h"
#include "update/request.h"
#include "wire/rdata.h"
#include "wire/types.h"
#include "zone/zone.h"

namespace epmdns::testing {

inline wire::Name name_of(std::string_view text) {
  wire::Name name;
  if (!name.assign_text(text)) std::abort();
  return name;
}

inline update::Record record(std::string_view owner, uint16_t type, uint16_t rrclass, uint32_t ttl,
                             std::string rdata = {}) {
  update::Record r;
  r.owner = name_of(owner);
  r.lower_owner = wire::lower_copy(r.owner.wire());
  r.type = type;
  r.rrclass = rrclass;
  r.ttl = ttl;
  r.rdata = std::move(rdata);
  return r;
}

inline std::string a_rdata(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
}

inline std::string name_rdata(std::string_view target) { return wire_name(target); }

inline std::string srv_rdata(uint16_t port, std::string_view target) {
  std::string out{0, 0, 0, 0, static_cast<char>(port >> 8), static_cast<char>(port & 0xFF)};
  return out + wire_name(target);
}

inline update::Request request_for(std::string_view zone) {
  update::Request request;
  request.zone = name_of(zone);
  request.zone_class = wire::rrclass::IN;
  return request;
}

// The records of one RRset, or empty.
inline std::vector<std::string> rrset_of(const zone::Zone& zone, std::string_view owner, uint16_t type) {
  wire::Name name = name_of(owner);
  name.to_lower();
  const zone::Node* node = zone.find(name.wire());
  const zone::RRset* set = node ? node->find(type) : nullptr;
  std::vector<std::string> out;
  if (set != nullptr) {
    for (std::string_view data : *set) out.emplace_back(data);
  }
  return out;
}

inline const char* kUpdateZone =
    "$ORIGIN erl.internal.\n$TTL 60\n"
    "@ IN SOA ns1 hostmaster 10 3600 600 86400 30\n"
    "@ IN NS ns1\n"
    "ns1 IN A 127.0.0.1\n"
    "host1 IN A 10.0.0.1\n"
    "app1._erlang-dist._tcp.host1 IN SRV 0 0 4370 host1\n"
    "app1._erlang-dist._tcp.host1 IN TXT \"vsn=6\"\n"
    "alias IN CNAME host1\n";

}  // namespace epmdns::testing
