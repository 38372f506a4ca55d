#include "wire/tsig.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "wire/types.h"

namespace epmdns::wire {
namespace {

using Bytes = std::vector<uint8_t>;

const std::string kTestdata = EPMDNS_TSIG_TESTDATA;

Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : bytes) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 15]);
  }
  return hex;
}

std::string_view chars(const Bytes& bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }

uint16_t u16_at(const Bytes& message, size_t offset) {
  return static_cast<uint16_t>(message[offset] << 8 | message[offset + 1]);
}

void set_u16(Bytes& message, size_t offset, uint16_t v) {
  message[offset] = static_cast<uint8_t>(v >> 8);
  message[offset + 1] = static_cast<uint8_t>(v);
}

Name name_of(std::string_view text) {
  Name name;
  EXPECT_TRUE(name.assign_text(text));
  return name;
}

TsigRecord find(const Bytes& message) {
  TsigRecord record;
  EXPECT_EQ(find_tsig(message, record), TsigFind::kFound);
  return record;
}

TsigFind find_status(const Bytes& message) {
  TsigRecord record;
  return find_tsig(message, record);
}

// Where a view into `message` starts.
size_t offset_in(const Bytes& message, std::string_view view) {
  return static_cast<size_t>(reinterpret_cast<const uint8_t*>(view.data()) - message.data());
}

// What was signed: the message without its TSIG, ARCOUNT one less.
Bytes unsigned_part(const Bytes& message) {
  const TsigRecord record = find(message);
  Bytes body(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(record.offset));
  set_u16(body, 10, static_cast<uint16_t>(u16_at(body, 10) - 1));
  return body;
}

// A writer that already holds `body`.
struct MessageBuffer {
  explicit MessageBuffer(const Bytes& body, size_t capacity = 4096) : buffer(capacity), writer(buffer) {
    EXPECT_TRUE(writer.put_bytes(chars(body)));
  }
  Bytes bytes() const { return Bytes(writer.data().begin(), writer.data().end()); }

  std::vector<uint8_t> buffer;
  Writer writer;
};

Keyring keyring_of(const TsigKey& key) {
  Keyring keyring;
  EXPECT_TRUE(keyring.add(key));
  return keyring;
}

TsigKey make_key(std::string_view name, TsigAlgorithm algorithm, std::string secret) {
  TsigKey key;
  key.name = name_of(name);
  key.algorithm = algorithm;
  key.secret = std::move(secret);
  return key;
}

// An UPDATE: zone example.test. SOA, one A record to add, no additional records.
Bytes update_body(std::string_view zone = "example.test.") {
  std::vector<uint8_t> buffer(512);
  Writer w(buffer);
  w.put_u16(0x1234);
  w.put_u16(static_cast<uint16_t>(opcode::UPDATE << 11));
  w.put_u16(1);
  w.put_u16(0);
  w.put_u16(1);
  w.put_u16(0);
  w.put_name(name_of(zone).wire());
  w.put_u16(rrtype::SOA);
  w.put_u16(rrclass::IN);
  w.put_name(name_of("host.example.test.").wire());
  w.put_u16(rrtype::A);
  w.put_u16(rrclass::IN);
  w.put_u32(300);
  w.put_u16(4);
  w.put_bytes(std::string_view("\xc0\x00\x02\x01", 4));
  return Bytes(w.data().begin(), w.data().end());
}

Bytes signed_message(const Bytes& body, const TsigKey& key, uint64_t time_signed) {
  MessageBuffer out(body);
  EXPECT_TRUE(sign(out.writer, key, time_signed, 300, {}, 0, {}));
  return out.bytes();
}

