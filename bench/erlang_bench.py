"""Erlang distribution on loopback: two nodes, `net_kernel:connect_node/1` latency with a
disconnect between tries, `erl_epmd:port_please/2` and the address lookup, through
EPMD. Each name service is one function returning the same figures (None while pending)."""
import os
import socket
import subprocess
import time

from common import free_port

COOKIE = "epmdnsbench"
# Node "client" connects to Peer on Host Tries times; prints "metric us us us ..." lines.
CLIENT = r"""
Peer = list_to_atom(os:getenv("BENCH_PEER")),
PeerName = os:getenv("BENCH_PEER_NAME"),
Host = os:getenv("BENCH_HOST"),
Tries = list_to_integer(os:getenv("BENCH_TRIES")),
Time = fun(F) -> T0 = erlang:monotonic_time(microsecond), R = F(),
                 {erlang:monotonic_time(microsecond) - T0, R} end,
{ok, Ip} = inet:getaddr(Host, inet),
Connect = fun() ->
    {Us, true} = Time(fun() -> net_kernel:connect_node(Peer) end),
    erlang:monitor_node(Peer, true),
    erlang:disconnect_node(Peer),
    receive {nodedown, Peer} -> ok after 2000 -> ok end,
    timer:sleep(20),
    Us end,
PortPlease = fun() -> {Us, {port, _, _}} = Time(fun() -> erl_epmd:port_please(PeerName, Ip) end), Us end,
GetAddr = fun() -> {Us, {ok, _}} = Time(fun() -> inet:getaddr(Host, inet) end), Us end,
Print = fun(Name, F) -> io:format("~s~s~n", [Name, [[" ", integer_to_list(F())] || _ <- lists:seq(1, Tries)]]) end,
true = net_kernel:connect_node(Peer), erlang:disconnect_node(Peer), timer:sleep(50),
Print("connect_node", Connect),
Print("port_please", PortPlease),
Print("address_lookup", GetAddr),
halt().
"""


def node_argv(sname, extra):
    return ["erl", "-sname", sname, "-setcookie", COOKIE, "-noinput", "-start_epmd", "false",
            "-kernel", "inet_dist_use_interface", "{127,0,0,1}"] + extra


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summarize(samples_us):
    return {"p50_ms": percentile(samples_us, 50) / 1000, "p99_ms": percentile(samples_us, 99) / 1000,
            "samples_us": samples_us}


def wait_registered(port, sname, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        names = subprocess.run(["epmd", "-port", str(port), "-names"], capture_output=True, text=True).stdout
        if f"name {sname} at port" in names:
            return
        time.sleep(0.1)
    raise RuntimeError(f"node {sname} did not register with EPMD")


def run_pair(children, env, tries, wait_peer):
    """Starts the peer node, waits until wait_peer(name) sees it registered, runs the client
    node; returns {metric: summary}."""
    host = socket.gethostname().split(".")[0]
    peer = children.start(node_argv("peer", []), env=env)
    try:
        wait_peer("peer")
        client_env = dict(env, BENCH_PEER=f"peer@{host}", BENCH_PEER_NAME="peer", BENCH_HOST=host,
                          BENCH_TRIES=str(tries))
        out = subprocess.run(node_argv("client", ["-eval", CLIENT]), env=client_env, capture_output=True,
                             text=True, timeout=120 + tries).stdout
    finally:
        children.stop(peer)
    results = {}
    for line in out.splitlines():
        name, *values = line.split()
        if values:
            results[name] = summarize([int(v) for v in values])
    if "connect_node" not in results:
        raise RuntimeError(f"erlang client printed: {out.strip()[-300:]}")
    return results


def epmd(children, work, tries):
    port = free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(port), HOME=work)
    daemon = children.start(["epmd", "-port", str(port), "-address", "127.0.0.1"], env=env)
    try:
        return run_pair(children, env, tries, lambda name: wait_registered(port, name))
    finally:
        children.stop(daemon)


def epmdns(children, work, tries):
    """The epmdns epmd module (issue 5) is not in the tree yet: pending. When it is, start
    epmdnsd, set the nodes' -epmd_module, and return run_pair(...) like epmd() does."""
    return None


NAME_SERVICES = {"EPMD": epmd, "epmdns": epmdns}
