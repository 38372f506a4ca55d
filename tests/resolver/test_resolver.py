"""The resolver library (resolver/) against real servers: epmdnsd and Knot DNS.

Every case runs epmdns_resolve ($EPMDNS_RESOLVE), which makes one Resolver call and prints
its result as a JSON line. Servers listen on loopback at free ports; a small relay in front
of a server records which queries the resolver sent (over UDP and TCP), and can answer
every UDP query with TC set to force TCP. Zones: tests/resolver/zones/.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import harness  # noqa: E402
import dns.flags  # noqa: E402
import dns.name  # noqa: E402
import dns.message  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONES = os.path.join(HERE, "zones")
ZONE = "resolver.test."
ZONE_FILES = [(ZONE, os.path.join(ZONES, "resolver.test.zone")),
              ("elsewhere.test.", os.path.join(ZONES, "elsewhere.test.zone"))]
RUN_TIMEOUT = 10.0  # seconds for one epmdns_resolve run (its own bound is 1 s)
TIME_BOUND_CHECK = 3.0  # a call bounded at 1 s must be over well within this


def resolve_tool():
    path = os.environ.get("EPMDNS_RESOLVE")
    if not path or not os.access(path, os.X_OK):
        raise harness.HarnessError("EPMDNS_RESOLVE must name the epmdns_resolve binary "
                                   "(ctest sets it)")
    return path


def resolve(servers, *command, domain=ZONE, options=()):
    """Runs one call; its JSON result."""
    argv = [resolve_tool(), "--servers", ",".join(servers), "--domain", domain, *options, *command]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}: {done.stderr}")
    return json.loads(done.stdout)


def addr(host, port):
    return harness.listen_arg(host, port)


class Relay:
    """A DNS relay on 127.0.0.1 (UDP and TCP, one port) to an upstream server, logging
    (protocol, qname, qtype) of every query. truncate_udp: answer UDP queries with an
    empty TC response instead of relaying them. drop: query types never answered."""

    def __init__(self, cleanup, upstream, truncate_udp=False, drop=()):
        self.upstream = upstream  # (host, port)
        self.truncate_udp = truncate_udp
        self.drop = drop
        self.log = []
        self.edns = []  # (protocol, EDNS UDP size or None) of every query, in order
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.udp, self.tcp = self._bind()
        self.port = self.udp.getsockname()[1]
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        cleanup(self.close)
        for t in self.threads:
            t.start()

    def _bind(self, attempts=20):
        for _ in range(attempts):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            udp.settimeout(0.1)
            tcp.settimeout(0.1)
            return udp, tcp
        raise harness.HarnessError("no free port for the relay")

    def close(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=5)
        self.udp.close()
        self.tcp.close()

    def queries(self, proto=None):
        with self.lock:
            return [(p, n, t) for p, n, t in self.log if proto is None or p == proto]

    def _record(self, proto, wire):
        """Logs one query; its message, or None for an UPDATE (logged with type "UPDATE"
        and its zone: it is relayed as bytes, its TSIG unchecked)."""
        if len(wire) > 12 and (wire[2] >> 3) & 0xF == 5:
            zone, _ = dns.name.from_wire(wire, 12)
            with self.lock:
                self.log.append((proto, zone.to_text().lower(), "UPDATE"))
                self.edns.append((proto, None))
            return None
        q = dns.message.from_wire(wire)
        with self.lock:
            self.log.append((proto, q.question[0].name.to_text().lower(),
                             dns.rdatatype.to_text(q.question[0].rdtype)))
            self.edns.append((proto, q.payload if q.edns >= 0 else None))
        return q

    def _udp_loop(self):
        while not self.stopping.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            q = self._record("udp", data)
            if q is not None and dns.rdatatype.to_text(q.question[0].rdtype) in self.drop:
                continue
            if self.truncate_udp:
                self.udp.sendto(truncated_answer(data), peer)
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2.0)
                up.sendto(data, self.upstream)
                try:
                    self.udp.sendto(up.recv(65535), peer)
                except socket.timeout:
                    pass

    def _tcp_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_connection, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_message(sock):
        head = harness_recv_exactly(sock, 2)
        if head is None:
            return None
        return harness_recv_exactly(sock, struct.unpack("!H", head)[0])

    def _tcp_connection(self, conn):
        with conn, socket.create_connection(self.upstream, timeout=2.0) as up:
            conn.settimeout(2.0)
            while not self.stopping.is_set():
                try:
                    msg = self._read_message(conn)
                    if msg is None:
                        return
                    self._record("tcp", msg)
                    up.sendall(struct.pack("!H", len(msg)) + msg)
                    answer = self._read_message(up)
                    if answer is None:
                        return
                    conn.sendall(struct.pack("!H", len(answer)) + answer)
                except (socket.timeout, OSError):
                    return


def truncated_answer(query):
    """An empty answer with TC set to a query or UPDATE (its header and first question or
    zone, no records): the client must ask again over TCP."""
    end = 12
    while query[end] != 0:
        end += query[end] + 1
    end += 5
    flags = struct.unpack("!H", query[2:4])[0] | 0x8000 | 0x0200  # QR, TC
    return query[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + query[12:end]


def harness_recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class DeadServer:
    """A UDP socket on loopback that reads queries and never answers."""

    def __init__(self, cleanup):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        cleanup(self.sock.close)


class Script:
    """One epmdns_resolve process (one Resolver, one cache) running many calls: each
    call() writes one command line and reads its JSON line."""

    def __init__(self, cleanup, servers, domain=ZONE, options=()):
        argv = [resolve_tool(), "--servers", ",".join(servers), "--domain", domain,
                *options, "script"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        cleanup(self.close)

    def call(self, *command):
        self.proc.stdin.write(" ".join(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"epmdns_resolve exited {self.proc.poll()} on {command}")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


class ResolverTestBase(unittest.TestCase):
    def epmdnsd(self, hosts=("127.0.0.1",)):
        return harness.start_epmdnsd(self.addCleanup, hosts=hosts, zones=ZONES, ready_zone=ZONE)

    def knotd(self):
        return harness.start_knotd(self.addCleanup, ZONE_FILES)

    def assert_node(self, result, address, port, version):
        self.assertEqual(result["status"], "ok", result)
        self.assertEqual((result["address"], result["port"], result["version"]),
                         (address, port, version), result)


class AdditionalSectionTest(ResolverTestBase):
    """Against epmdnsd, whose SRV answers carry A/AAAA and TXT: one query per lookup."""

    def test_one_srv_query_gives_address_port_and_version(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        result = resolve([addr("127.0.0.1", relay.port)], "node", "app2@host2")
        self.assert_node(result, "127.0.0.2", 4371, 5)
        self.assertEqual(result["ttl"], 60)
        self.assertEqual(relay.queries(),
                         [("udp", "app2._erlang-dist._tcp.host2.resolver.test.", "SRV")])

    def test_queries_carry_edns(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        server = [addr("127.0.0.1", relay.port)]
        resolve(server, "node", "app1@host1")
        resolve(server, "node", "app1@host1", options=("--udp-payload", "4096"))
        resolve(server, "node", "app1@host1", options=("--udp-payload", "0"))
        self.assertEqual(relay.edns, [("udp", 1232), ("udp", 4096), ("udp", None)])

    def test_short_and_full_host_names_are_the_same_node(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        short = resolve(server, "node", "app1@host1")
        full = resolve(server, "node", "app1@host1.resolver.test.")
        no_dot = resolve(server, "node", "app1@host1.resolver.test")
        self.assert_node(short, "127.0.0.1", 4370, 6)
        self.assertEqual(short, {**full, "elapsed_ms": short["elapsed_ms"]})
        self.assertEqual(short, {**no_dot, "elapsed_ms": short["elapsed_ms"]})

    def test_owner_name_is_lower_cased(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        self.assert_node(resolve([addr("127.0.0.1", relay.port)], "node", "App1@HOST1"),
                         "127.0.0.1", 4370, 6)
        self.assertEqual(relay.queries()[0][1], "app1._erlang-dist._tcp.host1.resolver.test.")

    def test_ipv6_server_and_aaaa(self):
        server = self.epmdnsd(hosts=("::1",))
        result = resolve([addr("::1", server.port)], "node", "app1@host1", "inet6")
        self.assert_node(result, "::1", 4370, 6)

    def test_missing_txt_means_version_6(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        self.assert_node(resolve(server, "node", "app3@host3"), "127.0.0.3", 4372, 6)

    def test_not_found(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        for command in (("node", "nope@host1"), ("node", "app1@nohost"),
                        ("node", "app2@host2", "inet6")):  # host2 has no AAAA
            with self.subTest(command=command):
                self.assertEqual(resolve(server, *command)["status"], "not_found")
        self.assertEqual(resolve(server, "node", "no-at-sign")["status"], "bad_name")

    def test_many_lookups_at_once(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        result = resolve(server, "node", "app1@host1", options=("--parallel", "300"))
        self.assertEqual(result["ok_count"], 300, result)
        self.assert_node(result, "127.0.0.1", 4370, 6)

    def test_names_and_nodes(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        self.assertEqual(resolve(server, "names", "host1")["names"], [["app1", 4370]])
        nodes = resolve(server, "nodes", "resolver.test")
        self.assertEqual(nodes["status"], "ok")
        self.assertEqual(sorted(nodes["nodes"]),
                         [f"app{i}@host{i}.resolver.test" for i in range(1, 5)])
        self.assertEqual(resolve(server, "names", "nohost")["status"], "not_found")


class FallbackTest(ResolverTestBase):
    """Against Knot DNS, which does not add the TXT to SRV additionals: the resolver asks
    for what is missing, and gets the same results as from epmdnsd."""

    def test_same_results_as_epmdnsd(self):
        knot = [addr("127.0.0.1", self.knotd().port)]
        epmdnsd = [addr("127.0.0.1", self.epmdnsd().port)]
        for command in (("node", "app1@host1"), ("node", "app1@host1", "inet6"),
                        ("node", "app2@host2"), ("node", "app3@host3"),
                        ("node", "app4@host4"), ("node", "app4@host4", "inet6"),
                        ("node", "nope@host1"), ("names", "host1"), ("nodes", "resolver.test")):
            with self.subTest(command=command):
                a, b = resolve(knot, *command), resolve(epmdnsd, *command)
                a.pop("elapsed_ms")
                b.pop("elapsed_ms")
                if "nodes" in a:
                    a["nodes"].sort()
                    b["nodes"].sort()
                self.assertEqual(a, b)

    def test_txt_asked_separately(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.knotd().port))
        self.assert_node(resolve([addr("127.0.0.1", relay.port)], "node", "app2@host2"),
                         "127.0.0.2", 4371, 5)
        asked = relay.queries()
        self.assertEqual(asked[0], ("udp", "app2._erlang-dist._tcp.host2.resolver.test.", "SRV"))
        self.assertIn(("udp", "app2._erlang-dist._tcp.host2.resolver.test.", "TXT"), asked)

    def test_out_of_zone_target_address_asked_separately(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.knotd().port))
        self.assert_node(resolve([addr("127.0.0.1", relay.port)], "node", "app4@host4"),
                         "192.0.2.44", 4373, 6)
        self.assertIn(("udp", "target.elsewhere.test.", "A"), relay.queries())


    def test_unanswered_txt_means_version_6_at_the_bound(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.knotd().port), drop=("TXT",))
        result = resolve([addr("127.0.0.1", relay.port)], "node", "app2@host2")
        self.assert_node(result, "127.0.0.2", 4371, 6)
        self.assertLess(result["elapsed_ms"], TIME_BOUND_CHECK * 1000, result)


class ResolvConfTest(ResolverTestBase):
    """No server list: the servers come from a resolv.conf (/etc/resolv.conf by default; here
    a file of the test's). A resolv.conf names no port, so epmdnsd listens on port 53 of a
    spare loopback address (the tests run as root, as scripts/test.sh does)."""

    def epmdnsd_on_port_53(self):
        tried = []
        for last in range(53, 80):
            host = f"127.0.0.{last}"
            workdir = harness.temp_dir(self.addCleanup, "epmdnsd-53-")
            argv = [harness.epmdnsd_path(), "--listen", f"{host}:53", "--zones", ZONES]
            server = harness.Server("epmdnsd", argv, workdir, [(host, 53)])
            self.addCleanup(server.stop)
            try:
                server.wait_answers_soa(ZONE)
                return host
            except harness.HarnessError as e:
                tried.append(f"{host}: {str(e).splitlines()[-1] if str(e) else e}")
                server.stop()
        self.fail("epmdnsd could not listen on port 53 of any of 127.0.0.53-79:\n" + "\n".join(tried))

    def test_servers_from_resolv_conf(self):
        host = self.epmdnsd_on_port_53()
        conf = os.path.join(harness.temp_dir(self.addCleanup, "resolv-conf-"), "resolv.conf")
        with open(conf, "w") as f:
            f.write(f"# written by test_resolver.py\nnameserver {host}\noptions timeout:1 attempts:1\n")
        argv = [resolve_tool(), "--resolv-conf", conf, "--domain", ZONE, "node", "app2@host2"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assert_node(json.loads(done.stdout), "127.0.0.2", 4371, 5)


class FailoverAndTimeTest(ResolverTestBase):
    def test_closed_port_first_fails_over_to_the_second(self):
        closed = harness.free_port()
        server = self.epmdnsd()
        result = resolve([addr("127.0.0.1", closed), addr("127.0.0.1", server.port)],
                         "node", "app1@host1")
        self.assert_node(result, "127.0.0.1", 4370, 6)

    def test_refused_by_the_first_fails_over_to_the_second(self):
        # epmdnsd serving only its built-in zone answers REFUSED for resolver.test.
        other = harness.start_epmdnsd(self.addCleanup)
        knot = self.knotd()
        result = resolve([addr("127.0.0.1", other.port), addr("127.0.0.1", knot.port)],
                         "node", "app2@host2")
        self.assert_node(result, "127.0.0.2", 4371, 5)
        # Every server REFUSED: a server failure, not a timeout, and it says which.
        refused = resolve([addr("127.0.0.1", other.port)], "node", "app2@host2")
        self.assertEqual((refused["status"], refused["failure"]), ("server_failure", "refused"),
                         refused)

    def test_dead_server_first_fails_over_within_the_bound(self):
        dead = DeadServer(self.addCleanup)
        server = self.epmdnsd()
        result = resolve([addr("127.0.0.1", dead.port), addr("127.0.0.1", server.port)],
                         "node", "app1@host1")
        self.assert_node(result, "127.0.0.1", 4370, 6)

    def test_dead_server_hits_the_time_bound(self):
        dead = DeadServer(self.addCleanup)
        for command in (("node", "app1@host1"), ("names", "host1"), ("nodes", "")):
            with self.subTest(command=command):
                result = resolve([addr("127.0.0.1", dead.port)], *command)
                self.assertEqual(result["status"], "timeout", result)
                self.assertEqual(result["failure"], "timed_out", result)
                # The documented bound is 1 s; this only checks that it holds at all.
                self.assertLess(result["elapsed_ms"], TIME_BOUND_CHECK * 1000, result)

    def test_every_server_closed_is_unreachable_not_a_hang(self):
        # No server reachable is reported like no answer in time (kTimeout), not like a
        # server's error answer; `failure` tells the two apart.
        closed = [addr("127.0.0.1", harness.free_port()), addr("::1", harness.free_port(("::1",)))]
        for command in (("node", "app1@host1"), ("names", "host1"), ("nodes", "")):
            with self.subTest(command=command):
                result = resolve(closed, *command)
                self.assertEqual((result["status"], result["failure"]), ("timeout", "unreachable"),
                                 result)
                self.assertLess(result["elapsed_ms"], TIME_BOUND_CHECK * 1000, result)

    def test_refused_then_unreachable_is_a_server_failure(self):
        other = harness.start_epmdnsd(self.addCleanup)  # REFUSED for resolver.test.
        result = resolve([addr("127.0.0.1", other.port), addr("127.0.0.1", harness.free_port())],
                         "node", "app2@host2")
        self.assertEqual((result["status"], result["failure"]), ("server_failure", "refused"),
                         result)

    def test_ipv6_failover_to_the_second_server(self):
        server = self.epmdnsd(hosts=("::1",))
        dead = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        dead.bind(("::1", 0))
        self.addCleanup(dead.close)
        for first in (addr("::1", dead.getsockname()[1]), addr("::1", harness.free_port(("::1",)))):
            with self.subTest(first=first):
                result = resolve([first, addr("::1", server.port)], "node", "app1@host1", "inet6")
                self.assert_node(result, "::1", 4370, 6)


class TruncationTest(ResolverTestBase):
    """An answer that does not fit UDP is asked again over TCP (c-ares without IGNTC)."""

    def big_names(self, result):
        self.assertEqual(result["status"], "ok", result)
        self.assertEqual(sorted(result["names"]),
                         [[f"n{i:03d}", 5000 + i] for i in range(100)])

    def test_browse_list_overflowing_udp(self):
        for name, start in (("epmdnsd", self.epmdnsd), ("knotd", self.knotd)):
            with self.subTest(server=name):
                relay = Relay(self.addCleanup, ("127.0.0.1", start().port))
                self.big_names(resolve([addr("127.0.0.1", relay.port)], "names", "big"))
                self.assertIn(("udp", "_erlang-dist._tcp.big.resolver.test.", "PTR"),
                              relay.queries())
                self.assertIn(("tcp", "_erlang-dist._tcp.big.resolver.test.", "PTR"),
                              relay.queries())

    def test_without_edns(self):
        server = [addr("127.0.0.1", self.epmdnsd().port)]
        self.big_names(resolve(server, "names", "big", options=("--udp-payload", "0")))
        self.assert_node(resolve(server, "node", "app2@host2", options=("--udp-payload", "0")),
                         "127.0.0.2", 4371, 5)

    def test_tc_answer_is_retried_over_tcp(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port), truncate_udp=True)
        self.assert_node(resolve([addr("127.0.0.1", relay.port)], "node", "app2@host2"),
                         "127.0.0.2", 4371, 5)
        self.assertEqual(relay.queries("tcp"),
                         [("tcp", "app2._erlang-dist._tcp.host2.resolver.test.", "SRV")])


class ConcurrencyTest(ResolverTestBase):
    """Issue 4: 100,000 concurrent lookups on one channel complete without stalling. Not a
    timing test: every lookup must come back with its own right answer, and the whole run
    must end within a generous bound (a stall costs c-ares a whole attempt timeout, so a
    few of them would show)."""

    COUNT = 100000
    BULK = "bulk.test."

    def bulk_zone(self):
        directory = harness.temp_dir(self.addCleanup, "resolver-bulk-")
        lines = [f"$ORIGIN {self.BULK}\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n"
                 "@ IN NS ns1\nns1 IN A 127.0.0.1\n"]
        for i in range(self.COUNT):
            lines.append(f"h{i} IN A {self.address(i)}\n"
                         f"n{i}._erlang-dist._tcp.h{i} IN SRV 0 0 {self.port(i)} h{i}\n"
                         f"n{i}._erlang-dist._tcp.h{i} IN TXT \"vsn={5 + i % 2}\"\n")
        with open(os.path.join(directory, "bulk.test.zone"), "w") as f:
            f.write("".join(lines))
        return directory

    @staticmethod
    def address(i):
        return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"

    @staticmethod
    def port(i):
        return 10000 + i % 50000

    def test_100000_lookups_at_once(self):
        server = harness.start_epmdnsd(self.addCleanup, zones=self.bulk_zone(), ready_zone=self.BULK)
        argv = [resolve_tool(), "--servers", addr("127.0.0.1", server.port), "--domain", self.BULK,
                "--timeout-ms", "30000", "many", str(self.COUNT), "n{i}@h{i}"]
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        wall = time.monotonic() - started
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        summary = json.loads(lines[0])
        self.assertEqual((summary["count"], summary["ok_count"]), (self.COUNT, self.COUNT), summary)
        self.assertEqual(len(lines), self.COUNT + 1)
        wrong = []
        for i, line in enumerate(lines[1:]):
            expected = f"{i} ok {self.port(i)} {self.address(i)} {5 + i % 2}"
            if line != expected:
                wrong.append((line, expected))
        self.assertEqual(wrong[:5], [], f"{len(wrong)} wrong answers")
        # Generous: about 1-4 s here; one c-ares attempt timeout is 10 s.
        self.assertLess(summary["elapsed_ms"], 30000, summary)
        print(f"\n100,000 lookups: {summary['elapsed_ms']} ms ({wall:.1f} s for the process)",
              file=sys.stderr)


class CacheTest(ResolverTestBase):
    """The cache in front of the lookups, in one process (epmdns_resolve script)."""

    SRV1 = ("udp", "app1._erlang-dist._tcp.host1.resolver.test.", "SRV")
    SRV5 = ("udp", "app5._erlang-dist._tcp.quick.resolver.test.", "SRV")

    def test_second_lookup_is_served_from_the_cache(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        script = Script(self.addCleanup, [addr("127.0.0.1", relay.port)])
        first = script.call("node", "app1@host1")
        second = script.call("node", "App1@HOST1")  # the same node
        self.assert_node(first, "127.0.0.1", 4370, 6)
        self.assert_node(second, "127.0.0.1", 4370, 6)
        self.assertFalse(second["stale"])
        self.assertLessEqual(second["ttl"], 60)
        self.assertEqual(relay.queries(), [self.SRV1])
        # The other family, names and nodes are cached apart.
        self.assertEqual(script.call("node", "app1@host1", "inet6")["address"], "::1")
        for _ in range(2):
            self.assertEqual(script.call("names", "host1")["names"], [["app1", 4370]])
            self.assertEqual(len(script.call("nodes", "resolver.test")["nodes"]), 4)
        self.assertEqual(relay.queries(),
                         [self.SRV1, self.SRV1,
                          ("udp", "_erlang-dist._tcp.host1.resolver.test.", "PTR"),
                          ("udp", "_erlang-dist._tcp.resolver.test.", "PTR")])

    def test_negative_answer_is_cached(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        script = Script(self.addCleanup, [addr("127.0.0.1", relay.port)])
        first = script.call("node", "nope@host1")
        self.assertEqual(first["status"], "not_found")
        self.assertEqual(first["ttl"], 30)  # min(SOA TTL, MINIMUM), RFC 2308
        self.assertEqual(script.call("node", "nope@host1")["status"], "not_found")
        self.assertEqual(len(relay.queries()), 1)

    def test_many_identical_lookups_share_one_query(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        result = resolve([addr("127.0.0.1", relay.port)], "node", "app2@host2",
                         options=("--parallel", "50"))
        self.assertEqual(result["ok_count"], 50, result)
        self.assertEqual(relay.queries(),
                         [("udp", "app2._erlang-dist._tcp.host2.resolver.test.", "SRV")])

    def test_expiry_then_a_fresh_query(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        script = Script(self.addCleanup, [addr("127.0.0.1", relay.port)])
        first = script.call("node", "app5@quick")
        self.assert_node(first, "127.0.0.5", 4374, 6)
        self.assertEqual(first["ttl"], 1)
        time.sleep(1.3)
        again = script.call("node", "app5@quick")
        self.assert_node(again, "127.0.0.5", 4374, 6)
        self.assertFalse(again["stale"])
        self.assertEqual(relay.queries(), [self.SRV5, self.SRV5])

    def test_hot_entry_is_refreshed_before_it_expires(self):
        # TTL 1 s: a hit in its last 15 % (after 0.85 s) is answered from memory and starts
        # one background query; the renewed entry then outlives the first TTL.
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        script = Script(self.addCleanup, [addr("127.0.0.1", relay.port)])
        started = time.monotonic()
        self.assert_node(script.call("node", "app5@quick"), "127.0.0.5", 4374, 6)
        time.sleep(max(0.0, 0.9 - (time.monotonic() - started)))
        hot = script.call("node", "app5@quick")
        if time.monotonic() - started >= 1.0:
            self.skipTest("too slow to land inside the refresh window")
        self.assert_node(hot, "127.0.0.5", 4374, 6)
        self.assertFalse(hot["stale"])
        self.assertTrue(harness.wait_until(lambda: len(relay.queries()) == 2, 2.0), relay.queries())
        time.sleep(max(0.0, 1.2 - (time.monotonic() - started)))  # past the first TTL
        renewed = script.call("node", "app5@quick")
        self.assert_node(renewed, "127.0.0.5", 4374, 6)
        self.assertEqual(relay.queries(), [self.SRV5, self.SRV5])  # from the renewed entry

    def test_without_cache_every_lookup_queries(self):
        relay = Relay(self.addCleanup, ("127.0.0.1", self.epmdnsd().port))
        script = Script(self.addCleanup, [addr("127.0.0.1", relay.port)], options=("--no-cache",))
        for _ in range(2):
            self.assert_node(script.call("node", "app1@host1"), "127.0.0.1", 4370, 6)
        self.assertEqual(relay.queries(), [self.SRV1, self.SRV1])

    def test_serve_stale_after_the_server_is_killed(self):
        server = self.epmdnsd()
        servers = [addr("127.0.0.1", server.port)]
        script = Script(self.addCleanup, servers)
        no_stale = Script(self.addCleanup, servers, options=("--stale-for-s", "0"))
        for s in (script, no_stale):
            fresh = s.call("node", "app5@quick")
            self.assert_node(fresh, "127.0.0.5", 4374, 6)
            self.assertFalse(fresh["stale"])
            self.assertEqual(s.call("names", "host1")["names"], [["app1", 4370]])
        server.stop(signal.SIGKILL)
        time.sleep(1.3)  # app5's TTL of 1 s is over; nothing answers any more
        stale = script.call("node", "app5@quick")
        self.assert_node(stale, "127.0.0.5", 4374, 6)
        self.assertTrue(stale["stale"], stale)
        self.assertLess(stale["elapsed_ms"], TIME_BOUND_CHECK * 1000, stale)
        # Still fresh (TTL 60): from memory, not stale.
        self.assertFalse(script.call("names", "host1")["stale"])
        # Without a stale window the failure itself.
        self.assertIn(no_stale.call("node", "app5@quick")["status"], ("server_failure", "timeout"))


if __name__ == "__main__":
    unittest.main()
