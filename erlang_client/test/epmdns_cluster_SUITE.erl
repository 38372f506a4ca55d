%% Real Erlang nodes (-epmd_module epmdns -start_epmd false) clustering through the real
%% epmdnsd on loopback, with no EPMD anywhere: a 4-node mesh (ping, rpc, global),
%% net_adm:names/1, erl -remsh, a clean stop seen with dig, and epmdnsd killed (kill -9)
%% under a running cluster, then restarted from the same state directory.
%%
%% The CT node itself is not distributed: peers are controlled over TCP on loopback.
-module(epmdns_cluster_SUITE).
-include_lib("common_test/include/ct.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([mesh/1, names/1, remsh/1, clean_stop/1, restart_new_port/1, epmdnsd_killed/1]).

-import(epmdns_ct_lib, [call/4, call/5, dig/3, wait_until/2, ms_since/1]).

-define(MESH_LEASE, 30).    % long: a record gone within seconds was deleted, not lapsed
-define(OUTAGE_LEASE, 2).   % short: records are back after an outage only if renewed
-define(STALE_TTL, 1).      % TTL of the static node's records: its cache entry goes stale

suite() -> [{timetrap, {seconds, 60}}].

all() -> [{group, mesh}, {group, outage}].

groups() ->
    [{mesh, [sequence], [mesh, names, remsh, clean_stop, restart_new_port]},
     {outage, [sequence], [epmdnsd_killed]}].

%% --------------------------------------------------------------------------

init_per_suite(Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    Priv = ?config(priv_dir, Config),
    StalePort = epmdns_ct_lib:free_port([{127, 0, 0, 1}]),
    Zones = epmdns_ct_lib:zone_dir(Priv, stale_zone_text(StalePort)),
    Keys = epmdns_ct_lib:write_key_file(filename:join(Priv, "keys.conf"), "node."),
    Server = epmdns_ct_lib:start_epmdnsd(#{zones => Zones, keys => Keys,
                                          state_dir => filename:join(Priv, "state"),
                                          args => ["--lease-min", "1"]}),
    ct:log("epmdnsd: ~p", [maps:get(argv, Server)]),
    [{server, Server}, {key, Keys}, {stale_port, StalePort} | Config].

end_per_suite(Config) ->
    Server = ?config(server, Config),
    ct:log("epmdnsd output:~n~s", [epmdns_ct_lib:epmdnsd_output(Server)]),
    epmdns_ct_lib:stop_epmdnsd(Server),
    epmdns_ct_lib:assert_no_epmd(),
    ok.

init_per_group(mesh, Config) ->
    Specs = [spec(Name, Host, ?MESH_LEASE, Config)
             || {Name, Host} <- [{a, "m1"}, {b, "m1"}, {c, "m2"}, {d, "m2"}]],
    Nodes = epmdns_ct_lib:start_nodes(Specs),
    [{nodes, Nodes} | Config];
init_per_group(outage, Config) ->
    Config.

end_per_group(_Group, Config) ->
    [epmdns_ct_lib:stop_node(N) || N <- proplists:get_value(nodes, Config, [])],
    ok.

init_per_testcase(_Case, Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    Config.

end_per_testcase(_Case, Config) ->
    %% Checked while the nodes still run.
    epmdns_ct_lib:assert_no_epmd(),
    Config.

%% --------------------------------------------------------------------------
%% Cases

%% Four registered nodes on two hosts: each pings and rpc's each other, the mesh is full,
%% DNS has each node's real listen port, and a global name registered on one node is seen
%% from all the others.
mesh(Config) ->
    Server = ?config(server, Config),
    Nodes = ?config(nodes, Config),
    Names = [node_of(N) || N <- Nodes],
    %% The SRV record of each node is its real listen port (registration is asynchronous).
    [begin
         Port = call(N, epmdns_ct_lib, listen_port, []),
         true = is_integer(Port) orelse ct:fail("~p listens on ~p", [node_of(N), Port]),
         Srv = instance(N),
         Got = wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Srv) =:= Port end, 5000),
         Got orelse ct:fail("SRV ~s is ~p, ~p listens on ~p", [Srv, epmdns_ct_lib:srv_port(Server, Srv),
                                                                node_of(N), Port])
     end || N <- Nodes],
    [begin
         pong = expect(call(X, net_adm, ping, [node_of(Y)]), pong, {ping, node_of(X), node_of(Y)}),
         expect(call(X, rpc, call, [node_of(Y), erlang, node, [], 5000]), node_of(Y),
                {rpc, node_of(X), node_of(Y)})
     end || X <- Nodes, Y <- Nodes, X =/= Y],
    [begin
         Others = lists:sort(Names -- [node_of(X)]),
         expect(lists:sort(call(X, erlang, nodes, [])), Others, {mesh_of, node_of(X)})
     end || X <- Nodes],
    %% global: registered on a, seen from b, c and d; a second registration is refused.
    [A, B | _] = Nodes,
    Pid = call(A, erlang, spawn, [timer, sleep, [infinity]]),
    expect(call(A, global, register_name, [epmdns_ct_global, Pid]), yes, global_register),
    [begin
         Seen = wait_until(fun() -> call(X, global, whereis_name, [epmdns_ct_global]) =:= Pid end,
                           5000),
         Seen orelse ct:fail("global name on ~p: ~p, expected ~p", [node_of(X),
                              call(X, global, whereis_name, [epmdns_ct_global]), Pid])
     end || X <- tl(Nodes)],
    Other = call(B, erlang, spawn, [timer, sleep, [infinity]]),
    expect(call(B, global, register_name, [epmdns_ct_global, Other]), no, global_register_taken),
    expect(call(B, epmdns, status, []), #{mode => registered, registered => true,
                                          last_error => undefined}, status),
    ok.