// `message` with its TSIG replaced by one carrying `mac` (any length) and the same fields.
Bytes with_mac(const Bytes& message, std::string_view mac) {
  const TsigRecord record = find(message);
  MessageBuffer out(unsigned_part(message));
  Writer& w = out.writer;
  w.put_name(record.key_name.wire(), false);
  w.put_u16(rrtype::TSIG);
  w.put_u16(rrclass::ANY);
  w.put_u32(0);
  w.put_u16(static_cast<uint16_t>(record.algorithm.length() + 16 + mac.size() + record.other_data.size()));
  w.put_name(record.algorithm.wire(), false);
  w.put_u16(static_cast<uint16_t>(record.time_signed >> 32));
  w.put_u32(static_cast<uint32_t>(record.time_signed));
  w.put_u16(record.fudge);
  w.put_u16(static_cast<uint16_t>(mac.size()));
  if (!mac.empty()) w.put_bytes(mac);
  w.put_u16(record.original_id);
  w.put_u16(record.error);
  w.put_u16(static_cast<uint16_t>(record.other_data.size()));
  if (!record.other_data.empty()) w.put_bytes(record.other_data);
  Bytes result = out.bytes();
  set_u16(result, 10, static_cast<uint16_t>(u16_at(result, 10) + 1));
  return result;
}

TsigCheck verify(const Bytes& message, const Keyring& keyring, uint64_t now, size_t min_mac_size = 0) {
  TsigRecord record;
  EXPECT_EQ(find_tsig(message, record), TsigFind::kFound);
  return verify_request(message, record, keyring, now, min_mac_size);
}

void expect_check(const TsigCheck& check, uint16_t rcode, uint16_t error, bool signed_response) {
  EXPECT_EQ(check.rcode, rcode);
  EXPECT_EQ(check.error, error);
  EXPECT_EQ(check.key != nullptr, signed_response);
}

// ---- Known answers: keys by tsig-keygen, UPDATEs signed by nsupdate, responses by dnspython.

struct Fixture {
  TsigKey key;
  uint64_t request_time = 0, response_time = 0, badtime_server_time = 0;
  Bytes request, response, badtime_response;
};

Fixture load_fixture(const std::string& algorithm) {
  std::ifstream in(kTestdata + "/" + algorithm + ".txt");
  EXPECT_TRUE(in) << algorithm;
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.find(' ');
    fields[line.substr(0, space)] = line.substr(space + 1);
  }
  Fixture f;
  absl::StatusOr<std::vector<TsigKey>> keys = load_key_file(kTestdata + "/" + fields["key_file"]);
  EXPECT_TRUE(keys.ok() && keys->size() == 1) << keys.status();
  if (keys.ok() && !keys->empty()) f.key = keys->front();
  f.request_time = std::stoull(fields["request_time"]);
  f.response_time = std::stoull(fields["response_time"]);
  f.badtime_server_time = std::stoull(fields["badtime_server_time"]);
  f.request = from_hex(fields["request"]);
  f.response = from_hex(fields["response"]);
  f.badtime_response = from_hex(fields["badtime_response"]);
  return f;
}

class TsigKnownAnswer : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    f_ = load_fixture(GetParam());
    keyring_ = keyring_of(f_.key);
  }
  Fixture f_;
  Keyring keyring_;
};

TEST_P(TsigKnownAnswer, NsupdateRequestVerifiesWithinTheFudge) {
  TsigRecord record;
  ASSERT_EQ(find_tsig(f_.request, record), TsigFind::kFound);
  EXPECT_EQ(record.key_name, f_.key.name);
  EXPECT_EQ(record.algorithm.wire(), algorithm_wire(f_.key.algorithm));
  EXPECT_EQ(record.time_signed, f_.request_time);
  EXPECT_EQ(record.fudge, 300);
  EXPECT_EQ(record.mac.size(), digest_size(f_.key.algorithm));
  EXPECT_EQ(record.original_id, u16_at(f_.request, 0));
  EXPECT_EQ(record.error, 0);
  EXPECT_TRUE(record.other_data.empty());
  for (uint64_t now : {f_.request_time, f_.request_time - 300, f_.request_time + 300}) {
    const TsigCheck check = verify_request(f_.request, record, keyring_, now);
    expect_check(check, rcode::NOERROR, tsig_error::NOERROR, true);
    EXPECT_EQ(check.key, keyring_.find(f_.key.name.wire()));
    EXPECT_EQ(check.request_mac, record.mac);
    EXPECT_EQ(check.time_signed, f_.request_time);
  }
}

