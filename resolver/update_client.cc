#include "resolver/update_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "resolver/response.h"
#include "wire/message.h"
#include "wire/tsig.h"
#include "wire/types.h"

namespace epmdns::resolver {
namespace {

using Clock = std::chrono::steady_clock;

uint16_t random_id() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

socklen_t to_sockaddr(const ServerAddress& server, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (server.ipv6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(server.port);
    std::memcpy(&sa->sin6_addr, server.address.data(), 16);
    return sizeof *sa;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(server.port);
  std::memcpy(&sa->sin_addr, server.address.data(), 4);
  return sizeof *sa;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Exchange {
  enum Kind { kOk, kTimeout, kUnreachable } kind = kTimeout;
  std::vector<uint8_t> answer;
  std::string error;
};

Exchange failed(Exchange::Kind kind, std::string error) { return {kind, {}, std::move(error)}; }

bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

Exchange udp_exchange(const ServerAddress& server, std::span<const uint8_t> message, Clock::time_point deadline) {
  sockaddr_storage addr;
  const socklen_t len = to_sockaddr(server, addr);
  Fd fd(::socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return failed(Exchange::kUnreachable, absl::StrCat("socket: ", std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return failed(Exchange::kUnreachable, absl::StrCat(server.to_string(), ": ", std::strerror(errno)));
  }
  const uint16_t id = static_cast<uint16_t>(message[0] << 8 | message[1]);
  const auto total = deadline - Clock::now();
  const auto interval = std::max<Clock::duration>(total / 3, std::chrono::milliseconds(200));
  std::vector<uint8_t> buf(wire::kMaxMessageSize);
  while (Clock::now() < deadline) {
    if (::send(fd.get(), message.data(), message.size(), 0) < 0 && errno != EINTR) {
      return failed(Exchange::kUnreachable, absl::StrCat(server.to_string(), ": ", std::strerror(errno)));
    }
    const auto resend = std::min(deadline, Clock::now() + interval);
    while (wait_for(fd.get(), POLLIN, resend)) {
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return failed(Exchange::kUnreachable, absl::StrCat(server.to_string(), ": ", std::strerror(errno)));
      }
      if (n < static_cast<ssize_t>(wire::kHeaderSize) || static_cast<uint16_t>(buf[0] << 8 | buf[1]) != id ||
          !(buf[2] & 0x80)) {
        continue;  // not our answer
      }
      buf.resize(static_cast<size_t>(n));
      return {Exchange::kOk, std::move(buf), {}};
    }
  }
  return failed(Exchange::kTimeout, absl::StrCat("no answer from ", server.to_string(), " (UDP)"));
}

Exchange tcp_exchange(const ServerAddress& server, std::span<const uint8_t> message, Clock::time_point deadline) {
  sockaddr_storage addr;
  const socklen_t len = to_sockaddr(server, addr);
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const std::string where = absl::StrCat(server.to_string(), " (TCP)");
  if (fd.get() < 0) return failed(Exchange::kUnreachable, absl::StrCat("socket: ", std::strerror(errno)));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    return failed(Exchange::kUnreachable, absl::StrCat(where, ": ", std::strerror(errno)));
  }
  if (!wait_for(fd.get(), POLLOUT, deadline)) return failed(Exchange::kTimeout, absl::StrCat("no connection to ", where));
  int err = 0;
  socklen_t err_len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return failed(Exchange::kUnreachable, absl::StrCat(where, ": ", std::strerror(err)));
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(message.size() >> 8));
  out.push_back(static_cast<uint8_t>(message.size() & 0xFF));
  out.insert(out.end(), message.begin(), message.end());
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return failed(Exchange::kUnreachable, absl::StrCat(where, ": ", std::strerror(errno)));
    } else if (!wait_for(fd.get(), POLLOUT, deadline)) {
      return failed(Exchange::kTimeout, absl::StrCat("timeout sending to ", where));
    }
  }
  std::vector<uint8_t> in;
  size_t want = 2;
  bool have_length = false;
  uint8_t chunk[4096];
  while (in.size() < want) {
    if (!wait_for(fd.get(), POLLIN, deadline)) return failed(Exchange::kTimeout, absl::StrCat("no answer from ", where));
    ssize_t n = ::recv(fd.get(), chunk, std::min(sizeof chunk, want - in.size()), 0);
    if (n == 0) return failed(Exchange::kUnreachable, absl::StrCat(where, " closed the connection"));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return failed(Exchange::kUnreachable, absl::StrCat(where, ": ", std::strerror(errno)));
    }
    in.insert(in.end(), chunk, chunk + n);
    if (!have_length && in.size() == 2) {
      want = static_cast<size_t>(in[0] << 8 | in[1]);
      in.clear();
      have_length = true;
    }
  }
  return {Exchange::kOk, std::move(in), {}};
}

