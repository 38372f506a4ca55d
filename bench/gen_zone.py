#!/usr/bin/python3
"""Writes a cluster zone in the README's layout: one Erlang node per host.

usage: gen_zone.py NODES [ZONE] [--cluster-browse-limit N] > zone.file
Each node NAME@hN gets: hN A, nN._erlang-dist._tcp.hN SRV+TXT, the host browse PTR and
an entry in the cluster-wide browse PTR set. Knot DNS refuses RRsets of more than 65535
records, so by default only the first 65535 nodes enter the cluster-wide set; pass
--cluster-browse-limit 0 for all of them.
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("nodes", type=int)
    parser.add_argument("zone", nargs="?", default="erl.internal.")
    parser.add_argument("--cluster-browse-limit", type=int, default=65535)
    args = parser.parse_args()
    nodes, zone, limit = args.nodes, args.zone, args.cluster_browse_limit
    out = sys.stdout
    out.write(f"$ORIGIN {zone}\n$TTL 60\n")
    out.write("@ IN SOA ns1 hostmaster 1 3600 600 86400 30\n@ IN NS ns1\nns1 IN A 127.0.0.1\n")
    out.write("_services._dns-sd._udp IN PTR _erlang-dist._tcp\n")
    for i in range(nodes):
        out.write(
            f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n"
            f"n{i}._erlang-dist._tcp.h{i} IN SRV 0 0 {20000 + i % 40000} h{i}\n"
            f"n{i}._erlang-dist._tcp.h{i} IN TXT \"vsn=6\"\n"
            f"_erlang-dist._tcp.h{i} IN PTR n{i}._erlang-dist._tcp.h{i}\n")
        if limit == 0 or i < limit:
            out.write(f"_erlang-dist._tcp IN PTR n{i}._erlang-dist._tcp.h{i}\n")


if __name__ == "__main__":
    main()