TEST_P(TsigKnownAnswer, OutsideTheFudgeIsBadTime) {
  for (uint64_t now : {f_.request_time + 3600, f_.request_time + 301, f_.request_time - 301}) {
    const TsigCheck check = verify(f_.request, keyring_, now);
    expect_check(check, rcode::NOTAUTH, tsig_error::BADTIME, true);  // BADTIME responses are signed
    EXPECT_EQ(check.request_mac, find(f_.request).mac);
    EXPECT_EQ(check.time_signed, f_.request_time);
  }
}

TEST_P(TsigKnownAnswer, AnyFlippedByteIsBadSig) {
  const TsigRecord record = find(f_.request);
  const size_t mac_offset = offset_in(f_.request, record.mac);
  for (size_t i = 0; i < record.mac.size(); ++i) {
    Bytes tampered = f_.request;
    tampered[mac_offset + i] ^= 0x01;
    expect_check(verify(tampered, keyring_, f_.request_time), rcode::NOTAUTH, tsig_error::BADSIG, false);
  }
  Bytes tampered = f_.request;
  tampered[record.offset - 1] ^= 0x01;  // the address being added
  expect_check(verify(tampered, keyring_, f_.request_time), rcode::NOTAUTH, tsig_error::BADSIG, false);
  tampered = f_.request;
  tampered[mac_offset - 5] ^= 0x01;  // time signed
  expect_check(verify(tampered, keyring_, f_.request_time), rcode::NOTAUTH, tsig_error::BADSIG, false);
}

TEST_P(TsigKnownAnswer, IdRewrittenInTransitStillVerifies) {
  Bytes forwarded = f_.request;
  set_u16(forwarded, 0, static_cast<uint16_t>(~u16_at(forwarded, 0)));
  expect_check(verify(forwarded, keyring_, f_.request_time), rcode::NOERROR, tsig_error::NOERROR, true);
}

TEST_P(TsigKnownAnswer, UnknownKeyOrAlgorithmIsBadKey) {
  expect_check(verify(f_.request, Keyring(), f_.request_time), rcode::NOTAUTH, tsig_error::BADKEY, false);
  TsigKey other = f_.key;
  other.name = name_of("other-key.");
  expect_check(verify(f_.request, keyring_of(other), f_.request_time), rcode::NOTAUTH, tsig_error::BADKEY, false);
  other = f_.key;
  other.algorithm = f_.key.algorithm == TsigAlgorithm::kHmacSha256 ? TsigAlgorithm::kHmacSha1
                                                                    : TsigAlgorithm::kHmacSha256;
  expect_check(verify(f_.request, keyring_of(other), f_.request_time), rcode::NOTAUTH, tsig_error::BADKEY, false);
  other = f_.key;
  other.secret[0] ^= 0x01;
  expect_check(verify(f_.request, keyring_of(other), f_.request_time), rcode::NOTAUTH, tsig_error::BADSIG, false);
}

TEST_P(TsigKnownAnswer, SignedResponseMatchesDnspythonByteForByte) {
  const TsigRecord request = find(f_.request);
  const TsigRecord response = find(f_.response);
  MessageBuffer direct(unsigned_part(f_.response));
  ASSERT_TRUE(sign(direct.writer, f_.key, response.time_signed, 300, request.mac, 0, {}));
  EXPECT_EQ(to_hex(direct.bytes()), to_hex(f_.response));

  // The server path: verify the request, then sign the response at the same time.
  const TsigCheck check = verify_request(f_.request, request, keyring_, f_.response_time);
  ASSERT_EQ(check.rcode, rcode::NOERROR);
  MessageBuffer served(unsigned_part(f_.response));
  ASSERT_TRUE(sign_response(served.writer, check, request, f_.response_time));
  EXPECT_EQ(to_hex(served.bytes()), to_hex(f_.response));
}

