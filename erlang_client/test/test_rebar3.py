"""epmdns as a rebar3 dependency: rebar3 builds the NIF itself (the pre_hooks entry of
erlang_client/rebar.config, c_src/build_nif.sh, CMake), and a node started from rebar3's
_build output loads it and finds nodes served by the real epmdnsd. Offline: the project has
no Hex dependencies, and epmdns comes through _checkouts/.

The layout mirrors a clone of the repository: WORK/repo/erlang_client is a copy of this
application (mtimes kept), WORK/repo/resolver and WORK/repo/server link to the sources, and
WORK/app/_checkouts/epmdns links to WORK/repo/erlang_client, so the hook finds the C++
sources above the application as it does in a checkout. WORK is in the build tree
($EPMDNS_REBAR3_WORK) and the NIF's CMake build directory under it is kept between runs:
the first run compiles the NIF's libraries (about a minute on 2 cores), later runs only what
changed.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("EPMDNS_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration", "lib"))
import harness  # noqa: E402

APP_FILES = ("rebar.config", "CMakeLists.txt", "src", "c_src")
COMPILE_TIMEOUT = 600.0  # seconds: a first build of the NIF's C++ libraries
NODE_TIMEOUT = 30.0

APP_CONFIG = """{erl_opts, [debug_info]}.
{deps, [epmdns]}.
"""
APP_SRC = """{application, rebar3_user,
 [{description, "depends on epmdns"}, {vsn, "0.1.0"},
  {applications, [kernel, stdlib, epmdns]}, {env, []}]}.
