// TSIG (RFC 8945): finding, verifying and appending the transaction signature of a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "wire/name.h"
#include "wire/tsig_key.h"
#include "wire/writer.h"

namespace epmdns::wire {

namespace tsig_error {
inline constexpr uint16_t NOERROR = 0, BADSIG = 16, BADKEY = 17, BADTIME = 18, BADTRUNC = 22;
}

// The fudge of the responses sign_response() signs (BIND's too).
inline constexpr uint16_t kTsigDefaultFudge = 300;

// The TSIG RR of a message. Views point into the message.
struct TsigRecord {
  Name key_name;   // as received (case preserved)
  Name algorithm;  // as received
  uint64_t time_signed = 0;  // 48-bit seconds since the epoch
  uint16_t fudge = 0;
  std::string_view mac;
  uint16_t original_id = 0;
  uint16_t error = 0;
  std::string_view other_data;
  size_t offset = 0;  // where the TSIG RR starts in the message
};

enum class TsigFind { kAbsent, kFound, kFormErr };

// Walks the whole message (bounds-checked). kFound only for a single TSIG that is the last
// record of the additional section, class ANY, TTL 0, with well-formed RDATA and nothing
// after it; a TSIG anywhere else, two of them, or any malformed record is kFormErr.
TsigFind find_tsig(std::span<const uint8_t> message, TsigRecord& out);

struct TsigCheck {
  uint16_t rcode = 0;  // for the response header: NOERROR, FORMERR or NOTAUTH
  uint16_t error = 0;  // for the response's TSIG: a tsig_error code
  // Set when the response must be signed (NOERROR, BADTIME, BADTRUNC); null otherwise.
  const TsigKey* key = nullptr;
  std::string request_mac;  // the MAC as received, for signing the response
  uint64_t time_signed = 0;  // the request's
};

// RFC 8945 §5.2, in order: key (NOTAUTH/BADKEY), MAC size (§5.2.2.1: longer than the digest,
// or shorter than max(10, digest/2): FORMERR), MAC (NOTAUTH/BADSIG, constant-time compare),
// time outside the fudge (NOTAUTH/BADTIME), then MACs shorter than `min_mac_size`, the local
// truncation policy (NOTAUTH/BADTRUNC). `record` comes from find_tsig on `message`.
TsigCheck verify_request(std::span<const uint8_t> message, const TsigRecord& record, const Keyring& keyring,
                         uint64_t now, size_t min_mac_size = 0);

// For a client: checks a response to a request signed with `key` whose MAC was `request_mac`.
// NOERROR means authentic and in time; the server's own TSIG error is then `record.error`.
// An unsigned error response (empty MAC) is not authentic: NOTAUTH/BADSIG.
TsigCheck verify_response(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                          std::string_view request_mac, uint64_t now);

// Appends a TSIG RR signing the complete message in `writer` and increments ARCOUNT.
// Names are written uncompressed; the original ID is the message's ID. A non-empty
// `request_mac` makes it a response MAC (RFC 8945 §5.3). False, with nothing appended,
// if it does not fit.
bool sign(Writer& writer, const TsigKey& key, uint64_t time_signed, uint16_t fudge, std::string_view request_mac,
          uint16_t error, std::string_view other_data, std::string* mac_out = nullptr);

// Multi-message responses (zone transfers, RFC 8945 §5.3.1): the first message is signed with
// sign() (request MAC), every later one with sign_subsequent(): its MAC covers the previous
// message's MAC, the message, and only the timers (time signed, fudge). `mac_out`, if given,
// receives the new MAC, which the next message chains on.
bool sign_subsequent(Writer& writer, const TsigKey& key, uint64_t time_signed, uint16_t fudge,
                     std::string_view prior_mac, std::string* mac_out = nullptr);

// For a client: checks a later message of a multi-message response (§5.3.1), `prior_mac`
// being the MAC of the message signed before it. NOERROR means authentic and in time.
TsigCheck verify_subsequent(std::span<const uint8_t> message, const TsigRecord& record, const TsigKey& key,
                            std::string_view prior_mac, uint64_t now);

// The most bytes sign() appends for `key`, with Other Data up to 6 bytes (BADTIME's time).
size_t tsig_space(const TsigKey& key);

// For BADKEY and BADSIG: appends the request's key and algorithm names, time and fudge with
// an empty MAC and `error`, unsigned; increments ARCOUNT. False if it does not fit.
bool append_unsigned_tsig(Writer& writer, const TsigRecord& request, uint16_t error);

// The 6-byte Other Data of a BADTIME response: the server's time.
std::string badtime_other_data(uint64_t now);

// Finishes the response to a request checked by verify_request, as RFC 8945 §5.3 says:
// FORMERR gets no TSIG; BADKEY and BADSIG an unsigned one; the rest are signed at `now`
// with kTsigDefaultFudge (BADTIME: at the request's time signed, `now` in Other Data).
bool sign_response(Writer& writer, const TsigCheck& check, const TsigRecord& request, uint64_t now);

}  // namespace epmdns::wire