TEST_P(TsigKnownAnswer, BadTimeResponseMatchesDnspythonByteForByte) {
  const TsigRecord request = find(f_.request);
  const TsigCheck check = verify_request(f_.request, request, keyring_, f_.badtime_server_time);
  expect_check(check, rcode::NOTAUTH, tsig_error::BADTIME, true);
  MessageBuffer served(unsigned_part(f_.badtime_response));
  ASSERT_TRUE(sign_response(served.writer, check, request, f_.badtime_server_time));
  const Bytes served_bytes = served.bytes();
  EXPECT_EQ(to_hex(served_bytes), to_hex(f_.badtime_response));
  const TsigRecord response = find(served_bytes);
  EXPECT_EQ(response.time_signed, f_.request_time);
  EXPECT_EQ(response.other_data, badtime_other_data(f_.badtime_server_time));
}

TEST_P(TsigKnownAnswer, ClientVerifiesDnspythonResponses) {
  const std::string request_mac(find(f_.request).mac);
  TsigRecord record = find(f_.response);
  expect_check(verify_response(f_.response, record, f_.key, request_mac, f_.response_time), rcode::NOERROR,
               tsig_error::NOERROR, true);
  expect_check(verify_response(f_.response, record, f_.key, request_mac, f_.response_time + 3600), rcode::NOTAUTH,
               tsig_error::BADTIME, true);
  std::string wrong_request_mac = request_mac;
  wrong_request_mac[0] ^= 0x01;
  expect_check(verify_response(f_.response, record, f_.key, wrong_request_mac, f_.response_time), rcode::NOTAUTH,
               tsig_error::BADSIG, false);
  // BADTIME responses are authentic; the server's error is in the record.
  record = find(f_.badtime_response);
  expect_check(verify_response(f_.badtime_response, record, f_.key, request_mac, f_.request_time), rcode::NOERROR,
               tsig_error::NOERROR, true);
  EXPECT_EQ(record.error, tsig_error::BADTIME);
}

// C++ signs the request and both responses; with EPMDNS_TSIG_DUMP_DIR set they are written for
// `make_fixtures.py --verify DIR` to check with dnspython.
TEST_P(TsigKnownAnswer, SignedRequestAndResponsesRoundTrip) {
  const uint64_t t = f_.request_time + 10;
  const Bytes request = signed_message(unsigned_part(f_.request), f_.key, t);
  const TsigRecord request_record = find(request);
  const TsigCheck check = verify_request(request, request_record, keyring_, t);
  expect_check(check, rcode::NOERROR, tsig_error::NOERROR, true);

  MessageBuffer response(unsigned_part(f_.response));
  ASSERT_TRUE(sign_response(response.writer, check, request_record, t + 1));
  const Bytes response_bytes = response.bytes();
  expect_check(verify_response(response_bytes, find(response_bytes), f_.key, check.request_mac, t + 1),
               rcode::NOERROR, tsig_error::NOERROR, true);

  const TsigCheck late = verify_request(request, request_record, keyring_, t + 3600);
  expect_check(late, rcode::NOTAUTH, tsig_error::BADTIME, true);
  MessageBuffer badtime(unsigned_part(f_.badtime_response));
  ASSERT_TRUE(sign_response(badtime.writer, late, request_record, t + 3600));
  const Bytes badtime_bytes = badtime.bytes();
  expect_check(verify_response(badtime_bytes, find(badtime_bytes), f_.key, late.request_mac, t), rcode::NOERROR,
               tsig_error::NOERROR, true);

  if (const char* dir = std::getenv("EPMDNS_TSIG_DUMP_DIR")) {
    std::ofstream out(std::string(dir) + "/" + GetParam() + ".txt");
    out << "signed_request " << to_hex(request) << "\nsigned_request_time " << t << "\nsigned_response "
        << to_hex(response_bytes) << "\nsigned_response_time " << t + 1 << "\nbadtime_response "
        << to_hex(badtime_bytes) << "\nbadtime_server_time " << t + 3600 << "\n";
    EXPECT_TRUE(out.good());
  }
}

