// Zone transfers out: from one AXFR (RFC 5936) or IXFR (RFC 1995) request to the sequence of
// response messages, TSIG-signed as RFC 8945 §5.3.1 says for multi-message responses. No I/O:
// the TCP server writes the messages.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "wire/message.h"
#include "wire/tsig_key.h"
#include "wire/writer.h"
#include "xfr/acl.h"
#include "xfr/copy.h"
#include "xfr/history.h"
#include "zone/catalog.h"
#include "zone/rw_lock.h"

namespace epmdns::xfr {

using Message = std::vector<uint8_t>;

// Soft size of each message: RRsets are kept whole in a message when they fit in one.
inline constexpr size_t kDefaultMessageSize = 16384;

// Whether a request is a query (not a response) for AXFR or IXFR: a cheap look at the question.
bool is_transfer(std::span<const uint8_t> request);

// The client's serial of an IXFR request: the SOA in its authority section. False if absent
// or malformed (bounds-checked: the request is untrusted).
bool ixfr_client_serial(std::span<const uint8_t> request, uint32_t& serial);

// Writes the records of a transfer into messages of about `message_size` bytes.
class MessageBuilder {
 public:
  // `query` is the parsed request (its ID, question and EDNS are echoed). With `key`, every
  // message is signed: the first with `request_mac`, each later one chained on the one before.
  MessageBuilder(const wire::Query& query, const wire::TsigKey* key, std::string request_mac, uint64_t now,
                 size_t message_size = kDefaultMessageSize);
  // Adds one RRset given as its records; it is split across messages only if it does not
  // fit in one on its own.
  void add_rrset(std::string_view owner, uint16_t type, uint32_t ttl, const std::vector<std::string_view>& records);
  void add(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata);
  // Closes the last message; returns them all.
  std::vector<Message> finish();

 private:
  void open();
  void close();
  bool put_record(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata);

  const wire::Query& query_;
  const wire::TsigKey* key_;
  std::string mac_;  // the request MAC, then the MAC of the message signed last
  uint64_t now_;
  size_t message_size_;
  size_t trailer_;  // OPT and TSIG
  std::vector<uint8_t> buffer_;
  wire::CompressionIndex names_;  // a transfer message holds hundreds of names
  std::unique_ptr<wire::Writer> writer_;
  uint16_t answers_ = 0;
  bool first_ = true;
  std::vector<Message> messages_;
};

// Writes a whole zone: SOA, every other RRset, SOA (the body of AXFR, and of IXFR's AXFR-style answer).
void build_full(const ZoneCopy& copy, MessageBuilder& builder);
// Writes IXFR's incremental answer: the newest SOA, then per step the old SOA, the records it
// removed, the new SOA and the records it added, then the newest SOA again.
void build_incremental(const std::vector<std::shared_ptr<const Step>>& steps, MessageBuilder& builder);

struct TransferServices {
  const zone::Catalog& catalog;
  zone::RwLock& lock;
  const History* history;  // null: IXFR always answered AXFR-style
  const TransferAcl& acl;
  const wire::Keyring* keyring;
  size_t message_size = kDefaultMessageSize;
  CopyOptions copy;
};

// What was sent, for the log and for tests.
enum class TransferKind { kNone, kRefused, kAxfr, kIxfr, kIxfrAxfrStyle, kUpToDate };

// Answers a transfer request received over TCP from `peer`. Errors (FORMERR, NOTAUTH for a
// name that is not a served zone's apex, REFUSED for a client the ACL does not list, TSIG
// failures) are one message. Empty when the request deserves no answer.
std::vector<Message> respond_transfer(const TransferServices& services, std::span<const uint8_t> request,
                                      const sockaddr_storage& peer, TransferKind* kind = nullptr);

}  // namespace epmdns::xfr
