"""The epmdns epmd module on real Erlang nodes against the real epmdnsd, on loopback.

No EPMD anywhere: nothing may listen on TCP 4369 before or after. Nodes run with
-epmd_module epmdns -start_epmd false and find each other through epmdnsd only.
"""

import os
import re
import socket
import subprocess
import sys
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
EPMD_PORT = 4369


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


def epmd_listening():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(("127.0.0.1", EPMD_PORT))
        return True
    except OSError:
        return False
    finally:
        s.close()


def erl_argv(node, server, extra=()):
    return ["erl", "-noshell", "-pa", ebin(), "-pa", test_ebin(), "-epmd_module", "epmdns",
            "-start_epmd", "false", "-name", node, "-setcookie", "epmdnstest",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
            "-epmdns_servers", harness.listen_arg(server.host, server.port), *extra]


def node_env():
    env = dict(os.environ)
    for var in ("EPMDNS_SERVERS", "EPMDNS_KEY", "EPMDNS_DOMAIN", "EPMDNS_LEASE", "EPMDNS_ADDRESS"):
        env.pop(var, None)
    return env


def start_node(cleanup, name, argv):
    workdir = harness.temp_dir(cleanup, "epmdns-node-")
    proc = harness.Process(name, argv, workdir, env=node_env())
    cleanup(proc.stop)
    return proc


def run_driver(argv):
    """Run a node to completion; {check: term text} of its CHECK lines."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=NODE_RUN_TIMEOUT,
                       stdin=subprocess.DEVNULL, env=node_env())
    checks = dict(re.findall(r"^CHECK (\S+) (.*)$", p.stdout, re.M))
    return p, checks


class EpmdnsTestCase(unittest.TestCase):
    def setUp(self):
        self.assertFalse(epmd_listening(), "something listens on TCP 4369 before the test")

    def tearDown(self):
        self.doCleanups()
        self.assertFalse(epmd_listening(), "something listens on TCP 4369 after the test")

    def srv(self, instance):
        return harness.rdatas(self.server, instance, "SRV")

    def dig_srv(self, instance):
        p = subprocess.run(["dig", "@" + self.server.host, "-p", str(self.server.port), "+short",
                            "+norecurse", "+tries=1", "+timeout=2", instance, "SRV"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [line for line in p.stdout.splitlines() if line]


class RegisteredModeTest(EpmdnsTestCase):
    """Two nodes with a TSIG key register themselves, find each other, unregister on stop."""

    def test_two_nodes(self):
        key = harness.TsigKey("node.")
        workdir = harness.temp_dir(self.addCleanup)
        key_file = harness.write_key_file(os.path.join(workdir, "node.key"), [key])
        self.server = harness.start_epmdnsd_updating(self.addCleanup, keys=[key],
                                                     args=["--lease-min", "1"])
        key_args = ["-epmdns_key", key_file, "-epmdns_lease", str(LEASE)]
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
        self.assertEqual(checks.get("alive_after"), "pong", report)
        self.assertEqual(checks.get("stop"), "ok", report)

        # A clean init:stop() unregisters a; its process ends.
        gone = harness.wait_until(lambda: not self.dig_srv(a_inst), WAIT)
        self.assertTrue(gone, "a's SRV still there after init:stop()\n" + a.describe())
        ended = harness.wait_until(lambda: not a.alive(), WAIT)
        self.assertTrue(ended, "a did not exit after init:stop()")
        self.assertFalse(harness.rdatas(self.server, "_erlang-dist._tcp.host1.erl.internal.", "PTR")
                         & {harness.canon("PTR", a_inst)}, "a's PTR still there")


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