INSTANTIATE_TEST_SUITE_P(BindAndDnspython, TsigKnownAnswer,
                         testing::Values("hmac-sha1", "hmac-sha256", "hmac-sha512"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           name.erase(name.find('-'), 1);
                           return name;
                         });

// ---- find_tsig

const TsigKey& test_key() {
  static const TsigKey key = make_key("testkey.", TsigAlgorithm::kHmacSha256, "0123456789abcdef0123456789abcdef");
  return key;
}
constexpr uint64_t kTime = 1'700'000'000;

TEST(FindTsig, AbsentFromAnUnsignedMessage) { EXPECT_EQ(find_status(update_body()), TsigFind::kAbsent); }

TEST(FindTsig, ReadsEveryField) {
  const Bytes body = update_body();
  MessageBuffer out(body);
  ASSERT_TRUE(sign(out.writer, test_key(), kTime, 299, {}, tsig_error::BADTRUNC, "xy"));
  const Bytes message = out.bytes();
  EXPECT_EQ(u16_at(message, 10), 1);
  TsigRecord record;
  ASSERT_EQ(find_tsig(message, record), TsigFind::kFound);
  EXPECT_EQ(record.offset, body.size());
  EXPECT_EQ(record.key_name, test_key().name);
  EXPECT_EQ(record.algorithm.wire(), algorithm_wire(TsigAlgorithm::kHmacSha256));
  EXPECT_EQ(record.time_signed, kTime);
  EXPECT_EQ(record.fudge, 299);
  EXPECT_EQ(record.mac.size(), 32u);
  EXPECT_EQ(record.original_id, 0x1234);
  EXPECT_EQ(record.error, tsig_error::BADTRUNC);
  EXPECT_EQ(record.other_data, "xy");
}

TEST(FindTsig, TwoTsigsAreFormErr) {
  MessageBuffer out(signed_message(update_body(), test_key(), kTime));
  ASSERT_TRUE(sign(out.writer, test_key(), kTime, 300, {}, 0, {}));
  EXPECT_EQ(find_status(out.bytes()), TsigFind::kFormErr);
}

TEST(FindTsig, TsigNotLastIsFormErr) {
  Bytes message = signed_message(update_body(), test_key(), kTime);
  const Bytes record = {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 2};  // ". A 192.0.2.2"
  message.insert(message.end(), record.begin(), record.end());
  set_u16(message, 10, 2);
  EXPECT_EQ(find_status(message), TsigFind::kFormErr);
}

TEST(FindTsig, TsigOutsideTheAdditionalSectionIsFormErr) {
  Bytes message = signed_message(update_body(), test_key(), kTime);
  set_u16(message, 8, 2);  // the TSIG now ends the authority (update) section
  set_u16(message, 10, 0);
  EXPECT_EQ(find_status(message), TsigFind::kFormErr);
}

TEST(FindTsig, ClassOtherThanAnyOrNonZeroTtlIsFormErr) {
  const Bytes message = signed_message(update_body(), test_key(), kTime);
  const size_t after_owner = find(message).offset + test_key().name.length();
  Bytes wrong_class = message;
  set_u16(wrong_class, after_owner + 2, rrclass::IN);
  EXPECT_EQ(find_status(wrong_class), TsigFind::kFormErr);
  Bytes wrong_ttl = message;
  wrong_ttl[after_owner + 7] = 1;
  EXPECT_EQ(find_status(wrong_ttl), TsigFind::kFormErr);
}

TEST(FindTsig, RdataLengthMismatchIsFormErr) {
  const Bytes message = signed_message(update_body(), test_key(), kTime);
  const size_t rdlength_at = find(message).offset + test_key().name.length() + 8;
  Bytes shorter = message;
  set_u16(shorter, rdlength_at, static_cast<uint16_t>(u16_at(message, rdlength_at) - 1));
  EXPECT_EQ(find_status(shorter), TsigFind::kFormErr);
  Bytes longer = message;
  set_u16(longer, rdlength_at, static_cast<uint16_t>(u16_at(message, rdlength_at) + 1));
  longer.push_back(0);
  EXPECT_EQ(find_status(longer), TsigFind::kFormErr);
}

