"""RFC 2136 semantics of epmdnsd's DNS UPDATE, message by message.

Each test gets a fresh server (fresh state directory) serving upd.test. and
erl.internal.; messages are built with dnspython (harness.update_wire for the
malformed forms dnspython will not write) and signed with a known key.
Whenever an UPDATE is refused, every name of the zone (and the names the
message touches) is queried before and after: nothing may change, the SOA
serial included. A message that changes something raises the serial by one.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import dns.rdataset  # noqa: E402
import dns.zone  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
Z = "upd.test."
ZONE_FILE = os.path.join(HERE, "zones", "upd.test.zone")
EXTRA_NAMES = ("new", "new2", "nx", "sub", "ent.sub", "x")


def n(label):
    """label under upd.test. ('@' is the apex)."""
    return Z if label == "@" else f"{label}.{Z}"


def zone_names():
    zone = dns.zone.from_file(ZONE_FILE, origin=Z, relativize=False)
    return sorted({name.to_text() for name in zone.nodes} | {n(x) for x in EXTRA_NAMES})


class Rfc2136Test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.key = harness.TsigKey("rfc2136-test.", "hmac-sha256")
        cls.names = zone_names()

    def setUp(self):
        zones = harness.zone_dir(self.addCleanup, ZONE_FILE, harness.BUNDLED_ZONE)
        self.server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                     zones=zones, ready_zone=Z)

    # ---- helpers

    def upd(self, zone=Z):
        return harness.update_message(zone)

    def send(self, msg, rcode, key="default"):
        key = self.key if key == "default" else key
        reply = harness.send_update(self.server, msg, key=key)
        self.assertEqual(reply.rcode_text, rcode, reply)
        if key is not None and reply.tsig is not None and reply.tsig.error == 0:
            self.assertTrue(reply.signed_ok, reply)
        return reply

    def look(self, label, rdtype):
        return harness.rdatas(self.server, n(label), rdtype)

    def serial(self):
        return harness.soa_serial(self.server, Z)

    def state(self):
        """{(name, type): {(ttl, rdata)}} of every zone name, from ANY over TCP."""
        out = {}
        for name in self.names:
            for rdtype, ttl, text in harness.name_records(self.server, name)[1]:
                out.setdefault((name, rdtype), set()).add((ttl, text))
        return out

    def assert_nothing_changes(self, msg, rcode, key="default"):
        before = self.state()
        self.send(msg, rcode, key)
        after = self.state()
        changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                   if before.get(k) != after.get(k)}
        self.assertEqual(changed, {}, f"a {rcode} UPDATE changed the zone")

    def assert_changes(self, msg, expected, rcode="NOERROR"):
        """Sends msg; expected: {(label, type): set of rdata texts} afterwards;
        everything else unchanged; serial +1 if anything changed, else the same."""
        before = self.state()
        s0 = self.serial()
        self.send(msg, rcode)
        after = self.state()
        want = {(n(label), t): {harness.canon(t, x) for x in texts}
                for (label, t), texts in expected.items()}

        def texts(state, key):
            return {text for _, text in state.get(key, ())}
        for key, rdatas in want.items():
            self.assertEqual(texts(after, key), rdatas, key)
        others = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                  if k not in want and k[1] != "SOA" and before.get(k) != after.get(k)}
        self.assertEqual(others, {}, "records changed that the message did not name")
        changed = any(texts(before, k) != texts(after, k) for k in want)
        self.assertEqual(self.serial(), s0 + (1 if changed else 0))

    # ---- prerequisites (RFC 2136 2.4, 3.2)

    def test_prereq_name_in_use(self):
        msg = self.upd()
        msg.present(n("a"))
        msg.add(n("new"), 300, "A", "192.0.2.100")
        self.assert_changes(msg, {("new", "A"): {"192.0.2.100"}})
        msg = self.upd()
        msg.present(n("A"))  # case-insensitive
        msg.add(n("new2"), 300, "A", "192.0.2.101")
        self.assert_changes(msg, {("new2", "A"): {"192.0.2.101"}})
        for label in ("nx", "ent.sub", "sub", "nx.a"):
            with self.subTest(name=label):
                msg = self.upd()
                msg.present(n(label))
                msg.add(n("x"), 300, "A", "192.0.2.102")
                self.assert_nothing_changes(msg, "NXDOMAIN")

    def test_prereq_rrset_exists(self):
        for label, rdtype in (("a", "A"), ("a", "TXT"), ("alias", "CNAME"), ("@", "NS"),
                              ("deep.ent.sub", "A")):
            with self.subTest(name=label, type=rdtype):
                msg = self.upd()
                msg.present(n(label), rdtype)
                self.send(msg, "NOERROR")
        for label, rdtype in (("a", "MX"), ("nx", "A"), ("alias", "A"), ("ent.sub", "A")):
            with self.subTest(name=label, type=rdtype):
                msg = self.upd()
                msg.present(n(label), rdtype)
                msg.delete(n("a"))
                self.assert_nothing_changes(msg, "NXRRSET")

    def test_prereq_name_not_in_use(self):
        for label in ("nx", "ent.sub", "sub"):
            with self.subTest(name=label):
                msg = self.upd()
                msg.absent(n(label))
                self.send(msg, "NOERROR")
        for label in ("a", "alias", "@", "MULTI"):
            with self.subTest(name=label):
                msg = self.upd()
                msg.absent(n(label))
                msg.add(n("x"), 300, "A", "192.0.2.103")
                self.assert_nothing_changes(msg, "YXDOMAIN")

    def test_prereq_rrset_does_not_exist(self):
        for label, rdtype in (("a", "MX"), ("nx", "A"), ("alias", "A"), ("ent.sub", "A")):
            with self.subTest(name=label, type=rdtype):
                msg = self.upd()
                msg.absent(n(label), rdtype)
                self.send(msg, "NOERROR")
        for label, rdtype in (("a", "A"), ("alias", "CNAME"), ("@", "SOA")):
            with self.subTest(name=label, type=rdtype):
                msg = self.upd()
                msg.absent(n(label), rdtype)
                msg.delete(n("multi"))
                self.assert_nothing_changes(msg, "YXRRSET")

    def value_prereq(self, entries):
        """A message whose prerequisites are the value-dependent records entries
        [(label, type, rdata)] (zone class, TTL 0)."""
        msg = self.upd()
        for label, rdtype, text in entries:
            rds = dns.rdataset.from_text("IN", rdtype, 0, text)
            msg.present(n(label), rds)
        return msg

    def test_prereq_value_dependent(self):
        multi = [("multi", "A", f"192.0.2.{i}") for i in (21, 22, 23)]
        good = (multi, list(reversed(multi)), multi + [multi[0]],
                [("ptrs", "PTR", "one.UPD.test."), ("ptrs", "PTR", "TWO.upd.test.")],
                multi + [("a", "TXT", '"a-text"')],
                [("srv._tcp", "SRV", "0 0 4370 A.upd.test.")])
        for entries in good:
            with self.subTest(entries=entries):
                self.send(self.value_prereq(entries), "NOERROR")
        bad = (multi[:2], multi + [("multi", "A", "192.0.2.24")],
               [("multi", "A", "192.0.2.21"), ("multi", "A", "192.0.2.22"),
                ("multi", "A", "192.0.2.99")],
               multi + [("a", "TXT", '"other"')], [("nx", "A", "192.0.2.1")],
               [("alias", "A", "192.0.2.10")], [("a", "TXT", '"A-TEXT"')])
        for entries in bad:
            with self.subTest(entries=entries):
                msg = self.value_prereq(entries)
                msg.add(n("x"), 300, "A", "192.0.2.104")
                self.assert_nothing_changes(msg, "NXRRSET")

    def test_prereq_formerr(self):
        cases = {
            "value-dependent with TTL": [("multi", "A", "IN", 300, "192.0.2.21")],
            "ANY/type with TTL": [("a", "A", "ANY", 300, b"")],
            "ANY/ANY with TTL": [("a", "ANY", "ANY", 1, b"")],
            "NONE/type with TTL": [("nx", "A", "NONE", 300, b"")],
            "ANY/type with rdata": [("a", "A", "ANY", 0, "192.0.2.10")],
            "NONE/type with rdata": [("nx", "A", "NONE", 0, "192.0.2.10")],
            "class CH": [("a", "A", "CH", 0, b"")],
            "zone class, type ANY": [("a", "ANY", "IN", 0, b"")],
        }
        for label, prereqs in cases.items():
            with self.subTest(case=label):
                prereqs = [(n(o), t, c, ttl, rd) for o, t, c, ttl, rd in prereqs]
                wire = harness.update_wire(Z, prereqs, [(n("x"), "A", "IN", 300, "192.0.2.105")])
                self.assert_nothing_changes(wire, "FORMERR")

    def test_prereq_notzone(self):
        for name in ("host1.erl.internal.", "upd.test.example.", "xupd.test.", "test."):
            with self.subTest(name=name):
                msg = self.upd()
                msg.present(name)
                msg.add(n("x"), 300, "A", "192.0.2.106")
                self.assert_nothing_changes(msg, "NOTZONE")

    # ---- zone section (3.1)

    def test_zone_section(self):
        msg = self.upd("UPD.Test.")  # names compare case-insensitively
        msg.add(n("new"), 300, "A", "192.0.2.107")
        self.assert_changes(msg, {("new", "A"): {"192.0.2.107"}})
        add_x = [(n("x"), "A", "IN", 300, "192.0.2.108")]
        notauth = {"zone not served": harness.update_wire("example.com.", (), add_x),
                   "not an apex": harness.update_wire(n("a"), (), add_x),
                   "parent of a zone": harness.update_wire("test.", (), add_x),
                   "class CH": harness.update_wire(Z, (), add_x, zone_class="CH")}
        formerr = {"type A": harness.update_wire(Z, (), add_x, zone_type="A"),
                   "no zone": harness.update_wire(Z, (), add_x, zones=[]),
                   "two zones": harness.update_wire(Z, (), add_x,
                                                    zones=[(Z, "SOA", "IN"), (Z, "SOA", "IN")])}
        for label, wire in notauth.items():
            with self.subTest(case=label):
                self.assert_nothing_changes(wire, "NOTAUTH")
        for label, wire in formerr.items():
            with self.subTest(case=label):
                self.assert_nothing_changes(wire, "FORMERR")

    # ---- update section (3.4)

    def test_add_delete_forms(self):
        msg = self.upd()
        msg.add(n("new"), 300, "A", "192.0.2.110", "192.0.2.111")
        msg.add(n("new"), 300, "TXT", '"t"')
        self.assert_changes(msg, {("new", "A"): {"192.0.2.110", "192.0.2.111"},
                                  ("new", "TXT"): {'"t"'}})
        msg = self.upd()  # class NONE: one record
        msg.delete(n("multi"), "A", "192.0.2.22")
        self.assert_changes(msg, {("multi", "A"): {"192.0.2.21", "192.0.2.23"}})
        msg = self.upd()  # class ANY, type T: the RRset
        msg.delete(n("a"), "TXT")
        self.assert_changes(msg, {("a", "TXT"): set(), ("a", "A"): {"192.0.2.10"}})
        msg = self.upd()  # class ANY, type ANY: the name
        msg.delete(n("new"))
        self.assert_changes(msg, {("new", "A"): set(), ("new", "TXT"): set()})
        self.assertEqual(harness.rdata_set(self.server, n("new"), "A")[0], "NXDOMAIN")
        msg = self.upd()  # last name below ent.sub.: the empty non-terminals go too
        msg.delete(n("deep.ent.sub"))
        self.assert_changes(msg, {("deep.ent.sub", "A"): set()})
        for label in ("deep.ent.sub", "ent.sub", "sub"):
            self.assertEqual(harness.rdata_set(self.server, n(label), "A")[0], "NXDOMAIN", label)

    def test_noop_updates_keep_serial(self):
        noops = self.upd()
        noops.add(n("a"), 300, "A", "192.0.2.10")  # already there
        noops.delete(n("a"), "A", "192.0.2.99")  # not there
        noops.delete(n("nx"), "A")
        noops.delete(n("nx"))
        noops.delete(n("ent.sub"))
        self.assert_changes(noops, {})

    def test_replace_in_one_message_and_order(self):
        msg = self.upd()
        msg.delete(n("a"), "A")
        msg.add(n("a"), 300, "A", "192.0.2.12")
        self.assert_changes(msg, {("a", "A"): {"192.0.2.12"}})
        # Prerequisites see the zone before the message's own updates.
        msg = self.upd()
        msg.absent(n("new"))
        msg.add(n("new"), 300, "A", "192.0.2.113")
        self.assert_changes(msg, {("new", "A"): {"192.0.2.113"}})
        again = self.upd()
        again.absent(n("new"))
        again.add(n("new"), 300, "A", "192.0.2.114")
        self.assert_nothing_changes(again, "YXDOMAIN")

    def test_prerequisites_see_earlier_deletions(self):
        msg = self.upd()
        msg.delete(n("a"), "TXT")
        msg.delete(n("multi"), "A", "192.0.2.21")
        msg.delete(n("multi"), "A", "192.0.2.22")
        msg.delete(n("multi"), "A", "192.0.2.23")
        self.send(msg, "NOERROR")
        for build, rcode in ((lambda m: m.present(n("a"), "TXT"), "NXRRSET"),
                             (lambda m: m.absent(n("a"), "TXT"), "NOERROR"),
                             (lambda m: m.present(n("multi")), "NXDOMAIN"),
                             (lambda m: m.present(n("multi"), "A"), "NXRRSET"),
                             (lambda m: m.absent(n("multi")), "NOERROR"),
                             (lambda m: m.absent(n("multi"), "A"), "NOERROR")):
            with self.subTest(rcode=rcode):
                msg = self.upd()
                build(msg)
                self.send(msg, rcode)
        self.assertEqual(harness.rdata_set(self.server, n("multi"), "A")[0], "NXDOMAIN")

    def test_pipelined_updates_see_each_other(self):
        # Twenty UPDATEs in one TCP write, each requiring the name the one before
        # added: they are handled in order, whatever batches the server forms.
        wires, macs = [], {}
        for i in range(20):
            msg = self.upd()
            if i:
                msg.present(n(f"chain{i - 1}"))
            msg.absent(n(f"chain{i}"))
            msg.add(n(f"chain{i}"), 300, "A", f"192.0.2.{200 + i % 50}")
            msg.id = 1000 + i
            wire, mac = harness.tsig_sign(msg.to_wire(), self.key)
            wires.append(wire)
            macs[msg.id] = mac
        again = self.upd()
        again.absent(n("chain5"))  # the name exists by now
        again.id = 2000
        wire, mac = harness.tsig_sign(again.to_wire(), self.key)
        wires.append(wire)
        macs[again.id] = mac
        s0 = self.serial()
        with harness.tcp_connect(self.server) as sock:
            sock.sendall(b"".join(harness.tcp_frame(w) for w in wires))
            replies = {}
            for _ in wires:
                answer = harness.tcp_recv_msg(sock)
                self.assertIsNotNone(answer, "connection closed before every answer")
                qid = int.from_bytes(answer[:2], "big")
                reply = harness.UpdateReply(answer, self.key, macs[qid])
                self.assertTrue(reply.signed_ok, reply)
                replies[qid] = reply
        for i in range(20):
            self.assertEqual(replies[1000 + i].rcode_text, "NOERROR", (i, replies[1000 + i]))
        self.assertEqual(replies[2000].rcode_text, "YXDOMAIN")
        self.assertEqual(self.serial(), s0 + 20)
        self.assertEqual(self.look("chain19", "A"), {"192.0.2.219"})

    def test_new_ttl_applies_to_the_rrset(self):
        msg = self.upd()
        msg.add(n("multi"), 120, "A", "192.0.2.24")
        self.send(msg, "NOERROR")
        rcode, texts, ttl = harness.rdata_set(self.server, n("multi"), "A")
        self.assertEqual(len(texts), 4)
        self.assertEqual(ttl, 120)

    def test_update_formerr(self):
        good = [(n("x"), "A", "IN", 300, "192.0.2.115")]
        cases = {
            "ANY delete with TTL": ("a", "A", "ANY", 300, b""),
            "ANY delete with rdata": ("a", "A", "ANY", 0, "192.0.2.10"),
            "NONE delete with TTL": ("a", "A", "NONE", 300, "192.0.2.10"),
            "NONE delete of type ANY": ("a", "ANY", "NONE", 0, b""),
            "class CH": ("a", "A", "CH", 300, "192.0.2.10"),
            "add of type ANY": ("a", "ANY", "IN", 300, b""),
            "add of type AXFR": ("a", "AXFR", "IN", 300, b""),
            "add of type IXFR": ("a", "IXFR", "IN", 300, b""),
            "ANY delete of type AXFR": ("a", "AXFR", "ANY", 0, b""),
        }
        for label, (o, t, c, ttl, rd) in cases.items():
            with self.subTest(case=label):
                wire = harness.update_wire(Z, (), good + [(n(o), t, c, ttl, rd)])
                self.assert_nothing_changes(wire, "FORMERR")

    def test_update_notzone(self):
        for name in ("host1.erl.internal.", "upd.test.example.", "xupd.test.", "test."):
            with self.subTest(name=name):
                msg = self.upd()
                msg.add(n("new"), 300, "A", "192.0.2.116")
                msg.delete(n("a"))
                msg.add(name, 300, "A", "192.0.2.117")
                msg.delete(n("multi"), "A", "192.0.2.21")
                self.assert_nothing_changes(msg, "NOTZONE")
        self.assertEqual(harness.rdatas(self.server, "host1.erl.internal.", "A"), {"127.0.0.1"})

    def test_edns_version_1_is_badvers(self):
        # RFC 6891 6.1.3: a responder that does not implement the version answers
        # BADVERS (as epmdnsd does for queries); the update is not carried out.
        msg = self.upd()
        msg.use_edns(1)
        msg.add(n("new"), 300, "A", "192.0.2.126")
        self.assert_nothing_changes(msg, "BADVERS")

    def test_refused_unsigned(self):
        msg = self.upd()
        msg.add(n("new"), 300, "A", "192.0.2.118")
        self.assert_nothing_changes(msg, "REFUSED", key=None)

    # ---- atomicity (3.2, 3.4: all or nothing)

    def test_second_prerequisite_fails_nothing_changes(self):
        for second, rcode in ((lambda m: m.present(n("nx")), "NXDOMAIN"),
                              (lambda m: m.present(n("a"), "MX"), "NXRRSET"),
                              (lambda m: m.absent(n("multi")), "YXDOMAIN"),
                              (lambda m: m.absent(n("a"), "TXT"), "YXRRSET")):
            with self.subTest(rcode=rcode):
                msg = self.upd()
                msg.present(n("a"))
                second(msg)
                msg.add(n("new"), 300, "A", "192.0.2.119")
                msg.delete(n("a"), "A")
                msg.delete(n("multi"))
                msg.delete(n("ptrs"), "PTR", "two.upd.test.")
                self.assert_nothing_changes(msg, rcode)

    def test_bad_update_among_good_ones_nothing_changes(self):
        for bad, rcode in ((("elsewhere.example.", "A", "IN", 300, "192.0.2.120"), "NOTZONE"),
                           (("host1.erl.internal.", "A", "ANY", 0, b""), "NOTZONE"),
                           ((n("a"), "A", "ANY", 300, b""), "FORMERR"),
                           ((n("a"), "A", "CH", 300, "192.0.2.120"), "FORMERR")):
            with self.subTest(bad=bad):
                updates = [(n("new"), "A", "IN", 300, "192.0.2.121"),
                           (n("multi"), "ANY", "ANY", 0, b""),
                           bad,
                           (n("a"), "TXT", "NONE", 0, '"a-text"')]
                self.assert_nothing_changes(harness.update_wire(Z, (), updates), rcode)

    # ---- SOA and apex NS (3.4.2.2 - 3.4.2.4)

    def test_soa_cannot_be_deleted(self):
        for msg_of in (lambda m: m.delete(Z, "SOA"),
                       lambda m: m.delete(Z, "SOA", "ns1.upd.test. hostmaster.upd.test. "
                                                    "100 3600 600 86400 60")):
            msg = self.upd()
            msg_of(msg)
            self.assert_changes(msg, {("@", "SOA"): {"ns1.upd.test. hostmaster.upd.test. "
                                                     "100 3600 600 86400 60"}})

    def test_apex_ns_protection(self):
        msg = self.upd()
        msg.delete(Z, "NS")
        self.assert_changes(msg, {("@", "NS"): {"ns1.upd.test."}})
        msg = self.upd()
        msg.delete(Z, "NS", "ns1.upd.test.")
        self.assert_changes(msg, {("@", "NS"): {"ns1.upd.test."}})
        msg = self.upd()
        msg.add(Z, 300, "NS", "ns2.upd.test.")
        self.assert_changes(msg, {("@", "NS"): {"ns1.upd.test.", "ns2.upd.test."}})
        msg = self.upd()  # one of two may go
        msg.delete(Z, "NS", "ns1.upd.test.")
        self.assert_changes(msg, {("@", "NS"): {"ns2.upd.test."}})
        msg = self.upd()  # the last may not
        msg.delete(Z, "NS", "ns2.upd.test.")
        self.assert_changes(msg, {("@", "NS"): {"ns2.upd.test."}})

    def test_delete_all_at_apex_keeps_soa_and_ns(self):
        s0 = self.serial()
        msg = self.upd()
        msg.delete(Z)
        self.send(msg, "NOERROR")
        self.assertEqual(self.look("@", "TXT"), set())
        self.assertEqual(self.look("@", "NS"), {"ns1.upd.test."})
        self.assertEqual(self.serial(), s0 + 1)

    def test_soa_add_with_older_serial_ignored(self):
        msg = self.upd()
        msg.add(Z, 300, "SOA", "ns1.upd.test. hostmaster.upd.test. 50 3600 600 86400 60")
        self.assert_changes(msg, {})
        self.assertEqual(self.serial(), 100)

    def test_soa_add_with_newer_serial_is_kept(self):
        # 3.4.2.2: an SOA with a newer serial replaces the zone's; 3.6: the server
        # increments the serial itself only when the update did not change it.
        new_soa = "ns1.upd.test. hostmaster.upd.test. 500 7200 600 86400 60"
        msg = self.upd()
        msg.add(Z, 300, "SOA", new_soa)
        self.send(msg, "NOERROR")
        self.assertEqual(self.look("@", "SOA"), {new_soa},
                         "the SOA given in the UPDATE, serial 500 as sent")
        msg = self.upd()  # the next change increments from there
        msg.add(n("new"), 300, "A", "192.0.2.124")
        self.send(msg, "NOERROR")
        self.assertEqual(self.serial(), 501)

    # ---- CNAME and other data (3.4.2.2)

    def test_cname_rules(self):
        msg = self.upd()  # CNAME beside other data: ignored
        msg.add(n("a"), 300, "CNAME", "multi.upd.test.")
        self.assert_changes(msg, {("a", "CNAME"): set(), ("a", "A"): {"192.0.2.10"}})
        msg = self.upd()  # other data beside a CNAME: ignored
        msg.add(n("alias"), 300, "A", "192.0.2.122")
        self.assert_changes(msg, {("alias", "A"): set(), ("alias", "CNAME"): {"a.upd.test."}})
        msg = self.upd()  # a CNAME replaces a CNAME
        msg.add(n("alias"), 300, "CNAME", "multi.upd.test.")
        self.assert_changes(msg, {("alias", "CNAME"): {"multi.upd.test."}})
        msg = self.upd()  # in one message: the CNAME goes in, then the A is ignored
        msg.add(n("new"), 300, "CNAME", "a.upd.test.")
        msg.add(n("new"), 300, "A", "192.0.2.123")
        self.assert_changes(msg, {("new", "CNAME"): {"a.upd.test."}, ("new", "A"): set()})

    def test_serial_rises_by_one_per_changing_message(self):
        s0 = self.serial()
        for i in range(5):
            msg = self.upd()
            msg.add(n(f"s{i}"), 300, "A", f"192.0.2.{130 + i}")
            msg.add(n(f"s{i}"), 300, "TXT", f'"{i}"')
            msg.delete(n("multi"), "A", f"192.0.2.{21 + i}")
            self.send(msg, "NOERROR")
            self.assertEqual(self.serial(), s0 + i + 1)


if __name__ == "__main__":
    unittest.main()