%% net_adm:names/1 lists the nodes of a host with their real ports (string, atom and short
%% host names alike); a host that lists no node is an error.
names(Config) ->
    [A, B, C, D] = ?config(nodes, Config),
    PortA = call(A, epmdns_ct_lib, listen_port, []),
    PortB = call(B, epmdns_ct_lib, listen_port, []),
    PortC = call(C, epmdns_ct_lib, listen_port, []),
    PortD = call(D, epmdns_ct_lib, listen_port, []),
    M1 = [{"a", PortA}, {"b", PortB}],
    M2 = [{"c", PortC}, {"d", PortD}],
    expect(sorted(call(C, net_adm, names, ["m1.erl.internal"])), {ok, M1}, names_m1),
    expect(sorted(call(C, net_adm, names, ['m1.erl.internal'])), {ok, M1}, names_m1_atom),
    expect(sorted(call(C, net_adm, names, ["m1"])), {ok, M1}, names_m1_short),
    expect(sorted(call(A, net_adm, names, ["m2.erl.internal"])), {ok, M2}, names_m2),
    %% No browse name (_erlang-dist._tcp.Host is NXDOMAIN): {error, not_found}, as EPMD
    %% gives {error, _} for a host it cannot ask. This holds for a host with an address but
    %% no node (ns1) as for an unknown one.
    expect(call(A, net_adm, names, ["ns1.erl.internal"]), {error, not_found},
           names_host_without_nodes),
    expect(call(A, net_adm, names, ["nosuchhost.erl.internal"]), {error, not_found},
           names_unknown_host),
    ok.