TEST(FindTsig, TrailingBytesAreFormErr) {
  Bytes message = signed_message(update_body(), test_key(), kTime);
  message.push_back(0);
  EXPECT_EQ(find_status(message), TsigFind::kFormErr);
}

TEST(FindTsig, EveryTruncationIsFormErr) {
  const Bytes message = signed_message(update_body(), test_key(), kTime);
  for (size_t size = 0; size < message.size(); ++size) {
    EXPECT_EQ(find_status(Bytes(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(size))),
              TsigFind::kFormErr)
        << size;
  }
}

TEST(FindTsig, CompressedOwnerIsAcceptedAndVerifies) {
  const Bytes message = signed_message(update_body("testkey."), test_key(), kTime);
  const size_t offset = find(message).offset;
  Bytes compressed(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(offset));
  compressed.push_back(0xC0);
  compressed.push_back(12);  // the zone name, which is the key name
  compressed.insert(compressed.end(), message.begin() + static_cast<std::ptrdiff_t>(offset + test_key().name.length()),
                    message.end());
  const TsigRecord record = find(compressed);
  EXPECT_EQ(record.key_name, test_key().name);
  expect_check(verify(compressed, keyring_of(test_key()), kTime), rcode::NOERROR, tsig_error::NOERROR, true);
}

// ---- verify_request

TEST(VerifyRequest, MixedCaseKeyNameIsCanonicalised) {
  const TsigKey mixed = make_key("TestKey.", TsigAlgorithm::kHmacSha256, test_key().secret);
  const Bytes message = signed_message(update_body(), mixed, kTime);
  EXPECT_EQ(find(message).key_name, mixed.name);  // written as given
  expect_check(verify(message, keyring_of(test_key()), kTime), rcode::NOERROR, tsig_error::NOERROR, true);
}

struct MacSizeCase {
  TsigAlgorithm algorithm;
  size_t shortest;  // max(10, digest / 2)
};

class MacSize : public testing::TestWithParam<MacSizeCase> {};

// RFC 8945 §5.2.2.1.
TEST_P(MacSize, TruncationWithinLimitsIsAllowed) {
  const TsigKey key = make_key("testkey.", GetParam().algorithm, "secret");
  const Keyring keyring = keyring_of(key);
  const size_t digest = digest_size(key.algorithm);
  const Bytes message = signed_message(update_body(), key, kTime);
  const std::string mac(find(message).mac);
  const size_t shortest = GetParam().shortest;

  for (size_t size : {digest, shortest, (digest + shortest) / 2}) {
    const TsigCheck check = verify(with_mac(message, mac.substr(0, size)), keyring, kTime);
    expect_check(check, rcode::NOERROR, tsig_error::NOERROR, true);
    EXPECT_EQ(check.request_mac, mac.substr(0, size));
  }
  for (size_t size : {size_t{0}, size_t{1}, shortest - 1}) {
    expect_check(verify(with_mac(message, mac.substr(0, size)), keyring, kTime), rcode::FORMERR, tsig_error::NOERROR,
                 false);
  }
  expect_check(verify(with_mac(message, mac + "x"), keyring, kTime), rcode::FORMERR, tsig_error::NOERROR, false);
  std::string wrong = mac.substr(0, shortest);
  wrong.back() ^= 0x01;
  expect_check(verify(with_mac(message, wrong), keyring, kTime), rcode::NOTAUTH, tsig_error::BADSIG, false);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, MacSize,
                         testing::Values(MacSizeCase{TsigAlgorithm::kHmacSha1, 10},
                                         MacSizeCase{TsigAlgorithm::kHmacSha256, 16},
                                         MacSizeCase{TsigAlgorithm::kHmacSha512, 32}));