"""

# On a node started from the rebar3 build: one CHECK line per result.
NODE_EVAL = r"""
C = fun(K, V) -> io:format("CHECK ~s ~0p~n", [K, V]) end,
C(nif_beam, code:which(epmdns_nif)),
C(node, node()),
C(status, epmdns:status()),
C(address, epmdns:address_please("app1", "host1.erl.internal", inet)),
C(address_short, epmdns:address_please("app2", "host2", inet)),
C(port, epmdns:port_please("app1", "host1.erl.internal")),
C(port_ip, epmdns:port_please(app2, {127,0,0,2})),
C(port_ip_other, epmdns:port_please(app1, {127,0,0,2})),
C(names, epmdns:names('host1.erl.internal')),
C(nodes, epmdns:nodes()),
halt(0).
"""


def rm(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def make_layout(work):
    """WORK/repo (a clone's shape) and WORK/app (the rebar3 project); keeps the NIF's CMake
    build directory WORK/app/_build/default/epmdns_nif and nothing else of earlier runs."""
    repo = os.path.join(work, "repo")
    app = os.path.join(work, "app")
    rm(repo)
    os.makedirs(os.path.join(repo, "erlang_client"))
    for name in APP_FILES:
        src = os.path.join(SOURCE_DIR, "erlang_client", name)
        dst = os.path.join(repo, "erlang_client", name)
        if os.path.isdir(src):
            shutil.copytree(src, dst)  # copy2: mtimes kept, so make rebuilds only what changed
        else:
            shutil.copy2(src, dst)
    for name in ("resolver", "server"):
        os.symlink(os.path.join(SOURCE_DIR, name), os.path.join(repo, name))
    os.makedirs(app, exist_ok=True)
    for name in os.listdir(app):
        if name != "_build":
            rm(os.path.join(app, name))
    build = os.path.join(app, "_build")
    if os.path.isdir(build):
        for profile in os.listdir(build):
            for name in os.listdir(os.path.join(build, profile)):
                if name != "epmdns_nif":
                    rm(os.path.join(build, profile, name))
    os.makedirs(os.path.join(app, "src"))
    os.makedirs(os.path.join(app, "_checkouts"))
    os.symlink(os.path.join(repo, "erlang_client"), os.path.join(app, "_checkouts", "epmdns"))
    with open(os.path.join(app, "rebar.config"), "w") as f:
        f.write(APP_CONFIG)
    with open(os.path.join(app, "src", "rebar3_user.app.src"), "w") as f:
        f.write(APP_SRC)
    return repo, app


class Rebar3DependencyTest(unittest.TestCase):

    def test_rebar3_builds_the_nif_and_a_node_uses_it(self):
        rebar3 = harness.require_tool("rebar3")
        harness.require_tool("cmake")
        work = os.environ.get("EPMDNS_REBAR3_WORK")
        if not work:
            raise harness.HarnessError("EPMDNS_REBAR3_WORK must name a work directory "
                                       "(ctest sets it in the build tree)")
        self.assertFalse(harness.epmd_listening(), "something listens on TCP 4369 before the test")
        repo, app = make_layout(os.path.abspath(work))

        env = dict(os.environ)
        for var in ("EPMDNS_ROOT_DIR", "EPMDNS_NIF_BUILD_DIR", "REBAR_PROFILE", "ERL_LIBS"):
            env.pop(var, None)
        env["REBAR_CACHE_DIR"] = os.path.join(work, "rebar3-cache")  # nothing in ~/.cache
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(min(os.cpu_count() or 2, 2)))
        p = subprocess.run([rebar3, "compile"], cwd=app, env=env, capture_output=True,
                           text=True, timeout=COMPILE_TIMEOUT, stdin=subprocess.DEVNULL)
        report = f"rebar3 compile: exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        self.assertEqual(p.returncode, 0, report)
        self.assertIn("Compiling epmdns", p.stdout, report)

        # rebar3 builds a _checkouts application into _build/default/checkouts/epmdns, with
        # priv/ linked to the application's (where the hook put the NIF).
        out = os.path.join(app, "_build", "default", "checkouts", "epmdns")
        ebin = os.path.join(out, "ebin")
        for f in ("epmdns.app", "epmdns.beam", "epmdns_nif.beam"):
            self.assertTrue(os.path.isfile(os.path.join(ebin, f)), f"{f} not in {ebin}\n{report}")
        nif = os.path.join(out, "priv", "epmdns_nif.so")
        self.assertTrue(os.path.isfile(nif), f"{nif} missing\n{report}")
        self.assertTrue(os.path.isdir(os.path.join(app, "_build", "default", "epmdns_nif", "cmake")),
                        "the NIF was not built in REBAR_BUILD_DIR/epmdns_nif\n" + report)
        # Only the NIF and what it links: no server, no epmdnsctl, no tests.
        built = set()
        for _, _, files in os.walk(os.path.join(app, "_build", "default", "epmdns_nif", "cmake")):
            built.update(f for f in files if f.endswith((".a", ".so")) or f in ("epmdnsd", "epmdnsctl"))
        self.assertEqual(built, {"epmdns_nif.so", "libepmdns_common.a", "libepmdns_wire.a",
                                 "libepmdns_resolver.a", "libepmdns_registration.a"}, report)

        server = harness.start_epmdnsd(self.addCleanup)
        argv = ["erl", "-noshell", "-pa", ebin, "-epmd_module", "epmdns", "-start_epmd", "false",
                "-name", "r1@host9.erl.internal", "-setcookie", "epmdnstest",
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                "-epmdns_servers", harness.listen_arg(server.host, server.port),
                "-eval", NODE_EVAL]
        node_env = {k: v for k, v in os.environ.items() if not k.startswith("EPMDNS_")}
        n = subprocess.run(argv, capture_output=True, text=True, timeout=NODE_TIMEOUT,
                           stdin=subprocess.DEVNULL, env=node_env, cwd=app)
        checks = dict(re.findall(r"^CHECK (\S+) (.*)$", n.stdout, re.M))
        report = f"node: exit {n.returncode}\nstdout:\n{n.stdout}\nstderr:\n{n.stderr}"
        self.assertEqual(n.returncode, 0, report)
        self.assertEqual(checks.get("nif_beam"), '"%s"' % os.path.join(ebin, "epmdns_nif.beam"), report)
        self.assertEqual(checks.get("node"), "'r1@host9.erl.internal'", report)
        self.assertIn("mode => static", checks.get("status", ""), report)
        self.assertEqual(checks.get("address"), "{ok,{127,0,0,1},4370,6}", report)
        self.assertEqual(checks.get("address_short"), "{ok,{127,0,0,2},4371,6}", report)
        self.assertEqual(checks.get("port"), "{port,4370,6}", report)
        self.assertEqual(checks.get("port_ip"), "{port,4371,6}", report)
        self.assertEqual(checks.get("port_ip_other"), "noport", report)
        self.assertEqual(checks.get("names"), '{ok,[{"app1",4370}]}', report)
        self.assertEqual(checks.get("nodes"),
                         "{ok,['app1@host1.erl.internal','app2@host2.erl.internal']}", report)
        self.assertFalse(harness.epmd_listening(), "an EPMD listens on TCP 4369 after the test")


if __name__ == "__main__":
    unittest.main()