%% erl -remsh (a dynamic-name client: -name undefined@Host, no key) to node a: the
%% expression typed into its shell is evaluated on a. The shell needs a terminal: script(1).
remsh(Config) ->
    Server = ?config(server, Config),
    [A | _] = ?config(nodes, Config),
    Target = atom_to_list(node_of(A)),
    Erl = os:find_executable("erl"),
    Cmd = lists:flatten(lists:join(" ", [Erl, "-name", "undefined@rc.erl.internal", "-remsh", Target,
                           "-pa", env_ebin(), "-epmd_module", "epmdns", "-start_epmd", "false",
                           "-setcookie", "epmdnsct",
                           "-epmdns_servers", epmdns_ct_lib:servers_arg(Server)])),
    T0 = erlang:monotonic_time(millisecond),
    P = epmdns_ct_lib:start_program("script", ["-qfec", Cmd, "/dev/null"],
                                    [{env, [{"TERM", "vt100"}]}]),
    Prompt = "(" ++ Target ++ ")1>",
    case wait_output(P, Prompt, 10000) of
        true -> ok;
        false -> fail_program(P, "no remote prompt ~s within 10 s", [Prompt])
    end,
    %% The answer, not the echo of the input, contains remsh_<node>.
    epmdns_ct_lib:program_write(P, "list_to_atom(\"remsh_\" ++ atom_to_list(node())).\n"),
    Expected = "'remsh_" ++ Target ++ "'",
    case wait_output(P, Expected, 5000) of
        true -> ok;
        false -> fail_program(P, "the remote shell did not answer ~s", [Expected])
    end,
    ct:log("remsh answered after ~p ms", [ms_since(T0)]),
    %% ^G q ends the local shell.
    epmdns_ct_lib:program_write(P, [7]),
    timer:sleep(200),
    epmdns_ct_lib:program_write(P, "q\n"),
    case epmdns_ct_lib:program_wait_exit(P, 5000) of
        {ok, _} -> ok;
        timeout -> epmdns_ct_lib:program_kill(P)
    end,
    ct:log("remsh output:~n~s", [epmdns_ct_lib:program_output(P)]),
    %% a is still up, and the client left no record (it has no key: static mode).
    expect(call(A, erlang, node, []), node_of(A), target_alive),
    expect(dig(Server, "_erlang-dist._tcp.rc.erl.internal", "PTR"), [], no_client_records),
    ok.

%% init:stop() on d deletes its records at once (well before its 30 s lease could end):
%% SRV, TXT and both PTRs, seen with dig; the other node on its host keeps its records.
clean_stop(Config) ->
    Server = ?config(server, Config),
    [_, _, C, D] = ?config(nodes, Config),
    Inst = instance(D),
    PtrHost = "_erlang-dist._tcp.m2.erl.internal",
    PtrZone = "_erlang-dist._tcp.erl.internal",
    true = dig(Server, Inst, "SRV") =/= [] orelse ct:fail("d has no SRV before the stop"),
    true = lists:member(Inst ++ ".", dig(Server, PtrZone, "PTR"))
        orelse ct:fail("d not in the cluster PTR before the stop"),
    T0 = erlang:monotonic_time(millisecond),
    ok = call(D, init, stop, []),
    Gone = wait_until(fun() -> dig(Server, Inst, "SRV") =:= [] end, 3000),
    Ms = ms_since(T0),
    Gone orelse ct:fail("d's SRV still there ~p ms after init:stop(): ~p",
                        [Ms, dig(Server, Inst, "SRV")]),
    ct:log("d's SRV gone ~p ms after init:stop()", [Ms]),
    expect(dig(Server, Inst, "TXT"), [], txt_gone),
    expect(lists:member(Inst ++ ".", dig(Server, PtrHost, "PTR")), false, host_ptr_gone),
    expect(lists:member(Inst ++ ".", dig(Server, PtrZone, "PTR")), false, zone_ptr_gone),
    %% c, on the same host, is untouched: its SRV, its PTR and the host address remain.
    expect(dig(Server, instance(C), "SRV") =/= [], true, c_srv_kept),
    expect(dig(Server, PtrHost, "PTR"), [instance(C) ++ "."], c_ptr_kept),
    expect(dig(Server, "m2.erl.internal", "A"), ["127.0.0.1"], host_address_kept),
    %% The node process ends.
    #{peer := Peer} = D,
    wait_until(fun() -> not is_process_alive(Peer) end, 5000)
        orelse ct:fail("d's node did not end within 5 s of init:stop()"),
    ok.

