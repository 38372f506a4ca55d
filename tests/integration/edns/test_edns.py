"""EDNS(0) (RFC 6891) and UDP truncation, with dnspython, dig and kdig."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

R = harness.RULES_ORIGIN
BIG = "big." + R  # 60 A records, about 1 KB
BIGTXT = "bigtxt." + R  # 60 TXT records, about 3.3 KB
MID = "mid." + R  # 20 A records, about 360 bytes
MANY_SRV = "_many._tcp." + R  # 10 SRV; the answer fits 512 bytes, their addresses do not


def count(msg, rdtype, section="answer"):
    t = dns.rdatatype.from_text(rdtype)
    return sum(len(s) for s in getattr(msg, section) if s.rdtype == t)


class EdnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_epmdnsd(cls.addClassCleanup, zones=harness.RULES_ZONE,
                                           ready_zone=R)

    def udp(self, name, rdtype, server=None, **kw):
        q = harness.make_query(name, rdtype, **kw)
        return harness.udp_query_wire(server or self.server, q)

    def assert_truncated(self, r, wire, limit):
        self.assertTrue(r.flags & dns.flags.TC, f"TC expected:\n{r}")
        self.assertLessEqual(len(wire), limit)
        self.assertEqual(r.answer, [], "an RRset that does not fit is left out whole")

    def assert_complete(self, r, wire, limit, rdtype, n):
        self.assertFalse(r.flags & dns.flags.TC, f"unexpected TC:\n{r}")
        self.assertLessEqual(len(wire), limit)
        self.assertEqual(count(r, rdtype), n, r)

    def test_opt_is_echoed(self):
        for name, rdtype, rcode in ((BIG, "A", dns.rcode.NOERROR),
                                    ("nosuch." + R, "A", dns.rcode.NXDOMAIN),
                                    ("www." + R, "MX", dns.rcode.NOERROR),
                                    ("example.com.", "A", dns.rcode.REFUSED)):
            with self.subTest(name=name, rdtype=rdtype):
                r, _ = self.udp(name, rdtype, edns=0, payload=1232)
                self.assertEqual(r.rcode(), rcode)
                self.assertEqual(r.edns, 0, f"OPT version 0 expected:\n{r}")
                r = harness.tcp_query(self.server, harness.make_query(name, rdtype))
                self.assertEqual(r.edns, 0, f"OPT version 0 expected over TCP:\n{r}")

    def test_opt_is_echoed_to_dig_and_kdig(self):
        for tool in ("dig", "kdig"):
            for tcp in (False, True):
                with self.subTest(tool=tool, tcp=tcp):
                    r = harness.run_dig(tool, "127.0.0.1", self.server.port, "www." + R, "A",
                                        tcp=tcp, bufsize=1232)
                    self.assertEqual(r.status, "NOERROR", r.text)
                    self.assertIsNotNone(r.edns, r.text)
                    self.assertEqual(r.edns["version"], 0, r.text)

    def test_no_opt_without_edns(self):
        r, _ = self.udp("www." + R, "A", edns=-1)
        self.assertEqual(r.edns, -1, f"no OPT may be sent to a non-EDNS query:\n{r}")

    def test_requested_size_above_cap_is_capped_at_1232(self):
        r, wire = self.udp(BIGTXT, "TXT", payload=4096)
        self.assert_truncated(r, wire, 1232)
        r, wire = self.udp(BIG, "A", payload=4096)
        self.assert_complete(r, wire, 1232, "A", 60)

    def test_requested_size_is_honoured(self):
        r, wire = self.udp(BIG, "A", payload=600)
        self.assert_truncated(r, wire, 600)
        r, wire = self.udp(BIG, "A", payload=1100)
        self.assert_complete(r, wire, 1100, "A", 60)

    def test_requested_size_below_512_means_512(self):
        r, wire = self.udp(MID, "A", payload=100)
        self.assert_complete(r, wire, 512, "A", 20)
        r, wire = self.udp(BIG, "A", payload=100)
        self.assert_truncated(r, wire, 512)

    def test_without_edns_the_limit_is_512(self):
        r, wire = self.udp(MID, "A", edns=-1)
        self.assert_complete(r, wire, 512, "A", 20)
        r, wire = self.udp(BIG, "A", edns=-1)
        self.assert_truncated(r, wire, 512)

    def test_truncated_answer_is_complete_over_tcp(self):
        for name, rdtype, edns in ((BIG, "A", -1), (BIGTXT, "TXT", 0)):
            with self.subTest(name=name, edns=edns):
                r = harness.tcp_query(self.server, harness.make_query(name, rdtype, edns=edns))
                self.assertFalse(r.flags & dns.flags.TC)
                self.assertEqual(count(r, rdtype), 60, r)

    def test_dig_and_kdig_see_tc_then_full_answer_over_tcp(self):
        for tool in ("dig", "kdig"):
            with self.subTest(tool=tool):
                r = harness.run_dig(tool, "127.0.0.1", self.server.port, BIG, "A", edns=-1)
                self.assertIn("tc", r.flags, r.text)
                self.assertLessEqual(r.size, 512, r.text)
                r = harness.run_dig(tool, "127.0.0.1", self.server.port, BIG, "A", edns=-1,
                                    tcp=True)
                self.assertNotIn("tc", r.flags, r.text)
                self.assertEqual(len(r.answer), 60, r.text)
                r = harness.run_dig(tool, "127.0.0.1", self.server.port, BIGTXT, "TXT",
                                    bufsize=4096)
                self.assertIn("tc", r.flags, r.text)
                self.assertLessEqual(r.size, 1232, r.text)

    def test_additional_records_that_do_not_fit_are_dropped_without_tc(self):
        r, wire = self.udp(MANY_SRV, "SRV", edns=-1)
        self.assert_complete(r, wire, 512, "SRV", 10)
        self.assertLess(count(r, "A", "additional") + count(r, "AAAA", "additional"), 20)
        r, wire = self.udp(MANY_SRV, "SRV", payload=1232)
        self.assert_complete(r, wire, 1232, "SRV", 10)
        self.assertEqual(count(r, "A", "additional"), 10, r)
        self.assertEqual(count(r, "AAAA", "additional"), 10, r)

    def test_edns_version_1_gets_badvers(self):
        r, _ = self.udp("www." + R, "A", edns=1)
        self.assertEqual(r.rcode(), dns.rcode.BADVERS, r)
        self.assertEqual(r.edns, 0, f"BADVERS carries an OPT with our version 0:\n{r}")
        self.assertEqual(r.answer, [])
        for tool in ("dig", "kdig"):
            with self.subTest(tool=tool):
                r = harness.run_dig(tool, "127.0.0.1", self.server.port, "www." + R, "A", edns=1)
                self.assertEqual(r.status, "BADVERS", r.text)
                self.assertIsNotNone(r.edns, r.text)

    def test_max_udp_size_flag_raises_the_cap(self):
        server = harness.start_epmdnsd(self.addCleanup, args=["--max-udp-size", "4096"],
                                       zones=harness.RULES_ZONE, ready_zone=R)
        r, wire = self.udp(BIGTXT, "TXT", server=server, payload=4096)
        self.assert_complete(r, wire, 4096, "TXT", 60)
        r, wire = self.udp(BIGTXT, "TXT", server=server, payload=1232)
        self.assert_truncated(r, wire, 1232)

    def test_max_udp_size_flag_lowers_the_cap(self):
        server = harness.start_epmdnsd(self.addCleanup, args=["--max-udp-size", "600"],
                                       zones=harness.RULES_ZONE, ready_zone=R)
        r, wire = self.udp(BIG, "A", server=server, payload=4096)
        self.assert_truncated(r, wire, 600)
        r, wire = self.udp(MID, "A", server=server, payload=4096)
        self.assert_complete(r, wire, 600, "A", 20)


if __name__ == "__main__":
    unittest.main()
