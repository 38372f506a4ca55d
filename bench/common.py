"""Shared plumbing of the benchmarks: Debian packages, free ports, child processes that are
always stopped, DNS probes and dnsperf runs."""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import dns.message
import dns.query
import dns.rcode

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ZONE = "erl.internal."
POLICY_RC_D = "/usr/sbin/policy-rc.d"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def missing_packages(packages):
    def installed(p):
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
        return "ok installed" in out
    return [p for p in packages if not installed(p)]


def apt_install(packages):
    """Installs the missing Debian packages without letting them start their system daemons:
    a policy-rc.d that exits 101 is in place during the install (an existing one is kept)."""
    missing = missing_packages(packages)
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    own_policy = not os.path.exists(POLICY_RC_D)
    if own_policy:
        subprocess.run(sudo + ["sh", "-c", f"printf '#!/bin/sh\\nexit 101\\n' > {POLICY_RC_D} && chmod 755 {POLICY_RC_D}"],
                       check=True)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                       check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if own_policy:
            subprocess.run(sudo + ["rm", "-f", POLICY_RC_D])


def free_port():
    for _ in range(100):
        port = random.randint(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise RuntimeError("no free port")


class Children:
    """Every process the benchmark starts, each in its own session so that its whole process
    group (NSD and BIND fork) can be stopped; stop_all() runs on any exit."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log_path=None, env=None, cwd=None):
        out = open(log_path, "wb") if log_path else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        if log_path:
            out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait()
        self._signal(proc, signal.SIGKILL)  # forked children left behind
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in list(self.procs):
            self.stop(proc)

    @staticmethod
    def _signal(proc, sig):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def soa_rcode(port, timeout=0.2):
    """The rcode of the server's answer to the zone's SOA (None: no answer; "NOERROR" only
    with the SOA in the answer)."""
    try:
        reply = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None
    rcode = dns.rcode.to_text(reply.rcode())
    return rcode if rcode != "NOERROR" or reply.answer else "NODATA"


def wait_first_answer(port, proc, started, seconds=120, wrong_for=10):
    """Seconds from `started` until the first correct SOA answer; fails when the server exits,
    stays silent for `seconds`, or answers wrongly for `wrong_for` seconds (zone not loaded)."""
    deadline, first_wrong = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with status {proc.returncode}")
        rcode = soa_rcode(port, 0.05)
        if rcode == "NOERROR":
            return time.monotonic() - started
        if rcode and first_wrong is None:
            first_wrong = time.monotonic()
        if first_wrong and time.monotonic() - first_wrong > wrong_for:
            raise RuntimeError(f"answers the SOA with {rcode}")
        time.sleep(0.005)
    raise RuntimeError(f"no SOA answer within {seconds} s")


def parse_dnsperf(out):
    def number(pattern):
        m = re.search(pattern, out)
        return float(m.group(1)) if m else None
    codes = re.search(r"Response codes:\s+(.*)", out)
    latency = number(r"Average Latency \(s\):\s+([\d.]+)")
    return {"rate": number(r"(?:Queries|Updates) per second:\s+([\d.]+)") or 0.0,
            "latency_ms": latency * 1000 if latency is not None else None,
            "lost": number(r"Queries lost:\s+(\d+)"),
            "codes": codes.group(1).strip() if codes else out.strip()[-300:]}


def dnsperf_argv(port, data_file, seconds, extra):
    return ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", data_file, "-l", str(seconds)] + extra


def dnsperf(port, data_file, seconds, extra):
    argv = dnsperf_argv(port, data_file, seconds, extra)
    result = parse_dnsperf(subprocess.run(argv, capture_output=True, text=True).stdout)
    result["argv"] = " ".join(argv)
    return result


def which_all(*tools):
    return all(shutil.which(t) for t in tools)
