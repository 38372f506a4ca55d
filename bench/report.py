"""The results as one Markdown table (a row per metric, a column per server, the ratio of
epmdns to the best peer and whether the target is met) and gnuplot PNG charts."""
import os
import subprocess
import tempfile

COLUMNS = ["epmdns", "Knot", "NSD", "BIND", "EPMD"]
DNS_PEERS = ["Knot", "NSD", "BIND"]
UPDATE_PEERS = ["Knot", "BIND"]


class Metric:
    """One row. get(result of one server) -> number; `ours` names the epmdns result the row
    reads; target = (factor, peers): met when epmdns/best-of-peers is >= factor (higher is
    better) or <= factor (lower is better); strict: < instead of <=. limit = (value, unit):
    an absolute target instead, met when epmdns's own value is <= value (the ratio is still
    shown)."""

    def __init__(self, label, get, higher, fmt, target=None, ours="epmdns", peers=DNS_PEERS, strict=False,
                 limit=None):
        self.label, self.get, self.higher, self.fmt, self.target = label, get, higher, fmt, target
        self.ours, self.peers, self.strict, self.limit = ours, peers, strict, limit

    def value(self, result):
        if not result or "error" in result:
            return None
        try:
            return self.get(result)
        except (KeyError, TypeError):
            return None

    def best(self, results):
        peers = self.target[1] if self.target else self.peers
        values = [v for v in (self.value(results.get(p)) for p in peers) if v]
        if not values:
            return None
        return max(values) if self.higher else min(values)

    def status(self, ratio):
        if not self.target or ratio is None:
            return ""
        factor = self.target[0]
        if self.higher:
            met = ratio >= factor
        else:
            met = ratio < factor if self.strict else ratio <= factor
        return "ahead" if met else "**behind**"

    def target_text(self):
        if self.limit:
            return f"<= {self.limit[0]:g} {self.limit[1]} (absolute)"
        if not self.target:
            return ""
        factor, peers = self.target
        sign = ">=" if self.higher else ("<" if self.strict else "<=")
        return f"{sign} {factor:g}x best of {'/'.join(peers)}"


def dns_metrics():
    reg = lambda r: r["registrations"]["rate"]
    return [
        Metric("queries/s", lambda r: r["queries"]["rate"], True, "{:,.0f}", (1.5, DNS_PEERS)),
        Metric("query avg latency ms", lambda r: r["queries"]["latency_ms"], False, "{:.3f}"),
        Metric("registrations/s, epmdns --journal-sync disk", reg, True, "{:,.0f}", (10, UPDATE_PEERS)),
        Metric("registrations/s, epmdns --journal-sync os", reg, True, "{:,.0f}", (10, UPDATE_PEERS),
               ours="epmdns os"),
        Metric("registration avg latency ms (disk)", lambda r: r["registrations"]["latency_ms"], False, "{:.2f}",
               peers=UPDATE_PEERS),
        Metric("registrations/s beside a query flood (disk)", lambda r: r["registrations"]["with_queries"]["rate"],
               True, "{:,.0f}", peers=UPDATE_PEERS),
        Metric("queries/s during those registrations", lambda r: r["registrations"]["with_queries"]["queries_during"],
               True, "{:,.0f}", peers=UPDATE_PEERS),
        Metric("memory MB (PSS, all processes)", lambda r: r["memory"]["pss_kb"] / 1024, False, "{:.1f}",
               (0.5, DNS_PEERS)),
        Metric("RSS MB (VmRSS summed over processes)", lambda r: r["memory"]["rss_kb"] / 1024, False, "{:.1f}"),
        Metric("start-up to first SOA answer ms", lambda r: r["startup_s"] * 1000, False, "{:,.0f}",
               (1, ["Knot"]), strict=True),
    ]


