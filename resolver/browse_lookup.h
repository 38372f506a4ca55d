// names(Host) and nodes(Zone): a PTR query at _erlang-dist._tcp.X, then (names only) the SRV
// port of each instance, from the additional section or, when it is missing, by SRV queries.
#pragma once

#include <functional>
#include <vector>

#include "resolver/operation.h"

namespace epmdns::resolver {

using NamesCallback = std::function<void(const NamesResult&)>;
using NodesCallback = std::function<void(const NodesResult&)>;

class NamesLookup : public Operation {
 public:
  NamesLookup(Clock::time_point deadline, wire::Name browse, NamesCallback callback)
      : Operation(deadline), browse_(std::move(browse)), callback_(std::move(callback)) {}

  void start(QuerySender& sender) override;
  void on_answer(QuerySender& sender, int tag, const Answer& answer) override;
  void fail(Status status, Failure failure) override;

 private:
  struct Entry {
    wire::Name instance;
    std::string name;
    std::optional<uint16_t> port;
    bool gone = false;  // no SRV any more: left out of the result
  };
  void on_ptr(QuerySender& sender, const Response& response);
  void on_srv(size_t index, const Response& response);
  void complete_if_ready();
  void deliver(NamesResult result);

  wire::Name browse_;
  NamesCallback callback_;
  std::vector<Entry> entries_;
  size_t waiting_ = 0;
  uint32_t ttl_ = 0;  // the smallest TTL of the records used so far
};

class NodesLookup : public Operation {
 public:
  NodesLookup(Clock::time_point deadline, wire::Name browse, NodesCallback callback)
      : Operation(deadline), browse_(std::move(browse)), callback_(std::move(callback)) {}

  void start(QuerySender& sender) override;
  void on_answer(QuerySender& sender, int tag, const Answer& answer) override;
  void fail(Status status, Failure failure) override;

 private:
  void deliver(NodesResult result);

  wire::Name browse_;
  NodesCallback callback_;
};

}  // namespace epmdns::resolver