%% Distribution started and stopped at run time (net_kernel:start/1, net_kernel:stop/0) on
%% a node booted without -name: net_kernel:stop deletes the records at once, and a new
%% start registers again, on a new port. Node a, which had connected to the first
%% incarnation, must then reach the second one (as it would through EPMD).
restart_new_port(Config) ->
    Server = ?config(server, Config),
    [A | _] = ?config(nodes, Config),
    Dyn = 'dyn@m3.erl.internal',
    Inst = "dyn._erlang-dist._tcp.m3.erl.internal",
    #{peer := Peer} = N = epmdns_ct_lib:start_node(
        #{key => ?config(key, Config), lease => ?MESH_LEASE,
          servers => epmdns_ct_lib:servers_arg(Server)}),
    Dist = N#{node := Dyn},
    try
        {ok, _} = expect_ok2(call(N, net_kernel, start, [[Dyn, longnames]]), net_kernel_start),
        Port1 = call(Dist, epmdns_ct_lib, listen_port, []),
        wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Inst) =:= Port1 end, 5000)
            orelse ct:fail("SRV ~s: ~p, dyn listens on ~p", [Inst, dig(Server, Inst, "SRV"), Port1]),
        expect(call(A, net_adm, ping, [Dyn]), pong, ping_first),
        T0 = erlang:monotonic_time(millisecond),
        expect(call(N, net_kernel, stop, []), ok, net_kernel_stop),
        wait_until(fun() -> dig(Server, Inst, "SRV") =:= [] end, 1500)
            orelse ct:fail("dyn's SRV still there ~p ms after net_kernel:stop(): ~p",
                           [ms_since(T0), dig(Server, Inst, "SRV")]),
        ct:log("dyn's SRV gone ~p ms after net_kernel:stop()", [ms_since(T0)]),
        expect(lists:member(Inst ++ ".", dig(Server, "_erlang-dist._tcp.erl.internal", "PTR")),
               false, zone_ptr_gone),
        %% Second incarnation, on a new port.
        {ok, _} = expect_ok2(call(N, net_kernel, start, [[Dyn, longnames]]), net_kernel_restart),
        Port2 = call(Dist, epmdns_ct_lib, listen_port, []),
        wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Inst) =:= Port2 end, 5000)
            orelse ct:fail("SRV ~s after the restart: ~p, dyn listens on ~p",
                           [Inst, dig(Server, Inst, "SRV"), Port2]),
        expect(call(Dist, epmdns, status, []), #{mode => registered, registered => true,
                                                 last_error => undefined}, status_after_restart),
        ct:log("dyn: port ~p, then ~p", [Port1, Port2]),
        T1 = erlang:monotonic_time(millisecond),
        Reached = wait_until(fun() -> call(A, net_adm, ping, [Dyn]) =:= pong end, 5000),
        Reached =:= true orelse
            ct:fail("a cannot reach dyn ~p ms after dyn re-registered on port ~p (DNS has it: ~0p): "
                    "a's address_please(\"dyn\", \"m3.erl.internal\") still gives ~0p, the first "
                    "incarnation's port ~p, from its resolver cache (the records' TTL is 60 s); "
                    "a refused connection does not make epmdns look the node up again",
                    [ms_since(T1), Port2, dig(Server, Inst, "SRV"),
                     call(A, epmdns, address_please, ["dyn", "m3.erl.internal", inet]), Port1]),
        ok
    after
        epmdns_ct_lib:stop_node(N),
        is_process_alive(Peer) andalso ct:log("dyn's peer still alive after stop")
    end.

%% kill -9 of epmdnsd under a running cluster:
%%  - k1 and k2 stay connected;
%%  - k1 makes NEW connections to nodes it looked up before: k3 (fresh in its cache) and
%%    s (a static node whose records have a 1 s TTL, so its entry is stale: serve-stale);
%%  - a node k1 never looked up is an error, within the resolver's bound;
%%  - epmdnsd restarted from the same --state-dir after every 2 s lease has ended: the
%%    nodes renew, their records are back and stay past another lease.
epmdnsd_killed(Config) ->
    Server = ?config(server, Config),
    StalePort = ?config(stale_port, Config),
    [K1, K2, K3, S] = Nodes = epmdns_ct_lib:start_nodes(
        [spec(Name, Host, ?OUTAGE_LEASE, Config, ["-connect_all", "false"])
         || {Name, Host} <- [{k1, "o1"}, {k2, "o2"}, {k3, "o3"}]]
        ++ [#{name => s, host => "stale.erl.internal", args => ["-connect_all", "false"],
              servers => epmdns_ct_lib:servers_arg(Server)}]),
    try
        outage(Server, StalePort, K1, K2, K3, S)
    after
        [epmdns_ct_lib:stop_node(N) || N <- Nodes]
    end.