def erlang_metrics():
    """epmdns: the default configuration (resolver cache on); "epmdns uncached": a client VM
    with -epmdns_cache false (see bench/erlang_bench.py). The EPMD column is the same
    measurement in both: erl_epmd keeps no cache."""
    def get(result, key, pct):  # results written before p50_us existed have p50_ms only
        summary = result[key]
        return summary[pct] if pct in summary else summary[pct.replace("_us", "_ms")] * 1000

    def m(label, key, pct, target=None, ours="epmdns", fmt="{:.3f}", limit=None):
        return Metric(label, lambda r: get(r, key, pct), False, fmt, target, ours=ours, peers=["EPMD"],
                      limit=limit)
    return [m("connect_node p50 ms", "connect_node", "p50_ms", (0.7, ["EPMD"])),
            m("connect_node p99 ms", "connect_node", "p99_ms"),
            m("connect_node p50 ms, epmdns resolver cache off", "connect_node", "p50_ms", (0.7, ["EPMD"]),
              ours="epmdns uncached"),
            m("connect_node p99 ms, epmdns resolver cache off", "connect_node", "p99_ms", ours="epmdns uncached"),
            m("address_please p50 us, cached (EPMD: erl_epmd address_please + port_please)", "address_please",
              "p50_us", fmt="{:.1f}", limit=(5, "us")),
            m("address_please p50 us, uncached (EPMD: the same)", "address_please", "p50_us",
              ours="epmdns uncached", fmt="{:.1f}", limit=(100, "us")),
            m("port_please p50 us (epmdns: cached)", "port_please", "p50_us", fmt="{:.1f}"),
            m("address lookup (inet:getaddr) p50 us, EPMD only", "address_lookup", "p50_us", fmt="{:.1f}")]


def xfr_metrics():
    """bench/xfr.py: epmdnsd as the primary beside Knot DNS as the primary of the same zone,
    a Knot secondary behind each. No target is set by the issue: "ahead" here means not
    worse than Knot."""
    def prop(mode, pct):
        return lambda r: r["propagation"][mode][pct]
    knot = (1, ["Knot"])
    return [Metric("UPDATE acked -> answerable on a Knot secondary p50 ms, one at a time", prop("spaced", "p50_ms"),
                   False, "{:.1f}", knot, peers=["Knot"]),
            Metric("UPDATE acked -> answerable on a Knot secondary p99 ms, one at a time", prop("spaced", "p99_ms"),
                   False, "{:.1f}", knot, peers=["Knot"]),
            Metric("  same, back to back (NOTIFY coalescing) p50 ms", prop("back_to_back", "p50_ms"), False,
                   "{:.1f}", knot, peers=["Knot"]),
            Metric("  same, back to back p99 ms", prop("back_to_back", "p99_ms"), False, "{:.1f}", knot,
                   peers=["Knot"]),
            Metric("  same, 4 in flight p50 ms", prop("in_flight_4", "p50_ms"), False, "{:.1f}", knot,
                   peers=["Knot"]),
            Metric("  same, 4 in flight p99 ms", prop("in_flight_4", "p99_ms"), False, "{:.1f}", knot,
                   peers=["Knot"]),
            Metric("AXFR time ms (median)", lambda r: r["axfr"]["median_ms"], False, "{:,.1f}", knot,
                   peers=["Knot"]),
            Metric("AXFR bytes", lambda r: r["axfr"]["bytes"], False, "{:,.0f}", knot, peers=["Knot"]),
            Metric("AXFR messages", lambda r: r["axfr"]["messages"], False, "{:,.0f}", peers=["Knot"])]


def xfr_rows(xfr):
    nodes = xfr.get("params", {}).get("nodes")
    size = f", {nodes:,} nodes" if nodes else ""
    lines = [row(metric, metric.label + size, xfr) for metric in xfr_metrics()]
    full = (xfr.get("epmdns") or {}).get("axfr_full_browse")
    if full and "error" not in full:
        lines.append(f"| AXFR ms / bytes, full 65535-record browse set (Knot cannot send it){size} | "
                     f"{full['median_ms']:,.1f} / {full['bytes']:,} |" + " |" * (len(COLUMNS) + 2))
    return lines


