"""Erlang distribution on loopback: two nodes, `net_kernel:connect_node/1` latency with a
disconnect between tries, and the lookup a connection makes, once through EPMD and once
through the epmdns epmd module against a real epmdnsd, in the same run. Each name service
is one function returning {metric: summary}.

- EPMD: `erl_epmd:port_please/2`, `inet:getaddr/2`, and `address_please` = what a
  connection asks of erl_epmd: `erl_epmd:address_please/3` (the host's address) then
  `erl_epmd:port_please/2` (a TCP round trip to EPMD).
- epmdns (registered peer, client in static mode: no key): `address_please` =
  `epmdns:address_please/3` (address, port and version in one answer), timed from the
  second call on: answered from the NIF's resolver cache. `port_please` likewise.
- epmdns uncached: the same with a client VM started with `-epmdns_cache false`: the NIF's
  resolver keeps no cache, so every `address_please` (two per connect_node) is one SRV
  query over UDP to epmdnsd on loopback. c-ares 1.18 (Debian 12) has no cache of its own.

The client's code is a compiled module (erlc), not -eval text: erl_eval would add several
microseconds to each timed call. Times are taken in nanoseconds. The client is a hidden
node (-hidden), for EPMD and epmdns alike: with a visible one, `global` on the peer, still
syncing with the client when it is disconnected, sends it a message that sets the
connection up again a few ms later, so half the tries timed an already-up connection (about
50 us). A hidden connection is the same handshake without global's traffic after it; the
client also checks that the peer is not connected before each timed try.

The epmdns side uses the epmdns application of $EPMDNS_BENCH_BUILD (default build/, as
bench/run.py builds it): $EPMDNS_BENCH_BUILD/erlang_client/epmdns/ebin and server/epmdnsd.
"""
import base64
import os
import socket
import subprocess
import time

import dns.message
import dns.query

import servers
from common import ROOT, free_port

COOKIE = "epmdnsbench"
DOMAIN = "erl.internal"
PEER_HOST = f"benchpeer.{DOMAIN}"
CLIENT_HOST = f"benchclient.{DOMAIN}"

# Node "client" connects to $BENCH_PEER (name@host) $BENCH_TRIES times through the epmd
# module $BENCH_EPMD_MODULE (erl_epmd | epmdns); prints "metric ns ns ns ..." lines.
CLIENT_ERL = r"""
-module(erlang_bench_client).
-export([main/0]).

main() ->
    PeerText = os:getenv("BENCH_PEER"),
    Peer = list_to_atom(PeerText),
    [PeerName, Host] = string:split(PeerText, "@"),
    Tries = list_to_integer(os:getenv("BENCH_TRIES")),
    true = net_kernel:connect_node(Peer),
    erlang:disconnect_node(Peer),
    timer:sleep(50),
    print("connect_node", [connect(Peer) || _ <- lists:seq(1, Tries)]),
    case os:getenv("BENCH_EPMD_MODULE") of
        "erl_epmd" ->
            {ok, Ip} = inet:getaddr(Host, inet),
            repeat("port_please", Tries, fun() -> {port, _, _} = erl_epmd:port_please(PeerName, Ip) end),
            repeat("address_lookup", Tries, fun() -> {ok, _} = inet:getaddr(Host, inet) end),
            repeat("address_please", Tries,
                   fun() -> {ok, A} = erl_epmd:address_please(PeerName, Host, inet),
                            {port, _, _} = erl_epmd:port_please(PeerName, A) end);
        "epmdns" ->
            repeat("address_please", Tries,
                   fun() -> {ok, _, _, _} = epmdns:address_please(PeerName, Host, inet) end),
            repeat("port_please", Tries, fun() -> {port, _, _} = epmdns:port_please(PeerName, Host) end)
    end,
    halt().

connect(Peer) ->
    ensure_down(Peer, 10),
    T0 = erlang:monotonic_time(nanosecond),
    true = net_kernel:connect_node(Peer),
    Ns = erlang:monotonic_time(nanosecond) - T0,
    erlang:monitor_node(Peer, true),
    erlang:disconnect_node(Peer),
    receive {nodedown, Peer} -> ok after 2000 -> ok end,
    timer:sleep(20),
    Ns.

%% Never time a connection that is already up (the peer may have set one up meanwhile).
ensure_down(_Peer, 0) ->
    exit(peer_keeps_reconnecting);
ensure_down(Peer, Left) ->
    case lists:member(Peer, nodes(connected)) of
        false -> ok;
        true ->
            erlang:monitor_node(Peer, true),
            erlang:disconnect_node(Peer),
            receive {nodedown, Peer} -> ok after 2000 -> ok end,
            timer:sleep(50),
            ensure_down(Peer, Left - 1)
    end.

%% One untimed call first (for epmdns: the answer is then in the cache, if it keeps one).
repeat(Name, Tries, F) ->
    F(),
    print(Name, [time(F) || _ <- lists:seq(1, Tries)]).

time(F) ->
    T0 = erlang:monotonic_time(nanosecond),
    F(),
    erlang:monotonic_time(nanosecond) - T0.

print(Name, Samples) ->
    io:format("~s~s~n", [Name, [[" ", integer_to_list(S)] || S <- Samples]]).
"""


def build_dir():
    return os.environ.get("EPMDNS_BENCH_BUILD") or os.path.join(ROOT, "build")


