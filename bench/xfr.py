#!/usr/bin/python3
"""Zone transfers: epmdnsd as a primary beside Knot DNS as the primary of the same zone.

Two measurements on one generated N-node zone (gen_zone.py, 100k nodes by default, with
1000 nodes in the cluster-wide browse set: Knot cannot send a larger one, see bench()):

- AXFR: time from the request to the last byte of the transfer, bytes and messages, over
  TCP on loopback from a plain Python client (no record parsing on the clock: the transfer
  ends with the message whose last bytes are the zone's SOA RDATA). A warm-up transfer,
  then `--axfr-runs` (7) timed ones; the median counts. Every primary is idle (no
  secondary yet). One TSIG-signed AXFR by kdig per primary checks the record count.
- Propagation: time from an UPDATE acknowledged by the primary (a signed 4-record node
  registration, the reply received) to its SRV answerable on a Knot DNS secondary, which
  the primary NOTIFYs and which then transfers the change (IXFR). The secondary is polled
  with UDP queries for the new SRV, one every millisecond. Three runs of `--registrations`
  (200) fresh nodes each:
  - "spaced": one at a time, 250 ms after the last one appeared (past epmdnsd's 100 ms
    NOTIFY coalescing window): the latency of a lone change;
  - "back to back": the next UPDATE as soon as the previous record appeared: a change
    lands within 100 ms of the last NOTIFY, so epmdnsd's coalescing delays its NOTIFY;
  - "4 in flight": bursts of 4 UPDATEs, 250 ms apart; each record timed from its own ack.
  The secondary's log tells how many IXFRs and AXFRs carried the changes. On a 100k-node
  zone Knot 3.2 takes about a second to apply each IXFR on the 2-core development machine,
  whichever the primary: that, not the primary, sets the figures (and the run time: pass
  fewer registrations, e.g. run.py --xfr-registrations 40, for a shorter run).

epmdnsd runs with --allow-transfer key:bench,127.0.0.1 and --notify to the secondary;
Knot as primary has the same ACLs, and `notify:` to its secondary. The secondary is Knot
3.2 in both cases, configured as docs/transfers.md shows. Used by bench/run.py (`--only
xfr`, and in the full run); alone: bench/xfr.py [--nodes N] writes results/xfr-<date>.json.
"""
import argparse
import base64
import datetime
import functools
import json
import os
import random
import re
import select
import shutil
import socket
import statistics
import struct
import subprocess
import tempfile
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

import servers
import workloads
from common import HERE, ROOT, ZONE, Children, free_port, log

KEY = servers.KEY_NAME
POLL_INTERVAL_S = 0.001
APPEAR_TIMEOUT_S = 10.0
SPACING_S = 0.25
SYNC_TIMEOUT_S = 180.0

KNOT_SECONDARY_CONF = """\
server:
    rundir: {home}
    listen: 127.0.0.1@{port}
    udp-workers: {threads}
    tcp-workers: {threads}
    background-workers: {threads}
database:
    storage: {home}
log:
  - target: stderr
    any: info
key:
  - id: {key}
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: primary
    address: 127.0.0.1@{primary_port}
    key: {key}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: {home}
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
zone:
  - domain: {zone}
    master: primary
    acl: notify_from_primary
"""

KNOT_PRIMARY_CONF = """\
server:
    rundir: {home}
    listen: 127.0.0.1@{port}
    udp-workers: {threads}
    tcp-workers: {threads}
    background-workers: {threads}
database:
    storage: {home}
log:
  - target: stderr
    any: error
key:
  - id: {key}
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: secondary
    address: 127.0.0.1@{secondary_port}
acl:
  - id: update
    key: {key}
    action: update
  - id: transfer_by_key
    key: {key}
    action: transfer
  - id: transfer_by_address
    address: 127.0.0.1
    action: transfer
zone:
  - domain: {zone}
    file: {zone_file}
    storage: {home}
    acl: [update, transfer_by_key, transfer_by_address]
    notify: secondary
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: changes
    semantic-checks: off
"""


def build_dir():
    return os.environ.get("EPMDNS_BENCH_BUILD") or os.path.join(ROOT, "build")


def epmdnsd_primary_argv(home, port, zone_file, secret, build, secondary_port):
    return servers.epmdnsd_argv(home, port, zone_file, secret, build) + [
        "--allow-transfer", f"key:{KEY}", "--allow-transfer", "127.0.0.1",
        "--notify", f"127.0.0.1:{secondary_port}"]