outage(Server0, StalePort, K1, K2, K3, S) ->
    [begin
         Srv = instance(N),
         wait_until(fun() -> dig(Server0, Srv, "SRV") =/= [] end, 5000)
             orelse ct:fail("~s never appeared", [Srv])
     end || N <- [K1, K2, K3]],
    expect(call(S, epmdns_ct_lib, listen_port, []), StalePort, static_node_port),
    expect(epmdns_ct_lib:dig_ttls(Server0, "s._erlang-dist._tcp.stale.erl.internal", "SRV"),
           [?STALE_TTL], stale_srv_ttl),
    expect(call(K1, net_adm, ping, [node_of(K2)]), pong, ping_k2_before),
    {ok, _, PortK3, 6} = expect_ok(call(K1, epmdns, address_please, ["k3", "o3.erl.internal", inet]),
                                   k3_lookup_before),
    expect(call(K1, epmdns, address_please, ["s", "stale.erl.internal", inet]),
           {ok, {127, 0, 0, 1}, StalePort, 6}, stale_lookup_before),
    timer:sleep(?STALE_TTL * 1000 + 500),  % s's cache entry on k1 has expired

    KillT0 = erlang:monotonic_time(millisecond),
    epmdns_ct_lib:kill_epmdnsd(Server0),
    case epmdns_ct_lib:dig_answers(Server0, "o1.erl.internal", "A") of
        {error, _, _} -> ok;
        Answer -> ct:fail("epmdnsd still answers after kill -9: ~p", [Answer])
    end,
    %% Connected nodes stay connected.
    expect(lists:member(node_of(K2), call(K1, erlang, nodes, [])), true, k2_still_connected),
    expect(call(K1, rpc, call, [node_of(K2), erlang, node, [], 5000]), node_of(K2), rpc_k2_during),
    %% A new connection to a node known from the cache: stale (s) and fresh (k3) entries.
    {PingS, PingSMs} = timed(fun() -> call(K1, net_adm, ping, [node_of(S)]) end),
    PingS =:= pong orelse
        ct:fail("k1 could not connect to s with epmdnsd down (serve-stale): ~p after ~p ms; "
                "address_please now gives ~p",
                [PingS, PingSMs, call(K1, epmdns, address_please, ["s", "stale.erl.internal", inet])]),
    ct:log("k1 -> s (stale entry) with epmdnsd down: pong in ~p ms", [PingSMs]),
    expect(call(K1, rpc, call, [node_of(S), erlang, node, [], 5000]), node_of(S), rpc_s_during),
    {PingK3, PingK3Ms} = timed(fun() -> call(K1, net_adm, ping, [node_of(K3)]) end),
    PingK3 =:= pong orelse ct:fail("k1 could not connect to k3 with epmdnsd down: ~p after ~p ms",
                                   [PingK3, PingK3Ms]),
    %% What was never looked up cannot be found, and the answer comes within the bound.
    {Unknown, UnknownMs} = timed(fun() -> call(K1, epmdns, address_please,
                                                ["nobody", "o3.erl.internal", inet]) end),
    case Unknown of
        {error, _} when UnknownMs < 1500 -> ok;
        _ -> ct:fail("address_please of an unknown node with epmdnsd down: ~p after ~p ms",
                     [Unknown, UnknownMs])
    end,
    case call(K2, epmdns, address_please, ["s", "stale.erl.internal", inet]) of
        {error, _} -> ok;
        Got -> ct:fail("k2 never looked s up, yet found it with epmdnsd down: ~p", [Got])
    end,

    %% Every 2 s lease ends while epmdnsd is down.
    timer:sleep(max(0, (?OUTAGE_LEASE * 1000 + 1500) - ms_since(KillT0))),
    Server = epmdns_ct_lib:restart_epmdnsd(Server0),
    Down = ms_since(KillT0),
    ct:log("epmdnsd restarted after ~p ms down", [Down]),
    Insts = [instance(N) || N <- [K1, K2, K3]],
    Back = wait_until(fun() -> lists:all(fun(I) -> dig(Server, I, "SRV") =/= [] end, Insts) end,
                      8000),
    Back orelse ct:fail("records not renewed within 8 s of the restart: ~p~nstatus of k1: ~p",
                        [[{I, dig(Server, I, "SRV")} || I <- Insts], call(K1, epmdns, status, [])]),
    ct:log("records back ~p ms after the restart", [ms_since(KillT0) - Down]),
    %% They are kept alive by renewals, not left over: still there after another lease.
    timer:sleep(?OUTAGE_LEASE * 1000 + 1000),
    [expect(dig(Server, I, "SRV") =/= [], true, {renewed, I}) || I <- Insts],
    expect(epmdns_ct_lib:srv_port(Server, instance(K3)), PortK3, k3_same_port),
    expect(call(K1, epmdns, status, []), #{mode => registered, registered => true,
                                           last_error => undefined}, k1_status_after),
    expect(lists:member(node_of(K2), call(K1, erlang, nodes, [])), true, k2_connected_after),
    ok.

