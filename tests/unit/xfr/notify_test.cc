// The NOTIFY sender: resends until answered, signs each send anew, and notifies only the
// targets of the zone that changed. A UDP socket on 127.0.0.1 plays the secondary.
#include "xfr/notify.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "testing/dns_testing.h"
#include "wire/message.h"
#include "wire/reader.h"
#include "wire/tsig.h"
#include "wire/types.h"

namespace epmdns::xfr {
namespace {

using namespace std::chrono_literals;

// A UDP socket on 127.0.0.1 standing in for a secondary.
struct Secondary {
  UniqueFd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  sockaddr_in address{};

  Secondary() {
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  }

  NotifyTarget target(std::string zone = {}) const {
    NotifyTarget t;
    std::memcpy(&t.address, &address, sizeof address);
    t.length = sizeof address;
    t.text = "127.0.0.1";
    t.zone = std::move(zone);
    return t;
  }

  // The next message within `timeout`, answered when `answer`; empty if none came.
  std::vector<uint8_t> receive(std::chrono::milliseconds timeout, bool answer) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    std::vector<uint8_t> message(4096);
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const ssize_t got = ::recvfrom(fd.get(), message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&peer), &length);
    if (got < static_cast<ssize_t>(wire::kHeaderSize)) return {};
    message.resize(static_cast<size_t>(got));
    if (answer) {
      std::vector<uint8_t> reply(message.begin(), message.begin() + wire::kHeaderSize);
      reply[2] |= 0x80;  // QR
      reply[3] = 0;      // NOERROR
      for (size_t i = 4; i < wire::kHeaderSize; ++i) reply[i] = 0;
      ::sendto(fd.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), length);
    }
    return message;
  }
};

TEST(Notifier, ResendsBeyondTheWarningUntilAnsweredThenStops) {
  Secondary secondary;
  Notifier notifier({secondary.target()},
                    {.min_interval = 1ms, .first_retry = 10ms, .max_retry = 20ms, .tries_before_warning = 2});
  notifier.zone_changed(testing::wire_name("erl.internal."));
  for (int i = 0; i < 5; ++i) {  // past the warning, still resent
    const std::vector<uint8_t> message = secondary.receive(2000ms, false);
    ASSERT_FALSE(message.empty()) << "send " << i;
    wire::Reader reader(message);
    wire::Header header;
    ASSERT_TRUE(wire::read_header(reader, header));
    EXPECT_EQ(header.opcode(), wire::opcode::NOTIFY);
  }
  ASSERT_FALSE(secondary.receive(2000ms, true).empty());
  EXPECT_TRUE(secondary.receive(200ms, false).empty());  // answered: no more resends
  EXPECT_GE(notifier.sent(), 6u);
  EXPECT_EQ(notifier.acknowledged(), 1u);
}

TEST(Notifier, SignsEverySendAndSkipsOtherZonesTargets) {
  Secondary signed_secondary, other_zone;
  wire::TsigKey key;
  key.name.assign_text("notify-key.");
  key.secret = "0123456789abcdef0123456789abcdef";
  wire::Keyring keyring;
  keyring.add(key);
  NotifyTarget a = signed_secondary.target(testing::wire_name("a.test."));
  a.key = key;
  Notifier notifier({a, other_zone.target(testing::wire_name("b.test."))},
                    {.min_interval = 1ms, .first_retry = 10ms, .max_retry = 20ms});
  notifier.zone_changed(testing::wire_name("a.test."));
  for (int i = 0; i < 3; ++i) {
    const std::vector<uint8_t> message = signed_secondary.receive(2000ms, i == 2);
    ASSERT_FALSE(message.empty()) << "send " << i;
    wire::TsigRecord record;
    ASSERT_EQ(wire::find_tsig(message, record), wire::TsigFind::kFound) << "send " << i;
    const wire::TsigCheck check = wire::verify_request(message, record, keyring, static_cast<uint64_t>(std::time(nullptr)));
    EXPECT_EQ(check.rcode, wire::rcode::NOERROR) << "send " << i;
  }
  EXPECT_TRUE(other_zone.receive(100ms, true).empty());
}

}  // namespace
}  // namespace epmdns::xfr
