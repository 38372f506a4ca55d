#include "resolver/node_answer.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string_view>

#include "wire/types.h"

namespace epmdns::resolver {
namespace {

constexpr int kMaxCnameChain = 8;

uint16_t u16_at(std::string_view data, size_t pos) {
  return static_cast<uint16_t>(static_cast<uint8_t>(data[pos]) << 8 | static_cast<uint8_t>(data[pos + 1]));
}

bool in_data_sections(const Record& record) { return record.section != Section::kAuthority; }

bool owned_by(const Record& record, const wire::Name& owner, uint16_t type) {
  return record.type == type && record.rrclass == wire::rrclass::IN && record.owner == owner;
}

// "vsn=N" inside one TXT RDATA (a sequence of character-strings), if any.
std::optional<int> txt_version(std::string_view rdata) {
  size_t pos = 0;
  while (pos < rdata.size()) {
    const size_t len = static_cast<uint8_t>(rdata[pos]);
    if (pos + 1 + len > rdata.size()) return std::nullopt;
    std::string_view text = rdata.substr(pos + 1, len);
    if (text.size() > 4 && text.substr(0, 4) == "vsn=") {
      int value = 0;
      auto [ptr, ec] = std::from_chars(text.data() + 4, text.data() + text.size(), value);
      if (ec == std::errc() && ptr == text.data() + text.size() && value > 0) return value;
    }
    pos += 1 + len;
  }
  return std::nullopt;
}

}  // namespace

Status rcode_status(const Response& response) {
  switch (response.rcode) {
    case wire::rcode::NOERROR: return Status::kOk;
    case wire::rcode::NXDOMAIN: return Status::kNotFound;
    default: return Status::kServerFailure;
  }
}

Failure rcode_failure(const Response& response) {
  switch (response.rcode) {
    case wire::rcode::SERVFAIL: return Failure::kServFail;
    case wire::rcode::REFUSED: return Failure::kRefused;
    case wire::rcode::NOTIMP: return Failure::kNotImp;
    default: return Failure::kBadRcode;
  }
}

std::optional<Srv> find_srv(const Response& response, const wire::Name& owner) {
  std::optional<Srv> best;
  for (const Record& record : response.records) {
    if (record.section != Section::kAnswer || !owned_by(record, owner, wire::rrtype::SRV)) continue;
    if (record.rdata.size() < 7) continue;  // read_rdata checked the target's form
    Srv srv;
    srv.priority = u16_at(record.rdata, 0);
    srv.weight = u16_at(record.rdata, 2);
    srv.port = u16_at(record.rdata, 4);
    if (!srv.target.assign_wire(std::string_view(record.rdata).substr(6))) continue;
    srv.ttl = record.ttl;
    if (!best || srv.priority < best->priority || (srv.priority == best->priority && srv.weight > best->weight)) {
      best = std::move(srv);
    }
  }
  return best;
}

std::optional<Address> find_address(const Response& response, const wire::Name& name, Family family) {
  const uint16_t type = family == Family::kInet ? wire::rrtype::A : wire::rrtype::AAAA;
  const size_t size = family == Family::kInet ? 4 : 16;
  wire::Name current = name;
  uint32_t ttl = UINT32_MAX;
  for (int hop = 0; hop <= kMaxCnameChain; ++hop) {
    const Record* cname = nullptr;
    for (const Record& record : response.records) {
      if (!in_data_sections(record)) continue;
      if (owned_by(record, current, type) && record.rdata.size() == size) {
        Address address;
        std::memcpy(address.bytes.data(), record.rdata.data(), size);
        address.ttl = std::min(ttl, record.ttl);
        return address;
      }
      if (!cname && owned_by(record, current, wire::rrtype::CNAME)) cname = &record;
    }
    if (!cname || !current.assign_wire(cname->rdata)) return std::nullopt;
    ttl = std::min(ttl, cname->ttl);
  }
  return std::nullopt;
}

std::optional<Version> find_version(const Response& response, const wire::Name& owner) {
  std::optional<Version> found;
  for (const Record& record : response.records) {
    if (!in_data_sections(record) || !owned_by(record, owner, wire::rrtype::TXT)) continue;
    if (!found) found = Version{kDefaultVersion, record.ttl};
    if (auto version = txt_version(record.rdata)) {
      found->version = *version;
      return found;
    }
  }
  return found;
}

std::vector<wire::Name> find_ptr_targets(const Response& response, const wire::Name& owner) {
  std::vector<wire::Name> out;
  for (const Record& record : response.records) {
    if (record.section != Section::kAnswer || !owned_by(record, owner, wire::rrtype::PTR)) continue;
    wire::Name target;
    if (target.assign_wire(record.rdata)) out.push_back(target);
  }
  return out;
}

std::optional<uint16_t> find_srv_port(const Response& response, const wire::Name& owner) {
  for (const Record& record : response.records) {
    if (in_data_sections(record) && owned_by(record, owner, wire::rrtype::SRV) && record.rdata.size() >= 7) {
      return u16_at(record.rdata, 4);
    }
  }
  return std::nullopt;
}

}  // namespace epmdns::resolver

namespace epmdns::resolver {

uint32_t negative_ttl(const Response& response) {
  for (const Record& record : response.records) {
    if (record.section != Section::kAuthority || record.type != wire::rrtype::SOA || record.rdata.size() < 22) continue;
    const std::string_view tail = std::string_view(record.rdata).substr(record.rdata.size() - 4);
    const uint32_t minimum = static_cast<uint32_t>(u16_at(tail, 0)) << 16 | u16_at(tail, 2);
    return std::min(record.ttl, minimum);
  }
  return 0;
}

uint32_t min_data_ttl(const Response& response) {
  std::optional<uint32_t> ttl;
  for (const Record& record : response.records) {
    if (in_data_sections(record)) ttl = std::min(ttl.value_or(UINT32_MAX), record.ttl);
  }
  return ttl ? *ttl : negative_ttl(response);
}

}  // namespace epmdns::resolver