def knot_primary_argv(home, port, zone_file, secret, build, secondary_port):
    conf = os.path.join(home, "knot-primary.conf")
    with open(conf, "w") as f:
        f.write(KNOT_PRIMARY_CONF.format(home=home, port=port, threads=servers.THREADS, key=KEY, secret=secret,
                                         secondary_port=secondary_port, zone=ZONE, zone_file=zone_file))
    return ["knotd", "-c", conf]


PRIMARIES = {"epmdns": epmdnsd_primary_argv, "Knot": knot_primary_argv}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary_ms(samples_s):
    ms = [s * 1000 for s in samples_s]
    if not ms:
        return {"count": 0}
    return {"count": len(ms), "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99), "min_ms": min(ms), "max_ms": max(ms), "mean_ms": statistics.fmean(ms)}


def soa_serial(port, timeout=0.5):
    try:
        reply = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=timeout)
    except (dns.exception.Timeout, OSError):
        return None
    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset[0].serial
    return None


def soa_rdata_tail(port):
    """The last 20 bytes of the SOA RDATA (serial, refresh, retry, expire, minimum): an AXFR
    ends with the message that ends with them."""
    reply = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=2)
    soa = reply.answer[0][0]
    return struct.pack("!IIIII", soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)


def recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise RuntimeError("connection closed in the middle of the transfer")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def axfr_once(port, tail):
    """(seconds from connect to the last byte, DNS bytes without the TCP length prefixes, messages)."""
    query = dns.message.make_query(ZONE, "AXFR").to_wire()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(struct.pack("!H", len(query)) + query)
        total = messages = 0
        while True:
            size = struct.unpack("!H", recv_exact(sock, 2))[0]
            msg = recv_exact(sock, size)
            total += size
            messages += 1
            if messages == 1 and msg[3] & 0x0F:
                raise RuntimeError(f"AXFR answered {dns.rcode.to_text(msg[3] & 0x0F)}")
            if msg.endswith(tail) and (messages > 1 or msg.count(tail) > 1):
                return time.monotonic() - started, total, messages


def kdig_signed_axfr(port, secret):
    """One TSIG-signed AXFR by kdig: its own stats line (records, messages, bytes)."""
    out = subprocess.run(f"kdig @127.0.0.1 -p {port} -y hmac-sha256:{KEY}:{secret} AXFR {ZONE} | tail -3",
                         shell=True, capture_output=True, text=True, timeout=300).stdout
    m = re.search(r"Received (\d+) B \((\d+) messages, (\d+) records\)", out)
    t = re.search(r"in ([\d.]+) ms", out)
    if not m:
        return {"error": out.strip()[-200:]}
    return {"bytes": int(m.group(1)), "messages": int(m.group(2)), "records": int(m.group(3)),
            "kdig_ms": float(t.group(1)) if t else None}


def measure_axfr(port, secret, runs):
    tail = soa_rdata_tail(port)
    axfr_once(port, tail)  # warm-up
    times, sizes = [], set()
    for _ in range(runs):
        seconds, total, messages = axfr_once(port, tail)
        times.append(seconds)
        sizes.add((total, messages))
    total, messages = sizes.pop()
    return {"runs": runs, "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
            "max_ms": max(times) * 1000, "samples_ms": [t * 1000 for t in times], "bytes": total,
            "messages": messages, "sizes_vary": bool(sizes), "signed_kdig": kdig_signed_axfr(port, secret)}


