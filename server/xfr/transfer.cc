#include "xfr/transfer.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "wire/name.h"
#include "wire/rdata.h"
#include "wire/reader.h"
#include "wire/tsig.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::xfr {
namespace {

using namespace wire;

constexpr size_t kOptSize = 11;

void put_opt(Writer& writer) {
  writer.put_u8(0);
  writer.put_u16(rrtype::OPT);
  writer.put_u16(static_cast<uint16_t>(kMaxMessageSize));
  writer.put_u32(0);
  writer.put_u16(0);
}

uint16_t response_flags(const Query& query, uint16_t rcode, bool authoritative) {
  uint16_t flags = flag::QR | (query.header.flags & (0x7800 | flag::RD | flag::CD)) | (rcode & 0xF);
  if (authoritative) flags |= flag::AA;
  return flags;
}

// One message with no records: an error, signed as RFC 8945 §5.3 says when the request was.
Message error_response(const Query& query, uint16_t rcode, const TsigRecord* tsig, const TsigCheck* check,
                       uint64_t now) {
  Message out(kMaxMessageSize);
  Writer writer(out);
  writer.put_u16(query.header.id);
  writer.put_u16(response_flags(query, rcode, false));
  writer.put_u16(0);
  for (int i = 0; i < 3; ++i) writer.put_u16(0);
  if (query.has_question && writer.put_name(query.qname.wire()) && writer.put_u16(query.qtype) &&
      writer.put_u16(query.qclass)) {
    writer.patch_u16(4, 1);
  }
  if (query.edns.present) {
    put_opt(writer);
    writer.patch_u16(10, 1);
  }
  if (tsig != nullptr && check != nullptr) sign_response(writer, *check, *tsig, now);
  out.resize(writer.size());
  return out;
}

std::vector<std::string_view> records_of(const RRsetView& view) {
  std::vector<std::string_view> out;
  out.reserve(view.count);
  for_each_record(view, [&](std::string_view rdata) { out.push_back(rdata); });
  return out;
}

}  // namespace

bool is_transfer(std::span<const uint8_t> request) {
  Reader reader = Reader::message(request);
  Header header;
  if (!read_header(reader, header) || header.qr() || header.opcode() != opcode::QUERY || header.qdcount != 1) {
    return false;
  }
  Name qname;
  uint16_t qtype;
  if (!read_name(reader, qname) || !reader.u16(qtype)) return false;
  return qtype == rrtype::AXFR || qtype == rrtype::IXFR;
}

bool ixfr_client_serial(std::span<const uint8_t> request, uint32_t& serial) {
  Reader reader = Reader::message(request);
  Header header;
  if (!read_header(reader, header) || header.qdcount != 1 || header.nscount == 0) return false;
  Name name;
  uint16_t type, klass, rdlength;
  uint32_t ttl;
  if (!read_name(reader, name) || !reader.u16(type) || !reader.u16(klass)) return false;
  for (uint16_t i = 0; i < header.ancount; ++i) {
    if (!read_name(reader, name) || !reader.u16(type) || !reader.u16(klass) || !reader.u32(ttl) ||
        !reader.u16(rdlength) || !reader.skip(rdlength)) {
      return false;
    }
  }
  if (!read_name(reader, name) || !reader.u16(type) || !reader.u16(klass) || !reader.u32(ttl) ||
      !reader.u16(rdlength) || type != rrtype::SOA || rdlength > reader.remaining()) {
    return false;
  }
  const size_t end = reader.pos() + rdlength;
  Name mname, rname;
  if (!read_name(reader, mname) || !read_name(reader, rname) || !reader.u32(serial)) return false;
  // The names may be compressed, but the fixed fields must end within RDLENGTH.
  return reader.pos() + 16 == end;
}

MessageBuilder::MessageBuilder(const Query& query, const TsigKey* key, std::string request_mac, uint64_t now,
                               size_t message_size)
    : query_(query),
      key_(key),
      mac_(std::move(request_mac)),
      now_(now),
      message_size_(std::clamp<size_t>(message_size, 512, kMaxMessageSize)),
      trailer_((query.edns.present ? kOptSize : 0) + (key ? tsig_space(*key) : 0)),
      buffer_(kMaxMessageSize) {}

