"""kill -9, and SIGTERM, in the middle of a stream of registrations.

Eight client threads (half over UDP, half over TCP) each register distinct
Erlang nodes as fast as they can, one UPDATE in flight per thread, each in a
zone of its own (crashN.test.). After a random 0.3-1.5 s the server is killed
with SIGKILL; the tail of the newest journal file then gets a torn write (a
prefix of a real entry, random bytes, or both) and the server is started again
on the same --state-dir. Then, for every registration of every round so far:
  - acknowledged (NOERROR seen by the client): all of its records are served;
  - sent but unanswered: all of its records or none.
A query thread also notes the SOA serials it sees while the clients run; after
the restart no zone's serial may be below one a client has seen.

The seed is printed; set EPMDNS_CRASH_SEED to repeat a run's timings.
--journal-max-mb 1 makes the journal rotate and compact while this runs.
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

THREADS = 8
ROUNDS = 3
ZONES = [f"crash{i}.test." for i in range(THREADS)]
CLIENT_TIMEOUT = 1.0  # seconds a client waits for one answer
DAMAGE = {1: ("torn",), 2: ("garbage",), 3: ("torn", "garbage")}

ZONE_TEXT = """\
$ORIGIN {origin}
$TTL 60
@    IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 30
     IN NS  ns1.{origin}
ns1  IN A   127.0.0.1
"""


class Client(threading.Thread):
    """Registers nodes in its zone until told to stop or the server stops answering."""

    def __init__(self, index, round_no, server, key, statuses):
        super().__init__(daemon=True)
        self.index, self.round_no, self.server, self.key = index, round_no, server, key
        self.statuses = statuses  # node -> "sent" | "acked" | "unanswered" | rcode text
        self.stop = threading.Event()
        self.tcp = index % 2 == 1

    def run(self):
        zone = ZONES[self.index]
        j = 0
        while not self.stop.is_set():
            node = harness.ErlangNode(f"n{j}", f"r{self.round_no}-n{j}.{zone}", zone, 10000 + j,
                                      f"10.{self.round_no}.{j >> 8 & 255}.{j & 255}")
            self.statuses[node] = "sent"
            try:
                reply = harness.send_update(self.server, node.register(), key=self.key,
                                            tcp=self.tcp, timeout=CLIENT_TIMEOUT)
            except Exception:  # noqa: BLE001 -- no answer: the server is gone
                self.statuses[node] = "unanswered"
                return
            self.statuses[node] = "acked" if reply.rcode_text == "NOERROR" else reply.rcode_text
            if reply.rcode_text != "NOERROR":
                return
            j += 1


class SerialWatcher(threading.Thread):
    """Queries the zones' SOA serials in a loop, keeping the highest seen."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.seen = {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for zone in ZONES:
                try:
                    serial = harness.soa_serial(self.server, zone)
                except Exception:  # noqa: BLE001 -- the server is gone
                    return
                self.seen[zone] = max(serial, self.seen.get(zone, 0))


class StreamFixture(unittest.TestCase):
    """A server with an update key and the crash zones, on a state directory kept across restarts."""

    def setUp(self):
        env = os.environ.get("EPMDNS_CRASH_SEED")
        self.seed = int(env) if env else random.SystemRandom().randrange(2 ** 32)
        print(f"\n{self.id()}: EPMDNS_CRASH_SEED={self.seed}", file=sys.stderr, flush=True)
        self.rng = random.Random(self.seed)
        self.key = harness.TsigKey("crash-test.", "hmac-sha256")
        self.zones = harness.temp_dir(self.addCleanup, "crash-zones-")
        for origin in ZONES:
            with open(os.path.join(self.zones, origin + "zone"), "w") as f:
                f.write(ZONE_TEXT.format(origin=origin))
        self.state_dir = os.path.join(harness.temp_dir(self.addCleanup, "crash-state-"), "state")

    def start(self):
        return harness.start_epmdnsd_updating(
            self.addCleanup, keys=[self.key], zones=self.zones, ready_zone=ZONES[0],
            state_dir=self.state_dir, args=["--threads", "2", "--journal-max-mb", "1"])



