"""epmdnsctl ($EPMDNSCTL) against the real epmdnsd, cross-checked with dig and nsupdate.

Each class starts epmdnsd with --state-dir and --keys on a free loopback port (the built-in
erl.internal. zone); epmdnsctl talks to it with --server. Key files are written by
`epmdnsctl keygen`, so every case also checks that its output is a key BIND tools and
epmdnsd accept.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import harness  # noqa: E402
from test_resolver import Relay  # noqa: E402

ZONE = harness.BUNDLED_ORIGIN
RUN_TIMEOUT = 20.0  # seconds for one epmdnsctl run (its own bound is --timeout, 3 s)


def ctl_path():
    path = os.environ.get("EPMDNSCTL")
    if not path or not os.access(path, os.X_OK):
        raise harness.HarnessError("EPMDNSCTL must name the epmdnsctl binary (ctest sets it)")
    return path


def run_ctl(*args, server=None, timeout=RUN_TIMEOUT):
    argv = [ctl_path()]
    if server is not None:
        argv += ["--server", harness.listen_arg(server.host, server.port)]
    argv += list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def keygen(workdir, name):
    p = run_ctl("keygen", name)
    if p.returncode != 0:
        raise AssertionError(f"keygen {name} exited {p.returncode}: {p.stderr}")
    path = os.path.join(workdir, name.rstrip(".") + ".key")
    with open(path, "w") as f:
        f.write(p.stdout)
    return path


def start(cleanup, workdir, key_files, args=()):
    """epmdnsd reading the concatenation of key_files."""
    keys = os.path.join(workdir, "keys-%d.conf" % len(os.listdir(workdir)))
    with open(keys, "w") as out:
        for path in key_files:
            with open(path) as f:
                out.write(f.read())
    return harness.start_epmdnsd(
        cleanup, args=["--state-dir", os.path.join(workdir, "state-%s" % os.path.basename(keys)),
                       "--keys", keys, *args])


class CtlTestCase(unittest.TestCase):
    def ctl(self, *args, expect=0):
        p = run_ctl(*args, server=self.server)
        self.assertEqual(p.returncode, expect, f"epmdnsctl {args}: exit {p.returncode}\n"
                         f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def records(self, name, rdtype):
        return harness.rdatas(self.server, name, rdtype)

    def dig_short(self, name, rdtype):
        p = subprocess.run(["dig", "@" + self.server.host, "-p", str(self.server.port), "+short",
                            "+norecurse", name, rdtype], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        return sorted(line for line in p.stdout.splitlines() if line)


class RegisterTest(CtlTestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls.addClassCleanup, "epmdnsctl-")
        cls.key = keygen(cls.workdir, "cluster.keys.")
        cls.wrong = os.path.join(cls.workdir, "wrong.key")
        with open(cls.wrong, "w") as f:  # same name, another secret
            f.write(run_ctl("keygen", "cluster.keys.").stdout)
        cls.unknown = keygen(cls.workdir, "unknown.keys.")
        cls.host_key = keygen(cls.workdir, "host5.keys.")
        policy = os.path.join(cls.workdir, "policy.conf")
        with open(policy, "w") as f:
            f.write("grant cluster.keys. zone erl.internal.\n"
                    "grant host5.keys. host host5.erl.internal.\n")
        cls.server = start(cls.addClassCleanup, cls.workdir, [cls.key, cls.host_key],
                           args=["--update-policy", policy])

    def test_register_resolve_unregister(self):
        p = self.ctl("register", "app3@host3", "4373", "--address", "10.0.0.3", "--key", self.key)
        self.assertRegex(p.stdout, r"^registered app3@host3 address=10\.0\.0\.3 port=4373 ")
        inst = "app3._erlang-dist._tcp.host3.erl.internal."
        self.assertEqual(self.dig_short("host3.erl.internal", "A"), ["10.0.0.3"])
        self.assertEqual(self.dig_short(inst, "SRV"), ["0 0 4373 host3.erl.internal."])
        self.assertEqual(self.dig_short(inst, "TXT"), ['"vsn=6"'])
        self.assertEqual(self.dig_short("_erlang-dist._tcp.host3.erl.internal", "PTR"), [inst])
        self.assertIn(inst, self.dig_short("_erlang-dist._tcp.erl.internal", "PTR"))

        p = self.ctl("resolve", "app3@host3")
        self.assertEqual(p.stdout.strip(), "app3@host3 address=10.0.0.3 port=4373 version=6 ttl=60")
        j = json.loads(self.ctl("--json", "resolve", "app3@host3").stdout)
        self.assertEqual((j["address"], j["port"], j["version"]), ("10.0.0.3", 4373, 6))
        self.assertIn("app3 port=4373", self.ctl("names", "host3").stdout.splitlines())
        self.assertIn("app3@host3.erl.internal", self.ctl("nodes").stdout.splitlines())
        self.assertIn("app3@host3.erl.internal", json.loads(self.ctl("--json", "nodes", ZONE).stdout))

        self.ctl("unregister", "app3@host3", "--key", self.key)
        self.assertEqual(self.dig_short(inst, "SRV"), [])
        self.assertEqual(self.dig_short(inst, "TXT"), [])
        self.assertEqual(self.dig_short("_erlang-dist._tcp.host3.erl.internal", "PTR"), [])
        self.assertNotIn(inst, self.dig_short("_erlang-dist._tcp.erl.internal", "PTR"))
        self.assertEqual(self.dig_short("host3.erl.internal", "A"), ["10.0.0.3"])  # the host stays
        p = self.ctl("resolve", "app3@host3", expect=1)
        self.assertEqual(p.stderr.strip().count("\n"), 0)

    def test_default_address_is_the_route_to_the_server(self):
        p = self.ctl("register", "app4@host4", "4374", "--key", self.key)
        self.assertIn("address=127.0.0.1", p.stdout)
        self.assertEqual(self.dig_short("host4.erl.internal", "A"), ["127.0.0.1"])

    def test_primary_from_soa_mname(self):
        # ns1.erl.internal. (the SOA MNAME of the built-in zone) has the address 127.0.0.1.
        p = self.ctl("register", "app6@host6", "4376", "--address", "10.0.0.6",
                     "--primary-port", str(self.server.port), "--key", self.key)
        self.assertIn(f"server=127.0.0.1:{self.server.port}", p.stdout)
        self.assertEqual(self.dig_short("app6._erlang-dist._tcp.host6.erl.internal", "SRV"),
                         ["0 0 4376 host6.erl.internal."])

    def test_wrong_secret_is_badsig(self):
        p = self.ctl("register", "bad@host3", "1", "--address", "10.0.0.9", "--key", self.wrong,
                     expect=3)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("NOTAUTH, TSIG error BADSIG", p.stderr)
        self.assertEqual(self.dig_short("bad._erlang-dist._tcp.host3.erl.internal", "SRV"), [])

    def test_unknown_key_is_badkey(self):
        p = self.ctl("register", "bad@host3", "1", "--address", "10.0.0.9", "--key", self.unknown,
                     expect=3)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("NOTAUTH, TSIG error BADKEY", p.stderr)

    def test_policy_refusal(self):
        self.ctl("register", "ok@host5", "4375", "--address", "10.0.0.5", "--key", self.host_key)
        p = self.ctl("register", "evil@host3", "1", "--address", "10.0.0.5", "--key",
                     self.host_key, expect=3)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("answered REFUSED", p.stderr)
        self.assertEqual(self.dig_short("evil._erlang-dist._tcp.host3.erl.internal", "SRV"), [])

    def test_register_if_free(self):
        args = ("--address", "10.0.0.8", "--key", self.key, "--if-free")
        self.ctl("register", "once@host8", "4000", *args)
        p = self.ctl("register", "once@host8", "4001", *args, expect=3)
        self.assertIn("YXDOMAIN", p.stderr)
        self.assertIn("already registered", p.stderr)
        self.assertEqual(self.dig_short("once._erlang-dist._tcp.host8.erl.internal", "SRV"),
                         ["0 0 4000 host8.erl.internal."])
        self.ctl("unregister", "once@host8", "--key", self.key)
        self.ctl("register", "once@host8", "4001", *args)
        self.assertEqual(self.dig_short("once._erlang-dist._tcp.host8.erl.internal", "SRV"),
                         ["0 0 4001 host8.erl.internal."])

    def test_token_guards_unregister(self):
        self.ctl("register", "tok@host8", "4100", "--address", "10.0.0.8", "--key", self.key,
                 "--if-free", "--token", "mine")
        inst = "tok._erlang-dist._tcp.host8.erl.internal"
        self.assertEqual(self.dig_short(inst, "TXT"), ['"vsn=6" "token=mine"'])
        self.assertEqual(self.ctl("resolve", "tok@host8").stdout.split()[3], "version=6")
        p = self.ctl("unregister", "tok@host8", "--key", self.key, "--token", "theirs", expect=3)
        self.assertIn("NXRRSET", p.stderr)
        self.assertEqual(len(self.dig_short(inst, "SRV")), 1)
        self.ctl("unregister", "tok@host8", "--key", self.key, "--token", "mine")
        self.assertEqual(self.dig_short(inst, "SRV"), [])

    def test_unreachable_server(self):
        port = harness.free_port()
        p = run_ctl("--server", f"127.0.0.1:{port}", "--timeout", "1", "register", "x@host3",
                    "1", "--address", "10.0.0.1", "--key", self.key)
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_large_registration_goes_over_tcp(self):
        # A token of 240 bytes makes the signed UPDATE over 512 bytes: TCP from the start.
        token = "t" * 240
        relay = Relay(self.addCleanup, (self.server.host, self.server.port))
        argv = ("register", "big@host7", "4700", "--address", "10.0.0.7", "--key", self.key,
                "--token", token)
        p = run_ctl("--server", f"127.0.0.1:{relay.port}", *argv)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(relay.queries(), [("tcp", ZONE, "UPDATE")])
        self.assertEqual(self.dig_short("big._erlang-dist._tcp.host7.erl.internal", "TXT"),
                         [f'"vsn=6" "token={token}"'])
        self.assertIn("big port=4700", self.ctl("names", "host7").stdout.splitlines())
        # A small one goes over UDP.
        p = run_ctl("--server", f"127.0.0.1:{relay.port}", "unregister", "big@host7", "--key",
                    self.key, "--token", token)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run_ctl("--server", f"127.0.0.1:{relay.port}", "register", "small@host7", "4701",
                    "--address", "10.0.0.7", "--key", self.key)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(relay.queries()[1:], [("udp", ZONE, "UPDATE"), ("udp", ZONE, "UPDATE")])
        self.assertEqual(self.dig_short("big._erlang-dist._tcp.host7.erl.internal", "SRV"), [])

    def test_truncated_udp_answer_is_sent_again_over_tcp(self):
        relay = Relay(self.addCleanup, (self.server.host, self.server.port), truncate_udp=True)
        p = run_ctl("--server", f"127.0.0.1:{relay.port}", "register", "tc@host7", "4702",
                    "--address", "10.0.0.7", "--key", self.key)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(relay.queries(), [("udp", ZONE, "UPDATE"), ("tcp", ZONE, "UPDATE")])
        self.assertEqual(self.dig_short("tc._erlang-dist._tcp.host7.erl.internal", "SRV"),
                         ["0 0 4702 host7.erl.internal."])

    def test_usage(self):
        p = run_ctl("register", "x@host3")
        self.assertEqual(p.returncode, 2)
        p = run_ctl("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("exit codes", p.stdout)


class LookupExitTest(CtlTestCase):
    """Lookups: no server reachable or no answer in time is exit 4, a server's SERVFAIL or
    REFUSED is exit 5; the error line says which."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_epmdnsd(cls.addClassCleanup)

    def check(self, servers, args, code, text):
        p = run_ctl("--server", servers, "--timeout", "1", *args)
        self.assertEqual(p.returncode, code, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn(text, p.stderr)

    def test_unreachable_is_4(self):
        closed = f"127.0.0.1:{harness.free_port()}"
        self.check(closed, ("resolve", "app1@host1"), 4,
                   "app1@host1: timeout (every server unreachable)")
        self.check(closed, ("names", "host1"), 4, "timeout (every server unreachable)")
        self.check(closed, ("--json", "nodes"), 4, "timeout (every server unreachable)")

    def test_silent_server_is_4(self):
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        started = time.monotonic()
        self.check(f"127.0.0.1:{silent.getsockname()[1]}", ("resolve", "app1@host1"), 4,
                   "app1@host1: timeout (no answer in time)")
        self.assertLess(time.monotonic() - started, 10.0)  # --timeout 1, generously

    def test_refused_is_5(self):
        # The built-in zone is erl.internal.: a name elsewhere is REFUSED.
        server = harness.listen_arg(self.server.host, self.server.port)
        self.check(server, ("--domain", "elsewhere.test.", "resolve", "app1@host1"), 5,
                   "app1@host1: server_failure (the server answered REFUSED)")
        self.check(server, ("names", "host1.elsewhere.test."), 5,
                   "server_failure (the server answered REFUSED)")

    def test_found_and_not_found(self):
        server = harness.listen_arg(self.server.host, self.server.port)
        p = run_ctl("--server", server, "resolve", "nobody@host1")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("nobody@host1: not_found", p.stderr)


class LeaseTest(CtlTestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls.addClassCleanup, "epmdnsctl-lease-")
        cls.key = keygen(cls.workdir, "lease.keys.")
        cls.server = start(cls.addClassCleanup, cls.workdir, [cls.key], args=["--lease-min", "1"])

    def test_renewed_then_lapses(self):
        inst = "short._erlang-dist._tcp.host9.erl.internal."
        argv = [ctl_path(), "--server", harness.listen_arg(self.server.host, self.server.port),
                "register", "short@host9", "4900", "--address", "10.0.0.9", "--lease", "2",
                "--renew-for", "4", "--key", self.key]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            started = time.monotonic()
            self.assertTrue(harness.wait_until(lambda: self.dig_short(inst, "SRV"), 2.0))
            seen = []
            while time.monotonic() - started < 3.6:  # past the 2 s lease: renewals keep it
                seen.append(bool(self.dig_short(inst, "SRV")))
                time.sleep(0.2)
            self.assertTrue(all(seen), seen)
            out, err = proc.communicate(timeout=RUN_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("lease=2", out)
        self.assertGreaterEqual(out.count("renewed short@host9"), 2, out)
        # Renewals stopped: everything lapses within the lease plus the sweep.
        gone = harness.wait_until(lambda: not self.dig_short(inst, "SRV") and
                                  not self.dig_short("host9.erl.internal", "A") and
                                  inst not in self.dig_short("_erlang-dist._tcp.erl.internal", "PTR"),
                                  6.0)
        self.assertTrue(gone, "records still there after the lease ran out")


    def test_lease_left_by_epmdnsctl_and_dig(self):
        self.ctl("register", "timed@host8", "4901", "--address", "10.0.0.8", "--lease", "300",
                 "--key", self.key)
        p = self.ctl("lease", "timed@host8")
        left = int(re.search(r"lease_left=(\d+)", p.stdout).group(1))
        self.assertTrue(290 <= left <= 300, p.stdout)
        p = self.ctl("--json", "lease", "timed@host8")
        self.assertTrue(290 <= json.loads(p.stdout)["lease_left"] <= 300, p.stdout)
        # dig shows the same: an empty UPDATE-LEASE option (code 2) asks for it.
        dig = subprocess.run(["dig", "@" + self.server.host, "-p", str(self.server.port), "+norecurse",
                              "+ednsopt=2", "SRV", "timed._erlang-dist._tcp.host8.erl.internal"],
                             capture_output=True, text=True, timeout=RUN_TIMEOUT)
        m = re.search(r"UL: (\d+)|OPT=2: ([0-9a-f ]+)", dig.stdout, re.IGNORECASE)
        self.assertIsNotNone(m, dig.stdout)
        dig_left = int(m.group(1)) if m.group(1) else int(m.group(2).replace(" ", "")[:8], 16)
        self.assertTrue(290 <= dig_left <= 300, dig.stdout)
        # A record without a lease, and a node that is not there.
        self.ctl("register", "forever@host8", "4902", "--address", "10.0.0.8", "--key", self.key)
        p = self.ctl("lease", "forever@host8")
        self.assertIn("lease_left=none", p.stdout)
        p = self.ctl("lease", "absent@host8", expect=1)
        self.assertIn("not registered", p.stderr)


class KeygenTest(CtlTestCase):
    def test_keygen_output_works_with_nsupdate(self):
        workdir = harness.temp_dir(self.addCleanup, "epmdnsctl-keygen-")
        key = keygen(workdir, "ops.keys.")
        with open(key) as f:
            text = f.read()
        self.assertRegex(text, r'^key "ops\.keys" \{\n\talgorithm hmac-sha256;\n\tsecret "[A-Za-z0-9+/=]{44}";\n\};\n$')
        self.server = start(self.addCleanup, workdir, [key])
        script = (f"server {self.server.host} {self.server.port}\nzone {ZONE}\n"
                  "update add kg._erlang-dist._tcp.host2.erl.internal. 60 SRV 0 0 4444 host2.erl.internal.\n"
                  "send\n")
        p = subprocess.run([harness.require_tool("nsupdate"), "-k", key, "-t", "5"], input=script,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.dig_short("kg._erlang-dist._tcp.host2.erl.internal", "SRV"),
                         ["0 0 4444 host2.erl.internal."])
        # And epmdnsctl with the same file.
        self.ctl("register", "kg2@host2", "4445", "--address", "10.0.0.2", "--key", key)
        self.assertEqual(self.ctl("resolve", "kg2@host2").stdout.split()[2], "port=4445")


if __name__ == "__main__":
    unittest.main()