def xfr_table(xfr):
    p = xfr.get("params", {})
    head = (f"Zone transfers, {p.get('nodes', 0):,}-node zone ({p.get('cluster_browse_limit')} in the cluster "
            f"browse set), {p.get('secondary', '')} as the secondary, {p.get('registrations')} registrations "
            f"per mode, SRV polled every {p.get('poll_interval_ms')} ms, AXFR median of {p.get('axfr_runs')}, "
            f"loopback, {p.get('cpus')} shared CPUs")
    return "\n".join([head, "", "| metric | " + " | ".join(COLUMNS) + " | epmdns / Knot | target | |",
                      "|---" * (len(COLUMNS) + 4) + "|"] + xfr_rows(xfr))


def cell(metric, result):
    if result is None:
        return "pending"
    if "error" in result:
        return "failed"
    value = metric.value(result)
    return metric.fmt.format(value) if value is not None else "n/a"


def row(metric, label, results):
    ours = results.get(metric.ours)
    cells = [cell(metric, ours if name == "epmdns" else results.get(name)) if name in results or name == "epmdns"
             else "" for name in COLUMNS]
    value, best = metric.value(ours), metric.best(results)
    ratio = value / best if value is not None and best else None
    status = metric.status(ratio) if ours is not None else "pending"
    if metric.limit and ours is not None:
        status = "" if value is None else ("ahead" if value <= metric.limit[0] else "**behind**")
    ratio_text = "" if ratio is None else (f"{ratio:.2f}x" if ratio >= 0.01 else f"{ratio:.4f}x")
    return f"| {label} | " + " | ".join(cells) + f" | {ratio_text} | {metric.target_text()} | {status} |"


def ceiling_row(size, servers):
    """How fast dnsperf -u can send here at all: epmdnsd refusing every registration at once."""
    label = f"dnsperf -u ceiling (every update refused at once), {int(size):,} nodes"
    ceiling = (servers.get("dnsperf ceiling") or {}).get("registrations")
    ours = (servers.get("epmdns") or {}).get("registrations")
    if not ceiling:
        return f"| {label} | failed |" + " |" * (len(COLUMNS) + 2)
    share = f"epmdns disk at {ours['rate'] / ceiling['rate']:.0%} of it" if ours else ""
    return f"| {label} | {ceiling['rate']:,.0f} |" + " |" * (len(COLUMNS) - 1) + f" {share} | | |"


def table(results):
    lines = ["| metric | " + " | ".join(COLUMNS) + " | epmdns / best peer | target | |",
             "|---" * (len(COLUMNS) + 4) + "|"]
    for size, servers in results["zones"].items():
        for metric in dns_metrics():
            lines.append(row(metric, f"{metric.label}, {int(size):,} nodes", servers))
        lines.append(ceiling_row(size, servers))
    erlang = results.get("erlang", {})
    for metric in erlang_metrics():
        lines.append(row(metric, metric.label, erlang))
    if results.get("xfr") and "error" not in results["xfr"]:
        lines.extend(xfr_rows(results["xfr"]))
    for bench in results.get("query_bench", []):
        lines.append(f"| query_bench {bench['name']} ns/op (epmdnsd query path, no sockets) | "
                     f"{bench['ns_per_op']:,.0f} |" + " |" * (len(COLUMNS) + 2))
    return "\n".join(lines)


def footnotes(results):
    notes = []
    for size, servers in results["zones"].items():
        for name, result in servers.items():
            if "error" in result:
                notes.append(f"- {name}, {int(size):,} nodes: failed: {result['error']}")
            for load in ("queries", "registrations"):
                codes = (result.get(load) or {}).get("codes", "")
                if any(bad in codes for bad in ("SERVFAIL", "REFUSED", "FORMERR", "NOTAUTH", "NOTIMP")):
                    notes.append(f"- {name}, {int(size):,} nodes, {load}: unexpected rcodes: {codes}")
    for name, result in results.get("erlang", {}).items():
        if result and "error" in result:
            notes.append(f"- {name} (Erlang): failed: {result['error']}")
    xfr = results.get("xfr") or {}
    for name in ("epmdns", "Knot"):
        if "error" in xfr.get(name, {}):
            notes.append(f"- zone transfers, {name} as primary: failed: {xfr[name]['error']}")
    if "error" in xfr:
        notes.append(f"- zone transfers: failed: {xfr['error']}")
    for name, error in results.get("errors", {}).items():
        notes.append(f"- {name}: failed: {error}")
    return notes