TEST(VerifyRequest, LocalTruncationPolicyIsBadTruncAfterTheTimeCheck) {
  const Keyring keyring = keyring_of(test_key());
  const Bytes message = signed_message(update_body(), test_key(), kTime);
  const std::string mac(find(message).mac);
  const Bytes truncated = with_mac(message, mac.substr(0, 16));
  const TsigCheck check = verify(truncated, keyring, kTime, 32);
  expect_check(check, rcode::NOTAUTH, tsig_error::BADTRUNC, true);  // signed, with the truncated MAC
  EXPECT_EQ(check.request_mac, mac.substr(0, 16));
  expect_check(verify(truncated, keyring, kTime + 1000, 32), rcode::NOTAUTH, tsig_error::BADTIME, true);
  expect_check(verify(message, keyring, kTime, 32), rcode::NOERROR, tsig_error::NOERROR, true);

  // The response to a truncated request MAC digests that truncated MAC.
  const TsigRecord request = find(truncated);
  Bytes response_body = unsigned_part(truncated);
  response_body[2] |= 0x80;
  MessageBuffer response(response_body);
  ASSERT_TRUE(sign_response(response.writer, check, request, kTime));
  const Bytes response_bytes = response.bytes();
  const TsigRecord record = find(response_bytes);
  EXPECT_EQ(record.error, tsig_error::BADTRUNC);
  expect_check(verify_response(response_bytes, record, test_key(), mac.substr(0, 16), kTime), rcode::NOERROR,
               tsig_error::NOERROR, true);
}

// ---- responses

Bytes response_body(const Bytes& request) {
  Bytes body = unsigned_part(request);
  body[2] |= 0x80;                              // QR
  body[3] = (body[3] & 0xF0) | rcode::NOTAUTH;  // the header rcode of a TSIG failure
  return body;
}

TEST(SignResponse, BadKeyAndBadSigGetAnUnsignedTsig) {
  const Bytes request = signed_message(update_body(), test_key(), kTime);
  const TsigRecord request_record = find(request);
  for (uint16_t error : {tsig_error::BADKEY, tsig_error::BADSIG}) {
    const TsigCheck check =
        error == tsig_error::BADKEY
            ? verify_request(request, request_record, Keyring(), kTime)
            : verify_request(request, request_record,
                             keyring_of(make_key("testkey.", TsigAlgorithm::kHmacSha256, "other")), kTime);
    expect_check(check, rcode::NOTAUTH, error, false);
    const Bytes body = response_body(request);
    MessageBuffer out(body);
    ASSERT_TRUE(sign_response(out.writer, check, request_record, kTime + 5));
    const Bytes response = out.bytes();
    EXPECT_EQ(u16_at(response, 10), u16_at(body, 10) + 1);
    const TsigRecord record = find(response);
    EXPECT_EQ(record.offset, body.size());
    EXPECT_EQ(record.key_name, request_record.key_name);
    EXPECT_EQ(record.algorithm, request_record.algorithm);
    EXPECT_EQ(record.time_signed, kTime);
    EXPECT_EQ(record.fudge, 300);
    EXPECT_TRUE(record.mac.empty());
    EXPECT_EQ(record.original_id, 0x1234);
    EXPECT_EQ(record.error, error);
    EXPECT_TRUE(record.other_data.empty());
    // A client cannot authenticate it.
    expect_check(verify_response(response, record, test_key(), request_record.mac, kTime), rcode::NOTAUTH,
                 tsig_error::BADSIG, false);

    MessageBuffer direct(body);
    ASSERT_TRUE(append_unsigned_tsig(direct.writer, request_record, error));
    EXPECT_EQ(direct.bytes(), response);
  }
}

