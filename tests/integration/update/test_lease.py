"""UPDATE-LEASE (RFC 9664): records registered with a lease lapse unless renewed.

The server runs with --lease-min 1 so that leases of a few seconds are
granted as asked. Lapsing is watched by polling with a bound well above the
lease (the server sweeps about once a second); nothing here measures time
as a pass/fail criterion except "still there while renewed".
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

import dns.edns  # noqa: E402
import dns.rcode  # noqa: E402
import dns.update  # noqa: E402

E = harness.BUNDLED_ORIGIN
LAPSE_BOUND = 6.0  # seconds past the lease we wait at most for records to go


class LeaseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = harness.TsigKey("lease-test.", "hmac-sha256")
        cls.server = harness.start_epmdnsd_updating(cls.addClassCleanup, keys=[cls.key],
                                                    args=["--lease-min", "1"])

    def register(self, node, lease=None, key_lease=None, server=None):
        server = server or self.server
        msg = harness.update_message(E, lease=lease, key_lease=key_lease)
        reply = harness.send_update(server, node.add_to(msg), key=self.key)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        return reply

    def present(self, node, server=None):
        return node.present(server or self.server)

    def all_present(self, node, server=None):
        return all(self.present(node, server).values())

    def none_present(self, node, server=None):
        return not any(self.present(node, server).values())

    def assert_lapses(self, node, lease, server=None, keep=()):
        """Waits for every record of node to go, except the (owner, type, text) in keep."""
        def gone():
            return all(not there or rec in keep
                       for rec, there in self.present(node, server).items())
        self.assertTrue(harness.wait_until(gone, lease + LAPSE_BOUND),
                        f"{node} not gone {lease + LAPSE_BOUND}s after a {lease}s lease: "
                        f"{self.present(node, server)}")

    def assert_static_zone_intact(self, server=None):
        server = server or self.server
        for name, address in (("host1." + E, "127.0.0.1"), ("host2." + E, "127.0.0.2")):
            self.assertEqual(harness.rdatas(server, name, "A"), {address}, name)
        self.assertEqual(len(harness.rdatas(server, "_erlang-dist._tcp." + E, "PTR") & {
            harness.canon("PTR", f"app{i}._erlang-dist._tcp.host{i}.{E}") for i in (1, 2)}), 2)

    def test_lease_is_granted_and_lapses(self):
        short = harness.ErlangNode("short", "lease-a." + E, E, 4400, "10.40.0.1")
        keyed = harness.ErlangNode("keyed", "lease-b." + E, E, 4401, "10.40.0.2")
        reply = self.register(short, lease=2)
        self.assertEqual(reply.lease_data, (2).to_bytes(4, "big"), reply)
        reply = self.register(keyed, lease=2, key_lease=600)  # LEASE + KEY-LEASE form
        self.assertEqual(reply.lease_data, (2).to_bytes(4, "big"), reply)
        self.assertTrue(self.all_present(short) and self.all_present(keyed))
        serial = harness.soa_serial(self.server, E)
        self.assert_lapses(short, 2)
        self.assert_lapses(keyed, 2)
        self.assertEqual(harness.rdata_set(self.server, short.host, "A")[0], "NXDOMAIN")
        self.assertGreater(harness.soa_serial(self.server, E), serial,
                           "removing lapsed records raises the serial")
        self.assert_static_zone_intact()

    def test_query_with_empty_update_lease_gets_the_time_left(self):
        node = harness.ErlangNode("asked", "lease-q." + E, E, 4410, "10.40.0.9")
        self.register(node, lease=600)
        def ask(name, rdtype):
            q = harness.make_query(name, rdtype, rd=False)
            q.use_edns(0, payload=1232, options=[dns.edns.GenericOption(2, b"")])
            r = harness.udp_query(self.server, q)
            return r, [o for o in r.options if o.otype == 2]
        r, options = ask(node.instance, "SRV")
        self.assertEqual(len(options), 1, r)
        left = int.from_bytes(options[0].to_wire(), "big")
        self.assertTrue(590 <= left <= 600, left)
        # Static records have no lease: no option. Without the option: none either.
        r, options = ask("host1." + E, "A")
        self.assertEqual((r.rcode(), options), (dns.rcode.NOERROR, []), r)
        plain = harness.udp_query(self.server, harness.make_query(node.instance, "SRV", rd=False))
        self.assertEqual([o for o in plain.options if o.otype == 2], [])
        # In an UPDATE, RFC 9664's option has 4 or 8 bytes: an empty one is FORMERR, and changes nothing.
        other = harness.ErlangNode("empty", "lease-q." + E, E, 4411, "10.40.0.10")
        msg = dns.update.UpdateMessage(E)
        msg.use_edns(0, payload=1232, options=[dns.edns.GenericOption(2, b"")])
        reply = harness.send_update(self.server, other.add_to(msg), key=self.key)
        self.assertEqual(reply.rcode_text, "FORMERR", reply)
        self.assertTrue(self.none_present(other))

    def test_renewal_and_per_record_expiry(self):
        # Two nodes on one host share its A record; a third registers without a lease.
        kept = harness.ErlangNode("kept", "lease-pair." + E, E, 4410, "10.40.1.1")
        dropped = harness.ErlangNode("dropped", "lease-pair." + E, E, 4411, "10.40.1.1")
        forever = harness.ErlangNode("forever", "lease-forever." + E, E, 4412, "10.40.1.2")
        self.register(forever)
        start = time.monotonic()
        self.register(kept, lease=2)
        self.register(dropped, lease=2)
        renewals = 0
        # Renew `kept` every second until it has outlived its lease (3.5 s) and
        # `dropped`'s own records have lapsed; bounded.
        while True:
            elapsed = time.monotonic() - start
            dropped_gone = not self.present(dropped)[(dropped.instance, "SRV",
                                                      f"0 0 4411 {dropped.host}")]
            if elapsed >= 3.5 and dropped_gone:
                break
            self.assertLess(elapsed, 2 + LAPSE_BOUND, f"{dropped} never lapsed")
            reply = self.register(kept, lease=2)
            renewals += 1
            self.assertEqual(reply.lease, 2)
            self.assertTrue(self.all_present(kept), self.present(kept))
            time.sleep(max(0.0, start + renewals - time.monotonic()))
        self.assertGreaterEqual(renewals, 3)
        # The shared A stays: `kept` renews it. Only `dropped`'s own records went.
        self.assertTrue(self.all_present(kept), self.present(kept))
        self.assertEqual(harness.rdatas(self.server, kept.host, "A"), {"10.40.1.1"})
        shared = {(dropped.host, "A", "10.40.1.1")}
        self.assertEqual({rec for rec, there in self.present(dropped).items() if there}, shared)
        # Renewals stop: everything of the pair lapses; the lease-less node stays.
        self.assert_lapses(kept, 2)
        self.assertTrue(self.all_present(forever), self.present(forever))
        self.assert_static_zone_intact()

    def test_renewal_never_shortens_a_lease(self):
        # A host A record that a long-leased node registered must outlive a
        # short-leased node on the same host; a zone-file record (no lease) must
        # not start to lapse because a leased registration re-adds it.
        long_node = harness.ErlangNode("long", "lease-mixed." + E, E, 4420, "10.40.2.1")
        short_node = harness.ErlangNode("short", "lease-mixed." + E, E, 4421, "10.40.2.1")
        on_static = harness.ErlangNode("visitor", "host1." + E, E, 4422, "127.0.0.1")
        self.register(long_node, lease=120)
        self.register(short_node, lease=2)
        self.register(on_static, lease=2)
        self.assert_lapses(short_node, 2, keep={(short_node.host, "A", "10.40.2.1")})
        self.assert_lapses(on_static, 2, keep={(on_static.host, "A", "127.0.0.1")})
        with self.subTest(case="longer lease on the same host"):
            self.assertTrue(self.all_present(long_node),
                            f"a 120 s registration lost records after a 2 s one on the "
                            f"same host lapsed: {self.present(long_node)}")
        with self.subTest(case="zone-file record re-added with a lease"):
            self.assertEqual(harness.rdatas(self.server, "host1." + E, "A"), {"127.0.0.1"},
                             "host1's A record from the zone file lapsed with a leased "
                             "registration that re-added it")

    def test_lease_clamped_to_limits(self):
        server = harness.start_epmdnsd_updating(
            self.addCleanup, keys=[self.key],
            args=["--lease-min", "2", "--lease-max", "3", "--lease-default", "2"])
        long_ask = harness.ErlangNode("long", "clamp-a." + E, E, 4430, "10.40.3.1")
        short_ask = harness.ErlangNode("short", "clamp-b." + E, E, 4431, "10.40.3.2")
        no_ask = harness.ErlangNode("none", "clamp-c." + E, E, 4432, "10.40.3.3")
        self.assertEqual(self.register(long_ask, lease=86400 * 30, server=server).lease, 3)
        self.assertEqual(self.register(short_ask, lease=1, server=server).lease, 2)
        reply = harness.send_update(server, no_ask.register(), key=self.key)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        self.assertIsNone(reply.lease_data, "no UPDATE-LEASE asked, none answered")
        for node in (long_ask, short_ask, no_ask):
            self.assertTrue(self.all_present(node, server))
        # All three lapse: the 30-day request was cut to 3 s, the unasked one got 2 s.
        for node in (long_ask, short_ask, no_ask):
            self.assert_lapses(node, 3, server)
        self.assert_static_zone_intact(server)


if __name__ == "__main__":
    unittest.main()