void MessageBuilder::open() {
  writer_ = std::make_unique<Writer>(buffer_, &names_);
  writer_->put_u16(query_.header.id);
  writer_->put_u16(response_flags(query_, rcode::NOERROR, true));
  for (int i = 0; i < 4; ++i) writer_->put_u16(0);
  // The question goes in the first message only (RFC 5936 §2.2.1 lets later ones omit it).
  if (first_ && query_.has_question) {
    writer_->put_name(query_.qname.wire());
    writer_->put_u16(query_.qtype);
    writer_->put_u16(query_.qclass);
    writer_->patch_u16(4, 1);
  }
  writer_->set_limit(message_size_ - trailer_);
  answers_ = 0;
}

void MessageBuilder::close() {
  if (!writer_) return;
  writer_->set_limit(kMaxMessageSize);
  writer_->patch_u16(6, answers_);
  if (query_.edns.present) {
    put_opt(*writer_);
    writer_->patch_u16(10, 1);
  }
  if (key_ != nullptr) {
    // Room was kept for the TSIG: signing cannot fail for lack of space.
    if (first_) {
      sign(*writer_, *key_, now_, kTsigDefaultFudge, mac_, tsig_error::NOERROR, {}, &mac_);
    } else {
      sign_subsequent(*writer_, *key_, now_, kTsigDefaultFudge, mac_, &mac_);
    }
  }
  const auto data = writer_->data();
  messages_.emplace_back(data.begin(), data.end());
  writer_.reset();
  first_ = false;
}

bool MessageBuilder::put_record(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata) {
  const size_t mark = writer_->size();
  if (writer_->put_name(owner) && writer_->put_u16(type) && writer_->put_u16(rrclass::IN) && writer_->put_u32(ttl) &&
      put_rdata(*writer_, type, rdata)) {
    ++answers_;
    return true;
  }
  writer_->rollback(mark);
  return false;
}

void MessageBuilder::add(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata) {
  if (!writer_) open();
  if (put_record(owner, type, ttl, rdata)) return;
  if (answers_ > 0) {
    close();
    open();
    if (put_record(owner, type, ttl, rdata)) return;
  }
  // Larger than the soft size on its own: give this message all the room there is.
  writer_->set_limit(kMaxMessageSize - trailer_);
  put_record(owner, type, ttl, rdata);  // a record always fits in an empty 64 KiB message
  writer_->set_limit(message_size_ - trailer_);
}

void MessageBuilder::add_rrset(std::string_view owner, uint16_t type, uint32_t ttl,
                               const std::vector<std::string_view>& records) {
  if (!writer_) open();
  const size_t mark = writer_->size();
  const uint16_t answers = answers_;
  bool whole = true;
  for (std::string_view rdata : records) {
    if (!put_record(owner, type, ttl, rdata)) {
      whole = false;
      break;
    }
  }
  if (whole) return;
  writer_->rollback(mark);
  answers_ = answers;
  if (answers_ > 0) {  // try it whole in a message of its own
    close();
    open();
    const size_t mark2 = writer_->size();
    whole = true;
    for (std::string_view rdata : records) {
      if (!put_record(owner, type, ttl, rdata)) {
        whole = false;
        break;
      }
    }
    if (whole) return;
    writer_->rollback(mark2);
    answers_ = 0;
  }
  for (std::string_view rdata : records) add(owner, type, ttl, rdata);
}

std::vector<Message> MessageBuilder::finish() {
  if (writer_) close();
  return std::move(messages_);
}

void build_full(const ZoneCopy& copy, MessageBuilder& builder) {
  builder.add(copy.apex_owner, rrtype::SOA, copy.soa_ttl, copy.soa_rdata);
  for_each_rrset(copy, [&](const RRsetView& view) { builder.add_rrset(view.owner, view.type, view.ttl, records_of(view)); });
  builder.add(copy.apex_owner, rrtype::SOA, copy.soa_ttl, copy.soa_rdata);
}

