"""BIND's nsupdate and dig against epmdnsd: TSIG-signed node registration.

nsupdate -k KEYFILE adds, replaces and deletes the records of an Erlang node;
dig sees every change and the SOA serial rises by one per UPDATE. Key files
are written here in BIND's format (as tsig-keygen would) with random secrets:
one hmac-sha256 key, and a file holding two keys (hmac-sha512, hmac-sha1).
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

E = harness.BUNDLED_ORIGIN
NSUPDATE_TIMEOUT = 20.0  # seconds for one nsupdate run (it has its own shorter timeouts)


class NsupdateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls.addClassCleanup, "nsupdate-")
        cls.sha256 = harness.TsigKey("epmdns-sha256.", "hmac-sha256")
        cls.sha512 = harness.TsigKey("node-sha512.keys.", "hmac-sha512")
        cls.sha1 = harness.TsigKey("node-sha1.keys.", "hmac-sha1")
        # The server reads one file with all three keys.
        cls.server = harness.start_epmdnsd_updating(
            cls.addClassCleanup, keys=[cls.sha256, cls.sha512, cls.sha1])
        cls.nsupdate = harness.require_tool("nsupdate")

    def key_file(self, *keys):
        path = os.path.join(self.workdir, "%s.key" % "+".join(k.name for k in keys))
        return harness.write_key_file(path, keys)

    def run_nsupdate(self, key_file, commands, zone=E, tcp=False):
        script = f"server {self.server.host} {self.server.port}\n"
        if zone:
            script += f"zone {zone}\n"
        script += "".join(c + "\n" for c in commands) + "send\n"
        argv = [self.nsupdate, "-k", key_file, "-t", "5", "-u", "2", "-r", "1"]
        if tcp:
            argv.append("-v")
        p = subprocess.run(argv, input=script, capture_output=True, text=True,
                           errors="replace", timeout=NSUPDATE_TIMEOUT)
        return p, script

    def nsupdate_ok(self, key_file, commands, **kw):
        p, script = self.run_nsupdate(key_file, commands, **kw)
        self.assertEqual(p.returncode, 0, f"nsupdate failed:\n{script}\n{p.stdout}{p.stderr}\n"
                         + self.server.describe())

    def dig(self, name, rdtype, extra=()):
        return harness.run_dig("dig", self.server.host, self.server.port, name, rdtype,
                               rd=False, extra=extra)

    def dig_records(self, name, rdtype):
        """Canonical rdata texts dig sees for name/rdtype."""
        r = self.dig(name, rdtype)
        self.assertIn(r.status, ("NOERROR", "NXDOMAIN"), r.text)
        return {rec[3] for rec in r.answer if rec[0] == name.lower() and rec[2] == rdtype}

    def serial(self):
        r = self.dig(E, "SOA")
        soa = [rec for rec in r.answer if rec[2] == "SOA"]
        self.assertEqual(len(soa), 1, r.text)
        return int(soa[0][3].split()[2])

    def assert_dig_sees(self, node, present=True):
        for owner, rdtype, text in node.records():
            seen = self.dig_records(owner, rdtype)
            if present:
                self.assertIn(harness.canon(rdtype, text), seen, f"{owner} {rdtype}")
            else:
                self.assertNotIn(harness.canon(rdtype, text), seen, f"{owner} {rdtype}")

    def test_add_replace_delete_node(self):
        keyf = self.key_file(self.sha256)
        node = harness.ErlangNode("web1", "nsu-host1." + E, E, 4380, "10.20.0.1",
                                  address6="fd00::20:1")
        s0 = self.serial()
        self.nsupdate_ok(keyf, [f"update add {o} 60 {t} {x}" for o, t, x in node.records()])
        self.assert_dig_sees(node)
        s1 = self.serial()
        self.assertEqual(s1, s0 + 1)

        # Replace: new address, new port (one UPDATE).
        moved = harness.ErlangNode("web1", node.host, E, 4390, "10.20.0.2",
                                   address6="fd00::20:1")
        self.nsupdate_ok(keyf, [f"update delete {node.host} A",
                                f"update add {node.host} 60 A {moved.address}",
                                f"update delete {node.instance} SRV",
                                f"update add {node.instance} 60 SRV 0 0 4390 {node.host}"])
        self.assertEqual(self.dig_records(node.host, "A"), {moved.address})
        self.assertEqual(self.dig_records(node.instance, "SRV"),
                         {harness.canon("SRV", f"0 0 4390 {node.host}")})
        self.assert_dig_sees(moved)
        s2 = self.serial()
        self.assertEqual(s2, s1 + 1)

        # Delete the node: its records by rdata, the host name whole.
        self.nsupdate_ok(keyf, [f"update delete {moved.instance} SRV",
                                f"update delete {moved.instance} TXT",
                                f"update delete {moved.host_browse} PTR {moved.instance}",
                                f"update delete {moved.zone_browse} PTR {moved.instance}",
                                f"update delete {moved.host}"])
        self.assert_dig_sees(moved, present=False)
        self.assertEqual(self.dig(moved.host, "A").status, "NXDOMAIN")
        self.assertEqual(self.dig(moved.instance, "SRV").status, "NXDOMAIN")
        self.assertEqual(self.serial(), s2 + 1)
        # The static nodes of the zone file are untouched.
        self.assertEqual(self.dig_records("host1." + E, "A"), {"127.0.0.1"})
        self.assertEqual(len(self.dig_records("_erlang-dist._tcp." + E, "PTR")), 2)

    def test_nsupdate_over_tcp(self):
        keyf = self.key_file(self.sha256)
        node = harness.ErlangNode("tcp1", "nsu-tcp." + E, E, 4381, "10.20.1.1")
        s0 = self.serial()
        self.nsupdate_ok(keyf, [f"update add {o} 60 {t} {x}" for o, t, x in node.records()],
                         tcp=True)
        self.assert_dig_sees(node)
        self.assertEqual(self.serial(), s0 + 1)

    def test_zone_found_by_signed_soa_query(self):
        # Without a zone line nsupdate asks the server (signed) for the SOA of the
        # name and checks the answer's TSIG before sending the UPDATE.
        keyf = self.key_file(self.sha256)
        node = harness.ErlangNode("soa1", "nsu-soa." + E, E, 4382, "10.20.2.1")
        s0 = self.serial()
        self.nsupdate_ok(keyf, [f"update add {o} 60 {t} {x}" for o, t, x in node.records()],
                         zone=None)
        self.assert_dig_sees(node)
        self.assertEqual(self.serial(), s0 + 1)

    def test_two_key_file_sha512_and_sha1(self):
        # A server started from a file of just these two keys accepts either.
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.sha512, self.sha1])
        with open(server.argv[server.argv.index("--keys") + 1]) as f:
            self.assertEqual(f.read().count("key \""), 2)
        for key in (self.sha512, self.sha1):
            with self.subTest(algorithm=key.algorithm):
                node = harness.ErlangNode(key.algorithm.replace("-", ""), "nsu-two." + E, E,
                                          4383, "10.20.3.1")
                s0 = harness.soa_serial(server, E)
                script = (f"server {server.host} {server.port}\nzone {E}\n"
                          + "".join(f"update add {o} 60 {t} {x}\n" for o, t, x in node.records())
                          + "send\n")
                p = subprocess.run([self.nsupdate, "-k", self.key_file(key), "-t", "5",
                                    "-u", "2", "-r", "1"], input=script, capture_output=True,
                                   text=True, errors="replace", timeout=NSUPDATE_TIMEOUT)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr + server.describe())
                self.assertTrue(all(node.present(server).values()), node.present(server))
                self.assertEqual(harness.soa_serial(server, E), s0 + 1)
                # dig -y with this key gets a signed, verifiable answer.
                r = harness.run_dig("dig", server.host, server.port, "nsu-two." + E, "A",
                                    rd=False, extra=["-y", key.dig_arg()])
                self.assertEqual(r.status, "NOERROR", r.text)
                self.assertIn("TSIG PSEUDOSECTION", r.text)
                self.assertNotIn("Couldn't verify", r.text)

    def test_nsupdate_with_unknown_key_changes_nothing(self):
        stranger = harness.TsigKey("stranger.", "hmac-sha256")
        node = harness.ErlangNode("bad1", "nsu-bad." + E, E, 4384, "10.20.4.1")
        s0 = self.serial()
        p, script = self.run_nsupdate(self.key_file(stranger),
                                      [f"update add {o} 60 {t} {x}" for o, t, x in node.records()])
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("NOTAUTH", p.stdout + p.stderr)
        self.assert_dig_sees(node, present=False)
        self.assertEqual(self.serial(), s0)

    def test_nsupdate_with_wrong_secret_changes_nothing(self):
        forged = self.sha256.with_secret(os.urandom(32))
        node = harness.ErlangNode("bad2", "nsu-bad2." + E, E, 4385, "10.20.5.1")
        s0 = self.serial()
        p, _ = self.run_nsupdate(self.key_file(forged),
                                 [f"update add {o} 60 {t} {x}" for o, t, x in node.records()])
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assert_dig_sees(node, present=False)
        self.assertEqual(self.serial(), s0)

    def test_dig_signed_query_gets_signed_answer(self):
        r = self.dig("host1." + E, "A", extra=["-y", self.sha256.dig_arg()])
        self.assertEqual(r.status, "NOERROR", r.text)
        self.assertEqual({rec[3] for rec in r.answer}, {"127.0.0.1"})
        self.assertIn("TSIG PSEUDOSECTION", r.text)
        self.assertNotIn("Couldn't verify", r.text)
        # dig checks the answer with the key: a wrong local secret makes it complain.
        bad = self.dig("host1." + E, "A",
                       extra=["-y", self.sha256.with_secret(os.urandom(32)).dig_arg()])
        self.assertEqual(bad.status, "NOTAUTH", bad.text)


if __name__ == "__main__":
    unittest.main()
