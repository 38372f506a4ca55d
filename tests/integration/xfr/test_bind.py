"""BIND (named) as a second, different secondary of epmdnsd (issue 7).

epmdnsd serves bind.test. and allows transfers only with the key xfr-key., so every
transfer BIND makes must be TSIG-signed (BIND signs its SOA queries and transfers with the
key given in `primaries`). named runs in the foreground (-f), unprivileged ports only, on
a loopback port chosen here, with a directory of its own, no control channel, and its log
on stderr (xfer-in at debug level 3, where BIND says whether a response was incremental).

Checked: the first transfer (AXFR, signed) gives BIND exactly the primary's records; a
registration sent with nsupdate reaches BIND within 2 s through NOTIFY + IXFR (BIND's log
says so); a deletion follows the same way; an unsigned transfer from BIND's address is
refused, so the transfers that worked were the signed ones.
"""

import os
import re
import subprocess
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
from test_xfr import write_zone  # noqa: E402

ZONE = "bind.test."
NODES = 300              # ~1,500 records: several messages
SYNC_TIMEOUT = 15.0      # seconds for BIND to start and make its first transfer
PROPAGATE_TIMEOUT = 5.0  # seconds we wait at most for a change (issue 7 asks for 2 s)
NSUPDATE_TIMEOUT = 20.0

NAMED_CONF = """\
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ any; }};
    allow-transfer {{ 127.0.0.1; }};
    // BIND >= 9.18.28 refuses an RRset of more than 100 records by default (CVE-2024-1737),
    // and so a whole transfer: the cluster-wide _erlang-dist._tcp PTR set has one per node.
    max-records-per-type 0;
}};
controls {{ }};
key "{key_name}" {{ algorithm {key_algorithm}; secret "{key_secret}"; }};
logging {{
    channel info {{ stderr; severity info; print-time yes; print-category yes; }};
    channel debug {{ stderr; severity debug 3; print-time yes; print-category yes; }};
    category default {{ info; }};
    category xfer-in {{ debug; }};
    category notify {{ debug; }};
    category lame-servers {{ null; }};
}};
zone "{zone}" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary_port} key "{key_name}"; }};
    allow-notify {{ 127.0.0.1; }};
    file "{dir}/{zone}db";
}};
"""

# BIND 9.18, xfer-in: "transfer of 'bind.test/IN' from 127.0.0.1#PORT: ..."
XFER = r"transfer of '{zone}/IN' from 127\.0\.0\.1#{port}: "


class BindSecondaryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cleanup = cls.addClassCleanup
        workdir = harness.temp_dir(cleanup, "xfr-bind-")
        zones = os.path.join(workdir, "zones")
        os.makedirs(zones)
        write_zone(os.path.join(zones, "bind.test.zone"), ZONE, NODES)
        cls.xfr_key = harness.TsigKey("xfr-key.", "hmac-sha256")
        cls.update_key = harness.TsigKey("update-key.", "hmac-sha256")
        cls.update_key_file = harness.write_key_file(os.path.join(workdir, "update.key"),
                                                     [cls.update_key])
        cls.bind_port = harness.free_port()
        cls.server = harness.start_epmdnsd_updating(
            cleanup, keys=[cls.xfr_key, cls.update_key], zones=zones, ready_zone=ZONE,
            args=["--allow-transfer", "key:xfr-key",
                  "--notify", f"127.0.0.1:{cls.bind_port}"])
        cls.named_dir = harness.temp_dir(cleanup, "named-secondary-")
        cls.named_runs = 0
        cls.named = cls.start_named(cleanup)
        cls.xfer = XFER.format(zone=re.escape(ZONE.rstrip(".")), port=cls.server.port)

    @classmethod
    def start_named(cls, cleanup):
        """named on the same config, directory and port as before; its log in a new file."""
        named = harness.require_tool("named")
        workdir = cls.named_dir
        cls.named_runs += 1
        conf = os.path.join(workdir, "named.conf")
        with open(conf, "w") as f:
            f.write(NAMED_CONF.format(
                dir=workdir, port=cls.bind_port, primary_port=cls.server.port, zone=ZONE,
                key_name=cls.xfr_key.name, key_algorithm=cls.xfr_key.algorithm,
                key_secret=cls.xfr_key.secret_b64))
        # -f: foreground, -4: IPv4 only, -n 1: one worker thread.
        server = harness.Server(f"named{cls.named_runs}", [named, "-f", "-4", "-n", "1", "-c", conf], workdir,
                                [("127.0.0.1", cls.bind_port)])
        cleanup(server.stop)
        server.wait_answers_soa(ZONE, timeout=SYNC_TIMEOUT)
        return server

    # -- helpers

    def log(self):
        return self.named.stderr()

    def transfers(self, kind):
        """How many transfers BIND finished with a response of kind (incremental or not)."""
        return len(re.findall(self.xfer + f"got {kind} response", self.log()))

    def bind_serial(self):
        try:
            return harness.soa_serial(self.named, ZONE)
        except Exception:  # noqa: BLE001 -- named may be mid-transfer
            return None

    def wait_bind_serial(self, serial, timeout):
        return harness.wait_until(lambda: self.bind_serial() == serial, timeout, 0.02)

    def nsupdate(self, commands):
        script = (f"server 127.0.0.1 {self.server.port}\nzone {ZONE}\n"
                  + "".join(c + "\n" for c in commands) + "send\n")
        p = subprocess.run([harness.require_tool("nsupdate"), "-k", self.update_key_file,
                            "-t", "5", "-u", "2", "-r", "1"], input=script,
                           capture_output=True, text=True, errors="replace",
                           timeout=NSUPDATE_TIMEOUT)
        self.assertEqual(p.returncode, 0, f"nsupdate failed:\n{script}{p.stdout}{p.stderr}")

    def axfr_records(self, port, key=None):
        zone = dns.zone.Zone(ZONE, relativize=False)
        q = dns.message.make_query(ZONE, "AXFR")
        if key is not None:
            keyring = dns.tsigkeyring.from_text({key.name: key.secret_b64})
            q.use_tsig(keyring, keyname=key.name, algorithm=dns.tsig.HMAC_SHA256)
        dns.query.inbound_xfr("127.0.0.1", zone, query=q, port=port, timeout=10)
        return {(name.to_text().lower(), rds.ttl, dns.rdatatype.to_text(rds.rdtype),
                 harness.rdata_key(rd))
                for name, rds in zone.iterate_rdatasets() for rd in rds}

    def assert_same_zone(self):
        primary = self.axfr_records(self.server.port, key=self.xfr_key)
        secondary = self.axfr_records(self.bind_port)
        self.assertEqual(sorted(primary - secondary)[:5], [])
        self.assertEqual(sorted(secondary - primary)[:5], [])
        return primary

    # -- tests

    def test_1_bind_transfers_zone_by_signed_axfr(self):
        serial = harness.soa_serial(self.server, ZONE)
        self.assertTrue(self.wait_bind_serial(serial, SYNC_TIMEOUT), self.named.describe())
        log = self.log()
        # The first transfer: whole zone, signed with the key (the only way the ACL allows).
        self.assertRegex(log, self.xfer + r"connected using [^\n]*TSIG xfr-key", log)
        self.assertRegex(log, self.xfer + r"got nonincremental response", log)
        self.assertRegex(log, self.xfer + r"Transfer status: success", log)
        self.assertRegex(log, self.xfer + r"Transfer completed: \d+ messages, \d+ records", log)
        self.assertRegex(log, rf"transferred serial {serial}: TSIG 'xfr-key'", log)
        records = self.assert_same_zone()
        self.assertGreaterEqual(len(records), 4 + 5 * NODES)
        # Unsigned, the same address is refused: BIND's transfers were the signed ones.
        q = dns.message.make_query(ZONE, "AXFR")
        r = dns.query.tcp(q, "127.0.0.1", port=self.server.port, timeout=5)
        self.assertEqual(r.rcode(), dns.rcode.REFUSED)

    def test_2_nsupdate_registration_reaches_bind_by_notify_and_ixfr(self):
        serial = harness.soa_serial(self.server, ZONE)
        self.assertTrue(self.wait_bind_serial(serial, SYNC_TIMEOUT), self.named.describe())
        incremental_before = self.transfers("incremental")
        nonincremental_before = self.transfers("nonincremental")
        node = harness.ErlangNode("bindreg", "bindhost1." + ZONE, ZONE, 5601, "10.98.0.1")
        self.nsupdate([f"update add {o} 60 {t} {x}" for o, t, x in node.records()])
        start = time.monotonic()
        seen = harness.wait_until(lambda: all(node.present(self.named).values()),
                                  PROPAGATE_TIMEOUT, 0.02)
        elapsed = time.monotonic() - start
        self.assertTrue(seen, f"not on BIND within {PROPAGATE_TIMEOUT}s:\n"
                        + self.named.describe())
        self.assertLess(elapsed, 2.0, "issue 7 asks for 2 s")
        registered = harness.soa_serial(self.server, ZONE)
        self.assertEqual(registered, serial + 1)
        self.assertTrue(self.wait_bind_serial(registered, PROPAGATE_TIMEOUT))
        self.assertTrue(harness.wait_until(
            lambda: self.transfers("incremental") > incremental_before, PROPAGATE_TIMEOUT,
            0.02), self.log())
        log = self.log()
        self.assertRegex(log, rf"(?i)received notify for zone '{re.escape(ZONE.rstrip('.'))}'",
                         log)
        self.assertRegex(log, self.xfer + r"connected using [^\n]*TSIG xfr-key", log)
        self.assertRegex(log, self.xfer + rf"requesting IXFR for serial {serial}\n", log)
        self.assertRegex(log, rf"transferred serial {registered}: TSIG 'xfr-key'", log)
        self.assertEqual(self.transfers("nonincremental"), nonincremental_before, log)
        # A deletion, the same way.
        self.nsupdate([f"update delete {o} {t} {x}" for o, t, x in node.records()])
        gone = harness.wait_until(lambda: not any(node.present(self.named).values()),
                                  PROPAGATE_TIMEOUT, 0.02)
        self.assertTrue(gone, self.named.describe())
        deleted = harness.soa_serial(self.server, ZONE)
        self.assertTrue(self.wait_bind_serial(deleted, PROPAGATE_TIMEOUT))
        self.assertTrue(harness.wait_until(
            lambda: self.transfers("incremental") >= incremental_before + 2, PROPAGATE_TIMEOUT,
            0.02), self.log())
        self.assertEqual(self.transfers("nonincremental"), nonincremental_before, self.log())
        self.assert_same_zone()
        print(f"\nnsupdate registration on BIND after {elapsed:.3f} s", file=sys.stderr)

    def test_3_stopped_bind_catches_up_by_ixfr(self):
        serial = harness.soa_serial(self.server, ZONE)
        self.assertTrue(self.wait_bind_serial(serial, SYNC_TIMEOUT), self.named.describe())
        self.assertTrue(harness.wait_until(  # BIND keeps what it has: zone file and journal
            lambda: os.path.exists(os.path.join(self.named_dir, ZONE + "db")), 5, 0.02))
        self.assertEqual(self.named.stop(), 0, self.named.describe())
        nodes = [harness.ErlangNode(f"down{i}", f"downhost{i}.{ZONE}", ZONE, 5700 + i,
                                    f"10.97.0.{i}") for i in range(1, 4)]
        for node in nodes:
            self.nsupdate([f"update add {o} 60 {t} {x}" for o, t, x in node.records()])
        self.nsupdate([f"update delete {o} {t} {x}" for o, t, x in nodes[0].records()])
        last = harness.soa_serial(self.server, ZONE)
        self.assertEqual(last, serial + 4)
        type(self).named = self.start_named(self.addClassCleanup)
        restarted = time.monotonic()
        caught_up = self.wait_bind_serial(last, SYNC_TIMEOUT)
        elapsed = time.monotonic() - restarted
        self.assertTrue(caught_up, f"restarted BIND at {self.bind_serial()}, primary at {last}:\n"
                        + self.named.describe())
        log = self.log()
        self.assertRegex(log, self.xfer + rf"requesting IXFR for serial {serial}\n", log)
        self.assertRegex(log, self.xfer + r"got incremental response", log)
        self.assertEqual(self.transfers("nonincremental"), 0, log)
        self.assertRegex(log, rf"transferred serial {last}: TSIG 'xfr-key'", log)
        self.assert_same_zone()
        print(f"\nrestarted BIND caught up {serial} -> {last} in {elapsed:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