TEST(SignResponse, FormErrGetsNoTsig) {
  const Bytes request = with_mac(signed_message(update_body(), test_key(), kTime), "short");
  const TsigRecord record = find(request);
  const TsigCheck check = verify_request(request, record, keyring_of(test_key()), kTime);
  expect_check(check, rcode::FORMERR, tsig_error::NOERROR, false);
  const Bytes body = response_body(request);
  MessageBuffer out(body);
  ASSERT_TRUE(sign_response(out.writer, check, record, kTime));
  EXPECT_EQ(out.bytes(), body);
}

TEST(SignResponse, ClientRejectsAResponseForAnotherKey) {
  const Bytes request = signed_message(update_body(), test_key(), kTime);
  const Keyring keyring = keyring_of(test_key());  // check.key points into it
  const TsigCheck check = verify(request, keyring, kTime);
  MessageBuffer out(response_body(request));
  ASSERT_TRUE(sign_response(out.writer, check, find(request), kTime));
  const Bytes response = out.bytes();
  const TsigKey other = make_key("other.", TsigAlgorithm::kHmacSha256, test_key().secret);
  expect_check(verify_response(response, find(response), other, check.request_mac, kTime), rcode::NOTAUTH,
               tsig_error::BADKEY, false);
  const TsigKey sha1 = make_key("testkey.", TsigAlgorithm::kHmacSha1, test_key().secret);
  expect_check(verify_response(response, find(response), sha1, check.request_mac, kTime), rcode::NOTAUTH,
               tsig_error::BADKEY, false);
}

// ---- sign

TEST(Sign, TsigSpaceIsExactlyTheMostItAppends) {
  for (TsigAlgorithm algorithm : {TsigAlgorithm::kHmacSha1, TsigAlgorithm::kHmacSha256, TsigAlgorithm::kHmacSha512}) {
    const TsigKey key = make_key("a.rather.long.key.name.example.", algorithm, "secret");
    const Bytes body = update_body();
    const size_t space = tsig_space(key);
    const std::string request_mac(digest_size(algorithm), 'm');

    MessageBuffer badtime(body);
    ASSERT_TRUE(sign(badtime.writer, key, kTime, 300, request_mac, tsig_error::BADTIME, badtime_other_data(kTime)));
    EXPECT_EQ(badtime.writer.size() - body.size(), space);

    MessageBuffer plain(body);
    ASSERT_TRUE(sign(plain.writer, key, kTime, 300, {}, 0, {}));
    EXPECT_EQ(plain.writer.size() - body.size(), space - 6);

    // One byte short: nothing is written and ARCOUNT is untouched.
    MessageBuffer tight(body);
    tight.writer.set_limit(body.size() + space - 1);
    EXPECT_FALSE(sign(tight.writer, key, kTime, 300, request_mac, tsig_error::BADTIME, badtime_other_data(kTime)));
    EXPECT_EQ(tight.bytes(), body);
    EXPECT_TRUE(sign(tight.writer, key, kTime, 300, request_mac, 0, {}));
  }
}

TEST(Sign, RefusesAMessageShorterThanAHeader) {
  std::vector<uint8_t> buffer(512);
  Writer writer(buffer);
  writer.put_u16(1);
  EXPECT_FALSE(sign(writer, test_key(), kTime, 300, {}, 0, {}));
  EXPECT_FALSE(append_unsigned_tsig(writer, TsigRecord{}, tsig_error::BADKEY));
  EXPECT_EQ(writer.size(), 2u);
}

TEST(Sign, FortyEightBitTimes) {
  const uint64_t far_future = 0x0001'0000'0005;  // needs the high 16 bits
  const Bytes message = signed_message(update_body(), test_key(), far_future);
  EXPECT_EQ(find(message).time_signed, far_future);
  expect_check(verify(message, keyring_of(test_key()), far_future), rcode::NOERROR, tsig_error::NOERROR, true);
  expect_check(verify(message, keyring_of(test_key()), 5), rcode::NOTAUTH, tsig_error::BADTIME, true);
  EXPECT_EQ(badtime_other_data(0x1234'5678'9abc), std::string("\x12\x34\x56\x78\x9a\xbc", 6));
}

}  // namespace
}  // namespace epmdns::wire
