#!/usr/bin/python3
"""Registration storm: TSIG-signed 4-record node registrations with dnsperf -u (20 in
flight) against epmdnsd and Knot DNS serving the same N-node zone, with a query load
(SRV lookups of random nodes) running alongside. Prints a Markdown table and writes
bench/results/registrations-<date>.json.

usage: bench/registrations.py [--nodes 100000] [--seconds 10] [--build build]
"""
import argparse
import base64
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ZONE = "erl.internal."


def free_port():
    for _ in range(50):
        port = random.randint(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
                u.bind(("127.0.0.1", port))
                t.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def wait_ready(port, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=1", "+tries=1", "SOA", ZONE],
                             capture_output=True, text=True).stdout
        if "hostmaster" in out:
            return
        time.sleep(0.1)
    raise RuntimeError("server not ready")


def dnsperf(args, seconds):
    out = subprocess.run(["dnsperf", "-l", str(seconds)] + args, capture_output=True, text=True).stdout
    rate = re.search(r"(?:Queries|Updates) per second:\s+([\d.]+)", out)
    latency = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    return {"rate": float(rate.group(1)) if rate else 0.0,
            "latency_ms": float(latency.group(1)) * 1000 if latency else None,
            "codes": codes.group(1).strip() if codes else out.strip()[-200:]}


def storm(port, secret, updates_file, queries_file, seconds):
    query = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries_file, "-l", str(seconds),
                              "-q", "100"], stdout=subprocess.PIPE, text=True)
    update = dnsperf(["-s", "127.0.0.1", "-p", str(port), "-u", "-d", updates_file, "-q", "20",
                      "-y", f"hmac-sha256:bench:{secret}"], seconds)
    out = query.communicate()[0]
    rate = re.search(r"Queries per second:\s+([\d.]+)", out)
    update["queries_during"] = float(rate.group(1)) if rate else 0.0
    return update


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_epmdnsd(build, work, zone_file, secret, files, seconds, sync):
    key = os.path.join(work, "bench.key")
    with open(key, "w") as f:
        f.write(f'key "bench" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')
    port = free_port()
    state = tempfile.mkdtemp(dir=work)
    proc = subprocess.Popen([os.path.join(build, "server/epmdnsd"), "--listen", f"127.0.0.1:{port}", "--zones",
                             zone_file, "--state-dir", state, "--keys", key, "--threads", "2",
                             "--journal-sync", sync], stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc)
        return storm(port, secret, *files, seconds)
    finally:
        stop(proc)


def run_knot(work, zone_file, secret, files, seconds):
    port = free_port()
    home = tempfile.mkdtemp(dir=work)
    shutil.copy(zone_file, os.path.join(home, "zone"))
    conf = os.path.join(home, "knot.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    rundir: {home}
    listen: 127.0.0.1@{port}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 2
database:
    storage: {home}
key:
  - id: bench
    algorithm: hmac-sha256
    secret: {secret}
acl:
  - id: update
    key: bench
    action: update
zone:
  - domain: {ZONE}
    file: {home}/zone
    storage: {home}
    acl: update
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
    semantic-checks: off
log:
  - target: stderr
    any: error
""")
    proc = subprocess.Popen(["knotd", "-c", conf], stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc)
        return storm(port, secret, *files, seconds)
    finally:
        stop(proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="epmdns-bench-")
    try:
        zone_file = os.path.join(work, "erl.internal.zone")
        with open(zone_file, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_zone.py"), str(args.nodes), ZONE], stdout=f,
                           check=True)
        updates = os.path.join(work, "updates.txt")
        with open(updates, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_registrations.py"), str(200000), ZONE],
                           stdout=f, check=True)
        queries = os.path.join(work, "queries.txt")
        rng = random.Random(1)
        with open(queries, "w") as f:
            for _ in range(100000):
                i = rng.randrange(args.nodes)
                f.write(f"n{i}._erlang-dist._tcp.h{i}.{ZONE} SRV\n")
        secret = base64.b64encode(os.urandom(32)).decode()
        files = (updates, queries)
        results = {
            "epmdnsd (fdatasync)": run_epmdnsd(args.build, work, zone_file, secret, files, args.seconds, "disk"),
            "epmdnsd (--journal-sync os)": run_epmdnsd(args.build, work, zone_file, secret, files, args.seconds, "os"),
        }
        if shutil.which("knotd"):
            results["Knot DNS"] = run_knot(work, zone_file, secret, files, args.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    best_peer = max((v["rate"] for k, v in results.items() if not k.startswith("epmdnsd")), default=0)
    print(f"\nRegistrations, {args.nodes}-node zone, 4 RRs each, TSIG hmac-sha256, 20 in flight, "
          f"{args.seconds} s, loopback, {os.cpu_count()} CPUs\n")
    print("| server | registrations/s | avg latency ms | queries/s meanwhile | vs best peer | rcodes |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        ratio = f"{r['rate'] / best_peer:.1f}x" if best_peer and name.startswith("epmdnsd") else ""
        print(f"| {name} | {r['rate']:.0f} | {r['latency_ms'] or 0:.2f} | {r['queries_during']:.0f} | {ratio} "
              f"| {r['codes']} |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", f"registrations-{datetime.date.today().isoformat()}.json")
    with open(out, "w") as f:
        json.dump({"nodes": args.nodes, "seconds": args.seconds, "in_flight": 20, "results": results}, f, indent=2)
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
