#include "resolver/update_message.h"

#include <openssl/rand.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "resolver/node_name.h"
#include "wire/message.h"
#include "wire/rdata.h"
#include "wire/tsig.h"
#include "wire/types.h"
#include "wire/writer.h"

namespace epmdns::resolver {
namespace {

constexpr uint16_t kLeaseOptionUdpSize = 1232;

// Header, then the zone section; the counts are patched at the end.
class UpdateWriter {
 public:
  UpdateWriter(uint16_t id, const wire::Name& zone) : buf_(wire::kMaxMessageSize), w_(buf_) {
    w_.put_u16(id);
    w_.put_u16(static_cast<uint16_t>(wire::opcode::UPDATE << 11));
    w_.put_u16(1);  // ZOCOUNT
    w_.put_u16(0);  // PRCOUNT
    w_.put_u16(0);  // UPCOUNT
    w_.put_u16(0);  // ADCOUNT
    w_.put_name(zone.wire());
    w_.put_u16(wire::rrtype::SOA);
    w_.put_u16(wire::rrclass::IN);
  }
  // Prerequisites must all come before the updates.
  void prerequisite(const wire::Name& owner, uint16_t type, uint16_t rrclass, std::string_view rdata) {
    record(owner, type, rrclass, 0, rdata);
    ++prerequisites_;
  }
  void update(const wire::Name& owner, uint16_t type, uint16_t rrclass, uint32_t ttl, std::string_view rdata) {
    record(owner, type, rrclass, ttl, rdata);
    ++updates_;
  }
  void lease(uint32_t seconds) {
    ok_ = ok_ && w_.put_u8(0) && w_.put_u16(wire::rrtype::OPT) && w_.put_u16(kLeaseOptionUdpSize) &&
          w_.put_u32(0) && w_.put_u16(8) && w_.put_u16(wire::kOptionUpdateLease) && w_.put_u16(4) &&
          w_.put_u32(seconds);
    ++additional_;
  }
  absl::StatusOr<std::vector<uint8_t>> finish() {
    if (!ok_) return absl::InvalidArgumentError("UPDATE message does not fit 65535 bytes");
    w_.patch_u16(6, prerequisites_);
    w_.patch_u16(8, updates_);
    w_.patch_u16(10, additional_);
    buf_.resize(w_.size());
    return std::move(buf_);
  }

 private:
  void record(const wire::Name& owner, uint16_t type, uint16_t rrclass, uint32_t ttl, std::string_view rdata) {
    ok_ = ok_ && w_.put_name(owner.wire()) && w_.put_u16(type) && w_.put_u16(rrclass) && w_.put_u32(ttl) &&
          wire::put_rdata(w_, type, rdata);
  }

