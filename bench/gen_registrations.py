#!/usr/bin/python3
"""Writes a dnsperf -u input of node registrations: 3 records each (A, SRV, TXT) plus the
host browse PTR, for nodes not in the zone. The cluster-wide PTR is left out: a generated
zone already holds the 65535 records Knot DNS allows in one RRset.

usage: gen_registrations.py COUNT [ZONE] [FIRST] > updates.txt
"""
import sys


def main():
    count = int(sys.argv[1])
    zone = sys.argv[2] if len(sys.argv) > 2 else "erl.internal."
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    out = sys.stdout
    for i in range(first, first + count):
        instance = f"r{i}._erlang-dist._tcp.rh{i}.{zone}"
        out.write(f"{zone}\n"
                  f"add rh{i}.{zone} 60 A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n"
                  f"add {instance} 60 SRV 0 0 {20000 + i % 40000} rh{i}.{zone}\n"
                  f"add {instance} 60 TXT \"vsn=6\"\n"
                  f"add _erlang-dist._tcp.rh{i}.{zone} 60 PTR {instance}\n"
                  "send\n")


if __name__ == "__main__":
    main()