// UDP for messages that fit 512 bytes, TCP otherwise and when the UDP answer is truncated.
Exchange exchange(const ServerAddress& server, std::span<const uint8_t> message, Clock::time_point deadline) {
  if (message.size() <= wire::kMinUdpSize) {
    Exchange udp = udp_exchange(server, message, deadline);
    if (udp.kind != Exchange::kOk || udp.answer.size() < 4 || !(udp.answer[2] & 0x02)) return udp;
  }
  return tcp_exchange(server, message, deadline);
}

// One query to the servers in order; the first well-formed answer.
std::optional<Response> query(const ServerList& servers, const wire::Name& name, uint16_t type,
                              Clock::time_point deadline, std::string& error) {
  const auto start = Clock::now();
  for (size_t i = 0; i < servers.size(); ++i) {
    // Each server gets an equal share of the time left.
    const auto share = (deadline - Clock::now()) / static_cast<long>(servers.size() - i);
    const auto until = std::min(deadline, Clock::now() + share);
    std::vector<uint8_t> q = build_query(random_id(), name, type, 1232);
    Exchange e = exchange(servers[i], q, until);
    if (e.kind != Exchange::kOk) {
      error = e.error;
      continue;
    }
    auto response = parse_response(e.answer);
    if (!response || response->id != static_cast<uint16_t>(q[0] << 8 | q[1])) {
      error = absl::StrCat("malformed answer from ", servers[i].to_string());
      continue;
    }
    if (response->rcode == wire::rcode::SERVFAIL || response->rcode == wire::rcode::REFUSED) {
      error = absl::StrCat(servers[i].to_string(), " answered ", rcode_name(response->rcode));
      continue;
    }
    return response;
  }
  (void)start;
  if (error.empty()) error = "no DNS server to ask";
  return std::nullopt;
}

// The answer's rcode, UPDATE-LEASE, and TSIG record (read leniently: only what we need).
struct UpdateAnswer {
  uint16_t id = 0, rcode = 0, answers = 0;
  wire::Edns edns;
};

std::optional<UpdateAnswer> read_update_answer(std::span<const uint8_t> message) {
  auto reader = wire::Reader::message(message);
  wire::Header header;
  if (!wire::read_header(reader, header) || !header.qr()) return std::nullopt;
  UpdateAnswer out;
  out.id = header.id;
  out.rcode = header.flags & 0xF;
  out.answers = header.ancount;
  for (uint16_t i = 0; i < header.qdcount; ++i) {
    wire::Name name;
    if (!wire::read_name(reader, name) || !reader.skip(4)) return std::nullopt;
  }
  const size_t records = size_t{header.ancount} + header.nscount + header.arcount;
  for (size_t i = 0; i < records; ++i) {
    wire::Name owner;
    uint16_t type, cls, rdlength;
    uint32_t ttl;
    if (!wire::read_name(reader, owner) || !reader.u16(type) || !reader.u16(cls) || !reader.u32(ttl) ||
        !reader.u16(rdlength)) {
      return std::nullopt;
    }
    if (type == wire::rrtype::OPT) {
      if (!wire::read_opt(reader, owner, cls, ttl, rdlength, out.edns)) return std::nullopt;
      out.rcode = static_cast<uint16_t>(out.rcode | (ttl >> 24) << 4);
    } else if (!reader.skip(rdlength)) {
      return std::nullopt;
    }
  }
  return out;
}