class CrashTest(StreamFixture):
    def one_entry(self, server, round_no):
        """Registers a marker node on the idle server; returns the bytes its journal
        entry took (a real entry, to tear), or b"" if the file changed meanwhile."""
        before = harness.journal_files(self.state_dir)[-1]
        size = harness.journal_entries_end(before)
        marker = harness.ErlangNode("marker", f"marker{round_no}.{ZONES[0]}", ZONES[0], 9999,
                                    "10.255.0.1")
        reply = harness.send_update(server, marker.register(), key=self.key)
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        self.marker_nodes.append(marker)
        after = harness.journal_files(self.state_dir)[-1]
        if after != before:
            return b""
        with open(after, "rb") as f:
            f.seek(size)
            return f.read(harness.journal_entries_end(after) - size)

    def damage_journal(self, kinds, entry):
        """Writes a torn entry where the next one would go in the newest journal file (after
        its entries, over the zeros epmdnsd prepared there); (path, where the entries end,
        bytes written)."""
        path = harness.journal_files(self.state_dir)[-1]
        size = harness.journal_entries_end(path)
        tail = b""
        if "torn" in kinds and len(entry) > 1:
            tail += entry[:self.rng.randrange(1, len(entry))]
        if "garbage" in kinds or not tail:
            tail += self.rng.randbytes(self.rng.randrange(1, 200))
        with open(path, "r+b") as f:
            f.seek(size)
            f.write(tail)
        return path, size, len(tail)

    def test_kill_9_during_registrations(self):
        statuses = {}
        self.marker_nodes = []
        max_serial = {}
        server = self.start()
        report = []
        for round_no in range(1, ROUNDS + 1):
            entry = self.one_entry(server, round_no)
            clients = [Client(i, round_no, server, self.key, statuses) for i in range(THREADS)]
            watcher = SerialWatcher(server)
            for t in clients + [watcher]:
                t.start()
            delay = self.rng.uniform(0.3, 1.5)
            time.sleep(delay)
            server.stop(signal.SIGKILL)
            for t in clients + [watcher]:
                t.stop.set()
            for t in clients + [watcher]:
                t.join(timeout=CLIENT_TIMEOUT * 5)
                self.assertFalse(t.is_alive(), "a client thread did not finish")
            for zone, serial in watcher.seen.items():
                max_serial[zone] = max(serial, max_serial.get(zone, 0))
            damaged, intact, length = self.damage_journal(DAMAGE[round_no], entry)
            server = self.start()  # same state directory, fresh port
            if os.path.exists(damaged):  # the torn tail is cut at start-up
                self.assertEqual(os.path.getsize(damaged), intact,
                                 f"{damaged}: torn tail of {length} bytes not cut")

            this_round = {n: s for n, s in statuses.items() if f"r{round_no}-" in n.host}
            counts = {}
            for status in this_round.values():
                counts[status] = counts.get(status, 0) + 1
            report.append(f"round {round_no}: killed after {delay:.2f}s, {counts}, "
                          f"{length} bytes appended to {os.path.basename(damaged)}")
            self.assertEqual(set(counts) - {"acked", "unanswered"}, set(),
                             f"unexpected answers: {counts}")
            self.assertGreater(counts.get("acked", 0), 0, report[-1])

            present = harness.registrations_present(server, list(statuses) + self.marker_nodes)
            lost = [n for n, s in statuses.items() if s == "acked" and not all(present[n])]
            lost += [n for n in self.marker_nodes if not all(present[n])]
            torn = [n for n, s in statuses.items()
                    if s == "unanswered" and any(present[n]) and not all(present[n])]
            self.assertEqual(lost, [], f"acknowledged registrations lost (seed {self.seed}); "
                             + "; ".join(report) + "\n" + server.describe())
            self.assertEqual(torn, [], f"registrations half applied (seed {self.seed}): "
                             + str({n: present[n] for n in torn}))
            went_back = {z: (max_serial[z], harness.soa_serial(server, z)) for z in max_serial
                         if harness.soa_serial(server, z) < max_serial[z]}
            self.assertEqual(went_back, {}, "zone: (serial a query saw before kill -9, serial "
                             f"after the restart) (seed {self.seed}); " + "; ".join(report))
        print("  " + "\n  ".join(report), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()


class CleanStopTest(StreamFixture):
    """SIGTERM in the middle of the same stream: epmdnsd answers what it took, exits 0,
    and after a restart every acknowledged registration is there, the rest all or nothing."""

    def test_sigterm_during_registrations(self):
        statuses = {}
        server = self.start()
        clients = [Client(i, 9, server, self.key, statuses) for i in range(THREADS)]
        for t in clients:
            t.start()
        time.sleep(self.rng.uniform(0.3, 1.0))
        code = server.stop(signal.SIGTERM)
        for t in clients:
            t.stop.set()
        for t in clients:
            t.join(timeout=CLIENT_TIMEOUT * 5)
            self.assertFalse(t.is_alive(), "a client thread did not finish")
        self.assertEqual(code, 0, f"exit status after SIGTERM during updates; stderr:\n{server.stderr()}")
        server = self.start()
        present = harness.registrations_present(server, list(statuses))
        acked = [n for n, s in statuses.items() if s == "acked"]
        self.assertGreater(len(acked), 0)
        lost = [n for n in acked if not all(present[n])]
        self.assertEqual(lost, [], f"acknowledged registrations lost after SIGTERM (seed {self.seed})")
        halves = [n for n in statuses if any(present[n]) and not all(present[n])]
        self.assertEqual(halves, [], "registrations applied in part")
