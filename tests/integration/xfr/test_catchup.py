"""A secondary that was down while the zone changed catches up when it comes back (issue 7).

epmdnsd serves catchup.test. and NOTIFYs a Knot secondary. Knot keeps the whole zone in
its journal (journal-content: all), so a restarted Knot starts from the serial it had and
asks for the difference. The test stops Knot, makes several changes (registrations, a
deletion, a static node removed), starts Knot again with the same storage and checks that
it reaches the primary's serial through an IXFR, not an AXFR, and then holds exactly the
primary's records (AXFR of both, compared record for record).
"""

import os
import sys
import time
import unittest

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.zone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import knot_secondary  # noqa: E402
from test_xfr import write_zone  # noqa: E402

ZONE = "catchup.test."
NODES = 50
SYNC_TIMEOUT = 15.0     # seconds for Knot's first AXFR
CATCHUP_TIMEOUT = 10.0  # seconds for a restarted Knot to reach the primary's serial

class CatchUpTest(unittest.TestCase):
    def setUp(self):
        cleanup = self.addCleanup
        workdir = harness.temp_dir(cleanup, "xfr-catchup-")
        zones = os.path.join(workdir, "zones")
        os.makedirs(zones)
        write_zone(os.path.join(zones, "catchup.test.zone"), ZONE, NODES)
        self.xfr_key = harness.TsigKey("xfr-key.", "hmac-sha256")
        self.update_key = harness.TsigKey("update-key.", "hmac-sha256")
        self.knot_port = harness.free_port()
        self.server = harness.start_epmdnsd_updating(
            cleanup, keys=[self.xfr_key, self.update_key], zones=zones, ready_zone=ZONE,
            args=["--allow-transfer", "key:xfr-key",
                  "--notify", f"127.0.0.1:{self.knot_port}"])
        self.knot_dir = knot_secondary.write_conf(cleanup, self.knot_port, ZONE, self.server.port,
                                                  key=self.xfr_key, keep_journal=True,
                                                  allow_transfer=True)
        self.knot_runs = 0
        self.knot = self.start_knot()

    def start_knot(self):
        """knotd on the same config, storage and port as before; its log in a new file."""
        self.knot_runs += 1
        return knot_secondary.start(self.addCleanup, self.knot_dir, self.knot_port, ZONE,
                                    name=f"knotd{self.knot_runs}", timeout=SYNC_TIMEOUT)

    def knot_serial(self):
        try:
            return harness.soa_serial(self.knot, ZONE)
        except Exception:  # noqa: BLE001 -- Knot may be starting or mid-transfer
            return None

    def wait_knot_serial(self, serial, timeout):
        return harness.wait_until(lambda: self.knot_serial() == serial, timeout, 0.05)

    def update(self, msg):
        reply = harness.send_update(self.server, msg, key=self.update_key)
        self.assertEqual(reply.rcode, dns.rcode.NOERROR, reply)

    def axfr_records(self, host, port, key=None):
        """{(owner, ttl, type, canonical rdata)} of a zone by AXFR."""
        zone = dns.zone.Zone(ZONE, relativize=False)
        q = dns.message.make_query(ZONE, "AXFR")
        if key is not None:
            keyring = dns.tsigkeyring.from_text({key.name: key.secret_b64})
            q.use_tsig(keyring, keyname=key.name, algorithm=dns.tsig.HMAC_SHA256)
        dns.query.inbound_xfr(host, zone, query=q, port=port, timeout=10)
        return {(name.to_text().lower(), rds.ttl, dns.rdatatype.to_text(rds.rdtype),
                 harness.rdata_key(rd))
                for name, rds in zone.iterate_rdatasets() for rd in rds}

    def test_stopped_secondary_catches_up_by_ixfr(self):
        first = harness.soa_serial(self.server, ZONE)
        self.assertTrue(self.wait_knot_serial(first, SYNC_TIMEOUT), self.knot.describe())
        self.assertRegex(self.knot.stderr(), r"AXFR, incoming, [^\n]*finished")
        self.assertEqual(self.knot.stop(), 0, self.knot.describe())

        # Changes while the secondary is down: each UPDATE is one step of the history.
        nodes = [harness.ErlangNode(f"late{i}", f"latehost{i}.{ZONE}", ZONE, 6000 + i,
                                    f"10.77.0.{i}") for i in range(1, 4)]
        for node in nodes:
            self.update(node.register())
        self.update(nodes[1].delete_from(harness.update_message(ZONE)))
        static = harness.ErlangNode("app3", f"host3.{ZONE}", ZONE, 4373, "10.0.0.3")
        self.update(static.delete_from(harness.update_message(ZONE)))
        last = harness.soa_serial(self.server, ZONE)
        self.assertEqual(last, first + 5)

        self.knot = self.start_knot()
        restarted = time.monotonic()
        caught_up = self.wait_knot_serial(last, CATCHUP_TIMEOUT)
        elapsed = time.monotonic() - restarted
        self.assertTrue(caught_up, f"restarted Knot at serial {self.knot_serial()}, primary at "
                        f"{last}, after {CATCHUP_TIMEOUT}s:\n" + self.knot.describe())
        log = self.knot.stderr()
        # It started from its journal at the old serial and asked for the difference.
        self.assertNotRegex(log, r"AXFR, incoming", log)
        self.assertNotIn("AXFR-style", log)
        self.assertRegex(log, r"IXFR, incoming, [^\n]*finished", log)
        self.assertRegex(log, rf"zone updated[^\n]*serial {first} -> {last},", log)
        # Exactly the primary's zone.
        primary = self.axfr_records("127.0.0.1", self.server.port, key=self.xfr_key)
        secondary = self.axfr_records("127.0.0.1", self.knot_port)
        self.assertEqual(sorted(primary - secondary)[:5], [])
        self.assertEqual(sorted(secondary - primary)[:5], [])
        self.assertEqual(len(primary), 4 + 5 * NODES + 5 * 2 - 5)
        for node in (nodes[0], nodes[2]):
            self.assertTrue(all(node.present(self.knot).values()), node)
        for node in (nodes[1], static):
            self.assertFalse(any(node.present(self.knot).values()), node)
        print(f"\nKnot caught up {first} -> {last} in {elapsed:.2f} s after restart",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