class Poller:
    """UDP SRV queries to the secondary, one round every POLL_INTERVAL_S, for every name
    still waited for; a name is there at its first NOERROR answer with an answer record."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setblocking(False)

    def close(self):
        self.sock.close()

    def wait(self, names):
        """{name: monotonic time it was first answered, or None past APPEAR_TIMEOUT_S}."""
        queries = {}
        for name in names:
            q = dns.message.make_query(name, "SRV")
            q.use_edns(False)
            queries[name] = q.to_wire()
        pending, seen = dict.fromkeys(names), {}
        by_id = {}
        deadline = time.monotonic() + APPEAR_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for name in pending:
                qid = random.randrange(65536)
                wire = struct.pack("!H", qid) + queries[name][2:]
                by_id[qid] = name
                self.sock.send(wire)
            round_end = time.monotonic() + POLL_INTERVAL_S
            while True:
                left = round_end - time.monotonic()
                if left <= 0:
                    break
                if not select.select([self.sock], [], [], left)[0]:
                    break
                while True:
                    try:
                        reply = self.sock.recv(4096)
                    except BlockingIOError:
                        break
                    now = time.monotonic()
                    name = by_id.get(struct.unpack("!H", reply[:2])[0])
                    ancount = struct.unpack("!H", reply[6:8])[0]
                    if name in pending and reply[3] & 0x0F == 0 and ancount > 0:
                        seen[name] = now
                        del pending[name]
            by_id.clear()
        for name in pending:
            seen[name] = None
        return seen


def registration(i, keyring):
    host = f"xh{i}.{ZONE}"
    instance = f"x{i}._erlang-dist._tcp.{host}"
    upd = dns.update.UpdateMessage(ZONE, keyring=keyring, keyname=KEY, keyalgorithm=dns.tsig.HMAC_SHA256)
    upd.add(host, 60, "A", f"10.{200 + ((i >> 16) & 31)}.{(i >> 8) & 255}.{i & 255}")
    upd.add(instance, 60, "SRV", f"0 0 {20000 + i % 40000} {host}")
    upd.add(instance, 60, "TXT", '"vsn=6"')
    upd.add(f"_erlang-dist._tcp.{host}", 60, "PTR", instance)
    return instance, upd


def send_update(port, upd):
    """Seconds the UPDATE took; raises unless NOERROR. Returns (rtt, monotonic time of the ack)."""
    sent = time.monotonic()
    reply = dns.query.udp(upd, "127.0.0.1", port=port, timeout=10)
    acked = time.monotonic()
    if reply.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"UPDATE answered {dns.rcode.to_text(reply.rcode())}")
    return acked - sent, acked


def propagation(primary_port, poller, keyring, first, count, in_flight, spacing):
    latencies, update_rtts, missing = [], [], 0
    i = first
    while i < first + count:
        batch = []
        for _ in range(min(in_flight, first + count - i)):
            instance, upd = registration(i, keyring)
            rtt, acked = send_update(primary_port, upd)
            update_rtts.append(rtt)
            batch.append((instance, acked))
            i += 1
        seen = poller.wait([name for name, _ in batch])
        for name, acked in batch:
            if seen[name] is None:
                missing += 1
            else:
                latencies.append(seen[name] - acked)
        if spacing:
            time.sleep(spacing)
    result = summary_ms(latencies)
    result.update({"in_flight": in_flight, "spacing_ms": spacing * 1000, "missing": missing,
                   "samples_ms": [round(v * 1000, 3) for v in latencies],
                   "update_rtt": summary_ms(update_rtts)})
    return result


def start_secondary(children, home, port, primary_port, secret):
    conf = os.path.join(home, "knot-secondary.conf")
    with open(conf, "w") as f:
        f.write(KNOT_SECONDARY_CONF.format(home=home, port=port, threads=servers.THREADS, key=KEY, secret=secret,
                                           primary_port=primary_port, zone=ZONE))
    log_path = os.path.join(home, "secondary.log")
    return children.start(["knotd", "-c", conf], log_path=log_path), log_path


def wait_serial(port, serial, proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Knot secondary exited with status {proc.returncode}")
        if soa_serial(port, 0.2) == serial:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the Knot secondary did not reach serial {serial} within {seconds} s")


def transfers_in_log(log_path):
    with open(log_path, errors="replace") as f:
        text = f.read()
    return {"ixfr": len(re.findall(r"IXFR, incoming, remote [^\n]*finished", text)),
            "axfr": len(re.findall(r"AXFR, incoming, remote [^\n]*finished", text)),
            "axfr_fallback": len(re.findall(r"fallback to AXFR", text, re.I))}


def bench_primary(children, work, name, zone_file, secret, keyring, args, first):
    home_base = os.path.join(work, f"xfr-{name}")
    secondary_port = free_port()
    argv_fn = functools.partial(PRIMARIES[name], secondary_port=secondary_port)
    running = servers.start(children, f"xfr-{name}", work, zone_file, secret, build=build_dir(), argv_fn=argv_fn)
    result = {"startup_s": running.startup_s}
    try:
        log(f"xfr: AXFR from {name}")
        result["axfr"] = measure_axfr(running.port, secret, args.axfr_runs)
        log(f"xfr: {name} primary, Knot secondary")
        home = os.path.join(home_base, "secondary")
        os.makedirs(home)
        started = time.monotonic()
        secondary, log_path = start_secondary(children, home, secondary_port, running.port, secret)
        poller = Poller(secondary_port)
        try:
            wait_serial(secondary_port, soa_serial(running.port), secondary, SYNC_TIMEOUT_S)
            result["secondary_first_sync_s"] = time.monotonic() - started
            runs = (("spaced", 1, SPACING_S), ("back_to_back", 1, 0.0), ("in_flight_4", 4, SPACING_S))
            result["propagation"] = {}
            for k, (label, in_flight, spacing) in enumerate(runs):
                log(f"xfr: {name}: {args.registrations} registrations, {label}")
                result["propagation"][label] = propagation(running.port, poller, keyring,
                                                           first + k * 100_000, args.registrations, in_flight,
                                                           spacing)
            result["secondary_transfers"] = transfers_in_log(log_path)
        finally:
            poller.close()
            children.stop(secondary)
    finally:
        children.stop(running.proc)
    return result


def full_browse_axfr(children, work, nodes, secret, runs):
    """AXFR from epmdnsd of the zone with the whole 65535-record cluster browse set, which
    Knot as a primary cannot send (below)."""
    zone_file = os.path.join(work, "zone-full-browse")
    workloads.gen_zone(zone_file, nodes, 65535)
    argv_fn = functools.partial(epmdnsd_primary_argv, secondary_port=free_port())
    running = servers.start(children, "xfr-epmdns-full-browse", work, zone_file, secret, build=build_dir(),
                            argv_fn=argv_fn)
    try:
        return measure_axfr(running.port, secret, runs)
    finally:
        children.stop(running.proc)


def bench(children, work, nodes, registrations=200, axfr_runs=7, cluster_browse_limit=1000):
    """{"params": ..., "epmdns": ..., "Knot": ...}; a failing primary gives {"error": ...}.

    Knot DNS 3.2 as a primary cannot send an RRset that does not fit in one 64 KiB message
    (its AXFR fails with "transfer was not sent" after the apex), and the cluster-wide
    browse PTR set of gen_zone.py's default zone holds 65535 records (2.7 MB): the zone of
    both primaries therefore lists 1000 nodes there (as for BIND in registrations.py).
    epmdnsd splits such an RRset across messages: "axfr_full_browse" is its AXFR of the
    zone with all 65535."""
    args = argparse.Namespace(registrations=registrations, axfr_runs=axfr_runs)
    work = os.path.join(work, "xfr")
    os.makedirs(work)
    zone_file = os.path.join(work, "zone")
    log(f"xfr: zone of {nodes:,} nodes")
    workloads.gen_zone(zone_file, nodes, cluster_browse_limit)
    secret = base64.b64encode(os.urandom(32)).decode()
    keyring = dns.tsigkeyring.from_text({KEY: secret})
    results = {"params": {"nodes": nodes, "registrations": registrations, "axfr_runs": axfr_runs,
                          "cluster_browse_limit": cluster_browse_limit, "poll_interval_ms": POLL_INTERVAL_S * 1000,
                          "spacing_ms": SPACING_S * 1000,
                          "secondary": "Knot DNS " + knot_version(), "cpus": os.cpu_count()}}
    for n, name in enumerate(PRIMARIES):
        try:
            results[name] = bench_primary(children, work, name, zone_file, secret, keyring, args,
                                          1_000_000 * (n + 1))
        except Exception as e:  # noqa: BLE001 - reported in the table
            log(f"xfr: {name} failed: {e}")
            results[name] = {"error": str(e)[:300]}
    if "error" not in results["epmdns"]:
        log("xfr: AXFR from epmdns, full 65535-record browse set")
        try:
            results["epmdns"]["axfr_full_browse"] = full_browse_axfr(children, work, nodes, secret, axfr_runs)
        except Exception as e:  # noqa: BLE001
            results["epmdns"]["axfr_full_browse"] = {"error": str(e)[:300]}
    return results


def knot_version():
    out = subprocess.run(["knotd", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "?"


def main():
    import report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--registrations", type=int, default=200)
    parser.add_argument("--axfr-runs", type=int, default=7)
    parser.add_argument("--cluster-browse-limit", type=int, default=1000,
                        help="records in the cluster-wide browse PTR set (Knot cannot send one over 64 KiB)")
    args = parser.parse_args()
    children, work = Children(), tempfile.mkdtemp(prefix="epmdns-xfr-")
    try:
        results = bench(children, work, args.nodes, args.registrations, args.axfr_runs,
                        args.cluster_browse_limit)
    finally:
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    out = os.path.join(HERE, "results", f"xfr-{datetime.date.today().isoformat()}.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(report.xfr_table(results))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
