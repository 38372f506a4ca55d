// One call of the Resolver API (a node lookup, names, nodes) as a small state machine that
// sends DNS queries and is told their answers, all on the resolver thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "resolver/response.h"
#include "resolver/result.h"
#include "wire/name.h"

namespace epmdns::resolver {

using Clock = std::chrono::steady_clock;

// What came back for one query: kOk with a parsed response (whatever its rcode), or why not.
struct Answer {
  Status status = Status::kServerFailure;
  Failure failure = Failure::kNone;  // for a status other than kOk
  std::optional<Response> response;
};

class Operation;

class QuerySender {
 public:
  virtual ~QuerySender() = default;
  // Sends qname/qtype; the answer comes back through op->on_answer(tag, ...).
  virtual void send(std::shared_ptr<Operation> op, int tag, const wire::Name& qname, uint16_t qtype) = 0;
};

class Operation : public std::enable_shared_from_this<Operation> {
 public:
  explicit Operation(Clock::time_point deadline) : deadline_(deadline) {}
  virtual ~Operation() = default;

  virtual void start(QuerySender& sender) = 0;
  virtual void on_answer(QuerySender& sender, int tag, const Answer& answer) = 0;
  // Ends the operation with a failure (kTimeout/kTimedOut at the deadline, kCancelled at
  // shutdown); nothing happens if it has already finished. The callback runs at most once.
  virtual void fail(Status status, Failure failure) = 0;

  bool finished() const { return finished_; }
  Clock::time_point deadline() const { return deadline_; }

 protected:
  // Marks the operation finished; true the first time only (then deliver the result).
  bool mark_finished() {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

 private:
  Clock::time_point deadline_;
  bool finished_ = false;
};

}  // namespace epmdns::resolver
