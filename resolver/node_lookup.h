// address_please over DNS: one SRV query whose additional section normally carries the
// target's address and the node's TXT; separate A/AAAA and TXT queries only for what is missing.
#pragma once

#include <functional>

#include "resolver/operation.h"

namespace epmdns::resolver {

using NodeCallback = std::function<void(const NodeResult&)>;

class NodeLookup : public Operation {
 public:
  NodeLookup(Clock::time_point deadline, wire::Name instance, Family family, NodeCallback callback)
      : Operation(deadline), instance_(std::move(instance)), family_(family), callback_(std::move(callback)) {}

  void start(QuerySender& sender) override;
  void on_answer(QuerySender& sender, int tag, const Answer& answer) override;
  void fail(Status status, Failure failure) override;

 private:
  enum Tag { kSrv, kAddress, kVersion };
  void on_srv(QuerySender& sender, const Response& response);
  void on_address(const Response& response);
  void on_version(const Answer& answer);
  void set_address(const std::array<uint8_t, 16>& bytes, uint32_t ttl);
  void complete_if_ready();
  void not_found(uint32_t ttl);  // kNotFound, to be cached for ttl (RFC 2308)
  void deliver();

  wire::Name instance_;
  Family family_;
  NodeCallback callback_;
  wire::Name target_;
  NodeResult result_;
  bool have_address_ = false;
  bool have_version_ = false;
};

}  // namespace epmdns::resolver
