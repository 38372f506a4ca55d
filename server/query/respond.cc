#include "query/respond.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "query/additional.h"
#include "query/plan.h"
#include "query/resolve.h"
#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/tsig.h"
#include "wire/writer.h"

namespace epmdns::query {
namespace {

using namespace wire;

constexpr size_t kOptSize = 11;    // root owner, type, class, TTL, empty RDATA
constexpr size_t kLeaseOption = 8;  // UPDATE-LEASE: code, length, 4-byte lease

struct Signed {
  TsigRecord record;
  TsigCheck check;
  uint64_t now = 0;
};

struct Outcome {
  uint16_t rcode = rcode::NOERROR;
  bool echo_question = true;
  bool authoritative = false;
};

bool put_rrset(Writer& writer, const Item& item) {
  for (std::string_view rdata : *item.rrset) {
    if (!writer.put_name(item.owner) || !writer.put_u16(item.rrset->type) || !writer.put_u16(rrclass::IN) ||
        !writer.put_u32(item.ttl) || !put_rdata(writer, item.rrset->type, rdata)) {
      return false;
    }
  }
  return true;
}

// Writes whole RRsets while they fit; returns false at the first that does not.
template <size_t N>
bool put_section(Writer& writer, const Section<N>& section, uint16_t& count, bool skip_misfits) {
  for (size_t i = 0; i < section.size(); ++i) {
    const size_t mark = writer.size();
    if (put_rrset(writer, section[i])) {
      count = static_cast<uint16_t>(count + section[i].rrset->size());
    } else {
      writer.rollback(mark);
      if (!skip_misfits) return false;
    }
  }
  return true;
}

size_t max_size(const Query& query, Transport transport, const Limits& limits) {
  if (transport == Transport::kTcp) return kMaxMessageSize;
  if (!query.edns.present) return kMinUdpSize;
  size_t size = query.edns.udp_size < kMinUdpSize ? kMinUdpSize : query.edns.udp_size;
  return size < limits.max_udp_size ? size : limits.max_udp_size;
}

// Decides rcodes that need no zone data; returns false when the question should be resolved.
bool screen(ParseStatus status, const Query& query, Outcome& outcome) {
  const uint8_t op = query.header.opcode();
  if (op == opcode::UPDATE) {  // reaches here only when updates are off (no --state-dir)
    outcome.rcode = rcode::REFUSED;
    outcome.echo_question = query.has_question;
    return true;
  }
  if (op != opcode::QUERY) {
    outcome.rcode = rcode::NOTIMP;
    outcome.echo_question = query.has_question;
    return true;
  }
  if (status == ParseStatus::kFormErr) {
    outcome.rcode = rcode::FORMERR;
    outcome.echo_question = query.has_question;
    return true;
  }
  if (query.edns.present && query.edns.version > 0) {
    outcome.rcode = rcode::BADVERS;
    return true;
  }
  switch (query.qtype) {
    case rrtype::OPT:
    case rrtype::TSIG:
    case rrtype::TKEY: outcome.rcode = rcode::FORMERR; return true;
    case rrtype::MAILA:
    case rrtype::MAILB: outcome.rcode = rcode::NOTIMP; return true;
    case rrtype::AXFR:
    case rrtype::IXFR: outcome.rcode = rcode::REFUSED; return true;  // transfers: not offered yet
    default: break;
  }
  if (query.qclass != rrclass::IN) {
    outcome.rcode = rcode::REFUSED;
    return true;
  }
  return false;
}

// TSIG (RFC 8945): a signed request is verified before anything else; one that fails gets
// NOTAUTH (or FORMERR) and no data, and the answer is signed as §5.3 says.
std::optional<Signed> check_signature(std::span<const uint8_t> request, const Keyring* keyring, Outcome& outcome) {
  Signed tsig;
  if (find_tsig(request, tsig.record) != TsigFind::kFound) {
    outcome.rcode = rcode::FORMERR;
    return std::nullopt;
  }
  tsig.now = static_cast<uint64_t>(std::time(nullptr));
  if (keyring != nullptr) {
    tsig.check = verify_request(request, tsig.record, *keyring, tsig.now);
  } else {
    tsig.check.rcode = rcode::NOTAUTH;
    tsig.check.error = tsig_error::BADKEY;
  }
  outcome.rcode = tsig.check.rcode;
  return tsig;
}

// Room to keep free for the TSIG record at the end.
size_t tsig_reserve(const std::optional<Signed>& tsig) {
  if (!tsig) return 0;
  if (tsig->check.key != nullptr) return tsig_space(*tsig->check.key);
  return tsig->record.key_name.length() + tsig->record.algorithm.length() + 32;  // unsigned, empty MAC
}

void put_opt(Writer& writer, const Query& query, uint16_t rcode, const Limits& limits, std::optional<uint32_t> lease) {
  writer.put_u8(0);
  writer.put_u16(rrtype::OPT);
  writer.put_u16(static_cast<uint16_t>(limits.max_udp_size));
  writer.put_u32(uint32_t{static_cast<uint8_t>(rcode >> 4)} << 24 | (query.edns.dnssec_ok ? 0x8000u : 0u));
  if (!lease) {
    writer.put_u16(0);
    return;
  }
  writer.put_u16(kLeaseOption);
  writer.put_u16(kOptionUpdateLease);
  writer.put_u16(4);
  writer.put_u32(*lease);
}

// For a query carrying an empty UPDATE-LEASE option: the seconds left on the shortest lease
// among the answer's records (0 for one that ran out and awaits its sweep); nullopt if no
// record of the answer has a lease.
std::optional<uint32_t> remaining_lease(const Plan& plan, uint32_t now) {
  std::optional<uint32_t> shortest;
  for (size_t i = 0; i < plan.answer.size(); ++i) {
    const zone::RRset& set = *plan.answer[i].rrset;
    if (!set.has_leases()) continue;
    for (size_t r = 0; r < set.size(); ++r) {
      const uint32_t expiry = set.expiry(r);
      if (expiry == zone::RRset::kNoLease) continue;
      const uint32_t left = expiry > now ? expiry - now : 0;
      if (!shortest || left < *shortest) shortest = left;
    }
  }
  return shortest;
}

// Encodes the response: header, question, then whole RRsets while they fit (TC when the
// answer or authority does not), OPT and TSIG last.
size_t encode(const Query& query, const Outcome& outcome, const Plan* plan, const std::optional<Signed>& tsig,
              size_t limit, const Limits& limits, std::span<uint8_t> out) {
  Writer writer(out.first(std::min(limit, out.size())));
  std::optional<uint32_t> lease;
  if (plan != nullptr && query.edns.asks_lease) lease = remaining_lease(*plan, static_cast<uint32_t>(std::time(nullptr)));
  const size_t trailer = (query.edns.present ? kOptSize + (lease ? kLeaseOption : 0) : 0) + tsig_reserve(tsig);
  writer.set_limit(writer.limit() > trailer ? writer.limit() - trailer : 0);
  const Header& in = query.header;
  uint16_t flags = flag::QR | (in.flags & (0x7800 | flag::RD | flag::CD)) | (outcome.rcode & 0xF);
  if (outcome.authoritative) flags |= flag::AA;
  uint16_t counts[4] = {0, 0, 0, 0};
  writer.put_u16(in.id);
  writer.put_u16(flags);
  for (int i = 0; i < 4; ++i) writer.put_u16(0);
  if (outcome.echo_question && query.has_question && writer.put_name(query.qname.wire()) &&
      writer.put_u16(query.qtype) && writer.put_u16(query.qclass)) {
    counts[0] = 1;
  }
  if (plan != nullptr) {
    if (put_section(writer, plan->answer, counts[1], false) && put_section(writer, plan->authority, counts[2], false)) {
      put_section(writer, plan->additional, counts[3], true);
    } else {
      flags |= flag::TC;
    }
  }
  writer.set_limit(limit);
  if (query.edns.present) {
    put_opt(writer, query, outcome.rcode, limits, lease);
    ++counts[3];
  }
  writer.patch_u16(2, flags);
  for (int i = 0; i < 4; ++i) writer.patch_u16(4 + 2 * i, counts[i]);
  if (tsig) sign_response(writer, tsig->check, tsig->record, tsig->now);
  return writer.size();
}

}  // namespace

size_t respond(const zone::Catalog& catalog, std::span<const uint8_t> request, std::span<uint8_t> out,
               Transport transport, const Limits& limits, const wire::Keyring* keyring) {
  Query query;
  const ParseStatus status = parse_query(request, query);
  if (status == ParseStatus::kDrop) return 0;

  Outcome outcome;
  std::optional<Signed> tsig;
  if (status == ParseStatus::kOk && query.has_tsig) tsig = check_signature(request, keyring, outcome);
  Plan plan;
  const zone::Zone* zone = nullptr;
  if (outcome.rcode == rcode::NOERROR && !screen(status, query, outcome)) {
    Name lower = query.qname;
    lower.to_lower();
    zone = catalog.find_zone(lower);
    if (zone == nullptr) {
      outcome.rcode = rcode::REFUSED;
    } else {
      resolve(*zone, query.qname, lower, query.qtype, transport == Transport::kUdp, plan);
      add_additional(*zone, plan);
      outcome.rcode = plan.rcode;
      outcome.authoritative = plan.authoritative;
    }
  }
  return encode(query, outcome, zone ? &plan : nullptr, tsig, max_size(query, transport, limits), limits, out);
}

size_t refuse_oversized(std::span<const uint8_t> request, std::span<uint8_t> out) {
  if (request.size() < kHeaderSize || (request[2] & 0x80) != 0 || out.size() < kHeaderSize) return 0;
  Writer writer(out);
  writer.put_u16(static_cast<uint16_t>(request[0] << 8 | request[1]));
  writer.put_u16(static_cast<uint16_t>(flag::QR | ((request[2] << 8) & 0x7800) | rcode::FORMERR));
  for (int i = 0; i < 4; ++i) writer.put_u16(0);
  return writer.size();
}

}  // namespace epmdns::query
