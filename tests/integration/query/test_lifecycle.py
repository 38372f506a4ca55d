"""epmdnsd start-up and shutdown: ready line, signals, zone sources, flags."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import dns.rcode  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN_FROM_NAME_ZONE = os.path.join(HERE, "zones", "origin-from-name.test.zone")


class LifecycleTest(unittest.TestCase):
    def ask(self, server, name, rdtype):
        return harness.udp_query(server, harness.make_query(name, rdtype))

    def assert_address(self, server, name, address):
        r = self.ask(server, name, "A")
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, r)
        self.assertEqual([rd.address for rrset in r.answer for rd in rrset], [address], r)

    def test_prints_one_ready_line(self):
        server = harness.start_epmdnsd(self.addCleanup)
        # The line is due before the first answer; allow a bounded moment for buffering.
        for _ in range(50):
            if harness.READY_LINE in server.stderr():
                break
            time.sleep(0.1)
        ready = [l for l in server.stderr().splitlines() if l.startswith(harness.READY_LINE)]
        self.assertEqual(len(ready), 1, server.describe())

    def test_sigterm_exits_zero(self):
        server = harness.start_epmdnsd(self.addCleanup)
        self.assertEqual(server.stop(signal.SIGTERM), 0, server.describe())

    def test_sigint_exits_zero(self):
        server = harness.start_epmdnsd(self.addCleanup)
        self.assertEqual(server.stop(signal.SIGINT), 0, server.describe())

    def test_builtin_zone_is_the_default(self):
        server = harness.start_epmdnsd(self.addCleanup)
        self.assert_address(server, "host1.erl.internal.", "127.0.0.1")
        self.assert_address(server, "host2.erl.internal.", "127.0.0.2")
        self.assertEqual(self.ask(server, "www.rules.test.", "A").rcode(), dns.rcode.REFUSED)

    def test_single_zone_file(self):
        server = harness.start_epmdnsd(self.addCleanup, zones=harness.RULES_ZONE,
                                       ready_zone=harness.RULES_ORIGIN)
        self.assert_address(server, "www.rules.test.", "192.0.2.80")
        self.assertEqual(self.ask(server, "host1.erl.internal.", "A").rcode(),
                         dns.rcode.REFUSED, "only the given zone is served")

    def test_zone_directory_serves_every_zone(self):
        zones = harness.zone_dir(self.addCleanup, harness.BUNDLED_ZONE, harness.RULES_ZONE,
                                 ORIGIN_FROM_NAME_ZONE)
        server = harness.start_epmdnsd(self.addCleanup, zones=zones,
                                       ready_zone=harness.RULES_ORIGIN)
        self.assert_address(server, "host1.erl.internal.", "127.0.0.1")
        self.assert_address(server, "www.rules.test.", "192.0.2.80")
        self.assert_address(server, "www.origin-from-name.test.", "192.0.2.7")

    def test_threads_flag(self):
        for n in ("1", "4"):
            with self.subTest(threads=n):
                server = harness.start_epmdnsd(self.addCleanup, args=["--threads", n])
                self.assert_address(server, "host1.erl.internal.", "127.0.0.1")
                self.assertEqual(server.stop(), 0, server.describe())


if __name__ == "__main__":
    unittest.main()
