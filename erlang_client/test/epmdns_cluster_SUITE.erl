%% Real Erlang nodes (-epmd_module epmdns -start_epmd false) clustering through the real
%% epmdnsd on loopback, with no EPMD anywhere: a 4-node mesh (ping, rpc, global),
%% net_adm:names/1, erl -remsh, a clean stop seen with dig, one live node per name (a
%% duplicate refused, a busy holder kept, a restart after kill -9 at once), node names with
%% capitals (epmdns:nodes/0, autoconnect), and epmdnsd
%% killed (kill -9) under a running cluster, then restarted from the same state directory.
%%
%% The CT node itself is not distributed: peers are controlled over TCP on loopback.
-module(epmdns_cluster_SUITE).
-include_lib("common_test/include/ct.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([mesh/1, names/1, remsh/1, clean_stop/1, restart_new_port/1, epmdnsd_killed/1]).
-export([duplicate_refused/1, busy_holder_kept/1, restart_after_kill9/1, capital_names/1]).

-import(epmdns_ct_lib, [call/4, call/5, dig/3, wait_until/2, ms_since/1]).

-define(MESH_LEASE, 30).    % long: a record gone within seconds was deleted, not lapsed
-define(OUTAGE_LEASE, 2).   % short: records are back after an outage only if renewed
-define(STALE_TTL, 1).      % TTL of the static node's records: its cache entry goes stale
-define(HOLD_LEASE, 60).    % long: a name taken over within seconds did not lapse
-define(REFUSED_BOOT_MS, 20000).  % a node refused its name must have ended by then

suite() -> [{timetrap, {seconds, 60}}].

all() -> [{group, mesh}, {group, takeover}, capital_names, {group, outage}].

groups() ->
    [{mesh, [sequence], [mesh, names, remsh, clean_stop, restart_new_port]},
     {takeover, [sequence], [duplicate_refused, busy_holder_kept, restart_after_kill9]},
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
%% w: a witness that pings the holders of the names under test.
init_per_group(takeover, Config) ->
    [W] = epmdns_ct_lib:start_nodes([spec(w, "t0", ?HOLD_LEASE, Config)]),
    [{nodes, [W]} | Config];
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

%% A second node under a live node's name: distribution does not start (erl exits, the node
%% never runs its -eval), the line on stderr says who holds the name and where, and the
%% holder keeps its records and stays reachable.
duplicate_refused(Config) ->
    Server = ?config(server, Config),
    [W] = ?config(nodes, Config),
    Spec = spec(dup, "t1", ?HOLD_LEASE, Config),
    [Holder] = epmdns_ct_lib:start_nodes([Spec]),
    try
        Port = registered_port(Server, Holder),
        Txt = dig(Server, instance(Holder), "TXT"),
        {St, Out} = epmdns_ct_lib:run_node(Spec, "io:format(\"STARTED~n\")", ?REFUSED_BOOT_MS),
        Line = "epmdns: name dup@t1.erl.internal is registered by a live node at 127.0.0.1:"
            ++ integer_to_list(Port),
        refused(St, Out, Line),
        %% The exact line: the holder answered the probe with its own name (no note).
        expect(lists:member(Line, lines(Out)), true, {exact_line, Line}),
        expect(epmdns_ct_lib:srv_port(Server, instance(Holder)), Port, holder_srv_kept),
        expect(dig(Server, instance(Holder), "TXT"), Txt, holder_txt_kept),
        expect(call(W, net_adm, ping, [node_of(Holder)]), pong, holder_reachable),
        expect(call(Holder, epmdns, status, []), #{mode => registered, registered => true,
                                                   last_error => undefined}, holder_status)
    after
        epmdns_ct_lib:stop_node(Holder)
    end.