def compile_client(work):
    out = os.path.join(work, "erlang-bench-client")
    if not os.path.exists(os.path.join(out, "erlang_bench_client.beam")):
        os.makedirs(out, exist_ok=True)
        source = os.path.join(out, "erlang_bench_client.erl")
        with open(source, "w") as f:
            f.write(CLIENT_ERL)
        subprocess.run(["erlc", "-o", out, source], check=True, capture_output=True, text=True)
    return out


def epmd_node_argv(sname, extra):
    return ["erl", "-sname", sname, "-setcookie", COOKIE, "-noinput", "-start_epmd", "false",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}"] + extra


def epmdns_node_argv(node, dns_port, extra):
    ebin = os.path.join(build_dir(), "erlang_client", "epmdns", "ebin")
    if not os.path.isfile(os.path.join(ebin, "epmdns.beam")):
        raise RuntimeError(f"no epmdns application in {ebin} (build the epmdns_app target)")
    return ["erl", "-name", node, "-setcookie", COOKIE, "-noinput", "-start_epmd", "false",
            "-pa", ebin, "-epmd_module", "epmdns", "-epmdns_servers", f"127.0.0.1:{dns_port}",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}"] + extra


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summarize(samples_us):
    p50, p99 = percentile(samples_us, 50), percentile(samples_us, 99)
    return {"p50_ms": p50 / 1000, "p99_ms": p99 / 1000, "p50_us": p50, "p99_us": p99,
            "samples_us": samples_us}


def wait_until(predicate, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {seconds} s")


def epmd_registered(port, sname):
    names = subprocess.run(["epmd", "-port", str(port), "-names"], capture_output=True, text=True).stdout
    return f"name {sname} at port" in names


def srv_published(dns_port, instance):
    try:
        reply = dns.query.udp(dns.message.make_query(instance, "SRV"), "127.0.0.1", port=dns_port, timeout=0.5)
    except Exception:  # noqa: BLE001 - not there yet
        return False
    return any(rrset.rdtype == 33 for rrset in reply.answer)


def run_client(argv, env, tries):
    """Runs the client node to its end; {metric: summary} of what it printed."""
    done = subprocess.run(argv + ["-eval", "erlang_bench_client:main()"], env=env, capture_output=True,
                          text=True, timeout=120 + tries)
    results = {}
    for line in done.stdout.splitlines():
        name, *values = line.split()
        if values and all(v.isdigit() for v in values):
            results[name] = summarize([int(v) / 1000 for v in values])
    if "connect_node" not in results:
        raise RuntimeError(f"erlang client printed: {(done.stdout + done.stderr).strip()[-300:]}")
    return results


def epmd(children, work, tries):
    port = free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(port), HOME=work)
    daemon = children.start(["epmd", "-port", str(port), "-address", "127.0.0.1"], env=env)
    peer = None
    try:
        peer = children.start(epmd_node_argv("peer", []), env=env)
        wait_until(lambda: epmd_registered(port, "peer"), "node peer did not register with EPMD")
        host = socket.gethostname().split(".")[0]
        client_env = dict(env, BENCH_PEER=f"peer@{host}", BENCH_TRIES=str(tries), BENCH_EPMD_MODULE="erl_epmd")
        return run_client(epmd_node_argv("client", ["-hidden", "-pa", compile_client(work)]), client_env, tries)
    finally:
        if peer:
            children.stop(peer)
        children.stop(daemon)


def epmdns_pair(children, work, tries, label, client_extra):
    """epmdnsd (updates on, the bench key) on the shipped zone, a peer node that registers
    itself with that key, and a client node (static mode) that measures."""
    home_name = f"erlang-{label}"
    running = servers.start(children, home_name, work, os.path.join(ROOT, "zones", "erl.internal.zone"),
                            base64.b64encode(os.urandom(32)).decode(),
                            build=build_dir(), argv_fn=servers.epmdnsd_argv)
    key = os.path.join(work, home_name, "bench.key")
    env = dict(os.environ, HOME=work)
    for var in [v for v in env if v.startswith("EPMDNS_")]:
        env.pop(var)
    peer = None
    try:
        peer = children.start(epmdns_node_argv(f"peer@{PEER_HOST}", running.port, ["-epmdns_key", key]),
                              env=env, log_path=os.path.join(work, home_name, "peer.log"))
        wait_until(lambda: srv_published(running.port, f"peer._erlang-dist._tcp.{PEER_HOST}."),
                   "node peer did not register in epmdnsd")
        client_env = dict(env, BENCH_PEER=f"peer@{PEER_HOST}", BENCH_TRIES=str(tries), BENCH_EPMD_MODULE="epmdns")
        argv = epmdns_node_argv(f"client@{CLIENT_HOST}", running.port, ["-hidden", "-pa", compile_client(work)] + client_extra)
        return run_client(argv, client_env, tries)
    finally:
        if peer:
            children.stop(peer)
        children.stop(running.proc)


def epmdns(children, work, tries):
    """The default configuration: lookups answered from the NIF's cache after the first."""
    return epmdns_pair(children, work, tries, "epmdns", [])


def epmdns_uncached(children, work, tries):
    """The client's resolver cache off (-epmdns_cache false): every lookup asks epmdnsd."""
    return epmdns_pair(children, work, tries, "epmdns-uncached", ["-epmdns_cache", "false"])


NAME_SERVICES = {"EPMD": epmd, "epmdns": epmdns, "epmdns uncached": epmdns_uncached}
