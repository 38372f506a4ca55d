#include "wire/tsig.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "wire/message.h"
#include "wire/types.h"

namespace epmdns::wire {

namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacContextDeleter {
  void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacContextPtr = std::unique_ptr<EVP_MAC_CTX, MacContextDeleter>;

// Fetched once: fetching is costly and an EVP_MAC may be shared between threads.
EVP_MAC* hmac_method() {
  static const MacPtr method(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return method.get();
}

const char* openssl_digest_name(TsigAlgorithm algorithm) {
  switch (algorithm) {
    case TsigAlgorithm::kHmacSha1: return "SHA1";
    case TsigAlgorithm::kHmacSha256: return "SHA256";
    case TsigAlgorithm::kHmacSha512: return "SHA512";
  }
  return "SHA256";
}

std::string_view as_chars(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

uint16_t get_u16(std::span<const uint8_t> bytes, size_t offset) {
  return static_cast<uint16_t>(bytes[offset] << 8 | bytes[offset + 1]);
}

// An HMAC context initialised with `key` (digest looked up, key padded): null on failure.
MacContextPtr keyed_context(const TsigKey& key) {
  EVP_MAC* method = hmac_method();
  if (method == nullptr) return nullptr;
  MacContextPtr context(EVP_MAC_CTX_new(method));
  if (!context) return nullptr;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(openssl_digest_name(key.algorithm)),
                                       0),
      OSSL_PARAM_construct_end()};
  static const unsigned char kNoSecret = 0;
  const auto* secret = key.secret.empty() ? &kNoSecret : reinterpret_cast<const unsigned char*>(key.secret.data());
  if (EVP_MAC_init(context.get(), secret, key.secret.size(), params) != 1) return nullptr;
  return context;
}

// Keyed contexts of the keys this thread used lately; each message starts from a copy, which
// spares it the digest lookup and the key schedule. An entry is only reused for the very
// same algorithm and secret, so a key freed and another allocated at its address is safe.
struct KeyedTemplate {
  TsigAlgorithm algorithm;
  std::string secret;
  MacContextPtr context;
};

MacContextPtr fresh_context(const TsigKey& key) {
  constexpr size_t kMaxTemplates = 64;
  thread_local std::vector<std::pair<const TsigKey*, KeyedTemplate>> templates;
  for (auto& [address, entry] : templates) {
    if (address == &key && entry.algorithm == key.algorithm && entry.secret == key.secret) {
      return MacContextPtr(EVP_MAC_CTX_dup(entry.context.get()));
    }
  }
  MacContextPtr context = keyed_context(key);
  if (!context) return nullptr;
  MacContextPtr copy(EVP_MAC_CTX_dup(context.get()));
  if (templates.size() >= kMaxTemplates) templates.clear();
  templates.push_back({&key, KeyedTemplate{key.algorithm, key.secret, std::move(context)}});
  return copy;
}

// An HMAC fed piece by piece; any OpenSSL failure makes finish() fail.
class Hmac {
 public:
  explicit Hmac(const TsigKey& key) : context_(fresh_context(key)), ok_(context_ != nullptr) {}

  void update(std::string_view bytes) {
    if (ok_ && !bytes.empty()) {
      ok_ = EVP_MAC_update(context_.get(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()) == 1;
    }
  }
  void update_u16(uint16_t v) {
    const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    update({bytes, 2});
  }
  void update_u32(uint32_t v) {
    update_u16(static_cast<uint16_t>(v >> 16));
    update_u16(static_cast<uint16_t>(v));
  }
  void update_u48(uint64_t v) {
    update_u16(static_cast<uint16_t>(v >> 32));
    update_u32(static_cast<uint32_t>(v));
  }

  bool finish(std::string& mac) {
    if (!ok_) return false;
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t length = 0;
    if (EVP_MAC_final(context_.get(), out, &length, sizeof out) != 1) return false;
    mac.assign(reinterpret_cast<const char*>(out), length);
    return true;
  }

 private:
  MacContextPtr context_;
  bool ok_ = false;
};

struct TsigVariables {
  std::string_view key_name;   // canonical: lower-case, uncompressed
  std::string_view algorithm;  // canonical wire name
  uint64_t time_signed;
  uint16_t fudge;
  uint16_t error;
  std::string_view other_data;
};

// RFC 8945 §4.3.3; class ANY and TTL 0 are implied.
void digest_variables(Hmac& hmac, const TsigVariables& v) {
  hmac.update(v.key_name);
  hmac.update_u16(rrclass::ANY);
  hmac.update_u32(0);
  hmac.update(v.algorithm);
  hmac.update_u48(v.time_signed);
  hmac.update_u16(v.fudge);
  hmac.update_u16(v.error);
  hmac.update_u16(static_cast<uint16_t>(v.other_data.size()));
  hmac.update(v.other_data);
}

void digest_request_mac(Hmac& hmac, std::string_view request_mac) {
  hmac.update_u16(static_cast<uint16_t>(request_mac.size()));
  hmac.update(request_mac);
}

// The MAC of a received message: the message without its TSIG, ARCOUNT one less, the
// original ID in place, then the TSIG variables (prefixed by the request MAC for responses).
bool received_mac(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                  const std::string_view* request_mac, std::string& mac) {
  Hmac hmac(key);
  if (request_mac != nullptr) digest_request_mac(hmac, *request_mac);
  hmac.update_u16(record.original_id);
  hmac.update(as_chars(message.subspan(2, 8)));
  hmac.update_u16(static_cast<uint16_t>(get_u16(message, 10) - 1));
  hmac.update(as_chars(message.subspan(kHeaderSize, record.offset - kHeaderSize)));
  Name key_name = key.name;
  key_name.to_lower();
  digest_variables(hmac, {key_name.wire(), algorithm_wire(key.algorithm), record.time_signed, record.fudge,
                          record.error, record.other_data});
  return hmac.finish(mac);
}

// The check of a message whose MAC matched: signed answers from here on; BADTIME when the
// time is outside the fudge.
TsigCheck mac_verified(const TsigKey& key, const TsigRecord& record, uint64_t now) {
  TsigCheck check;
  check.key = &key;
  check.request_mac = std::string(record.mac);
  check.time_signed = record.time_signed;
  if (now > record.time_signed + record.fudge || record.time_signed > now + record.fudge) {
    check.rcode = rcode::NOTAUTH;
    check.error = tsig_error::BADTIME;
  }
  return check;
}

TsigCheck failure(uint16_t rcode, uint16_t error, uint64_t time_signed) {
  TsigCheck check;
  check.rcode = rcode;
  check.error = error;
  check.time_signed = time_signed;
  return check;
}

// §5.2.2 to §5.2.4 once the key is known.
TsigCheck check_signed(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                       const std::string_view* request_mac, uint64_t now, size_t min_mac_size) {
  const size_t digest = digest_size(key.algorithm);
  const size_t mac_size = record.mac.size();
  if (mac_size > digest || mac_size < std::max<size_t>(10, digest / 2)) {
    return failure(rcode::FORMERR, tsig_error::NOERROR, record.time_signed);
  }
  if (record.offset < kHeaderSize || record.offset > message.size() || get_u16(message, 10) == 0) {
    return failure(rcode::FORMERR, tsig_error::NOERROR, record.time_signed);
  }
  std::string expected;
  if (!received_mac(message, record, key, request_mac, expected) ||
      CRYPTO_memcmp(expected.data(), record.mac.data(), mac_size) != 0) {
    return failure(rcode::NOTAUTH, tsig_error::BADSIG, record.time_signed);
  }
  TsigCheck check = mac_verified(key, record, now);
  if (check.error == tsig_error::NOERROR && mac_size < min_mac_size) {
    check.rcode = rcode::NOTAUTH;
    check.error = tsig_error::BADTRUNC;
  }
  return check;
}

// Writer::put_bytes would memcpy from a null pointer for an empty view.
bool put_maybe_empty(Writer& writer, std::string_view bytes) { return bytes.empty() || writer.put_bytes(bytes); }

bool append_tsig_record(Writer& writer, std::string_view owner, std::string_view algorithm, uint64_t time_signed,
                        uint16_t fudge, std::string_view mac, uint16_t error, std::string_view other_data) {
  if (writer.size() < kHeaderSize) return false;
  const uint16_t id = get_u16(writer.data(), 0);
  const uint16_t arcount = get_u16(writer.data(), 10);
  const size_t rdlength = algorithm.size() + 10 + mac.size() + 6 + other_data.size();
  if (arcount == 0xFFFF || rdlength > 0xFFFF) return false;
  const size_t start = writer.size();
  const bool written =
      writer.put_name(owner, false) && writer.put_u16(rrtype::TSIG) && writer.put_u16(rrclass::ANY) &&
      writer.put_u32(0) && writer.put_u16(static_cast<uint16_t>(rdlength)) && writer.put_name(algorithm, false) &&
      writer.put_u16(static_cast<uint16_t>(time_signed >> 32)) && writer.put_u32(static_cast<uint32_t>(time_signed)) &&
      writer.put_u16(fudge) && writer.put_u16(static_cast<uint16_t>(mac.size())) && put_maybe_empty(writer, mac) &&
      writer.put_u16(id) && writer.put_u16(error) && writer.put_u16(static_cast<uint16_t>(other_data.size())) &&
      put_maybe_empty(writer, other_data);
  if (!written) {
    writer.rollback(start);
    return false;
  }
  writer.patch_u16(10, static_cast<uint16_t>(arcount + 1));
  return true;
}

// Reads the TSIG RDATA; `reader` ends where the RDATA ends.
bool read_tsig_rdata(Reader& reader, TsigRecord& out) {
  uint16_t time_high, mac_size, other_size;
  uint32_t time_low;
  std::span<const uint8_t> mac, other;
  if (!read_name(reader, out.algorithm) || !reader.u16(time_high) || !reader.u32(time_low) ||
      !reader.u16(out.fudge) || !reader.u16(mac_size) || !reader.bytes(mac_size, mac) ||
      !reader.u16(out.original_id) || !reader.u16(out.error) || !reader.u16(other_size) ||
      !reader.bytes(other_size, other)) {
    return false;
  }
  out.time_signed = uint64_t{time_high} << 32 | time_low;
  out.mac = as_chars(mac);
  out.other_data = as_chars(other);
  return reader.remaining() == 0;
}

}  // namespace

TsigFind find_tsig(std::span<const uint8_t> message, TsigRecord& out) {
  Reader reader = Reader::message(message);
  Header header;
  if (!read_header(reader, header)) return TsigFind::kFormErr;
  for (uint16_t i = 0; i < header.qdcount; ++i) {
    Name qname;
    uint16_t qtype, qclass;
    if (!read_name(reader, qname) || !reader.u16(qtype) || !reader.u16(qclass)) return TsigFind::kFormErr;
  }
  const uint32_t before_additional = uint32_t{header.ancount} + header.nscount;
  const uint32_t records = before_additional + header.arcount;
  bool found = false;
  for (uint32_t i = 0; i < records; ++i) {
    const size_t start = reader.pos();
    Name owner;
    uint16_t type, record_class, rdlength;
    uint32_t ttl;
    if (!read_name(reader, owner) || !reader.u16(type) || !reader.u16(record_class) || !reader.u32(ttl) ||
        !reader.u16(rdlength) || rdlength > reader.remaining()) {
      return TsigFind::kFormErr;
    }
    if (type != rrtype::TSIG) {
      reader.skip(rdlength);
      continue;
    }
    if (i + 1 != records || i < before_additional || record_class != rrclass::ANY || ttl != 0) {
      return TsigFind::kFormErr;
    }
    // Bounded by the RDATA's end; names may still point back into the message.
    const size_t rdata_end = reader.pos() + rdlength;
    Reader rdata(message.first(rdata_end));
    rdata.seek(reader.pos());
    out.key_name = owner;
    out.offset = start;
    if (!read_tsig_rdata(rdata, out)) return TsigFind::kFormErr;
    reader.skip(rdlength);
    found = true;
  }
  if (reader.remaining() != 0) return TsigFind::kFormErr;
  return found ? TsigFind::kFound : TsigFind::kAbsent;
}

TsigCheck verify_request(std::span<const uint8_t> message, const TsigRecord& record, const Keyring& keyring,
                         uint64_t now, size_t min_mac_size) {
  Name key_name = record.key_name;
  key_name.to_lower();
  const TsigKey* key = keyring.find(key_name.wire());
  const std::optional<TsigAlgorithm> algorithm = algorithm_from_wire(record.algorithm.wire());
  if (key == nullptr || !algorithm || *algorithm != key->algorithm) {
    return failure(rcode::NOTAUTH, tsig_error::BADKEY, record.time_signed);
  }
  return check_signed(message, record, *key, nullptr, now, min_mac_size);
}

TsigCheck verify_response(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                          std::string_view request_mac, uint64_t now) {
  const std::optional<TsigAlgorithm> algorithm = algorithm_from_wire(record.algorithm.wire());
  if (!equal_ignore_case(record.key_name.wire(), key.name.wire()) || !algorithm || *algorithm != key.algorithm) {
    return failure(rcode::NOTAUTH, tsig_error::BADKEY, record.time_signed);
  }
  if (record.mac.empty()) return failure(rcode::NOTAUTH, tsig_error::BADSIG, record.time_signed);
  return check_signed(message, record, key, &request_mac, now, 0);
}

bool sign(Writer& writer, const TsigKey& key, uint64_t time_signed, uint16_t fudge, std::string_view request_mac,
          uint16_t error, std::string_view other_data, std::string* mac_out) {
  if (writer.size() < kHeaderSize || request_mac.size() > 0xFFFF || other_data.size() > 0xFFFF) return false;
  time_signed &= 0xFFFF'FFFF'FFFF;
  Hmac hmac(key);
  if (!request_mac.empty()) digest_request_mac(hmac, request_mac);
  hmac.update(as_chars(writer.data()));
  Name key_name = key.name;
  key_name.to_lower();
  digest_variables(hmac, {key_name.wire(), algorithm_wire(key.algorithm), time_signed, fudge, error, other_data});
  std::string mac;
  if (!hmac.finish(mac)) return false;
  if (!append_tsig_record(writer, key.name.wire(), algorithm_wire(key.algorithm), time_signed, fudge, mac, error,
                          other_data)) {
    return false;
  }
  if (mac_out != nullptr) *mac_out = std::move(mac);
  return true;
}

bool sign_subsequent(Writer& writer, const TsigKey& key, uint64_t time_signed, uint16_t fudge,
                     std::string_view prior_mac, std::string* mac_out) {
  if (writer.size() < kHeaderSize || prior_mac.size() > 0xFFFF) return false;
  time_signed &= 0xFFFF'FFFF'FFFF;
  Hmac hmac(key);
  digest_request_mac(hmac, prior_mac);
  hmac.update(as_chars(writer.data()));
  hmac.update_u48(time_signed);
  hmac.update_u16(fudge);
  std::string mac;
  if (!hmac.finish(mac)) return false;
  if (!append_tsig_record(writer, key.name.wire(), algorithm_wire(key.algorithm), time_signed, fudge, mac,
                          tsig_error::NOERROR, {})) {
    return false;
  }
  if (mac_out != nullptr) *mac_out = std::move(mac);
  return true;
}

TsigCheck verify_subsequent(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                            std::string_view prior_mac, uint64_t now) {
  const std::optional<TsigAlgorithm> algorithm = algorithm_from_wire(record.algorithm.wire());
  if (!equal_ignore_case(record.key_name.wire(), key.name.wire()) || !algorithm || *algorithm != key.algorithm) {
    return failure(rcode::NOTAUTH, tsig_error::BADKEY, record.time_signed);
  }
  if (record.mac.empty() || record.offset < kHeaderSize || record.offset > message.size() ||
      get_u16(message, 10) == 0) {
    return failure(rcode::NOTAUTH, tsig_error::BADSIG, record.time_signed);
  }
  Hmac hmac(key);
  digest_request_mac(hmac, prior_mac);
  hmac.update_u16(record.original_id);
  hmac.update(as_chars(message.subspan(2, 8)));
  hmac.update_u16(static_cast<uint16_t>(get_u16(message, 10) - 1));
  hmac.update(as_chars(message.subspan(kHeaderSize, record.offset - kHeaderSize)));
  hmac.update_u48(record.time_signed);
  hmac.update_u16(record.fudge);
  std::string expected;
  if (!hmac.finish(expected) || record.mac.size() != expected.size() ||
      CRYPTO_memcmp(expected.data(), record.mac.data(), expected.size()) != 0) {
    return failure(rcode::NOTAUTH, tsig_error::BADSIG, record.time_signed);
  }
  return mac_verified(key, record, now);
}

size_t tsig_space(const TsigKey& key) {
  // owner, type/class/TTL/RDLENGTH, algorithm, time/fudge/MAC size, MAC, ID/error/other size, other
  return key.name.length() + 10 + algorithm_wire(key.algorithm).size() + 10 + digest_size(key.algorithm) + 6 + 6;
}

bool append_unsigned_tsig(Writer& writer, const TsigRecord& request, uint16_t error) {
  return append_tsig_record(writer, request.key_name.wire(), request.algorithm.wire(), request.time_signed,
                            request.fudge, {}, error, {});
}

std::string badtime_other_data(uint64_t now) {
  std::string bytes(6, '\0');
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<char>(now >> (8 * (5 - i)));
  return bytes;
}

bool sign_response(Writer& writer, const TsigCheck& check, const TsigRecord& request, uint64_t now) {
  if (check.key == nullptr) {
    if (check.error == tsig_error::NOERROR) return true;  // FORMERR: no TSIG at all
    return append_unsigned_tsig(writer, request, check.error);
  }
  if (check.error == tsig_error::BADTIME) {
    return sign(writer, *check.key, check.time_signed, kTsigDefaultFudge, check.request_mac, check.error,
                badtime_other_data(now));
  }
  return sign(writer, *check.key, now, kTsigDefaultFudge, check.request_mac, check.error, {});
}

}  // namespace epmdns::wire
