"""The DNS servers under test, each started in the foreground on 127.0.0.1 with its own
configuration (bench/configs/*.in) in a temporary directory, and its memory measured."""
import glob
import os
import re
import shutil
import string
import time

from common import HERE, ROOT, ZONE, free_port, wait_first_answer

THREADS = 2
KEY_NAME = "bench"


class Running:
    def __init__(self, name, proc, port, startup_s):
        self.name, self.proc, self.port, self.startup_s = name, proc, port, startup_s


def render(template, home, **values):
    with open(os.path.join(HERE, "configs", template)) as f:
        text = string.Template(f.read()).substitute(home=home, zone=ZONE, threads=THREADS, **values)
    path = os.path.join(home, template[:-len(".in")])
    with open(path, "w") as f:
        f.write(text)
    return path


def epmdnsd_argv(home, port, zone_file, secret, build, journal_sync="disk", key_name=KEY_NAME):
    key = os.path.join(home, "bench.key")
    with open(key, "w") as f:
        f.write(f'key "{key_name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')
    state = os.path.join(home, "state")
    os.makedirs(state)
    return [os.path.join(build, "server", "epmdnsd"), "--listen", f"127.0.0.1:{port}", "--zones", zone_file,
            "--threads", str(THREADS), "--state-dir", state, "--keys", key, "--journal-sync", journal_sync]


def knot_argv(home, port, zone_file, secret, build):
    return ["knotd", "-c", render("knot.conf.in", home, port=port, zone_file=zone_file, secret=secret)]


def nsd_argv(home, port, zone_file, secret, build):
    return ["nsd", "-d", "-c", render("nsd.conf.in", home, port=port, zone_file=zone_file)]


def bind_argv(home, port, zone_file, secret, build):
    conf = render("named.conf.in", home, port=port, zone_file=zone_file, secret=secret)
    return ["named", "-g", "-n", str(THREADS), "-c", conf]


# name -> (how to start it, whether it takes DNS UPDATE)
SERVERS = {
    "epmdns": (epmdnsd_argv, True),
    "Knot": (knot_argv, True),
    "NSD": (nsd_argv, False),
    "BIND": (bind_argv, True),
}
PEERS = [name for name in SERVERS if name != "epmdns"]


def start(children, name, work, zone_file, secret, build=os.path.join(ROOT, "build"), argv_fn=None,
          timeout=300):
    """Starts a server on its own copy of the zone; returns it once it answers the SOA."""
    home = os.path.join(work, name.replace(" ", "-"))
    os.makedirs(home)
    own_zone = os.path.join(home, "erl.internal.zone")
    shutil.copy(zone_file, own_zone)
    port = free_port()
    argv = (argv_fn or SERVERS[name][0])(home, port, own_zone, secret, build)
    started = time.monotonic()
    proc = children.start(argv, log_path=os.path.join(home, "server.log"))
    try:
        return Running(name, proc, port, wait_first_answer(port, proc, started, timeout))
    except RuntimeError as e:
        children.stop(proc)
        raise RuntimeError(f"{name}: {e}; {log_excerpt(home)}") from None


def log_excerpt(home):
    """The server logs' (home/*.log) last line that reports a failure, else an error, else
    their last line."""
    lines = []
    for path in sorted(glob.glob(os.path.join(home, "*.log"))):
        with open(path, errors="replace") as f:
            lines += [line.strip() for line in f if line.strip()]
    for pattern in (r"fail|refus", r"error"):
        hits = [line for line in lines if re.search(pattern, line, re.I)]
        if hits:
            return hits[-1][:200]
    return lines[-1][:200] if lines else ""


def session_pids(sid):
    """Every process in the session `sid` (a server and what it forked)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid:  # fields after ")": state ppid pgrp session
                    pids.append(int(entry))
            except (OSError, IndexError):
                continue
    return pids


def kb_field(path, field):
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory(proc):
    """RSS (VmRSS of /proc/PID/status, summed over the processes of a forking server) and PSS
    (shared pages split between those processes), in KiB."""
    pids = session_pids(proc.pid)
    return {"processes": len(pids),
            "rss_kb": sum(kb_field(f"/proc/{p}/status", "VmRSS") for p in pids),
            "pss_kb": sum(kb_field(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)}
