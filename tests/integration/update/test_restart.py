"""Updates survive restarts: a clean stop (SIGTERM) and a crash (SIGKILL).

The server is stopped only once every update sent has been answered; after a
restart on the same --state-dir the zone must be exactly as before (records
added and deleted, zone-file records replaced or deleted) and the SOA serial
no lower than before. Leases are absolute times: one that ran out while the
server was down is gone at start-up, a longer one is still there. With
--journal-max-mb 1 enough traffic goes through to fold the journal into a
snapshot, and the same holds after that.
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

E = harness.BUNDLED_ORIGIN
WATCH_TYPES = ("A", "AAAA", "TXT", "SRV", "PTR")
APP2 = harness.ErlangNode("app2", "host2." + E, E, 4371, "127.0.0.2")  # from the zone file


class RestartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = harness.TsigKey("restart-test.", "hmac-sha256")

    def send(self, server, msg, tcp=False):
        reply = harness.send_update(server, msg, key=self.key, tcp=tcp)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        return reply

    def names(self, nodes):
        out = {"host1." + E, "host2." + E, "_erlang-dist._tcp." + E,
               "app2._erlang-dist._tcp.host2." + E, "_erlang-dist._tcp.host2." + E}
        for node in nodes:
            out |= {o for o, _, _ in node.records()}
        return sorted(out)

    def state(self, server, names):
        return harness.snapshot(server, [(n, t) for n in names for t in WATCH_TYPES])

    def assert_survives(self, server, sig, names, **changes):
        """Restarts server with sig; the watched state and serial must come back."""
        before = self.state(server, names)
        serial = harness.soa_serial(server, E)
        server, code = harness.restart_epmdnsd(self.addCleanup, server, sig, **changes)
        if sig == signal.SIGTERM:
            self.assertEqual(code, 0)
        after = self.state(server, names)
        self.assertEqual({k: (before[k], after[k]) for k in before if before[k] != after[k]}, {},
                         f"changed by a restart after {signal.Signals(sig).name}")
        self.assertEqual(harness.soa_serial(server, E), serial,
                         f"serial after {signal.Signals(sig).name} and restart")
        return server

    def test_registrations_and_deletions_survive(self):
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key])
        nodes = [harness.ErlangNode(f"p{i}", f"persist{i}.{E}", E, 4500 + i, f"10.80.0.{i}",
                                    address6=f"fd00::80:{i}") for i in range(4)]
        for node in nodes:
            self.send(server, node.register())
        gone = nodes.pop(1)
        self.send(server, gone.delete_from(harness.update_message(E)))
        # Zone-file data: app2's node removed, host1's address replaced.
        self.send(server, APP2.delete_from(harness.update_message(E)))
        msg = harness.update_message(E)
        msg.delete("host1." + E, "A")
        msg.add("host1." + E, 60, "A", "10.80.1.1")
        self.send(server, msg)
        names = self.names(nodes + [gone])
        serial = harness.soa_serial(server, E)
        self.assertGreater(serial, 1)

        server = self.assert_survives(server, signal.SIGTERM, names)
        present = harness.registrations_present(server, nodes + [gone, APP2])
        self.assertTrue(all(all(present[n]) for n in nodes), present)
        self.assertFalse(any(present[gone]) or any(present[APP2]), present)
        self.assertEqual(harness.rdatas(server, "host1." + E, "A"), {"10.80.1.1"})

        # More changes, then a crash once they are all answered.
        later = harness.ErlangNode("later", "persist-later." + E, E, 4599, "10.80.0.99")
        self.send(server, later.register())
        self.send(server, nodes[0].delete_from(harness.update_message(E)))
        self.send(server, APP2.register())  # the zone file's node, back again
        names = self.names(nodes + [gone, later])
        server = self.assert_survives(server, signal.SIGKILL, names)
        present = harness.registrations_present(server, nodes + [later, APP2])
        self.assertFalse(any(present[nodes[0]]))
        self.assertTrue(all(all(present[n]) for n in nodes[1:] + [later, APP2]), present)
        # And a second crash right after a start changes nothing either.
        self.assert_survives(server, signal.SIGKILL, names)

    def test_leases_are_absolute_times(self):
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                args=["--lease-min", "1"])
        brief = harness.ErlangNode("brief", "lease-brief." + E, E, 4610, "10.81.0.1")
        lasting = harness.ErlangNode("lasting", "lease-lasting." + E, E, 4611, "10.81.0.2")
        self.send(server, brief.add_to(harness.update_message(E, lease=2)))
        self.send(server, lasting.add_to(harness.update_message(E, lease=600)))
        serial = harness.soa_serial(server, E)
        server.stop(signal.SIGTERM)
        time.sleep(3.2)  # the 2 s lease runs out while the server is down
        server, _ = harness.restart_epmdnsd(self.addCleanup, server)
        present = harness.registrations_present(server, [brief, lasting])
        self.assertFalse(any(present[brief]), f"an expired lease came back: {present[brief]}")
        self.assertTrue(all(present[lasting]), present[lasting])
        self.assertGreater(harness.soa_serial(server, E), serial,
                           "dropping expired records at start-up raises the serial")
        # The long lease is still a lease after the restart: renewing it works.
        reply = self.send(server, lasting.add_to(harness.update_message(E, lease=600)))
        self.assertEqual(reply.lease, 600)

    def test_survives_journal_compaction(self):
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                args=["--journal-max-mb", "1"])
        # About 3 MiB of journal: big TXT sets added, then deleted again.
        big = ['"%s"' % (chr(97 + i % 26) * 250) + f' "{i}"' for i in range(40)]
        for i in range(90):
            msg = harness.update_message(E)
            for text in big:
                msg.add(f"bulk{i}.{E}", 60, "TXT", text)
            self.send(server, msg, tcp=True)  # over 4 KiB: too big for UDP
        nodes = [harness.ErlangNode(f"c{i}", f"compact{i}.{E}", E, 4700 + i, f"10.82.0.{i}")
                 for i in range(5)]
        for node in nodes:
            self.send(server, node.register())
        for i in range(90):
            msg = harness.update_message(E)
            msg.delete(f"bulk{i}.{E}")
            self.send(server, msg)
        self.send(server, nodes[0].delete_from(harness.update_message(E)))
        self.send(server, APP2.delete_from(harness.update_message(E)))
        self.assertGreaterEqual(len(os.listdir(server.state_dir)), 2,
                                "the journal was never rotated")
        names = self.names(nodes) + [f"bulk{i}.{E}" for i in (0, 45, 89)]
        server = self.assert_survives(server, signal.SIGTERM, names)
        present = harness.registrations_present(server, nodes + [APP2])
        self.assertFalse(any(present[nodes[0]]) or any(present[APP2]), present)
        self.assertTrue(all(all(present[n]) for n in nodes[1:]), present)
        self.assertEqual(harness.rdata_set(server, f"bulk45.{E}", "TXT")[0], "NXDOMAIN")
        # Again past the limit, then a crash.
        for i in range(90):
            msg = harness.update_message(E)
            for text in big[:20 + i % 20]:
                msg.add(f"bulk{i}.{E}", 60, "TXT", text)
            self.send(server, msg, tcp=True)  # over 4 KiB: too big for UDP
        self.send(server, APP2.register())
        server = self.assert_survives(server, signal.SIGKILL, names)
        present = harness.registrations_present(server, nodes + [APP2])
        self.assertTrue(all(all(present[n]) for n in nodes[1:] + [APP2]), present)


if __name__ == "__main__":
    unittest.main()
