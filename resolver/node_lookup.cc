#include "resolver/node_lookup.h"

#include <arpa/inet.h>

#include <algorithm>

#include "resolver/node_answer.h"
#include "wire/types.h"

namespace epmdns::resolver {

void NodeLookup::start(QuerySender& sender) {
  sender.send(shared_from_this(), kSrv, instance_, wire::rrtype::SRV);
}

void NodeLookup::fail(Status status, Failure failure) {
  if (status == Status::kTimeout && have_address_ && !have_version_) {
    // Only the TXT is missing when time runs out: a node without one speaks the default.
    have_version_ = true;
    return deliver();
  }
  result_ = NodeResult{};
  result_.status = status;
  result_.family = family_;
  result_.failure = failure;
  deliver();
}

void NodeLookup::not_found(uint32_t ttl) {
  result_ = NodeResult{};
  result_.status = Status::kNotFound;
  result_.family = family_;
  result_.ttl = ttl;
  deliver();
}

void NodeLookup::deliver() {
  if (!mark_finished()) return;
  NodeCallback callback = std::move(callback_);
  callback(result_);
}

void NodeLookup::on_answer(QuerySender& sender, int tag, const Answer& answer) {
  if (finished()) return;
  if (tag == kVersion) return on_version(answer);
  if (answer.status != Status::kOk) return fail(answer.status, answer.failure);
  if (tag == kSrv) return on_srv(sender, *answer.response);
  on_address(*answer.response);
}

void NodeLookup::on_srv(QuerySender& sender, const Response& response) {
  if (Status status = rcode_status(response); status != Status::kOk) {
    return status == Status::kNotFound ? not_found(negative_ttl(response)) : fail(status, rcode_failure(response));
  }
  auto srv = find_srv(response, instance_);
  if (!srv) return not_found(negative_ttl(response));
  if (srv->target.is_root()) return not_found(srv->ttl);
  target_ = srv->target;
  result_.status = Status::kOk;
  result_.family = family_;
  result_.port = srv->port;
  result_.ttl = srv->ttl;
  // Both from the one answer when the server adds them (RFC 6763 §12.2)...
  if (auto address = find_address(response, target_, family_)) set_address(address->bytes, address->ttl);
  if (auto version = find_version(response, instance_)) {
    have_version_ = true;
    result_.version = version->version;
    result_.ttl = std::min(result_.ttl, version->ttl);
  }
  // ...otherwise asked for separately, in parallel.
  auto self = shared_from_this();
  if (!have_address_) {
    sender.send(self, kAddress, target_, family_ == Family::kInet ? wire::rrtype::A : wire::rrtype::AAAA);
  }
  if (!have_version_) sender.send(self, kVersion, instance_, wire::rrtype::TXT);
  complete_if_ready();
}

void NodeLookup::on_address(const Response& response) {
  const Status status = rcode_status(response);
  if (status == Status::kServerFailure) return fail(status, rcode_failure(response));
  auto address = find_address(response, target_, family_);
  // NXDOMAIN, or the host has no address of this family.
  if (!address) return not_found(std::min(result_.ttl, negative_ttl(response)));
  set_address(address->bytes, address->ttl);
  complete_if_ready();
}

void NodeLookup::on_version(const Answer& answer) {
  // A node without a readable TXT speaks the default version: an error here costs nothing.
  have_version_ = true;
  if (answer.status == Status::kOk) {
    if (auto version = find_version(*answer.response, instance_)) {
      result_.version = version->version;
      result_.ttl = std::min(result_.ttl, version->ttl);
    }
  }
  complete_if_ready();
}

void NodeLookup::set_address(const std::array<uint8_t, 16>& bytes, uint32_t ttl) {
  have_address_ = true;
  result_.address = bytes;
  result_.ttl = std::min(result_.ttl, ttl);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family_ == Family::kInet ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  result_.address_text = text;
}

void NodeLookup::complete_if_ready() {
  if (have_address_ && have_version_) deliver();
}

}  // namespace epmdns::resolver
