"""The epmdns epmd module on real Erlang nodes against the real epmdnsd, on loopback.

No EPMD anywhere: nothing may listen on TCP 4369 before or after. Nodes run with
-epmd_module epmdns -start_epmd false and find each other through epmdnsd only.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("EPMDNS_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration", "lib"))
import harness  # noqa: E402

ZONE = harness.BUNDLED_ORIGIN
NODE_RUN_TIMEOUT = 40.0  # seconds for a driver node's whole run
WAIT = 15.0  # seconds for a record to appear or vanish
LEASE = 2  # seconds: renewals must keep the node registered past it


def ebin():
    path = os.environ.get("EPMDNS_EBIN")
    if not path or not os.path.isfile(os.path.join(path, "epmdns.beam")):
        raise harness.HarnessError("EPMDNS_EBIN must name the built epmdns ebin directory")
    return path


def test_ebin():
    path = os.environ.get("EPMDNS_TEST_EBIN")
    if not path or not os.path.isfile(os.path.join(path, "epmdns_it.beam")):
        raise harness.HarnessError("EPMDNS_TEST_EBIN must name the compiled test helpers")
    return path


def erl_argv(node, server, extra=()):
    return ["erl", "-noshell", "-pa", ebin(), "-pa", test_ebin(), "-epmd_module", "epmdns",
            "-start_epmd", "false", "-name", node, "-setcookie", "epmdnstest",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
            "-epmdns_servers", harness.listen_arg(server.host, server.port), *extra]


def node_env(extra=None):
    env = dict(os.environ)
    for var in ("EPMDNS_SERVERS", "EPMDNS_KEY", "EPMDNS_DOMAIN", "EPMDNS_LEASE", "EPMDNS_ADDRESS",
                "EPMDNS_STRICT", "EPMDNS_AUTOCONNECT"):
        env.pop(var, None)
    env.update(extra or {})
    return env


def start_node(cleanup, name, argv, env=None):
    workdir = harness.temp_dir(cleanup, "epmdns-node-")
    proc = harness.Process(name, argv, workdir, env=node_env(env))
    cleanup(proc.stop)
    return proc


def output(proc):
    return proc.stdout() + proc.stderr()


def accepts(port, timeout=1.0):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


class Address:
    """Where a server will be (or never is): what erl_argv needs of a Server."""

    def __init__(self, host, port):
        self.host, self.port = host, port


def start_updating_on(cleanup, port, key):
    """epmdnsd with updates (key, --lease-min 1) on 127.0.0.1:port, a port picked earlier."""
    workdir = harness.temp_dir(cleanup, "epmdnsd-update-")
    keys = harness.write_key_file(os.path.join(workdir, "keys.conf"), [key])
    argv = [harness.epmdnsd_path(), "--listen", harness.listen_arg("127.0.0.1", port),
            "--state-dir", os.path.join(workdir, "state"), "--keys", keys, "--lease-min", "1"]
    server = harness.Server("epmdnsd", argv, workdir, [("127.0.0.1", port)])
    cleanup(server.stop)
    server.wait_answers_soa(ZONE)
    return server


def run_driver(argv):
    """Run a node to completion; {check: term text} of its CHECK lines."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=NODE_RUN_TIMEOUT,
                       stdin=subprocess.DEVNULL, env=node_env())
    checks = dict(re.findall(r"^CHECK (\S+) (.*)$", p.stdout, re.M))
    return p, checks


