"""The DNS workloads: the query mix and the registration storm, both through dnsperf."""
import os
import random
import subprocess
import sys

from common import HERE, ZONE, dnsperf, dnsperf_argv, parse_dnsperf

# dnsperf side of the query load: the same for every server.
QUERY_FLAGS = ["-T", "2", "-c", "2", "-q", "100", "-e"]
# Registrations: 20 in flight, as in docs/updates.md; queries alongside at 100 outstanding.
UPDATE_FLAGS = ["-u", "-q", "20"]
BACKGROUND_QUERY_FLAGS = ["-q", "100"]
QUERY_MIX = (("SRV", 80), ("A", 10), ("NXDOMAIN", 5), ("PTR", 5))


def gen_zone(path, nodes, cluster_browse_limit=65535):
    with open(path, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_zone.py"), str(nodes), ZONE,
                        "--cluster-browse-limit", str(cluster_browse_limit)], stdout=f, check=True)


# Registrations per dnsperf -u input file: more than a run can send, so none is sent twice.
UPDATES_PER_FILE = 300_000


def gen_updates(paths, count=UPDATES_PER_FILE):
    """One file per path, each registering its own fresh nodes."""
    for n, path in enumerate(paths):
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen_registrations.py"), str(count), ZONE,
                            str(10_000_000 * (n + 1))], stdout=f, check=True)


def query_line(kind, i):
    return {"SRV": f"n{i}._erlang-dist._tcp.h{i}.{ZONE} SRV",
            "A": f"h{i}.{ZONE} A",
            "NXDOMAIN": f"n{i}._erlang-dist._tcp.missing{i}.{ZONE} SRV",
            "PTR": f"_erlang-dist._tcp.h{i}.{ZONE} PTR"}[kind]


def gen_queries(path, nodes, count=200_000, mix=QUERY_MIX, seed=1):
    """dnsperf input: random nodes, kinds drawn with the weights of `mix`."""
    rng = random.Random(seed)
    kinds = rng.choices([k for k, _ in mix], weights=[w for _, w in mix], k=count)
    with open(path, "w") as f:
        for kind in kinds:
            f.write(query_line(kind, rng.randrange(nodes)) + "\n")


def run_queries(port, queries_file, seconds):
    return dnsperf(port, queries_file, seconds, QUERY_FLAGS)


def run_registrations(port, secret, updates_files, queries_file, seconds, key_name="bench"):
    """The registration storm twice, each from its own file of fresh nodes: alone (the headline
    rate, as the issue's Knot and BIND figures were taken), then with a query flood alongside,
    adding the queries/s served meanwhile."""
    flags = UPDATE_FLAGS + ["-y", f"hmac-sha256:{key_name}:{secret}"]
    result = dnsperf(port, updates_files[0], seconds, flags)
    background = subprocess.Popen(dnsperf_argv(port, queries_file, seconds, BACKGROUND_QUERY_FLAGS),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        shared = dnsperf(port, updates_files[1], seconds, flags)
        shared["queries_during"] = parse_dnsperf(background.communicate(timeout=seconds + 30)[0])["rate"]
        shared["argv"] = shared["argv"].replace(secret, "<secret>")
        result["with_queries"] = shared
    finally:
        if background.poll() is None:
            background.kill()
            background.wait()
    result["argv"] = result["argv"].replace(secret, "<secret>")
    return result
