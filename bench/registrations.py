#!/usr/bin/python3
"""Registration storm only: TSIG-signed 4-record node registrations with dnsperf -u (20 in
flight) against epmdnsd (--journal-sync disk and os), Knot DNS and BIND on the same N-node
zone, with SRV queries alongside. The full comparison is bench/run.py; this runs its
registration part alone and writes bench/results/registrations-<date>.json.

usage: bench/registrations.py [--nodes 100000] [--seconds 10] [--cluster-browse-limit N]
"""
import argparse
import base64
import datetime
import functools
import json
import os
import shutil
import tempfile

import servers
import workloads
from common import HERE, Children, log


def registrations(children, work, name, files, secret, seconds, argv_fn=None):
    running = servers.start(children, name, work, files[0], secret, argv_fn=argv_fn)
    try:
        return workloads.run_registrations(running.port, secret, files[2], files[1], seconds)
    finally:
        children.stop(running.proc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--cluster-browse-limit", type=int, default=65535,
                        help="records in the cluster-wide browse PTR set (BIND loads at most about 1000)")
    args = parser.parse_args()
    children, work = Children(), tempfile.mkdtemp(prefix="epmdns-registrations-")
    secret = base64.b64encode(os.urandom(32)).decode()
    variants = {"epmdnsd (fdatasync)": ("epmdns", None),
                "epmdnsd (--journal-sync os)": ("epmdns os",
                                                functools.partial(servers.epmdnsd_argv, journal_sync="os")),
                "Knot DNS": ("Knot", None), "BIND": ("BIND", None),
                # dnsperf's own limit here: an epmdnsd without the bench key refuses at once.
                "dnsperf -u ceiling (NOTAUTH at once)": (
                    "dnsperf ceiling", functools.partial(servers.epmdnsd_argv, key_name="not-the-bench-key"))}
    results = {}
    try:
        files = (os.path.join(work, "zone"), os.path.join(work, "queries.txt"),
                 (os.path.join(work, "updates-alone.txt"), os.path.join(work, "updates-with-queries.txt")))
        workloads.gen_zone(files[0], args.nodes, args.cluster_browse_limit)
        workloads.gen_queries(files[1], args.nodes, mix=(("SRV", 100),))
        workloads.gen_updates(files[2])
        for label, (name, argv_fn) in variants.items():
            try:
                results[label] = registrations(children, work, name, files, secret, args.seconds, argv_fn)
            except RuntimeError as e:
                log(f"{label} failed: {e}")
                results[label] = {"error": str(e)}
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nRegistrations, {args.nodes}-node zone, 4 RRs each, TSIG hmac-sha256, 20 in flight, "
          f"{args.seconds} s, loopback, {os.cpu_count()} CPUs\n")
    print("| server | registrations/s alone | avg latency ms | with a query flood: registrations/s "
          "| queries/s meanwhile | rcodes (alone) |")
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        if "error" in r:
            print(f"| {label} | failed | | | | {r['error'][:120]} |")
        else:
            w = r["with_queries"]
            print(f"| {label} | {r['rate']:.0f} | {r['latency_ms'] or 0:.2f} | {w['rate']:.0f} "
                  f"| {w['queries_during']:.0f} | {r['codes']} |")
    limit = "" if args.cluster_browse_limit == 65535 else f"-browse{args.cluster_browse_limit}"
    out = os.path.join(HERE, "results", f"registrations-{datetime.date.today().isoformat()}{limit}.json")
    with open(out, "w") as f:
        json.dump({"nodes": args.nodes, "seconds": args.seconds, "in_flight": 20,
                   "cluster_browse_limit": args.cluster_browse_limit, "results": results}, f, indent=2)
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