  std::vector<uint8_t> buf_;
  wire::Writer w_;
  bool ok_ = true;
  uint16_t prerequisites_ = 0, updates_ = 0, additional_ = 0;
};

std::string txt_string(std::string_view text) {
  std::string out(1, static_cast<char>(text.size()));
  out += text;
  return out;
}

std::string own_txt(const NodeNames&, const Registration& r) { return txt_rdata(r); }

}  // namespace

absl::StatusOr<NodeNames> node_names(std::string_view node, std::string_view zone_text) {
  auto zone = domain_name(zone_text);
  if (!zone) return absl::InvalidArgumentError(absl::StrCat("bad zone name: ", std::string(zone_text)));
  const size_t at = node.find('@');
  if (at == std::string_view::npos) return absl::InvalidArgumentError(absl::StrCat("node must be NAME@HOST: ", std::string(node)));
  auto host = host_name(node.substr(at + 1), *zone);
  auto instance = instance_name(node, *zone);
  auto host_browse = browse_name(node.substr(at + 1), *zone);
  if (!host || !instance || !host_browse) return absl::InvalidArgumentError(absl::StrCat("bad node name: ", std::string(node)));
  if (!wire::is_subdomain(host->wire(), zone->wire())) {
    return absl::InvalidArgumentError(absl::StrCat("host ", host->to_text(), " is not in zone ", zone->to_text()));
  }
  wire::Name zone_browse;
  if (!zone_browse.assign_text("_erlang-dist._tcp", &*zone)) {
    return absl::InvalidArgumentError(absl::StrCat("zone name too long: ", std::string(zone_text)));
  }
  return NodeNames{*zone, *host, *instance, *host_browse, zone_browse};
}

std::string txt_rdata(const Registration& registration) {
  std::string out = txt_string(absl::StrCat("vsn=", registration.version));
  if (!registration.token.empty()) out += txt_string(absl::StrCat("token=", registration.token));
  return out;
}

namespace {

// The records of a registration, replacing any SRV and TXT the instance name had (an earlier
// registration of this name, after a crash within its lease or on another port, must not
// leave a second one behind), and the lease.
absl::StatusOr<std::vector<uint8_t>> finish_registration(UpdateWriter& w, const Registration& r) {
  const NodeNames& n = r.names;
  const bool v6 = r.family == Family::kInet6;
  // No cache may keep a record longer than its lease: a crashed node's records would outlive it.
  const uint32_t ttl = r.lease && *r.lease > 0 && *r.lease < r.ttl ? *r.lease : r.ttl;
  w.update(n.host, v6 ? wire::rrtype::AAAA : wire::rrtype::A, wire::rrclass::IN, ttl,
           std::string_view(reinterpret_cast<const char*>(r.address.data()), v6 ? 16 : 4));
  std::string srv;
  srv.push_back(0), srv.push_back(0), srv.push_back(0), srv.push_back(0);  // priority, weight
  srv.push_back(static_cast<char>(r.port >> 8));
  srv.push_back(static_cast<char>(r.port & 0xFF));
  srv += n.host.wire();
  w.update(n.instance, wire::rrtype::SRV, wire::rrclass::ANY, 0, "");
  w.update(n.instance, wire::rrtype::TXT, wire::rrclass::ANY, 0, "");
  w.update(n.instance, wire::rrtype::SRV, wire::rrclass::IN, ttl, srv);
  w.update(n.instance, wire::rrtype::TXT, wire::rrclass::IN, ttl, txt_rdata(r));
  w.update(n.host_browse, wire::rrtype::PTR, wire::rrclass::IN, ttl, n.instance.wire());
  w.update(n.zone_browse, wire::rrtype::PTR, wire::rrclass::IN, ttl, n.instance.wire());
  if (r.lease) w.lease(*r.lease);
  return w.finish();
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> build_register(const Registration& r, Precondition precondition, uint16_t id) {
  if (r.token.size() > 255 - 6) return absl::InvalidArgumentError("token longer than 249 bytes");
  if (precondition == Precondition::kOwnToken && r.token.empty()) {
    return absl::InvalidArgumentError("an own-token precondition needs a token");
  }
  const NodeNames& n = r.names;
  UpdateWriter w(id, n.zone);
  if (precondition == Precondition::kNameFree) {
    w.prerequisite(n.instance, wire::rrtype::ANY, wire::rrclass::NONE, "");  // name not in use
  } else if (precondition == Precondition::kOwnToken) {
    w.prerequisite(n.instance, wire::rrtype::TXT, wire::rrclass::IN, own_txt(n, r));  // RRset exists (value)
  }
  return finish_registration(w, r);
}

absl::StatusOr<std::vector<uint8_t>> build_takeover(const Registration& r, uint16_t old_type,
                                                    const std::vector<std::string>& old_rdatas, uint16_t id) {
  if (r.token.size() > 255 - 6) return absl::InvalidArgumentError("token longer than 249 bytes");
  if (old_rdatas.empty()) return absl::InvalidArgumentError("a takeover needs the old records as prerequisite");
  const NodeNames& n = r.names;
  UpdateWriter w(id, n.zone);
  for (const std::string& rdata : old_rdatas) w.prerequisite(n.instance, old_type, wire::rrclass::IN, rdata);
  return finish_registration(w, r);
}

absl::StatusOr<std::vector<uint8_t>> build_unregister(const NodeNames& n, std::string_view token, uint16_t id) {
  UpdateWriter w(id, n.zone);
  if (!token.empty()) {
    Registration r;
    r.token = std::string(token);
    if (r.token.size() > 255 - 6) return absl::InvalidArgumentError("token longer than 249 bytes");
    w.prerequisite(n.instance, wire::rrtype::TXT, wire::rrclass::IN, txt_rdata(r));
  }
  w.update(n.instance, wire::rrtype::ANY, wire::rrclass::ANY, 0, "");  // delete the name: SRV and TXT
  w.update(n.host_browse, wire::rrtype::PTR, wire::rrclass::NONE, 0, n.instance.wire());
  w.update(n.zone_browse, wire::rrtype::PTR, wire::rrclass::NONE, 0, n.instance.wire());
  return w.finish();
}

absl::StatusOr<std::string> sign_message(std::vector<uint8_t>& message, const wire::TsigKey& key,
                                         uint64_t time_signed) {
  std::vector<uint8_t> buf(message.size() + wire::tsig_space(key));
  wire::Writer w(buf);
  if (!w.put_bytes({reinterpret_cast<const char*>(message.data()), message.size()}) ||
      !wire::sign(w, key, time_signed, wire::kTsigDefaultFudge, "", wire::tsig_error::NOERROR, "")) {
    return absl::InvalidArgumentError("no room for the TSIG record");
  }
  buf.resize(w.size());
  wire::TsigRecord record;
  if (wire::find_tsig(buf, record) != wire::TsigFind::kFound) return absl::InternalError("TSIG not found after signing");
  std::string mac(record.mac);
  message = std::move(buf);
  return mac;
}

absl::StatusOr<wire::TsigKey> load_first_key(const std::string& path) {
  auto keys = wire::load_key_file(path);
  if (!keys.ok()) return keys.status();
  if (keys->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no key in the file"));
  return (*keys)[0];
}

std::string random_token() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "0000000000000000";
  std::string out;
  char hex[3];
  for (unsigned char b : bytes) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    out += hex;
  }
  return out;
}

}  // namespace epmdns::resolver
