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


def gen_updates(path, count):
    with open(path, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_registrations.py"), str(count), ZONE], stdout=f,
                       check=True)


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


def run_registrations(port, secret, updates_file, queries_file, seconds, key_name="bench"):
    """Registrations with SRV queries running alongside; adds the queries/s served meanwhile."""
    background = subprocess.Popen(dnsperf_argv(port, queries_file, seconds, BACKGROUND_QUERY_FLAGS),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        result = dnsperf(port, updates_file, seconds, UPDATE_FLAGS + ["-y", f"hmac-sha256:{key_name}:{secret}"])
        result["queries_during"] = parse_dnsperf(background.communicate(timeout=seconds + 30)[0])["rate"]
    finally:
        if background.poll() is None:
            background.kill()
            background.wait()
    result["argv"] = result["argv"].replace(secret, "<secret>")
    return result
