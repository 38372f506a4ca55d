"""Transfer ACLs and NOTIFY targets limited to one zone, and TSIG-signed NOTIFY.

epmdnsd serves a.test. and b.test.:
  --allow-transfer a.test=127.0.0.2        (only a.test., only from 127.0.0.2)
  --allow-transfer b.test=key:b-key        (only b.test., only signed with b-key)
  --notify a.test=127.0.0.1:P1/key:notify-key   (signed, only for a.test.)
  --notify b.test=127.0.0.1:P2                  (unsigned, only for b.test.)
Two UDP sockets in this test stand in for the secondaries at P1 and P2: they check
which zones they are told about and verify the signature with dnspython. A real Knot
secondary of a.test. (at P3, transferring from 127.0.0.2) accepts NOTIFY only when signed
with notify-key, and must pick up a change through it.
"""

import os
import socket
import sys
import time
import unittest

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import knot_secondary  # noqa: E402

NOTIFY_TIMEOUT = 5.0  # seconds to wait for a NOTIFY (it is sent within ~100 ms)
KNOT_TIMEOUT = 15.0  # seconds for Knot's first transfer

def write_small_zone(path, origin):
    with open(path, "w") as f:
        f.write(f"$ORIGIN {origin}\n$TTL 60\n"
                f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 30\n"
                "@ IN NS ns1\nns1 IN A 127.0.0.1\n"
                "host1 IN A 10.0.0.1\n")


