"""TSIG on UPDATE (RFC 8945 section 5): who may change the zone.

Every refused message below both adds a node and deletes a record of the zone
file; after each the touched names and the SOA serial are queried again and
must be exactly as before.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rdtypes.ANY.TSIG  # noqa: E402
import dns.tsig  # noqa: E402
import dns.tsigkeyring  # noqa: E402

E = harness.BUNDLED_ORIGIN
FUDGE = harness.TSIG_FUDGE


class TsigUpdateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = {alg: harness.TsigKey(f"tsig-{alg}.", alg)
                    for alg in ("hmac-sha256", "hmac-sha512", "hmac-sha1")}
        cls.key = cls.keys["hmac-sha256"]
        cls.server = harness.start_epmdnsd_updating(cls.addClassCleanup,
                                                    keys=list(cls.keys.values()))
        cls.counter = 0

    def fresh_node(self):
        TsigUpdateTest.counter += 1
        n = self.counter
        return harness.ErlangNode(f"t{n}", f"tsig-host{n}.{E}", E, 5000 + n, f"10.30.0.{n}")

    def message(self, node):
        """Registers node and deletes host2's address (a record from the zone file)."""
        msg = node.register()
        msg.delete("host2." + E, "A", "127.0.0.2")
        return msg

    def touched(self, node):
        return [(o, t) for o, t, _ in node.records()] + [("host2." + E, "A"), (E, "SOA")]

    def assert_refused_and_unchanged(self, node, send, rcode, tsig_error, signed):
        """send() -> UpdateReply; checks its rcode, its TSIG and that nothing changed."""
        before = harness.snapshot(self.server, self.touched(node))
        for transport in ("udp", "tcp"):
            with self.subTest(transport=transport):
                reply = send(transport == "tcp")
                self.assertEqual(reply.rcode_text, rcode, reply)
                if tsig_error is None:
                    self.assertIsNone(reply.tsig, reply)
                else:
                    self.assertIsNotNone(reply.tsig, reply)
                    self.assertEqual(reply.tsig.error_text, tsig_error, reply)
                    self.assertEqual(reply.signed_ok, signed, reply)
                    if not signed:
                        self.assertEqual(reply.tsig.mac, b"", "BADKEY/BADSIG answers are unsigned")
                self.assertEqual(harness.snapshot(self.server, self.touched(node)), before)
        self.assertFalse(any(node.present(self.server).values()))

    def test_each_algorithm_accepted_with_signed_answer(self):
        for alg, key in self.keys.items():
            with self.subTest(algorithm=alg):
                node = self.fresh_node()
                s0 = harness.soa_serial(self.server, E)
                reply = harness.send_update(self.server, node.register(), key=key)
                self.assertEqual(reply.rcode_text, "NOERROR", reply)
                self.assertTrue(reply.signed_ok, reply)
                self.assertEqual(reply.tsig.error_text, "NOERROR")
                self.assertTrue(all(node.present(self.server).values()))
                self.assertEqual(harness.soa_serial(self.server, E), s0 + 1)

    def test_dnspython_own_signing_accepted(self):
        # dnspython signs and checks the signed answer itself (raises if it is bad).
        node = self.fresh_node()
        msg = node.register()
        msg.use_tsig(dns.tsigkeyring.from_text({self.key.name: self.key.secret_b64}),
                     algorithm=dns.tsig.HMAC_SHA256)
        r = dns.query.udp(msg, self.server.host, port=self.server.port,
                          timeout=harness.QUERY_TIMEOUT)
        self.assertEqual(r.rcode(), dns.rcode.NOERROR)
        self.assertTrue(r.had_tsig)
        self.assertTrue(all(node.present(self.server).values()))

    def test_harness_signing_matches_dnspython(self):
        # harness.tsig_sign picks the time signed; dnspython 2.3 does the same
        # through dns.tsig.sign(wire, key, rdata, time=...). Same MAC either way.
        msg = self.message(self.fresh_node())
        wire = msg.to_wire()
        signed_at = int(time.time()) - 1000
        for alg, key in self.keys.items():
            with self.subTest(algorithm=alg):
                _, mac = harness.tsig_sign(wire, key, time_signed=signed_at)
                template = dns.rdtypes.ANY.TSIG.TSIG(
                    dns.rdataclass.ANY, dns.rdatatype.TSIG, dns.name.from_text(alg), 0, FUDGE,
                    b"", msg.id, 0, b"")
                theirs, _ = dns.tsig.sign(wire, dns.tsig.Key(key.name, key.secret, alg),
                                          template, time=signed_at)
                self.assertEqual(mac, theirs.mac)
        # And dnspython accepts what the harness signs now.
        signed, _ = harness.tsig_sign(wire, self.key)
        parsed = dns.message.from_wire(signed, keyring={
            dns.name.from_text(self.key.name): dns.tsig.Key(self.key.name, self.key.secret,
                                                            self.key.algorithm)})
        self.assertTrue(parsed.had_tsig)

    def test_time_inside_fudge_accepted(self):
        for skew in (-(FUDGE - 60), FUDGE - 60):
            with self.subTest(skew=skew):
                node = self.fresh_node()
                reply = harness.send_update(self.server, node.register(), key=self.key,
                                            time_signed=int(time.time()) + skew)
                self.assertEqual(reply.rcode_text, "NOERROR", reply)
                self.assertTrue(reply.signed_ok, reply)

    def test_unknown_key_name(self):
        node = self.fresh_node()
        stranger = self.key.renamed("no-such-key.")
        self.assert_refused_and_unchanged(
            node, lambda tcp: harness.send_update(self.server, self.message(node), key=stranger,
                                                  tcp=tcp),
            "NOTAUTH", "BADKEY", signed=False)

    def test_known_name_other_algorithm(self):
        node = self.fresh_node()
        other = harness.TsigKey(self.key.name, "hmac-sha512", self.key.secret)
        self.assert_refused_and_unchanged(
            node, lambda tcp: harness.send_update(self.server, self.message(node), key=other,
                                                  tcp=tcp),
            "NOTAUTH", "BADKEY", signed=False)

    def test_wrong_secret(self):
        node = self.fresh_node()
        forged = self.key.with_secret(os.urandom(32))
        self.assert_refused_and_unchanged(
            node, lambda tcp: harness.send_update(self.server, self.message(node), key=forged,
                                                  tcp=tcp),
            "NOTAUTH", "BADSIG", signed=False)

    def test_message_altered_after_signing(self):
        node = self.fresh_node()

        def send(tcp):
            wire, mac = harness.tsig_sign(self.message(node).to_wire(), self.key)
            i = wire.find(b"\x0a\x1e\x00")  # the node's address 10.30.0.n
            self.assertGreater(i, 0)
            wire = wire[:i] + b"\x0b" + wire[i + 1:]
            exchange = harness.tcp_exchange if tcp else harness.udp_exchange
            return harness.UpdateReply(exchange(self.server, wire), self.key, mac)
        self.assert_refused_and_unchanged(node, send, "NOTAUTH", "BADSIG", signed=False)

    def test_stale_time(self):
        for skew in (-(FUDGE + 100), -86400, FUDGE + 100):
            with self.subTest(skew=skew):
                node = self.fresh_node()
                signed_at = int(time.time()) + skew
                self.assert_refused_and_unchanged(
                    node, lambda tcp: harness.send_update(self.server, self.message(node),
                                                          key=self.key, tcp=tcp,
                                                          time_signed=signed_at),
                    "NOTAUTH", "BADTIME", signed=True)
                # RFC 8945 5.2.3: the answer carries the request's time, the server's
                # own clock in Other Data.
                reply = harness.send_update(self.server, self.message(node), key=self.key,
                                            time_signed=signed_at)
                self.assertEqual(reply.tsig.time_signed, signed_at)
                self.assertEqual(len(reply.tsig.other), 6)
                server_time = int.from_bytes(reply.tsig.other, "big")
                self.assertLess(abs(server_time - time.time()), 60)

    def test_unsigned(self):
        node = self.fresh_node()
        self.assert_refused_and_unchanged(
            node, lambda tcp: harness.send_update(self.server, self.message(node), tcp=tcp),
            "REFUSED", None, signed=False)

    def test_unsigned_accepted_when_allowed(self):
        server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                args=["--allow-unsigned-updates"])
        node = self.fresh_node()
        reply = harness.send_update(server, node.register())
        self.assertEqual(reply.rcode_text, "NOERROR", reply)
        self.assertIsNone(reply.tsig)
        self.assertTrue(all(node.present(server).values()))
        # A bad signature is still a bad signature.
        other = self.fresh_node()
        reply = harness.send_update(server, other.register(),
                                    key=self.key.with_secret(os.urandom(32)))
        self.assertEqual((reply.rcode_text, reply.tsig.error_text), ("NOTAUTH", "BADSIG"))
        self.assertFalse(any(other.present(server).values()))

    def test_no_state_dir_refuses_updates(self):
        server = harness.start_epmdnsd(self.addCleanup)
        node = self.fresh_node()
        reply = harness.send_update(server, node.register())
        self.assertEqual(reply.rcode_text, "REFUSED", reply)
        self.assertFalse(any(node.present(server).values()))

    def test_keys_without_state_dir_is_a_start_error(self):
        workdir = harness.temp_dir(self.addCleanup)
        keys = harness.write_key_file(os.path.join(workdir, "k"), [self.key])
        p = harness.run_epmdnsd_to_exit(["--listen", "127.0.0.1:0", "--keys", keys])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--state-dir", p.stderr)


if __name__ == "__main__":
    unittest.main()