def markdown(results):
    if not results["zones"] and not results.get("erlang") and results.get("xfr"):  # run.py --only xfr
        if "error" in results["xfr"]:
            return "zone transfers: failed: " + results["xfr"]["error"]
        notes = footnotes(results)
        return "\n".join([xfr_table(results["xfr"])] + ([""] + notes if notes else []))
    p = results["params"]
    head = (f"epmdns benchmark {results['date']}, loopback, {p['cpus']} CPUs, {p['servers_threads']} server threads "
            f"each, {p['seconds']} s per dnsperf run, query mix {p['query_mix']}, registrations: 4 RRs, TSIG "
            f"hmac-sha256, 20 in flight. Same zone file for every server; its cluster-wide browse PTR set holds at "
            f"most {p['cluster_browse_limit']} records (Knot refuses RRsets over 65535). NSD has no DNS UPDATE. "
            f"Erlang: two nodes on loopback, epmdns against epmdnsd (\"resolver cache off\" / \"uncached\": a client VM with -epmdns_cache false, every lookup one SRV "
            f"query to epmdnsd), EPMD on its own port.")
    return "\n".join([head, "", table(results)] + ([""] + footnotes(results) if footnotes(results) else []))


def gnuplot(script, data):
    """Runs a gnuplot script; `data` maps a placeholder in it to the text of a data file."""
    with tempfile.TemporaryDirectory() as tmp:
        for key, text in data.items():
            path = os.path.join(tmp, key + ".dat")
            with open(path, "w") as f:
                f.write(text)
            script = script.replace("{" + key + "}", path)
        done = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if done.returncode:
            raise RuntimeError(f"gnuplot: {done.stderr.strip()[-300:]}")


def by_size_chart(results, metric, ylabel, out):
    servers = [s for s in COLUMNS if s != "EPMD"]
    rows = []
    for size, per_server in results["zones"].items():
        values = [metric.value(per_server.get(s)) for s in servers]
        rows.append(size + " " + " ".join("NaN" if v is None else f"{v:.3f}" for v in values))
    plots = ", ".join(f"'{{d}}' using 1:{i + 2} with linespoints lw 2 title '{s}'" for i, s in enumerate(servers))
    gnuplot(f"""set terminal pngcairo size 800,500
set output '{out}'
set logscale x
set xlabel 'nodes in the zone'
set ylabel '{ylabel}'
set yrange [0:*]
set key outside
set grid
plot {plots}
""", {"d": "\n".join(rows) + "\n"})


def cdf_chart(results, out):
    plots, data = [], {}
    for i, (name, result) in enumerate(results.get("erlang", {}).items()):
        if result and "connect_node" in result:
            samples = sorted(result["connect_node"]["samples_us"])
            data[f"c{i}"] = "".join(f"{v / 1000:.3f} {(k + 1) / len(samples):.4f}\n" for k, v in enumerate(samples))
            plots.append(f"'{{c{i}}}' using 1:2 with steps lw 2 title '{name}'")
    if plots:
        gnuplot(f"""set terminal pngcairo size 800,500
set output '{out}'
set xlabel 'net_kernel:connect_node/1 latency, ms' noenhanced
set ylabel 'fraction of tries'
set yrange [0:1]
set grid
set key bottom right
set key noenhanced
plot {", ".join(plots)}
""", data)


def charts(results, directory):
    metrics = {m.label: m for m in dns_metrics()}
    written = [os.path.join(directory, name) for name in ("qps.png", "memory.png", "connect_node_cdf.png")]
    if results["zones"]:
        by_size_chart(results, metrics["queries/s"], "queries/s", written[0])
        by_size_chart(results, metrics["memory MB (PSS, all processes)"], "memory MB (PSS)", written[1])
    cdf_chart(results, written[2])
    if not results["zones"]:  # run.py --only erlang: the other two charts are not this run's
        written = written[2:]
    return [path for path in written if os.path.exists(path)]
