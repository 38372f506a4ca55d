"""--update-policy: a host key may register only its own host's nodes.

Policy: `grant host7key host host7.erl.internal.` and `grant zonekey zone
erl.internal.`; a third key is known but granted nothing. Each refused
message is REFUSED (signed), and the names it touches and the SOA serial are
queried before and after: nothing may change. The zone key then sends the
very same messages and they apply.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

E = harness.BUNDLED_ORIGIN
HOST = "host7." + E
OWN = harness.ErlangNode("app7", HOST, E, 4470, "10.70.0.7", address6="fd00::7")
APP1 = "app1._erlang-dist._tcp.host1." + E  # a node of another host (zone file)
ZONE_BROWSE = "_erlang-dist._tcp." + E


def upd():
    return harness.update_message(E)


def build(*steps):
    m = upd()
    for step in steps:
        step(m)
    return m


# (label, message) a host key may not send; each is NOERROR for the zone key.
FOREIGN = [
    ("A of another host", build(lambda m: m.add("host1." + E, 60, "A", "10.70.1.1"))),
    ("AAAA of a new host", build(lambda m: m.add("host8." + E, 60, "AAAA", "fd00::8"))),
    ("TXT of another host", build(lambda m: m.add("host1." + E, 60, "TXT", '"x"'))),
    ("own SRV pointing elsewhere", build(
        lambda m: m.add(OWN.instance, 60, "SRV", "0 0 4470 host1." + E))),
    ("SRV of another host's node", build(
        lambda m: m.add(APP1, 60, "SRV", "0 0 4999 host1." + E))),
    ("own browse list pointing elsewhere", build(
        lambda m: m.add(OWN.host_browse, 60, "PTR", APP1))),
    ("cluster list entry of another host", build(
        lambda m: m.add(ZONE_BROWSE, 60, "PTR", "app9._erlang-dist._tcp.host1." + E))),
    ("cluster list entry deleted for another host", build(
        lambda m: m.delete(ZONE_BROWSE, "PTR", APP1))),
    ("whole cluster list deleted", build(lambda m: m.delete(ZONE_BROWSE, "PTR"))),
    ("cluster list name deleted", build(lambda m: m.delete(ZONE_BROWSE))),
    ("another host deleted", build(lambda m: m.delete("host1." + E))),
    ("another host's node deleted", build(lambda m: m.delete(APP1))),
    ("a name below the host", build(lambda m: m.add("x." + HOST, 60, "A", "10.70.1.2"))),
    ("a two-label instance", build(
        lambda m: m.add("a.b._erlang-dist._tcp." + HOST, 60, "TXT", '"vsn=6"'))),
    ("CNAME at the host", build(lambda m: m.add("cn." + HOST, 60, "CNAME", "host1." + E))),
    ("MX at the host", build(lambda m: m.add(HOST, 60, "MX", "10 " + HOST))),
    ("own node plus one foreign record", build(
        lambda m: OWN.add_to(m), lambda m: m.add("host1." + E, 60, "A", "10.70.1.3"))),
]


def touched(message):
    names = {rrset.name.to_text().lower() for rrset in message.update}
    return sorted(names | {OWN.host, OWN.instance, OWN.host_browse, ZONE_BROWSE,
                           "host1." + E, APP1, E})


class PolicyTest(unittest.TestCase):
    TYPES = ("SOA", "A", "AAAA", "TXT", "SRV", "PTR", "CNAME", "MX")

    @classmethod
    def setUpClass(cls):
        cls.host_key = harness.TsigKey("host7key.", "hmac-sha256")
        cls.zone_key = harness.TsigKey("zonekey.", "hmac-sha512")
        cls.idle_key = harness.TsigKey("idlekey.", "hmac-sha1")
        cls.server = harness.start_epmdnsd_updating(
            cls.addClassCleanup, keys=[cls.host_key, cls.zone_key, cls.idle_key],
            policy=["# host keys touch their host only",
                    f"grant {cls.host_key.name} host {HOST}",
                    f"grant {cls.zone_key.name} zone {E}"])

    def state(self, names):
        return harness.snapshot(self.server, [(n, t) for n in names for t in self.TYPES])

    def send(self, message, key, rcode):
        reply = harness.send_update(self.server, message, key=key)
        self.assertEqual(reply.rcode_text, rcode, reply)
        self.assertTrue(reply.signed_ok, reply)
        return reply

    def test_1_host_key_registers_renews_and_removes_its_node(self):
        s0 = harness.soa_serial(self.server, E)
        self.send(OWN.register(), self.host_key, "NOERROR")
        self.assertTrue(all(OWN.present(self.server).values()), OWN.present(self.server))
        self.assertEqual(harness.soa_serial(self.server, E), s0 + 1)
        # Names spelled in another case are the same names.
        shout = harness.ErlangNode("app7b", HOST.upper(), E, 4471, "10.70.0.7")
        msg = upd()
        for owner, rdtype, text in shout.records():
            msg.add(owner.upper(), 60, rdtype, text.upper() if rdtype in ("SRV", "PTR") else text)
        self.send(msg, self.host_key, "NOERROR")
        self.assertTrue(all(shout.present(self.server).values()))
        self.send(shout.delete_from(upd(), keep_host=True), self.host_key, "NOERROR")
        self.assertFalse(any(v for (o, t, _), v in shout.present(self.server).items()
                             if o != shout.host))
        # Removing the whole host name and the node's own names is the host's business.
        msg = build(lambda m: m.delete(OWN.instance), lambda m: m.delete(OWN.host_browse, "PTR"),
                    lambda m: m.delete(ZONE_BROWSE, "PTR", OWN.instance),
                    lambda m: m.delete(OWN.host))
        self.send(msg, self.host_key, "NOERROR")
        self.assertFalse(any(OWN.present(self.server).values()))
        self.send(OWN.register(), self.host_key, "NOERROR")  # back for the tests below

    def test_2_host_key_refused_elsewhere_and_nothing_changes(self):
        self.send(OWN.register(), self.host_key, "NOERROR")
        for label, message in FOREIGN:
            with self.subTest(case=label):
                names = touched(message)
                before = self.state(names)
                self.send(message, self.host_key, "REFUSED")
                self.assertEqual(self.state(names), before)

    def test_3_known_key_without_grant_refused(self):
        other = harness.ErlangNode("idle", "host9." + E, E, 4490, "10.70.9.9")
        before = self.state(touched(other.register()))
        self.send(other.register(), self.idle_key, "REFUSED")
        self.assertEqual(self.state(touched(other.register())), before)

    def test_4_zone_key_may_do_all_of_it(self):
        s0 = harness.soa_serial(self.server, E)
        for label, message in FOREIGN:
            with self.subTest(case=label):
                self.send(message, self.zone_key, "NOERROR")
        # Some undo others (the list is deleted, then re-added with the own node).
        self.assertGreater(harness.soa_serial(self.server, E), s0 + len(FOREIGN) // 2)
        self.assertEqual(harness.rdatas(self.server, "host1." + E, "A"), {"10.70.1.3"})
        self.assertEqual(harness.rdatas(self.server, ZONE_BROWSE, "PTR"),
                         {harness.canon("PTR", OWN.instance)})
        self.assertEqual(harness.rdatas(self.server, "x." + HOST, "A"), {"10.70.1.2"})
        self.assertEqual(harness.rdatas(self.server, HOST, "MX"),
                         {harness.canon("MX", "10 " + HOST)})
        self.assertEqual(harness.rdatas(self.server, "host8." + E, "AAAA"), {"fd00::8"})

    def test_5_host_key_of_another_zone_refused(self):
        zones = harness.zone_dir(self.addCleanup, harness.BUNDLED_ZONE, harness.RULES_ZONE)
        server = harness.start_epmdnsd_updating(
            self.addCleanup, keys=[self.host_key, self.zone_key], zones=zones,
            policy=[f"grant {self.host_key.name} host {HOST}",
                    f"grant {self.zone_key.name} zone {E}"])
        msg = harness.update_message(harness.RULES_ORIGIN)
        msg.add("www." + harness.RULES_ORIGIN, 60, "A", "192.0.2.81")
        for key in (self.host_key, self.zone_key):
            with self.subTest(key=key.name):
                reply = harness.send_update(server, msg, key=key)
                self.assertEqual(reply.rcode_text, "REFUSED", reply)
                self.assertEqual(harness.rdatas(server, "www." + harness.RULES_ORIGIN, "A"),
                                 {"192.0.2.80"})


if __name__ == "__main__":
    unittest.main()