class NotifyListener:
    """A UDP socket on 127.0.0.1 that collects NOTIFYs and answers each one."""

    def __init__(self, keyring=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.keyring = keyring
        self.received = []  # (zone text, signed by key name or None)

    def drain(self, until, want=None):
        """Collect NOTIFYs until the deadline, or until `want(received)` holds."""
        while time.monotonic() < until:
            if want is not None and want(self.received):
                return True
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            msg = dns.message.from_wire(data, keyring=self.keyring)  # raises on a bad MAC
            assert msg.opcode() == dns.opcode.NOTIFY, msg
            signer = msg.keyname.to_text() if msg.had_tsig else None
            self.received.append((msg.question[0].name.to_text().lower(), signer))
            reply = dns.message.make_response(msg)
            self.sock.sendto(reply.to_wire(), peer)
        return want is None or want(self.received)

    def close(self):
        self.sock.close()


class ZoneScopeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cleanup = cls.addClassCleanup
        workdir = harness.temp_dir(cleanup, "zone-scope-")
        cls.zones = os.path.join(workdir, "zones")
        os.makedirs(cls.zones)
        write_small_zone(os.path.join(cls.zones, "a.test.zone"), "a.test.")
        write_small_zone(os.path.join(cls.zones, "b.test.zone"), "b.test.")
        cls.b_key = harness.TsigKey("b-key.", "hmac-sha256")
        cls.notify_key = harness.TsigKey("notify-key.", "hmac-sha512")
        cls.update_key = harness.TsigKey("update-key.", "hmac-sha256")
        cls.a_listener = NotifyListener(dns.tsigkeyring.from_text(
            {cls.notify_key.name: (cls.notify_key.algorithm, cls.notify_key.secret_b64)}))
        cls.b_listener = NotifyListener()
        cleanup(cls.a_listener.close)
        cleanup(cls.b_listener.close)
        cls.knot_port = harness.free_port()
        cls.server = harness.start_epmdnsd_updating(
            cleanup, keys=[cls.b_key, cls.notify_key, cls.update_key], zones=cls.zones,
            ready_zone="a.test.",
            args=["--allow-transfer", "a.test=127.0.0.2",
                  "--allow-transfer", "B.Test.=key:b-key",
                  "--notify", f"a.test=127.0.0.1:{cls.a_listener.port}/key:notify-key",
                  "--notify", f"b.test=127.0.0.1:{cls.b_listener.port}",
                  "--notify", f"a.test=127.0.0.1:{cls.knot_port}/key:notify-key"])
        cls.knot = cls.start_knot(cleanup)

    @classmethod
    def start_knot(cls, cleanup):
        workdir = knot_secondary.write_conf(cleanup, cls.knot_port, "a.test.", cls.server.port,
                                            key=cls.notify_key, sign_transfers=False, notify_key=True,
                                            via="127.0.0.2")
        return knot_secondary.start(cleanup, workdir, cls.knot_port, "a.test.", timeout=KNOT_TIMEOUT)

    def axfr(self, zone, key=None, source="127.0.0.1"):
        q = dns.message.make_query(zone, dns.rdatatype.AXFR)
        if key is not None:
            q.use_tsig(dns.tsigkeyring.from_text({key.name: (key.algorithm, key.secret_b64)}),
                       keyname=key.name)
        return dns.query.tcp(q, "127.0.0.1", port=self.server.port, source=source,
                             timeout=harness.QUERY_TIMEOUT)

    def test_address_entry_is_limited_to_its_zone(self):
        self.assertEqual(self.axfr("a.test.", source="127.0.0.2").rcode(), dns.rcode.NOERROR)
        self.assertEqual(self.axfr("b.test.", source="127.0.0.2").rcode(), dns.rcode.REFUSED)
        self.assertEqual(self.axfr("a.test.", source="127.0.0.1").rcode(), dns.rcode.REFUSED)

    def test_key_entry_is_limited_to_its_zone(self):
        self.assertEqual(self.axfr("b.test.", key=self.b_key).rcode(), dns.rcode.NOERROR)
        self.assertEqual(self.axfr("a.test.", key=self.b_key).rcode(), dns.rcode.REFUSED)

    def test_notify_goes_only_to_the_zones_targets_signed_where_configured(self):
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        # Start-up sends one NOTIFY per zone to its own target.
        self.assertTrue(self.a_listener.drain(deadline, lambda r: len(r) >= 1))
        self.assertTrue(self.b_listener.drain(deadline, lambda r: len(r) >= 1))
        update = dns.update.UpdateMessage("a.test.", keyring=dns.tsigkeyring.from_text(
            {self.update_key.name: (self.update_key.algorithm, self.update_key.secret_b64)}),
            keyname=self.update_key.name)
        update.add("host2", 60, "A", "10.0.0.2")
        answer = dns.query.udp(update, "127.0.0.1", port=self.server.port, timeout=harness.QUERY_TIMEOUT)
        self.assertEqual(answer.rcode(), dns.rcode.NOERROR)
        deadline = time.monotonic() + NOTIFY_TIMEOUT
        self.assertTrue(self.a_listener.drain(deadline, lambda r: len(r) >= 2), self.a_listener.received)
        # Knot refreshes a.test. only on a NOTIFY that carries notify-key's signature.
        serial = harness.soa_serial(self.server, "a.test.")
        self.assertTrue(harness.wait_until(lambda: harness.soa_serial(self.knot, "a.test.") == serial,
                                           NOTIFY_TIMEOUT, 0.05), self.knot.stderr())
        self.assertIn("notify, incoming", self.knot.stderr().lower())
        self.assertNotIn("denied", self.knot.stderr())
        # Give b's target time to receive a NOTIFY it must not get.
        self.b_listener.drain(time.monotonic() + 0.5)
        self.assertEqual(self.a_listener.received, [("a.test.", "notify-key.")] * 2)
        self.assertEqual(self.b_listener.received, [("b.test.", None)])

    def test_scoped_entries_must_name_a_served_zone_and_a_known_key(self):
        base = ["--listen", "127.0.0.1:0", "--zones", self.zones]
        cases = [
            (["--allow-transfer", "c.test=127.0.0.1"], "--allow-transfer: no zone c.test. is served"),
            (["--notify", "c.test=127.0.0.1:53"], "no zone c.test. is served"),
            (["--notify", "a.test=127.0.0.1:53/key:nope"], "no such key in --keys"),
            (["--notify", "a.test=127.0.0.1:53/b-key"], "after '/' comes key:NAME"),
            (["--allow-transfer", "=127.0.0.1"], "bad zone name"),
        ]
        for flags, message in cases:
            with self.subTest(flags=flags):
                done = harness.run_epmdnsd_to_exit(base + flags)
                self.assertEqual(done.returncode, 1, done.stderr)
                lines = done.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, done.stderr)
                self.assertIn(message, lines[0])


if __name__ == "__main__":
    unittest.main()