void build_incremental(const std::vector<std::shared_ptr<const Step>>& steps, MessageBuilder& builder) {
  const Record& newest = steps.back()->new_soa;
  builder.add(newest.owner, rrtype::SOA, newest.ttl, newest.rdata);
  for (const auto& step : steps) {
    builder.add(step->old_soa.owner, rrtype::SOA, step->old_soa.ttl, step->old_soa.rdata);
    for (const Record& r : step->removed) builder.add(r.owner, r.type, r.ttl, r.rdata);
    builder.add(step->new_soa.owner, rrtype::SOA, step->new_soa.ttl, step->new_soa.rdata);
    for (const Record& r : step->added) builder.add(r.owner, r.type, r.ttl, r.rdata);
  }
  builder.add(newest.owner, rrtype::SOA, newest.ttl, newest.rdata);
}

std::vector<Message> respond_transfer(const TransferServices& services, std::span<const uint8_t> request,
                                      const sockaddr_storage& peer, TransferKind* kind) {
  TransferKind ignored;
  if (kind == nullptr) kind = &ignored;
  *kind = TransferKind::kRefused;
  Query query;
  const ParseStatus status = parse_query(request, query);
  if (status == ParseStatus::kDrop) {
    *kind = TransferKind::kNone;
    return {};
  }
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  if (status == ParseStatus::kFormErr) return {error_response(query, rcode::FORMERR, nullptr, nullptr, now)};

  std::optional<TsigRecord> tsig;
  TsigCheck check;
  if (query.has_tsig) {
    tsig.emplace();
    if (find_tsig(request, *tsig) != TsigFind::kFound) {
      return {error_response(query, rcode::FORMERR, nullptr, nullptr, now)};
    }
    if (services.keyring != nullptr) {
      check = verify_request(request, *tsig, *services.keyring, now);
    } else {
      check.rcode = rcode::NOTAUTH;
      check.error = tsig_error::BADKEY;
    }
    if (check.rcode != rcode::NOERROR) return {error_response(query, check.rcode, &*tsig, &check, now)};
  }
  const TsigRecord* tsig_record = tsig ? &*tsig : nullptr;
  const TsigCheck* tsig_check = tsig ? &check : nullptr;
  auto refuse = [&](uint16_t rcode) {
    return std::vector<Message>{error_response(query, rcode, tsig_record, tsig_check, now)};
  };
  if (query.edns.present && query.edns.version > 0) return refuse(rcode::BADVERS);
  if (query.qclass != rrclass::IN) return refuse(rcode::REFUSED);
  Name apex = query.qname;
  apex.to_lower();
  // Access first: an unlisted client learns nothing, not even which zones are served.
  if (!services.acl.permits(peer, check.key, apex.wire())) return refuse(rcode::REFUSED);

  uint32_t client_serial = 0;
  const bool ixfr = query.qtype == rrtype::IXFR;
  if (ixfr && !ixfr_client_serial(request, client_serial)) return refuse(rcode::FORMERR);

  if (ixfr) {
    std::optional<ZoneCopy> soa = copy_soa(services.catalog, services.lock, apex.wire());
    if (!soa) return refuse(rcode::NOTAUTH);
    if (!serial_newer(soa->serial, client_serial)) {
      // RFC 1995 §2: the client is up to date (or ahead): the current SOA alone.
      MessageBuilder builder(query, check.key, check.request_mac, now, services.message_size);
      builder.add(soa->apex_owner, rrtype::SOA, soa->soa_ttl, soa->soa_rdata);
      *kind = TransferKind::kUpToDate;
      return builder.finish();
    }
    std::vector<std::shared_ptr<const Step>> steps;
    if (services.history != nullptr && services.history->steps_since(apex.wire(), client_serial, steps)) {
      // Served from the history alone: its newest serial is a version the zone had (it may
      // lag the zone by changes not yet durable; a NOTIFY follows them).
      MessageBuilder builder(query, check.key, check.request_mac, now, services.message_size);
      build_incremental(steps, builder);
      *kind = TransferKind::kIxfr;
      return builder.finish();
    }
  }
  std::optional<ZoneCopy> copy = copy_zone(services.catalog, services.lock, apex.wire(), services.copy);
  if (!copy) return refuse(rcode::NOTAUTH);
  MessageBuilder builder(query, check.key, check.request_mac, now, services.message_size);
  build_full(*copy, builder);
  *kind = ixfr ? TransferKind::kIxfrAxfrStyle : TransferKind::kAxfr;
  return builder.finish();
}

}  // namespace epmdns::xfr