%% --------------------------------------------------------------------------
%% Helpers

stale_zone_text(Port) ->
    P = integer_to_list(Port),
    T = integer_to_list(?STALE_TTL),
    ["; epmdns_cluster_SUITE: s@stale.erl.internal, static, with a short TTL\n",
     "stale ", T, " IN A 127.0.0.1\n",
     "_erlang-dist._tcp.stale ", T, " IN PTR s._erlang-dist._tcp.stale.erl.internal.\n",
     "s._erlang-dist._tcp.stale ", T, " IN SRV 0 0 ", P, " stale.erl.internal.\n",
     "s._erlang-dist._tcp.stale ", T, " IN TXT \"vsn=6\"\n"].

spec(Name, Host, Lease, Config) -> spec(Name, Host, Lease, Config, []).

spec(Name, Host, Lease, Config, Args) ->
    #{name => Name, host => Host ++ ".erl.internal", key => ?config(key, Config), lease => Lease,
      servers => epmdns_ct_lib:servers_arg(?config(server, Config)), args => Args}.

node_of(#{node := N}) -> N.

instance(#{node := N}) ->
    [Name, Host] = string:split(atom_to_list(N), "@"),
    Name ++ "._erlang-dist._tcp." ++ Host.

sorted({ok, L}) when is_list(L) -> {ok, lists:sort(L)};
sorted(Other) -> Other.

expect(Got, Expected, What) ->
    case Got of
        Expected -> Got;
        _ -> ct:fail("~0p: got ~0p, expected ~0p", [What, Got, Expected])
    end.

expect_ok(Got, What) ->
    case Got of
        {ok, _, _, _} -> Got;
        _ -> ct:fail("~p: got ~p, expected {ok, Ip, Port, Version}", [What, Got])
    end.

expect_ok2(Got, What) ->
    case Got of
        {ok, _} -> Got;
        _ -> ct:fail("~p: got ~p, expected {ok, _}", [What, Got])
    end.

timed(F) ->
    T0 = erlang:monotonic_time(millisecond),
    V = F(),
    {V, ms_since(T0)}.

env_ebin() -> epmdns_ct_lib:env("EPMDNS_EBIN").

wait_output(P, Text, Ms) ->
    wait_until(fun() ->
                       string:find(binary_to_list(epmdns_ct_lib:program_output(P)), Text) =/= nomatch
               end, Ms).

fail_program(P, Fmt, Args) ->
    Out = epmdns_ct_lib:program_output(P),
    epmdns_ct_lib:program_kill(P),
    ct:fail(Fmt ++ "~noutput:~n~s", Args ++ [Out]).
