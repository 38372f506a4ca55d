"""Answer rules of epmdnsd, asked with dig and kdig over UDP and TCP, IPv4 and IPv6.

One server listens on 127.0.0.1 and ::1 and serves the bundled erl.internal.
zone and the rules.test. zone; every check runs through all eight
tool x transport x family combinations.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
from harness import rr  # noqa: E402
import dns.name  # noqa: E402

TOOLS = ("dig", "kdig")
HOSTS = ("127.0.0.1", "::1")
UDP, TCP = (False,), (True,)
BOTH = (False, True)

E = "erl.internal."
R = "rules.test."
E_SOA = "ns1.erl.internal. hostmaster.erl.internal. 1 3600 600 86400 30"
R_SOA = "ns1.rules.test. hostmaster.rules.test. 2024010101 3600 600 86400 900"
E_NEG_SOA = rr(E, 30, "SOA", E_SOA)  # min(SOA TTL 60, MINIMUM 30)
R_NEG_SOA = rr(R, 600, "SOA", R_SOA)  # min(SOA TTL 600, MINIMUM 900)

HOST1_ADDRS = {rr("host1." + E, 60, "A", "127.0.0.1"), rr("host1." + E, 60, "AAAA", "::1")}
HOST2_ADDRS = {rr("host2." + E, 60, "A", "127.0.0.2")}
APP1 = "app1._erlang-dist._tcp.host1." + E
APP2 = "app2._erlang-dist._tcp.host2." + E
APP1_SRV = rr(APP1, 60, "SRV", "0 0 4370 host1.erl.internal.")
APP2_SRV = rr(APP2, 60, "SRV", "0 0 4371 host2.erl.internal.")
APP1_TXT = rr(APP1, 60, "TXT", '"vsn=6"')
APP2_TXT = rr(APP2, 60, "TXT", '"vsn=6"')

WWW = {rr("www." + R, 300, "A", "192.0.2.80"), rr("www." + R, 300, "AAAA", "2001:db8::80")}
APEX_RRSETS = {
    "SOA": {rr(R, 600, "SOA", R_SOA)},
    "NS": {rr(R, 3600, "NS", "ns1.rules.test."), rr(R, 3600, "NS", "ns2.rules.test.")},
    "MX": {rr(R, 300, "MX", "10 mail.rules.test."), rr(R, 300, "MX", "20 mx.elsewhere.example.")},
    "TXT": {rr(R, 300, "TXT", '"v=rules"')},
}
SUB_NS = {rr("sub." + R, 300, "NS", "ns.sub.rules.test."),
          rr("sub." + R, 300, "NS", "ns.elsewhere.example.")}
SUB_GLUE = {rr("ns.sub." + R, 300, "A", "192.0.2.53"),
            rr("ns.sub." + R, 300, "AAAA", "2001:db8::53")}


def without_opt(records):
    return {r for r in records if r[2] != "OPT"}


class QueryRulesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        zones = harness.zone_dir(cls.addClassCleanup, harness.BUNDLED_ZONE, harness.RULES_ZONE)
        cls.server = harness.start_epmdnsd(cls.addClassCleanup, hosts=HOSTS, zones=zones,
                                           ready_zone=R)
        cls.server.wait_answers_soa(E)

    def each(self, qname, qtype, check, transports=BOTH, tools=TOOLS, **kw):
        """Ask qname/qtype with every tool/transport/family; check(response) each."""
        for tool in tools:
            for tcp in transports:
                for host in HOSTS:
                    with self.subTest(q=f"{qname} {qtype}", tool=tool,
                                      transport="tcp" if tcp else "udp", host=host):
                        r = harness.run_dig(tool, host, self.server.port, qname, qtype,
                                            tcp=tcp, **kw)
                        try:
                            check(r)
                        except AssertionError as e:
                            raise AssertionError(f"{e}\n--- {tool} output ---\n{r.text}") \
                                from None

    def expect(self, qname, qtype, status="NOERROR", aa=True, answer=None, authority=None,
               additional_has=None, transports=BOTH):
        """answer/authority: exact record sets; additional_has: a required subset."""
        def check(r):
            self.assertEqual(r.status, status)
            self.assertIn("qr", r.flags)
            self.assertEqual("aa" in r.flags, aa, "AA flag")
            self.assertNotIn("tc", r.flags)
            self.assertIn("rd", r.flags, "RD must be copied from the query")
            self.assertNotIn("ra", r.flags, "an authoritative-only server offers no recursion")
            self.assertEqual(len(r.question), 1)
            self.assertEqual(r.question[0][0].lower(), dns.name.from_text(qname).to_text().lower())
            self.assertIsNotNone(r.edns, "OPT record must be echoed to an EDNS query")
            if answer is not None:
                self.assertEqual(set(r.answer), answer, "answer section")
                self.assertEqual(len(r.answer), len(answer), "duplicate answer records")
            if authority is not None:
                self.assertEqual(set(r.authority), authority, "authority section")
            if additional_has is not None:
                missing = additional_has - without_opt(r.additional)
                if missing:
                    self.fail(f"additional section lacks {sorted(missing)}")
        self.each(qname, qtype, check, transports=transports)

    def expect_nxdomain(self, qname, qtype, soa):
        self.expect(qname, qtype, "NXDOMAIN", answer=set(), authority={soa})

    def expect_nodata(self, qname, qtype, soa):
        self.expect(qname, qtype, "NOERROR", answer=set(), authority={soa})

    # --- bundled zone: apex, hosts, Erlang node discovery

    def test_apex_soa(self):
        self.expect(E, "SOA", answer={rr(E, 60, "SOA", E_SOA)}, authority=set())
        self.expect(R, "SOA", answer=APEX_RRSETS["SOA"], authority=set())

    def test_apex_ns_carries_in_zone_addresses(self):
        self.expect(E, "NS", answer={rr(E, 60, "NS", "ns1.erl.internal.")},
                    additional_has={rr("ns1." + E, 60, "A", "127.0.0.1"),
                                    rr("ns1." + E, 60, "AAAA", "::1")})
        self.expect(R, "NS", answer=APEX_RRSETS["NS"],
                    additional_has={rr("ns1." + R, 300, "A", "192.0.2.1"),
                                    rr("ns1." + R, 300, "AAAA", "2001:db8::1"),
                                    rr("ns2." + R, 300, "A", "192.0.2.2")})

    def test_host_addresses(self):
        self.expect("host1." + E, "A", answer={rr("host1." + E, 60, "A", "127.0.0.1")})
        self.expect("host1." + E, "AAAA", answer={rr("host1." + E, 60, "AAAA", "::1")})

    def test_one_srv_query_yields_port_address_and_txt(self):
        self.expect(APP1, "SRV", answer={APP1_SRV}, authority=set(),
                    additional_has=HOST1_ADDRS | {APP1_TXT})

    def test_host_browse_ptr_carries_srv_txt_and_addresses(self):
        self.expect("_erlang-dist._tcp.host1." + E, "PTR",
                    answer={rr("_erlang-dist._tcp.host1." + E, 60, "PTR", APP1)},
                    additional_has={APP1_SRV, APP1_TXT} | HOST1_ADDRS)

    def test_cluster_browse_ptr_carries_every_node(self):
        self.expect("_erlang-dist._tcp." + E, "PTR",
                    answer={rr("_erlang-dist._tcp." + E, 60, "PTR", APP1),
                            rr("_erlang-dist._tcp." + E, 60, "PTR", APP2)},
                    additional_has={APP1_SRV, APP1_TXT, APP2_SRV, APP2_TXT}
                    | HOST1_ADDRS | HOST2_ADDRS)

    def test_service_enumeration_ptr(self):
        self.expect("_services._dns-sd._udp." + E, "PTR",
                    answer={rr("_services._dns-sd._udp." + E, 60, "PTR",
                               "_erlang-dist._tcp.erl.internal.")})

    def test_rules_browse_ptr_carries_every_instance(self):
        b = "_erlang-dist._tcp." + R
        instances = ["app1._erlang-dist._tcp.host1." + R, "app2._erlang-dist._tcp.host1." + R,
                     "app3._erlang-dist._tcp.host2." + R]
        self.expect(b, "PTR", answer={rr(b, 300, "PTR", i) for i in instances},
                    additional_has={
                        rr(instances[0], 300, "SRV", "0 0 4370 host1.rules.test."),
                        rr(instances[1], 300, "SRV", "0 0 4371 host1.rules.test."),
                        rr(instances[2], 300, "SRV", "0 0 4372 host2.rules.test."),
                        rr("host1." + R, 300, "A", "192.0.2.11"),
                        rr("host1." + R, 300, "AAAA", "2001:db8::11"),
                        rr("host2." + R, 300, "A", "192.0.2.12")}
                    | {rr(i, 300, "TXT", '"vsn=6"') for i in instances})

    # --- negative answers

    def test_nxdomain_carries_soa_with_negative_ttl(self):
        self.expect_nxdomain("nosuch." + E, "A", E_NEG_SOA)
        self.expect_nxdomain("nosuch." + R, "TXT", R_NEG_SOA)
        self.expect_nxdomain("deeper.nosuch." + R, "A", R_NEG_SOA)

    def test_nodata_carries_soa_with_negative_ttl(self):
        self.expect_nodata("host2." + E, "AAAA", E_NEG_SOA)
        self.expect_nodata("www." + R, "MX", R_NEG_SOA)
        self.expect_nodata(APP1, "A", E_NEG_SOA)

    def test_empty_non_terminals_are_nodata(self):
        self.expect_nodata("b.c." + R, "A", R_NEG_SOA)
        self.expect_nodata("c." + R, "TXT", R_NEG_SOA)
        self.expect_nodata("_tcp.host1." + E, "PTR", E_NEG_SOA)
        self.expect_nodata("_dns-sd._udp." + E, "PTR", E_NEG_SOA)
        self.expect("a.b.c." + R, "A", answer={rr("a.b.c." + R, 300, "A", "192.0.2.3")})

    def test_name_below_empty_non_terminal_is_nxdomain(self):
        self.expect_nxdomain("x.c." + R, "A", R_NEG_SOA)
        self.expect_nxdomain("x.b.c." + R, "A", R_NEG_SOA)

    def test_names_outside_served_zones_are_refused(self):
        for qname in ("example.com.", "internal.", "test.", "erl.internal.example.", "."):
            self.expect(qname, "SOA" if qname == "." else "A", "REFUSED", aa=False,
                        answer=set(), authority=set())

    # --- case, RD, compression

    def test_question_case_is_preserved(self):
        qname = "HoSt1.ErL.InTeRnAl."

        def check(r):
            self.assertEqual(r.status, "NOERROR")
            # dig prints the question as received; kdig lowercases it when printing.
            self.assertEqual(r.question[0][0], qname)
            self.assertEqual({x[1:] for x in r.answer}, {(60, "A", "127.0.0.1")})
        self.each(qname, "A", check, tools=("dig",))
        q = harness.make_query(qname, "A")
        r, _ = harness.udp_query_wire(self.server, q)
        self.assertEqual(r.question[0].name.to_text(), qname)
        self.expect("wWw.RULES.test.", "A", answer={r_ for r_ in WWW if r_[2] == "A"})

    def test_mixed_case_owner_matches_any_case(self):
        want = {rr("mixedcase." + R, 300, "A", "192.0.2.99")}
        self.expect("mixedcase." + R, "A", answer=want)
        self.expect("MIXEDCASE.rules.test.", "A", answer=want)

    def test_rd_is_copied(self):
        def check(r):
            self.assertEqual(r.status, "NOERROR")
            self.assertNotIn("rd", r.flags)
        self.each("host1." + E, "A", check, rd=False)

    def test_names_are_compressed(self):
        r, wire = harness.udp_query_wire(self.server, harness.make_query(R, "NS"))
        self.assertEqual(len(r.answer), 1)
        self.assertLess(len(wire), harness.uncompressed_size(r),
                        "response does not use name compression")
        answer_start = 12 + len(harness.wire_name(R)) + 4
        self.assertEqual(wire[answer_start] & 0xC0, 0xC0,
                         "answer owner should be a pointer to the question name")

    # --- CNAME

    def test_cname_chain_is_followed_inside_the_zone(self):
        self.expect("chain1." + R, "A", answer={
            rr("chain1." + R, 300, "CNAME", "chain2.rules.test."),
            rr("chain2." + R, 300, "CNAME", "chain3.rules.test."),
            rr("chain3." + R, 300, "CNAME", "www.rules.test."),
            rr("www." + R, 300, "A", "192.0.2.80")}, authority=set())

    def test_cname_chain_ending_in_nodata(self):
        self.expect("chain2." + R, "MX", "NOERROR", answer={
            rr("chain2." + R, 300, "CNAME", "chain3.rules.test."),
            rr("chain3." + R, 300, "CNAME", "www.rules.test.")}, authority={R_NEG_SOA})

    def test_cname_query_is_not_followed(self):
        self.expect("chain1." + R, "CNAME",
                    answer={rr("chain1." + R, 300, "CNAME", "chain2.rules.test.")})

    def test_cname_out_of_zone_is_not_followed(self):
        self.expect("outside." + R, "A", answer={
            rr("outside." + R, 300, "CNAME", "www.elsewhere.example.")}, authority=set())

    def test_cname_to_missing_name_is_nxdomain(self):
        # RFC 6604 section 3: the rcode describes the last name in the chain.
        self.expect("dangling." + R, "A", "NXDOMAIN", answer={
            rr("dangling." + R, 300, "CNAME", "nothere.rules.test.")}, authority={R_NEG_SOA})

    # --- wildcards (RFC 4592)

    def test_wildcard_synthesises_the_asked_name(self):
        self.expect("foo.wild." + R, "A", answer={rr("foo.wild." + R, 300, "A", "192.0.2.42")})
        self.expect("foo.wild." + R, "TXT",
                    answer={rr("foo.wild." + R, 300, "TXT", '"wildcard"')})
        self.expect("a.b.wild." + R, "A", answer={rr("a.b.wild." + R, 300, "A", "192.0.2.42")})

    def test_wildcard_nodata(self):
        self.expect_nodata("foo.wild." + R, "MX", R_NEG_SOA)

    def test_existing_name_blocks_wildcard(self):
        self.expect("exists.wild." + R, "A",
                    answer={rr("exists.wild." + R, 300, "A", "192.0.2.43")})
        self.expect_nodata("exists.wild." + R, "TXT", R_NEG_SOA)
        self.expect_nxdomain("x.exists.wild." + R, "A", R_NEG_SOA)

    def test_empty_non_terminal_blocks_wildcard(self):
        self.expect_nodata("ent.wild." + R, "A", R_NEG_SOA)
        self.expect_nxdomain("other.ent.wild." + R, "A", R_NEG_SOA)
        self.expect_nodata("wild." + R, "A", R_NEG_SOA)

    def test_wildcard_cname_is_followed(self):
        self.expect("foo.cwild." + R, "A", answer={
            rr("foo.cwild." + R, 300, "CNAME", "www.rules.test."),
            rr("www." + R, 300, "A", "192.0.2.80")})

    # --- ANY (RFC 8482)

    def test_any_over_udp_is_one_rrset_of_the_owner(self):
        for qname, rrsets in ((R, APEX_RRSETS),
                              ("www." + R, {"A": {x for x in WWW if x[2] == "A"},
                                            "AAAA": {x for x in WWW if x[2] == "AAAA"}})):
            def check(r, rrsets=rrsets):
                self.assertEqual(r.status, "NOERROR")
                self.assertIn("aa", r.flags)
                types = {x[2] for x in r.answer}
                self.assertEqual(len(types), 1, "exactly one RRset expected")
                (t,) = types
                self.assertIn(t, rrsets)
                self.assertEqual(set(r.answer), rrsets[t])
            self.each(qname, "ANY", check, transports=UDP)

    def test_any_over_tcp_is_every_rrset(self):
        self.expect(R, "ANY", answer=set().union(*APEX_RRSETS.values()), transports=TCP)
        self.expect("www." + R, "ANY", answer=WWW, transports=TCP)

    # --- delegation

    def test_delegation_gives_referral_with_glue(self):
        for qname, qtype in (("www.sub." + R, "A"), ("sub." + R, "NS"), ("ns.sub." + R, "A"),
                             ("deep.www.sub." + R, "TXT")):
            self.expect(qname, qtype, "NOERROR", aa=False, answer=set(), authority=SUB_NS,
                        additional_has=SUB_GLUE)

    # --- additional-section processing

    def test_mx_carries_in_zone_target_addresses(self):
        self.expect(R, "MX", answer=APEX_RRSETS["MX"],
                    additional_has={rr("mail." + R, 300, "A", "192.0.2.25"),
                                    rr("mail." + R, 300, "AAAA", "2001:db8::25")})

    def test_srv_carries_in_zone_target_addresses(self):
        self.expect("_xmpp._tcp." + R, "SRV",
                    answer={rr("_xmpp._tcp." + R, 300, "SRV", "0 0 5222 www.rules.test."),
                            rr("_xmpp._tcp." + R, 300, "SRV",
                               "5 0 5269 jabber.elsewhere.example.")},
                    additional_has=WWW)
        self.expect("_sip._udp." + R, "SRV", answer={
            rr("_sip._udp." + R, 300, "SRV", "10 5 5060 sip.elsewhere.example.")})


if __name__ == "__main__":
    unittest.main()