%% The name probe never takes a live node that is slow to answer for a dead one: a holder
%% whose net_kernel is suspended (it accepts the connection but cannot answer), then a
%% plain TCP listener on the dead holder's port that accepts and never answers, each keep
%% the name; once that port is closed, a restart takes the name over at once.
busy_holder_kept(Config) ->
    Server = ?config(server, Config),
    Spec = spec(busy, "t2", ?HOLD_LEASE, Config),
    [Holder] = epmdns_ct_lib:start_nodes([Spec]),
    Inst = instance(Holder),
    Port = registered_port(Server, Holder),
    Line = "epmdns: name busy@t2.erl.internal is registered by a live node at 127.0.0.1:"
        ++ integer_to_list(Port) ++ " (it accepted the connection but did not answer the name probe",
    %% 1. A live node, busy: its net_kernel suspended (peer:call does not need it).
    ok = call(Holder, sys, suspend, [net_kernel]),
    try
        {St1, Out1} = epmdns_ct_lib:run_node(Spec, "io:format(\"STARTED~n\")", ?REFUSED_BOOT_MS),
        refused(St1, Out1, Line)
    after
        call(Holder, sys, resume, [net_kernel])
    end,
    expect(epmdns_ct_lib:srv_port(Server, Inst), Port, srv_kept_busy_node),
    %% 2. The holder dies; something that accepts and never answers takes its port.
    epmdns_ct_lib:kill_node(Holder),
    Silent = silent_listener(Port),
    try
        {St2, Out2} = epmdns_ct_lib:run_node(Spec, "io:format(\"STARTED~n\")", ?REFUSED_BOOT_MS),
        refused(St2, Out2, Line),
        expect(epmdns_ct_lib:srv_port(Server, Inst), Port, srv_kept_silent_listener)
    after
        Silent ! stop
    end,
    %% 3. The port closed: the name is taken over at once, well within the 60 s lease.
    epmdns_ct_lib:port_refuses(Port) orelse ct:fail("port ~p still accepts", [Port]),
    T0 = erlang:monotonic_time(millisecond),
    [New] = epmdns_ct_lib:start_nodes([Spec]),
    try
        NewPort = registered_port(Server, New),
        ct:log("busy@t2 taken over on port ~p ~p ms after the old port closed", [NewPort, ms_since(T0)]),
        expect(ms_since(T0) < ?HOLD_LEASE * 1000 div 3, true, taken_over_well_within_the_lease)
    after
        epmdns_ct_lib:stop_node(New)
    end.

%% kill -9 of a registered node (lease 60 s), then a restart under the same name: it comes
%% up at once with a new token, DNS has its new port, and a node that knew the old
%% incarnation reaches the new one.
restart_after_kill9(Config) ->
    Server = ?config(server, Config),
    [W] = ?config(nodes, Config),
    Spec = spec(k9, "t3", ?HOLD_LEASE, Config),
    [Old] = epmdns_ct_lib:start_nodes([Spec]),
    Inst = instance(Old),
    OldPort = registered_port(Server, Old),
    OldTxt = dig(Server, Inst, "TXT"),
    expect(call(W, net_adm, ping, [node_of(Old)]), pong, ping_old),
    epmdns_ct_lib:kill_node(Old),
    T0 = erlang:monotonic_time(millisecond),
    [New] = epmdns_ct_lib:start_nodes([Spec]),
    try
        NewPort = registered_port(Server, New),
        Took = ms_since(T0),
        ct:log("k9@t3 restarted after kill -9: port ~p, then ~p; registered ~p ms after the kill",
               [OldPort, NewPort, Took]),
        %% Boot included; a lapsed lease would take 60 s.
        expect(Took < ?HOLD_LEASE * 1000 div 3, true, registered_well_within_the_lease),
        NewTxt = dig(Server, Inst, "TXT"),
        (NewTxt =/= OldTxt andalso NewTxt =/= []) orelse
            ct:fail("TXT after the restart ~p, before ~p: no new token", [NewTxt, OldTxt]),
        expect(call(New, epmdns, status, []), #{mode => registered, registered => true,
                                                last_error => undefined}, status_new),
        NewPid = call(New, os, getpid, []),
        Reached = wait_until(fun() -> call(W, net_adm, ping, [node_of(New)]) =:= pong end, 5000),
        Reached =:= true orelse
            ct:fail("w cannot reach the restarted k9 (DNS: ~p); address_please gives ~p",
                    [dig(Server, Inst, "SRV"),
                     call(W, epmdns, address_please, ["k9", "t3.erl.internal", inet])]),
        expect(call(W, rpc, call, [node_of(New), os, getpid, [], 5000]), NewPid, rpc_new_incarnation)
    after
        epmdns_ct_lib:stop_node(New)
    end.

