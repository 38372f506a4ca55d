#!/usr/bin/python3
"""epmdns side by side with Knot DNS, NSD, BIND and EPMD on loopback, in one run.

Installs what is missing (Debian 12), builds, then for each zone size starts every server on
the same generated zone and measures queries (dnsperf), registrations (dnsperf -u, TSIG),
memory and start-up; then Erlang connect_node through EPMD, and build/bench/query_bench.
Writes bench/results/<date>.json and PNG charts there, and prints a Markdown table.

usage: bench/run.py [--quick] [--large] [--perf] [--only erlang|xfr]
"""
import argparse
import base64
import datetime
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import erlang_bench
import report
import servers
import workloads
import xfr
from common import ROOT, HERE, Children, apt_install, log

PACKAGES = ["knot", "nsd", "bind9", "dnsperf", "erlang-base", "gnuplot-nox", "linux-perf", "python3-dnspython"]
RESULTS = os.path.join(HERE, "results")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k nodes, 5 s runs: under 3 minutes")
    parser.add_argument("--large", action="store_true", help="add the 1M-node zone")
    parser.add_argument("--perf", action="store_true", help="perf record epmdnsd under the query load")
    parser.add_argument("--seconds", type=int, help="length of each dnsperf run (default 10, 5 with --quick)")
    parser.add_argument("--tries", type=int, help="connect_node tries (default 300, 50 with --quick)")
    parser.add_argument("--cluster-browse-limit", type=int, default=65535,
                        help="records in the cluster-wide browse PTR set (gen_zone.py; Knot's limit by default)")
    parser.add_argument("--only", choices=["erlang", "xfr"],
                        help="run just this part (erlang: EPMD and epmdns connect_node and lookups, no DNS "
                             "servers, no query_bench; xfr: bench/xfr.py, zone transfers with epmdnsd and "
                             "Knot as primaries); results go to results/<date>-<part>.json")
    parser.add_argument("--xfr-registrations", type=int, default=50,
                        help="registrations timed per propagation mode in bench/xfr.py (each waits for the Knot "
                             "secondary, which applies an IXFR to a 100k-node zone in about a second here)")
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    args.sizes = [10_000] if args.quick else [10_000, 100_000] + ([1_000_000] if args.large else [])
    if args.only:
        args.sizes = []
    # bench/xfr.py: the 100k-node zone the issue asks for (10k with --quick)
    args.xfr_nodes = 10_000 if args.quick else 100_000
    args.seconds = args.seconds or (5 if args.quick else 10)
    args.tries = args.tries or (50 if args.quick else 300)
    return args