// Sends `message` (whose ID is `id`) to `server` and reads the answer into `raw` and the
// returned summary; on no answer or a malformed one, sets result's status and message.
std::optional<UpdateAnswer> ask(const ServerAddress& server, std::span<const uint8_t> message, uint16_t id,
                                Clock::time_point deadline, UpdateResult& result, std::vector<uint8_t>& raw) {
  Exchange e = exchange(server, message, deadline);
  if (e.kind != Exchange::kOk) {
    result.status = UpdateStatus::kTimeout;
    result.message = e.error;
    return std::nullopt;
  }
  auto answer = read_update_answer(e.answer);
  if (!answer || answer->id != id) {
    result.message = absl::StrCat("malformed answer from ", result.server);
    return std::nullopt;
  }
  result.rcode = answer->rcode;
  raw = std::move(e.answer);
  return answer;
}

}  // namespace

std::string rcode_name(uint16_t rcode) {
  static const char* const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode < std::size(names)) return names[rcode];
  if (rcode == wire::rcode::BADVERS) return "BADVERS";
  return absl::StrCat("RCODE", rcode);
}

std::string tsig_error_name(uint16_t error) {
  switch (error) {
    case wire::tsig_error::NOERROR: return "NOERROR";
    case wire::tsig_error::BADSIG: return "BADSIG";
    case wire::tsig_error::BADKEY: return "BADKEY";
    case wire::tsig_error::BADTIME: return "BADTIME";
    case wire::tsig_error::BADTRUNC: return "BADTRUNC";
    default: return absl::StrCat("TSIG-ERROR", error);
  }
}

ServerList system_servers() {
  ServerList out;
  std::ifstream in("/etc/resolv.conf");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (!(words >> keyword >> address) || keyword != "nameserver") continue;
    if (auto pos = address.find('%'); pos != std::string::npos) address.resize(pos);  // scope id
    if (auto parsed = parse_address(address)) {
      ServerAddress server;
      server.ipv6 = parsed->first == Family::kInet6;
      server.address = parsed->second;
      out.push_back(server);
    }
  }
  return out;
}

std::optional<std::pair<Family, std::array<uint8_t, 16>>> parse_address(std::string_view text) {
  std::string s(text);
  std::array<uint8_t, 16> bytes{};
  if (::inet_pton(AF_INET, s.c_str(), bytes.data()) == 1) return std::pair{Family::kInet, bytes};
  if (::inet_pton(AF_INET6, s.c_str(), bytes.data()) == 1) return std::pair{Family::kInet6, bytes};
  return std::nullopt;
}

absl::StatusOr<std::pair<Family, std::array<uint8_t, 16>>> local_address_towards(const ServerAddress& server) {
  sockaddr_storage addr;
  const socklen_t len = to_sockaddr(server, addr);
  Fd fd(::socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return absl::UnavailableError(absl::StrCat("no route to ", server.to_string(), ": ", std::strerror(errno)));
  }
  sockaddr_storage local;
  socklen_t local_len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    return absl::InternalError(absl::StrCat("getsockname: ", std::strerror(errno)));
  }
  std::array<uint8_t, 16> bytes{};
  if (local.ss_family == AF_INET6) {
    std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, 16);
    return std::pair{Family::kInet6, bytes};
  }
  std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, 4);
  return std::pair{Family::kInet, bytes};
}

UpdateClient::UpdateClient(UpdateClientOptions options, wire::TsigKey key)
    : options_(std::move(options)), key_(std::move(key)) {
  if (options_.servers.empty() && !options_.primary) options_.servers = system_servers();
}

absl::StatusOr<ServerAddress> UpdateClient::primary(const wire::Name& zone) {
  return primary(zone, Clock::now() + options_.timeout);
}