def tcp_squatter(cleanup, port, greeting):
    """A process that is not an Erlang node on 127.0.0.1:port: it accepts every connection,
    sends `greeting` (nothing if empty) and holds the connection open without reading."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    held = []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if greeting:
                try:
                    conn.sendall(greeting)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop():
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
        for conn in held:
            conn.close()
    stopped = []

    def stop_once():
        if not stopped:
            stopped.append(True)
            stop()
    cleanup(stop_once)
    return stop_once


class EpmdnsTestCase(unittest.TestCase):
    def setUp(self):
        self.assertFalse(harness.epmd_listening(), "something listens on TCP 4369 before the test")

    def tearDown(self):
        self.doCleanups()
        self.assertFalse(harness.epmd_listening(), "something listens on TCP 4369 after the test")

    def srv(self, instance):
        return harness.rdatas(self.server, instance, "SRV")

    def start_registering_server(self):
        """epmdnsd taking signed UPDATEs with short leases (self.server); the nodes' flags."""
        key = harness.TsigKey("node.")
        workdir = harness.temp_dir(self.addCleanup)
        key_file = harness.write_key_file(os.path.join(workdir, "node.key"), [key])
        self.server = harness.start_epmdnsd_updating(self.addCleanup, keys=[key],
                                                     args=["--lease-min", "1"])
        return ["-epmdns_key", key_file, "-epmdns_lease", str(LEASE)]

    def dig_srv(self, instance):
        p = subprocess.run(["dig", "@" + self.server.host, "-p", str(self.server.port), "+short",
                            "+norecurse", "+tries=1", "+timeout=2", instance, "SRV"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [line for line in p.stdout.splitlines() if line]


class RegisteredModeTest(EpmdnsTestCase):
    """Two nodes with a TSIG key register themselves, find each other, unregister on stop."""

    def test_two_nodes(self):
        key_args = self.start_registering_server()
        a_inst = "a._erlang-dist._tcp.host1.erl.internal."
        a = start_node(self.addCleanup, "a", erl_argv("a@host1.erl.internal", self.server, key_args))

        got = harness.wait_until(lambda: self.dig_srv(a_inst) or not a.alive(), WAIT)
        self.assertTrue(a.alive(), a.describe())
        self.assertTrue(self.dig_srv(a_inst), "a's SRV never appeared\n" + a.describe())
        port = int(got[0].split()[2])
        self.assertEqual(got[0].split()[3], "host1.erl.internal.")
        self.assertIn("127.0.0.1", harness.rdatas(self.server, "host1.erl.internal.", "A"))
        # Renewals keep it past the lease.
        time.sleep(LEASE + 1.5)
        self.assertTrue(self.dig_srv(a_inst), "a's SRV lapsed: no renewal\n" + a.describe())

        p, checks = run_driver(erl_argv("b@host3.erl.internal", self.server, key_args)
                               + ["-eval", "epmdns_it:registered()"])
        report = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n" + a.describe()
        self.assertEqual(p.returncode, 0, report)
        self.assertEqual(checks.get("ping"), "pong", report)
        self.assertEqual(checks.get("rpc"), "'a@host1.erl.internal'", report)
        self.assertEqual(checks.get("names_atom"), checks.get("names"), report)
        self.assertIn('{"a",%d}' % port, checks.get("names", ""), report)
        self.assertIn('{"app1",4370}', checks.get("names", ""), report)  # the static one
        self.assertIn("registered => true", checks.get("status", ""), report)
        self.assertIn("mode => registered", checks.get("status", ""), report)
        self.assertTrue(checks.get("missing", "").startswith("{error,"), report)
        self.assertLess(int(checks.get("missing_us", "99999999")), 1_500_000, report)
        self.assertTrue(checks.get("outside", "").startswith("{error,"), report)
        self.assertTrue(checks.get("bad", "").startswith("{error,"), report)
        self.assertEqual(checks.get("port_please"), "{port,%d,6}" % port, report)
        self.assertEqual(checks.get("port_please_ip"), "{port,%d,6}" % port, report)
        self.assertEqual(checks.get("port_please_ip_string"), "{port,%d,6}" % port, report)
        self.assertEqual(checks.get("port_please_other_ip"), "noport", report)
        self.assertEqual(checks.get("port_please_ip_static"), "{port,4371,6}", report)
        self.assertEqual(checks.get("alive_after"), "pong", report)
        self.assertEqual(checks.get("stop"), "ok", report)

        # A clean init:stop() unregisters a; its process ends.
        gone = harness.wait_until(lambda: not self.dig_srv(a_inst), WAIT)
        self.assertTrue(gone, "a's SRV still there after init:stop()\n" + a.describe())
        ended = harness.wait_until(lambda: not a.alive(), WAIT)
        self.assertTrue(ended, "a did not exit after init:stop()")
        self.assertFalse(harness.rdatas(self.server, "_erlang-dist._tcp.host1.erl.internal.", "PTR")
                         & {harness.canon("PTR", a_inst)}, "a's PTR still there")


class RegistrationRulesTest(EpmdnsTestCase):
    """One live node per name, as EPMD; a restart after kill -9 takes the name over at once;
    strict mode; a server that comes only after the node."""

    def setUp(self):
        super().setUp()
        self.key = harness.TsigKey("node.")
        workdir = harness.temp_dir(self.addCleanup)
        self.key_file = harness.write_key_file(os.path.join(workdir, "node.key"), [self.key])

    def key_args(self, lease=30):
        return ["-epmdns_key", self.key_file, "-epmdns_lease", str(lease)]

    def start_server(self):
        self.server = harness.start_epmdnsd_updating(self.addCleanup, keys=[self.key],
                                                     args=["--lease-min", "1"])

    def wait_srv(self, instance, node, unlike=None):
        """The port of instance's SRV once it is there (and not `unlike`); fails if node exits."""
        def port():
            got = self.dig_srv(instance)
            if len(got) == 1 and int(got[0].split()[2]) != unlike:
                return int(got[0].split()[2])
            return None if node.alive() else -1
        p = harness.wait_until(port, WAIT)
        self.assertTrue(p and p > 0, f"no SRV for {instance}\n" + node.describe())
        return p

    def test_duplicate_live_name_refused(self):
        self.start_server()
        inst = "d._erlang-dist._tcp.host5.erl.internal."
        argv = erl_argv("d@host5.erl.internal", self.server, self.key_args())
        first = start_node(self.addCleanup, "d1", argv)
        port = self.wait_srv(inst, first)
        t0 = time.monotonic()
        p = subprocess.run(argv + ["-eval", "io:format(\"STARTED~n\")"], capture_output=True,
                           text=True, timeout=NODE_RUN_TIMEOUT, stdin=subprocess.DEVNULL,
                           env=node_env())
        took = time.monotonic() - t0
        report = f"exit {p.returncode} after {took:.1f}s\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        self.assertNotEqual(p.returncode, 0, report)
        self.assertNotIn("STARTED", p.stdout, report)
        line = f"epmdns: name d@host5.erl.internal is registered by a live node at 127.0.0.1:{port}"
        self.assertIn(line, p.stdout + p.stderr, report)
        self.assertLess(took, 15, report)
        # The first node keeps its name and its records.
        self.assertTrue(first.alive(), first.describe())
        self.assertEqual(self.dig_srv(inst), [f"0 0 {port} host5.erl.internal."])

    def test_restart_after_kill9_takes_over_at_once(self):
        self.start_server()
        inst = "k._erlang-dist._tcp.host5.erl.internal."
        argv = erl_argv("k@host5.erl.internal", self.server, self.key_args(lease=30))
        old = start_node(self.addCleanup, "k0", argv)
        old_port = self.wait_srv(inst, old)
        old_txt = harness.rdatas(self.server, inst, "TXT")
        old.stop(signal.SIGKILL)
        # Two restarts at once under the same name: one takes the name over, well within the
        # 30 s lease; the other finds it held by a live node and stops.
        t0 = time.monotonic()
        news = [start_node(self.addCleanup, f"k{i}", argv) for i in (1, 2)]
        new_port = self.wait_srv(inst, news[0], unlike=old_port)
        took = time.monotonic() - t0
        describe = "\n".join(n.describe() for n in news)
        self.assertLess(took, 6, describe)  # node start-up included; the lease is 30 s
        self.assertTrue(accepts(new_port), describe)
        self.assertNotEqual(harness.rdatas(self.server, inst, "TXT"), old_txt, "the token did not change")
        self.assertTrue(harness.wait_until(lambda: sum(n.alive() for n in news) == 1, WAIT),
                        "not exactly one restarted node survives\n" + describe)
        loser = next(n for n in news if not n.alive())
        self.assertIn("epmdns: name k@host5.erl.internal is registered by a live node at "
                      f"127.0.0.1:{new_port}", output(loser), describe)
        self.assertEqual(self.dig_srv(inst), [f"0 0 {new_port} host5.erl.internal."])

    def test_reused_port_does_not_block_takeover(self):
        """The old node's address:port now held by something else (Kubernetes reuses pod IPs
        with a fixed dist port): a TCP listener that answers junk, and an Erlang node under
        another name. Neither is the old node, so a restart under its name takes the name over
        at once, after at most the 300 ms name probe. A listener that accepts and stays
        silent may be the old node, alive but busy: it keeps the name (the restart is refused)."""
        self.start_server()
        inst = "u._erlang-dist._tcp.host5.erl.internal."
        argv = erl_argv("u@host5.erl.internal", self.server, self.key_args(lease=30))
        holder = start_node(self.addCleanup, "u0", argv)
        old_port = self.wait_srv(inst, holder)
        holder.stop(signal.SIGKILL)
        with self.subTest(squatter="silent"):
            stop_silent = tcp_squatter(self.addCleanup, old_port, b"")
            self.assertTrue(accepts(old_port), f"nothing listens on {old_port}")
            p = subprocess.run(argv + ["-eval", "io:format(\"STARTED~n\")"], capture_output=True,
                               text=True, timeout=NODE_RUN_TIMEOUT, stdin=subprocess.DEVNULL,
                               env=node_env({"ERL_CRASH_DUMP_SECONDS": "0"}))
            report = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
            self.assertNotEqual(p.returncode, 0, report)
            self.assertNotIn("STARTED", p.stdout, report)
            self.assertIn(f"epmdns: name u@host5.erl.internal is registered by a live node at 127.0.0.1:{old_port} "
                          "(it accepted the connection but did not answer the name probe", p.stderr, report)
            self.assertEqual(self.dig_srv(inst), [f"0 0 {old_port} host5.erl.internal."])
            stop_silent()
        for i, squatter in enumerate(("junk", "erlang")):
            with self.subTest(squatter=squatter):
                if squatter == "erlang":
                    holder.stop(signal.SIGKILL)
                    other = start_node(self.addCleanup, "o", erl_argv(
                        "o@host7.erl.internal", self.server, self.key_args() + [
                            "-kernel", "inet_dist_listen_min", str(old_port),
                            "inet_dist_listen_max", str(old_port)]))
                    self.assertEqual(self.wait_srv("o._erlang-dist._tcp.host7.erl.internal.", other),
                                     old_port, other.describe())
                else:
                    tcp_squatter(self.addCleanup, old_port,
                                 b"HTTP/1.1 400 Bad Request\r\n\r\n" + os.urandom(64))
                self.assertTrue(accepts(old_port), f"nothing listens on {old_port}")
                t0 = time.monotonic()
                holder = start_node(self.addCleanup, f"u{i + 1}", argv)
                new_port = self.wait_srv(inst, holder, unlike=old_port)
                took = time.monotonic() - t0
                self.assertLess(took, 6, holder.describe())
                self.assertTrue(holder.alive(), holder.describe())
                self.assertNotIn("is registered by a live node", output(holder), holder.describe())
                self.assertEqual(self.dig_srv(inst), [f"0 0 {new_port} host5.erl.internal."])
                old_port = new_port

    def test_strict_without_server_fails_at_boot(self):
        port = harness.free_port()  # nothing listens there
        self.server = Address("127.0.0.1", port)
        argv = erl_argv("t@host6.erl.internal", self.server, self.key_args())
        for extra, env in ((["-epmdns_strict", "true"], None), ([], {"EPMDNS_STRICT": "true"})):
            p = subprocess.run(argv + extra + ["-eval", "io:format(\"STARTED~n\")"],
                               capture_output=True, text=True, timeout=NODE_RUN_TIMEOUT,
                               stdin=subprocess.DEVNULL, env=node_env(env))
            report = f"{extra} {env}: exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
            self.assertNotEqual(p.returncode, 0, report)
            self.assertNotIn("STARTED", p.stdout, report)
            self.assertRegex(p.stderr, r"(?m)^epmdns: cannot register t@host6\.erl\.internal "
                             r"\(strict mode\): .*127\.0\.0\.1:%d" % port, report)

    def test_silent_server_does_not_hold_up_boot(self):
        """A server that takes datagrams and never answers: register_node gives up waiting
        after 1.5 s (outside strict mode), so distribution starts well before the UPDATE's own
        3 s timeout, and says so in one line."""
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        self.server = Address("127.0.0.1", silent.getsockname()[1])
        argv = erl_argv("s@host6.erl.internal", self.server, self.key_args())
        started = time.monotonic()
        p = subprocess.run(argv + ["-eval", "io:format(\"STARTED ~p~n\", [node()]), init:stop()"],
                           capture_output=True, text=True, timeout=NODE_RUN_TIMEOUT,
                           stdin=subprocess.DEVNULL, env=node_env())
        elapsed = time.monotonic() - started
        report = f"exit {p.returncode} after {elapsed:.1f} s\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        self.assertIn("STARTED 's@host6.erl.internal'", p.stdout, report)
        self.assertIn("epmdns: registering s@host6.erl.internal takes long; the node starts", p.stderr, report)

    def test_server_started_after_the_node(self):
        port = harness.free_port()
        self.server = Address("127.0.0.1", port)
        inst = "l._erlang-dist._tcp.host6.erl.internal."
        node = start_node(self.addCleanup, "l", erl_argv("l@host6.erl.internal", self.server,
                                                         self.key_args()))
        waiting = harness.wait_until(lambda: "retries in the background" in node.stderr()
                                     or not node.alive(), WAIT)
        self.assertTrue(waiting and node.alive(), "no boot line, or the node stopped\n" + node.describe())
        self.assertIn("epmdns: cannot register l@host6.erl.internal yet", node.stderr())
        self.server = start_updating_on(self.addCleanup, port, self.key)
        self.wait_srv(inst, node)
        logged = harness.wait_until(lambda: re.search(
            r"epmdns: registered l@host6\.erl\.internal after \d+ failed attempts?", output(node)), 5)
        self.assertTrue(logged, "no log line once registered\n" + node.describe())
        self.assertTrue(node.alive(), node.describe())

    def test_records_lost_by_the_server_registered_again(self):
        # epmdnsd comes back without its state: the next renewal finds its token gone
        # and the node registers again at once, by the first-registration rules.
        port = harness.free_port()
        self.server = start_updating_on(self.addCleanup, port, self.key)
        inst = "r._erlang-dist._tcp.host6.erl.internal."
        node = start_node(self.addCleanup, "r", erl_argv("r@host6.erl.internal", self.server,
                                                         self.key_args(lease=LEASE)))
        first = self.wait_srv(inst, node)
        self.server.stop(signal.SIGKILL)
        self.server = start_updating_on(self.addCleanup, port, self.key)  # a fresh state dir
        self.assertEqual(self.wait_srv(inst, node), first)
        logged = harness.wait_until(lambda: "epmdns: registered r@host6.erl.internal again"
                                    in output(node), 5)
        self.assertTrue(logged, node.describe())


class ClusterTest(EpmdnsTestCase):
    """epmdns:nodes() lists the cluster; autoconnect connects nodes that never pinged."""

    def test_nodes_and_autoconnect(self):
        key_args = self.start_registering_server()
        a = start_node(self.addCleanup, "a", erl_argv("a@host5.erl.internal", self.server,
                                                      key_args + ["-epmdns_autoconnect", "true"]))
        self.assertTrue(harness.wait_until(
            lambda: self.dig_srv("a._erlang-dist._tcp.host5.erl.internal.") or not a.alive(), WAIT)
            and a.alive(), "a did not register\n" + a.describe())
        p, checks = run_driver(erl_argv("b@host6.erl.internal", self.server, key_args)
                               + ["-eval", "epmdns_it:autoconnect()"])
        report = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n" + a.describe()
        self.assertEqual(p.returncode, 0, report)
        for listed in (checks.get("nodes", ""), checks.get("a_nodes", "")):
            self.assertTrue(listed.startswith("{ok,"), report)
            for n in ("'a@host5.erl.internal'", "'app1@host1.erl.internal'", "'app2@host2.erl.internal'"):
                self.assertIn(n, listed, report)
        self.assertIn("'b@host6.erl.internal'", checks.get("a_nodes", ""), report)
        self.assertEqual(checks.get("connected"), "true", report)


STATIC_EXTRA = """
; epmdns_it static mode: s@stat1 on a fixed port
stat1                   IN A    127.0.0.1
_erlang-dist._tcp.stat1 IN PTR  s._erlang-dist._tcp.stat1.erl.internal.
s._erlang-dist._tcp.stat1 IN SRV 0 0 {port} stat1.erl.internal.
s._erlang-dist._tcp.stat1 IN TXT "vsn=6"
stat2                   IN A    127.0.0.1
"""


class StaticModeTest(EpmdnsTestCase):
    """No key anywhere: a node listens on the port of its SRV record in a zone file."""

    def test_static_node(self):
        fixed = harness.free_port()
        zones = harness.zone_dir(self.addCleanup, harness.BUNDLED_ZONE)
        with open(os.path.join(zones, os.path.basename(harness.BUNDLED_ZONE)), "a") as f:
            f.write(STATIC_EXTRA.format(port=fixed))
        self.server = harness.start_epmdnsd(self.addCleanup, zones=zones)
        s = start_node(self.addCleanup, "s", erl_argv("s@stat1.erl.internal", self.server))

        def listening():
            try:
                socket.create_connection(("127.0.0.1", fixed), timeout=1.0).close()
                return True
            except OSError:
                return False
        self.assertTrue(harness.wait_until(lambda: listening() or not s.alive(), WAIT) and s.alive(),
                        f"s does not listen on its SRV port {fixed}\n" + s.describe())

        p, checks = run_driver(erl_argv("c@stat2.erl.internal", self.server)
                               + ["-eval", "epmdns_it:static()"])
        report = f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n" + s.describe()
        self.assertEqual(p.returncode, 0, report)
        self.assertEqual(checks.get("ping"), "pong", report)
        self.assertEqual(checks.get("rpc"), "'s@stat1.erl.internal'", report)
        self.assertIn("mode => static", checks.get("status", ""), report)
        self.assertIn("mode => static", checks.get("self_status", ""), report)
        # Nothing was registered: the zone is as the file has it.
        self.assertEqual(self.srv("s._erlang-dist._tcp.stat1.erl.internal."),
                         {harness.canon("SRV", f"0 0 {fixed} stat1.erl.internal.")})
        self.assertFalse(self.srv("c._erlang-dist._tcp.stat2.erl.internal."))


if __name__ == "__main__":
    unittest.main()