def guarded(what, fn):
    """fn()'s result, or {"error": ...} when it fails: one failing peer never stops the run."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - reported in the table
        log(f"{what} failed: {e}")
        return {"error": str(e)[:300]}


def perf_record(pid, seconds, out):
    """Samples epmdnsd while dnsperf runs; the report goes to `out`."""
    data = out + ".data"
    proc = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(pid), "--", "sleep",
                             str(max(1, seconds - 2))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish():
        proc.wait()
        with open(out, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1.5",
                            "-g", "none"], stdout=f, stderr=subprocess.DEVNULL)
        os.remove(data)
    return finish


def bench_server(children, name, work, files, secret, seconds, argv_fn=None, queries=True, perf_out=None):
    """Starts one server on the zone, measures start-up, memory, queries and registrations."""
    zone_file, queries_file, updates_files = files
    running = servers.start(children, name, work, zone_file, secret, argv_fn=argv_fn)
    try:
        result = {"startup_s": running.startup_s, "memory": servers.memory(running.proc)}
        if queries:
            finish_perf = perf_record(running.proc.pid, seconds, perf_out) if perf_out else None
            result["queries"] = workloads.run_queries(running.port, queries_file, seconds)
            if finish_perf:
                finish_perf()
        if servers.SERVERS.get(name, (None, True))[1]:
            result["registrations"] = workloads.run_registrations(running.port, secret, updates_files, queries_file,
                                                                  seconds)
        return result
    finally:
        children.stop(running.proc)


def bench_zone(children, work, nodes, args):
    log(f"zone of {nodes:,} nodes")
    work = os.path.join(work, str(nodes))
    os.makedirs(work)
    files = (os.path.join(work, "zone"), os.path.join(work, "queries.txt"),
             (os.path.join(work, "updates-alone.txt"), os.path.join(work, "updates-with-queries.txt")))
    workloads.gen_zone(files[0], nodes, args.cluster_browse_limit)
    workloads.gen_queries(files[1], nodes)
    workloads.gen_updates(files[2])
    secret = base64.b64encode(os.urandom(32)).decode()
    results = {}
    for name in servers.SERVERS:
        log(f"{name}, {nodes:,} nodes")
        perf_out = os.path.join(RESULTS, f"perf-epmdnsd-{nodes}.txt") if args.perf and name == "epmdns" else None
        results[name] = guarded(name, lambda: bench_server(children, name, work, files, secret, args.seconds,
                                                           perf_out=perf_out))
    os_argv = functools.partial(servers.epmdnsd_argv, journal_sync="os")
    results["epmdns os"] = guarded("epmdns --journal-sync os", lambda: bench_server(
        children, "epmdns os", work, files, secret, args.seconds, argv_fn=os_argv, queries=False))
    # What dnsperf -u itself can send here: epmdnsd without the bench key refuses every
    # registration at once (NOTAUTH), so the rate is the load generator's, not a server's.
    null_argv = functools.partial(servers.epmdnsd_argv, key_name="not-the-bench-key")
    results["dnsperf ceiling"] = guarded("dnsperf -u ceiling", lambda: bench_server(
        children, "dnsperf ceiling", work, files, secret, args.seconds, argv_fn=null_argv, queries=False))
    return results


def bench_erlang(children, work, tries):
    log(f"Erlang connect_node, {tries} tries")
    return {name: guarded(name, lambda: fn(children, work, tries)) for name, fn in erlang_bench.NAME_SERVICES.items()}


def query_bench(build, quick):
    log("query_bench")
    out = subprocess.run([os.path.join(build, "bench", "query_bench"), "--benchmark_format=json",
                          f"--benchmark_min_time={0.2 if quick else 1}"], capture_output=True, text=True,
                         check=True).stdout
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    return [{"name": b["name"], "ns_per_op": b["cpu_time"] * scale[b["time_unit"]],
             "items_per_second": b.get("items_per_second")} for b in json.loads(out)["benchmarks"]]


def params(args):
    return {"cpus": os.cpu_count(), "kernel": os.uname().release, "sizes": args.sizes, "seconds": args.seconds,
            "servers_threads": servers.THREADS, "erlang_tries": args.tries,
            "query_mix": ", ".join(f"{k} {w}%" for k, w in workloads.QUERY_MIX),
            "dnsperf_query_flags": " ".join(workloads.QUERY_FLAGS),
            "dnsperf_update_flags": " ".join(workloads.UPDATE_FLAGS) + " -y hmac-sha256:bench:<secret>",
            "cluster_browse_limit": args.cluster_browse_limit,
            "configs": {name: os.path.relpath(os.path.join(HERE, "configs", f), ROOT)
                        for name, f in (("Knot", "knot.conf.in"), ("NSD", "nsd.conf.in"), ("BIND", "named.conf.in"))}}


def run(args, children, work):
    build = os.path.join(ROOT, "build")
    results = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "params": params(args), "zones": {}}
    for nodes in args.sizes:
        results["zones"][str(nodes)] = bench_zone(children, work, nodes, args)
    if args.only != "xfr":
        results["erlang"] = bench_erlang(children, work, args.tries)
    if args.only != "erlang":
        log(f"zone transfers, {args.xfr_nodes:,} nodes")
        results["xfr"] = guarded("xfr", lambda: xfr.bench(children, work, args.xfr_nodes,
                                                                   args.xfr_registrations))
    if args.only:
        results["query_bench"], results["errors"] = [], {}
        return results
    figures = guarded("query_bench", lambda: query_bench(build, args.quick))
    results["query_bench"] = figures if isinstance(figures, list) else []
    results["errors"] = {"query_bench": figures["error"]} if isinstance(figures, dict) else {}
    return results


def main():
    args = parse_args()
    if not args.no_install:
        apt_install(PACKAGES)
    if not args.no_build:
        subprocess.run([os.path.join(ROOT, "scripts", "setup.sh")], check=True, stdout=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    children = Children()
    work = tempfile.mkdtemp(prefix="epmdns-bench-")
    os.makedirs(RESULTS, exist_ok=True)
    try:
        results = run(args, children, work)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    suffix = ("-quick" if args.quick else "") + (f"-{args.only}" if args.only else "")
    out = os.path.join(RESULTS, f"{datetime.date.today().isoformat()}{suffix}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    charts = guarded("charts", lambda: report.charts(results, RESULTS)) if args.only != "xfr" else []
    print(report.markdown(results))
    print(f"\nwritten: {os.path.relpath(out, ROOT)}" +
          "".join(f", {os.path.relpath(c, ROOT)}" for c in (charts if isinstance(charts, list) else [])))


if __name__ == "__main__":
    main()