absl::StatusOr<ServerAddress> UpdateClient::primary(const wire::Name& zone, Clock::time_point deadline) {
  if (options_.primary) return *options_.primary;
  std::string error;
  auto soa = query(options_.servers, zone, wire::rrtype::SOA, deadline, error);
  if (!soa) return absl::DeadlineExceededError(absl::StrCat("SOA query for ", zone.to_text(), ": ", error));
  wire::Name mname;
  for (const Record& record : soa->records) {
    if (record.type == wire::rrtype::SOA && record.owner == zone) {
      const size_t n = wire::wire_name_length(record.rdata);
      if (n > 0 && mname.assign_wire(std::string_view(record.rdata).substr(0, n))) break;
    }
  }
  if (mname.is_root()) return absl::NotFoundError(absl::StrCat("no SOA for zone ", zone.to_text()));
  for (uint16_t type : {wire::rrtype::A, wire::rrtype::AAAA}) {
    auto answer = query(options_.servers, mname, type, deadline, error);
    if (!answer) continue;
    for (const Record& record : answer->records) {
      if (record.section != Section::kAnswer || record.type != type) continue;
      ServerAddress server;
      server.ipv6 = type == wire::rrtype::AAAA;
      std::memcpy(server.address.data(), record.rdata.data(), std::min<size_t>(record.rdata.size(), 16));
      server.port = options_.primary_port;
      return server;
    }
  }
  return absl::NotFoundError(absl::StrCat("no address for the primary ", mname.to_text(), " of ", zone.to_text(),
                                          error.empty() ? "" : ": ", error));
}

std::optional<ServerAddress> UpdateClient::primary_for(const wire::Name& zone, Clock::time_point deadline,
                                                       UpdateResult& result) {
  auto server = primary(zone, deadline);
  if (!server.ok()) {
    result.status = absl::IsDeadlineExceeded(server.status()) ? UpdateStatus::kTimeout : UpdateStatus::kError;
    result.message = std::string(server.status().message());
    return std::nullopt;
  }
  result.server = server->to_string();
  return *server;
}

UpdateResult UpdateClient::send(std::vector<uint8_t> message, const wire::Name& zone) {
  return send(std::move(message), zone, Clock::now() + options_.timeout);
}

UpdateResult UpdateClient::send(std::vector<uint8_t> message, const wire::Name& zone, Clock::time_point deadline) {
  UpdateResult result;
  const std::optional<ServerAddress> server = primary_for(zone, deadline, result);
  if (!server) return result;
  const uint16_t id = random_id();
  message[0] = static_cast<uint8_t>(id >> 8);
  message[1] = static_cast<uint8_t>(id & 0xFF);
  auto mac = sign_message(message, key_, static_cast<uint64_t>(std::time(nullptr)));
  if (!mac.ok()) {
    result.message = std::string(mac.status().message());
    return result;
  }
  std::vector<uint8_t> raw;
  const std::optional<UpdateAnswer> answer = ask(*server, message, id, deadline, result, raw);
  if (!answer) return result;
  if (answer->edns.has_lease) result.lease = answer->edns.lease;
  wire::TsigRecord record;
  const wire::TsigFind found = wire::find_tsig(raw, record);
  const std::string rcode_text = rcode_name(answer->rcode);
  if (found != wire::TsigFind::kFound) {
    if (answer->rcode == wire::rcode::NOERROR) {
      result.status = UpdateStatus::kAuthFailure;
      result.message = absl::StrCat(result.server, " answered NOERROR without a valid TSIG");
    } else {
      result.status = UpdateStatus::kRejected;
      result.message = absl::StrCat(result.server, " answered ", rcode_text, " (unsigned)");
    }
    return result;
  }
  const wire::TsigCheck check =
      wire::verify_response(raw, record, key_, *mac, static_cast<uint64_t>(std::time(nullptr)));
  result.tsig_error = record.error;
  const bool authentic = check.rcode == wire::rcode::NOERROR;
  if (record.error != wire::tsig_error::NOERROR) {
    // The server refused our signature: BADKEY and BADSIG answers are unsigned by design.
    result.status = UpdateStatus::kAuthFailure;
    result.message = absl::StrCat(result.server, " answered ", rcode_text, ", TSIG error ", tsig_error_name(record.error),
                                  record.error == wire::tsig_error::BADKEY   ? " (the server does not know key "
                                  : record.error == wire::tsig_error::BADSIG ? " (wrong secret for key "
                                  : record.error == wire::tsig_error::BADTIME ? " (clocks differ too much; key "
                                                                             : " (key ",
                                  key_.name.to_text(), ")");
    return result;
  }
  if (!authentic) {
    result.status = UpdateStatus::kAuthFailure;
    result.tsig_error = check.error;
    result.message = absl::StrCat("the answer of ", result.server, " (", rcode_text,
                                  ") does not verify: TSIG error ", tsig_error_name(check.error));
    return result;
  }
  if (answer->rcode != wire::rcode::NOERROR) {
    result.status = answer->rcode == wire::rcode::NOTAUTH ? UpdateStatus::kAuthFailure : UpdateStatus::kRejected;
    result.message = absl::StrCat(result.server, " answered ", rcode_text);
    return result;
  }
  result.status = UpdateStatus::kOk;
  return result;
}