%% A node named with capitals, App1@Cap1.erl.internal: DNS has it in lower case, yet
%% epmdns:nodes() gives the real name on the node itself and on a connected node,
%% autoconnect (-epmdns_autoconnect true) connects to it under that name, and a node not
%% connected to it finds the real name with epmdns_autoconnect:real_name/1.
capital_names(Config) ->
    Server = ?config(server, Config),
    Real = 'App1@Cap1.erl.internal',
    Lower = 'app1@cap1.erl.internal',
    [Cap] = epmdns_ct_lib:start_nodes([spec('App1', "Cap1", ?HOLD_LEASE, Config)]),
    Others = [Auto, Plain] = epmdns_ct_lib:start_nodes(
        [spec(auto, "cap2", ?HOLD_LEASE, Config, ["-epmdns_autoconnect", "true"]),
         spec(plain, "cap3", ?HOLD_LEASE, Config, ["-connect_all", "false"])]),
    try
        expect(node_of(Cap), Real, real_name),
        Port = call(Cap, epmdns_ct_lib, listen_port, []),
        Inst = "app1._erlang-dist._tcp.cap1.erl.internal",
        wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Inst) =:= Port end, 5000)
            orelse ct:fail("SRV ~s: ~p, App1 listens on ~p", [Inst, dig(Server, Inst, "SRV"), Port]),
        %% On the node itself: its own name, not DNS's lower-case one.
        {ok, OnCap} = call(Cap, epmdns, nodes, []),
        expect({lists:member(Real, OnCap), lists:member(Lower, OnCap)}, {true, false},
               {own_name_in_nodes, OnCap}),
        %% Autoconnect reaches it under its real name (polls every 5 s).
        Connected = wait_until(fun() -> lists:member(Real, call(Auto, erlang, nodes, [])) end, 12000),
        Connected =:= true orelse
            ct:fail("auto did not connect to ~p: nodes() ~p, epmdns:nodes() ~p", [Real,
                    call(Auto, erlang, nodes, []), call(Auto, epmdns, nodes, [])]),
        expect(call(Auto, rpc, call, [Real, erlang, node, [], 5000]), Real, rpc_real),
        {ok, OnAuto} = call(Auto, epmdns, nodes, []),
        expect({lists:member(Real, OnAuto), lists:member(Lower, OnAuto)}, {true, false},
               {connected_name_in_nodes, OnAuto}),
        %% Not connected: DNS's name, and the real one when asked.
        expect(lists:member(Real, call(Plain, erlang, nodes, [])), false, plain_not_connected),
        {ok, OnPlain} = call(Plain, epmdns, nodes, []),
        expect([lists:member(N, OnPlain) || N <- [Lower, Real, node_of(Auto), node_of(Plain)]],
               [true, false, true, true], {nodes_not_connected, OnPlain}),
        expect(call(Plain, net_kernel, connect_node, [Lower]), false, lower_case_name_refused),
        expect(call(Plain, epmdns_autoconnect, real_name, [Lower]), {ok, Real}, real_name_asked),
        expect(call(Plain, epmdns_autoconnect, real_name, ['nobody@cap1.erl.internal']),
               {error, not_found}, real_name_unknown_node),
        expect(call(Plain, epmdns_autoconnect, connect, [Lower]), true, connect_by_real_name),
        expect(lists:member(Real, call(Plain, erlang, nodes, [])), true, plain_connected)
    after
        [epmdns_ct_lib:stop_node(N) || N <- [Cap | Others]]
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

%% The listen port of node N once DNS has it in N's SRV record.
registered_port(Server, N) ->
    Port = call(N, epmdns_ct_lib, listen_port, []),
    is_integer(Port) orelse ct:fail("~p listens on ~p", [node_of(N), Port]),
    wait_until(fun() -> epmdns_ct_lib:srv_port(Server, instance(N)) =:= Port end, 5000)
        orelse ct:fail("SRV ~s is ~p, ~p listens on ~p",
                       [instance(N), epmdns_ct_lib:srv_port(Server, instance(N)), node_of(N), Port]),
    Port.

%% A node refused its name: erl ended with a non-zero status, did not run its -eval, and
%% printed a line starting with Line.
refused(Status, Out, Line) ->
    Text = binary_to_list(Out),
    Status =/= 0 andalso Status =/= timeout orelse
        ct:fail("a second node under a held name: exit ~p (want a failed boot):~n~s", [Status, Text]),
    string:find(Text, "STARTED") =:= nomatch orelse
        ct:fail("a second node under a held name started:~n~s", [Text]),
    lists:any(fun(L) -> lists:prefix(Line, L) end, lines(Out)) orelse
        ct:fail("no line ~p in the output:~n~s", [Line, Text]),
    ok.

lines(Out) -> string:split(string:replace(binary_to_list(Out), "\r", "", all), "\n", all).

%% A TCP listener on 127.0.0.1:Port that accepts every connection and never answers, in a
%% process of its own; send it stop to close everything.
silent_listener(Port) ->
    Self = self(),
    Pid = spawn(fun() ->
                        {ok, L} = gen_tcp:listen(Port, [{ip, {127, 0, 0, 1}}, {reuseaddr, true},
                                                        {active, false}]),
                        Self ! {self(), listening},
                        silent_accept(L, [])
                end),
    receive {Pid, listening} -> Pid
    after 5000 -> ct:fail("no listener on port ~p", [Port])
    end.

silent_accept(L, Held) ->
    receive
        stop -> [gen_tcp:close(S) || S <- Held], gen_tcp:close(L)
    after 0 ->
        case gen_tcp:accept(L, 50) of
            {ok, S} -> silent_accept(L, [S | Held]);
            {error, timeout} -> silent_accept(L, Held)
        end
    end.

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
