#include "resolver/browse_lookup.h"

#include <algorithm>

#include "resolver/node_answer.h"
#include "resolver/node_name.h"
#include "wire/types.h"

namespace epmdns::resolver {
namespace {
constexpr int kPtrTag = -1;  // SRV queries are tagged with the entry's index
}

void NamesLookup::start(QuerySender& sender) {
  sender.send(shared_from_this(), kPtrTag, browse_, wire::rrtype::PTR);
}

void NamesLookup::fail(Status status, Failure failure) { deliver(NamesResult{status, {}, 0, false, failure}); }

void NamesLookup::deliver(NamesResult result) {
  if (!mark_finished()) return;
  NamesCallback callback = std::move(callback_);
  callback(result);
}

void NamesLookup::on_answer(QuerySender& sender, int tag, const Answer& answer) {
  if (finished()) return;
  if (answer.status != Status::kOk) return fail(answer.status, answer.failure);
  if (tag == kPtrTag) return on_ptr(sender, *answer.response);
  on_srv(static_cast<size_t>(tag), *answer.response);
}

void NamesLookup::on_ptr(QuerySender& sender, const Response& response) {
  if (Status status = rcode_status(response); status != Status::kOk) {
    if (status == Status::kNotFound) return deliver(NamesResult{status, {}, negative_ttl(response), false});
    return fail(status, rcode_failure(response));
  }
  ttl_ = min_data_ttl(response);
  for (const wire::Name& instance : find_ptr_targets(response, browse_)) {
    auto parts = split_instance(instance);
    if (!parts) continue;  // not an Erlang node instance
    entries_.push_back(Entry{instance, std::move(parts->name), find_srv_port(response, instance), false});
  }
  auto self = shared_from_this();
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].port) continue;
    ++waiting_;
    sender.send(self, static_cast<int>(i), entries_[i].instance, wire::rrtype::SRV);
  }
  complete_if_ready();
}

void NamesLookup::on_srv(size_t index, const Response& response) {
  if (index >= entries_.size()) return;
  Entry& entry = entries_[index];
  const Status status = rcode_status(response);
  if (status == Status::kServerFailure) return fail(status, rcode_failure(response));
  auto srv = find_srv(response, entry.instance);
  ttl_ = std::min(ttl_, srv ? srv->ttl : negative_ttl(response));
  if (srv && !srv->target.is_root()) {
    entry.port = srv->port;
  } else {
    entry.gone = true;  // unregistered between the PTR and the SRV answer
  }
  --waiting_;
  complete_if_ready();
}

void NamesLookup::complete_if_ready() {
  if (waiting_ > 0) return;
  NamesResult result{Status::kOk, {}, ttl_, false};
  for (const Entry& entry : entries_) {
    if (!entry.gone && entry.port) result.names.push_back(NameEntry{entry.name, *entry.port});
  }
  deliver(std::move(result));
}

void NodesLookup::start(QuerySender& sender) {
  sender.send(shared_from_this(), kPtrTag, browse_, wire::rrtype::PTR);
}

void NodesLookup::fail(Status status, Failure failure) { deliver(NodesResult{status, {}, 0, false, failure}); }

void NodesLookup::deliver(NodesResult result) {
  if (!mark_finished()) return;
  NodesCallback callback = std::move(callback_);
  callback(result);
}

void NodesLookup::on_answer(QuerySender&, int, const Answer& answer) {
  if (finished()) return;
  if (answer.status != Status::kOk) return fail(answer.status, answer.failure);
  const Response& response = *answer.response;
  if (Status status = rcode_status(response); status != Status::kOk) {
    if (status == Status::kNotFound) return deliver(NodesResult{status, {}, negative_ttl(response), false});
    return fail(status, rcode_failure(response));
  }
  NodesResult result{Status::kOk, {}, min_data_ttl(response), false};
  for (const wire::Name& instance : find_ptr_targets(response, browse_)) {
    if (auto parts = split_instance(instance)) result.nodes.push_back(parts->name + "@" + parts->host);
  }
  deliver(std::move(result));
}

}  // namespace epmdns::resolver