UpdateResult UpdateClient::remaining_lease(const NodeNames& names) {
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  UpdateResult result;
  const std::optional<ServerAddress> server = primary_for(names.zone, deadline, result);
  if (!server) return result;
  const uint16_t id = random_id();
  std::vector<uint8_t> q = build_query(id, names.instance, wire::rrtype::SRV, 1232);
  // Append the empty UPDATE-LEASE option to the OPT record that ends the query.
  const uint8_t option[4] = {0, static_cast<uint8_t>(wire::kOptionUpdateLease), 0, 0};
  q.insert(q.end(), option, option + 4);
  q[q.size() - 6] = 0;
  q[q.size() - 5] = 4;  // OPT RDLENGTH
  q[2] &= static_cast<uint8_t>(~(wire::flag::RD >> 8));
  std::vector<uint8_t> raw;
  const std::optional<UpdateAnswer> answer = ask(*server, q, id, deadline, result, raw);
  if (!answer) return result;
  if (answer->rcode == wire::rcode::NOERROR && answer->answers == 0) result.rcode = wire::rcode::NXDOMAIN;  // no SRV
  if (result.rcode != wire::rcode::NOERROR) {
    result.status = UpdateStatus::kRejected;
    result.message = absl::StrCat(result.server, " answered ", rcode_name(answer->rcode));
    return result;
  }
  if (answer->edns.has_lease) result.lease = answer->edns.lease;
  result.status = UpdateStatus::kOk;
  return result;
}

UpdateResult UpdateClient::register_node(const Registration& registration, Precondition precondition) {
  auto message = build_register(registration, precondition, 0);
  if (!message.ok()) return {UpdateStatus::kError, 0, 0, {}, {}, std::string(message.status().message())};
  UpdateResult r = send(std::move(*message), registration.names.zone);
  if (r.status == UpdateStatus::kRejected) {
    if (precondition == Precondition::kNameFree && r.rcode == wire::rcode::YXDOMAIN) {
      r.message += absl::StrCat(": ", registration.names.instance.to_text(), " is already registered");
    } else if (precondition == Precondition::kOwnToken && r.rcode == wire::rcode::NXRRSET) {
      r.message += absl::StrCat(": ", registration.names.instance.to_text(), " no longer holds our token");
    }
  }
  return r;
}

UpdateResult UpdateClient::unregister_node(const NodeNames& names, std::string_view token) {
  auto message = build_unregister(names, token, 0);
  if (!message.ok()) return {UpdateStatus::kError, 0, 0, {}, {}, std::string(message.status().message())};
  UpdateResult r = send(std::move(*message), names.zone);
  if (r.status == UpdateStatus::kRejected && !token.empty() && r.rcode == wire::rcode::NXRRSET) {
    r.message += absl::StrCat(": ", names.instance.to_text(), " no longer holds our token");
  }
  return r;
}

}  // namespace epmdns::resolver
