%% Driven by test_epmdns.py: runs on a real distributed node, prints one
%% "CHECK <name> <term>" line per check, then halts. Every wait is bounded.
-module(epmdns_it).
-export([registered/0, static/0, autoconnect/0]).

%% On node b: a@host1 is up and registered.
registered() ->
    run(fun() ->
        A = 'a@host1.erl.internal',
        check(ping, net_adm:ping(A)),
        check(rpc, rpc:call(A, erlang, node, [], 5000)),
        check(names, net_adm:names("host1.erl.internal")),
        check(names_atom, epmdns:names('host1.erl.internal')),
        check(status, rpc:call(A, epmdns, status, [], 5000)),
        {T, Missing} = timer:tc(epmdns, address_please, ["missing", "host1.erl.internal", inet]),
        check(missing, Missing),
        check(missing_us, T),
        check(outside, epmdns:address_please("x", "elsewhere.invalid", inet)),
        check(bad, epmdns:address_please("x y", "host1", inet)),
        check(port_please, epmdns:port_please("a", "host1.erl.internal")),
        %% By address, as erl_epmd takes it: the node a whose address is 127.0.0.1.
        check(port_please_ip, epmdns:port_please(a, {127,0,0,1})),
        check(port_please_ip_string, epmdns:port_please("a", "127.0.0.1", 5000)),
        check(port_please_other_ip, epmdns:port_please("a", {127,0,0,2})),
        check(port_please_ip_static, epmdns:port_please("app2", {127,0,0,2})),
        check(alive_after, net_adm:ping(A)),
        check(stop, rpc:call(A, init, stop, [], 5000))
    end).

%% On node c: s@stat1 is a static node (fixed port from the zone, no key anywhere).
static() ->
    run(fun() ->
        S = 's@stat1.erl.internal',
        check(ping, net_adm:ping(S)),
        check(rpc, rpc:call(S, erlang, node, [], 5000)),
        check(status, rpc:call(S, epmdns, status, [], 5000)),
        check(self_status, epmdns:status())
    end).

%% On node b (no autoconnect): a@host5 has autoconnect on; nobody pings anybody. a must
%% connect to b by itself, from the cluster's PTR records.
autoconnect() ->
    run(fun() ->
        A = 'a@host5.erl.internal',
        check(nodes, epmdns:nodes()),
        check(connected, wait_until(fun() -> lists:member(A, nodes()) end, 15000)),
        check(a_nodes, rpc:call(A, epmdns, nodes, [], 5000))
    end).

wait_until(F, Ms) when Ms =< 0 -> F();
wait_until(F, Ms) ->
    case F() of
        true -> true;
        _ -> timer:sleep(100), wait_until(F, Ms - 100)
    end.

run(F) ->
    Code = try F(), 0
           catch C:R:St -> io:format("CHECK crash ~0p~n", [{C, R, St}]), 1
           end,
    erlang:halt(Code).

check(Name, Value) ->
    io:format("CHECK ~s ~0p~n", [Name, Value]).
