%% Helpers shared by the Common Test suites (epmdns_*_SUITE): the real epmdnsd, real Erlang
%% peer nodes with -epmd_module epmdns -start_epmd false, dig, and the ctest entry point.
%%
%% Everything runs on loopback, every wait is bounded, and every OS process started here is
%% owned by an Erlang process that kills it when asked (or when the test run ends).
-module(epmdns_ct_lib).

-export([main/0]).
-export([assert_no_epmd/0, env/1, free_port/1, wait_until/2, ms_since/1]).
-export([start_epmdnsd/1, stop_epmdnsd/1, kill_epmdnsd/1, restart_epmdnsd/1,
         epmdnsd_alive/1, epmdnsd_output/1, servers_arg/1]).
-export([dig/3, dig_answers/3, dig_ttls/3, srv_port/2]).
-export([write_key_file/2, zone_dir/2]).
-export([start_nodes/1, start_node/1, stop_node/1, node_os_pid/1, call/4, call/5]).
-export([run_node/3, kill_node/1, port_refuses/1]).
-export([listen_port/0]).
-export([run/3, run/4, start_program/3, program_output/1, program_write/2, program_wait_exit/2,
         program_kill/1]).

-define(EPMD_PORT, 4369).
-define(COOKIE, "epmdnsct").
-define(CALL_TIMEOUT, 10000).   % one peer:call
-define(BOOT_TIMEOUT, 15000).   % peer boot
-define(READY_TIMEOUT, 10000).  % epmdnsd "ready" line
-define(STOP_TIMEOUT, 5000).    % SIGTERM to exit

%% --------------------------------------------------------------------------
%% ctest entry point:
%%   erl -noshell -pa EBIN -pa TEST_EBIN -start_epmd false -epmdns_ct_suite S
%%       -epmdns_ct_logdir DIR -eval 'epmdns_ct_lib:main()'
%% Exit status 0 only if every case passed and none was skipped.

main() ->
    try main1()
    catch C:R:St ->
            io:format("epmdns_ct_lib:main crashed: ~p:~p~n~p~n", [C, R, St]),
            kill_all_programs(),
            erlang:halt(2)
    end.

main1() ->
    {ok, [[Suite]]} = init:get_argument(epmdns_ct_suite),
    {ok, [[LogDir]]} = init:get_argument(epmdns_ct_logdir),
    ok = filelib:ensure_dir(filename:join(LogDir, "x")),
    Dir = filename:dirname(code:which(list_to_atom(Suite))),
    T0 = erlang:monotonic_time(),
    Result = (catch ct:run_test([{dir, Dir}, {suite, [list_to_atom(Suite)]}, {logdir, LogDir},
                                 {auto_compile, false}, {verbosity, 50}])),
    Secs = erlang:convert_time_unit(erlang:monotonic_time() - T0, native, millisecond) / 1000,
    kill_all_programs(),
    Code = case Result of
               {Ok, 0, {0, 0}} when Ok > 0 -> 0;
               _ -> 1
           end,
    io:format("~n~s: ct:run_test -> ~0p in ~.1f s (logs: ~s)~n~s~n",
              [Suite, Result, Secs, LogDir,
               case Code of 0 -> "PASSED"; _ -> "FAILED (failed or skipped cases, see above)" end]),
    erlang:halt(Code).

%% --------------------------------------------------------------------------
%% Generic

%% Nothing may listen on TCP 4369 (EPMD's port), IPv4 or IPv6 loopback.
assert_no_epmd() ->
    Listening = [Ip || Ip <- [{127, 0, 0, 1}, {0, 0, 0, 0, 0, 0, 0, 1}],
                       case gen_tcp:connect(Ip, ?EPMD_PORT, [], 1000) of
                           {ok, S} -> gen_tcp:close(S), true;
                           {error, _} -> false
                       end],
    case Listening of
        [] -> ok;
        _ -> ct:fail("something listens on TCP port ~p (EPMD's) on ~p", [?EPMD_PORT, Listening])
    end.

env(Var) ->
    case os:getenv(Var) of
        false -> ct:fail("environment variable ~s is not set (ctest sets it)", [Var]);
        "" -> ct:fail("environment variable ~s is empty", [Var]);
        V -> V
    end.

%% A port free for UDP and TCP on every address in Ips.
free_port(Ips) -> free_port(Ips, 50).

free_port(_Ips, 0) -> ct:fail("no free UDP+TCP loopback port");
free_port(Ips, N) ->
    {ok, U} = gen_udp:open(0, [{ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(U),
    gen_udp:close(U),
    Socks = [bind(Ip, Port) || Ip <- Ips],
    [close(S) || {ok, S} <- Socks],
    case lists:all(fun({ok, _}) -> true; (_) -> false end, Socks) of
        true -> Port;
        false -> free_port(Ips, N - 1)
    end.

bind(Ip, Port) ->
    Family = case tuple_size(Ip) of 4 -> inet; 8 -> inet6 end,
    case gen_udp:open(Port, [Family, {ip, Ip}]) of
        {ok, U} ->
            case gen_tcp:listen(Port, [Family, {ip, Ip}, {reuseaddr, true}]) of
                {ok, T} -> gen_udp:close(U), {ok, T};
                E -> gen_udp:close(U), E
            end;
        E -> E
    end.

close(S) -> gen_tcp:close(S).

%% Polls F() every 100 ms until it returns something other than false, or TimeoutMs pass;
%% returns its last value.
wait_until(F, TimeoutMs) ->
    Deadline = erlang:monotonic_time(millisecond) + TimeoutMs,
    wait_loop(F, Deadline).

wait_loop(F, Deadline) ->
    case F() of
        false ->
            case erlang:monotonic_time(millisecond) >= Deadline of
                true -> false;
                false -> timer:sleep(100), wait_loop(F, Deadline)
            end;
        V -> V
    end.

ms_since(T0) -> erlang:monotonic_time(millisecond) - T0.

%% --------------------------------------------------------------------------
%% OS programs, each owned by a process of its own (not linked to the test case, so that a
%% program started in init_per_group outlives it). stdout and stderr are kept.

%% Runs Exe to completion within TimeoutMs: {ExitStatus | timeout, Output}.
run(Exe, Args, TimeoutMs) -> run(Exe, Args, TimeoutMs, []).

%% Opts: open_port options (env, cd).
run(Exe, Args, TimeoutMs, Opts) ->
    P = spawn_owner(Exe, Args, Opts),
    Result = case program_wait_exit(P, TimeoutMs) of
                 {ok, Status} -> {Status, program_output(P)};
                 timeout -> program_kill(P), {timeout, program_output(P)}
             end,
    P ! {self(), stop},
    Result.

%% A long-running program: killed at the latest by main/0 when the run ends.
start_program(Exe, Args, Opts) ->
    Pid = spawn_owner(Exe, Args, Opts),
    persistent_term:put({?MODULE, programs}, [Pid | persistent_term:get({?MODULE, programs}, [])]),
    Pid.

spawn_owner(Exe, Args, Opts) ->
    Path = case filename:pathtype(Exe) of
               absolute -> Exe;
               _ -> case os:find_executable(Exe) of
                        false -> ct:fail("program ~s not found on PATH", [Exe]);
                        F -> F
                    end
           end,
    Parent = self(),
    Pid = spawn(fun() -> owner_init(Parent, Path, Args, Opts) end),
    receive
        {Pid, started} -> Pid;
        {Pid, {error, E}} -> ct:fail("cannot start ~s: ~p", [Path, E])
    after 5000 -> ct:fail("starting ~s timed out", [Path])
    end.

owner_init(Parent, Path, Args, Opts) ->
    try open_port({spawn_executable, Path},
                  [{args, Args}, exit_status, stderr_to_stdout, binary, hide | Opts]) of
        Port ->
            {os_pid, OsPid} = erlang:port_info(Port, os_pid),
            Parent ! {self(), started},
            owner_loop(#{port => Port, os_pid => OsPid, out => [], status => running,
                         waiting => []})
    catch
        _:E -> Parent ! {self(), {error, E}}
    end.

owner_loop(#{port := Port} = S) ->
    receive
        {Port, {data, D}} ->
            owner_loop(S#{out := [D | maps:get(out, S)]});
        {Port, {exit_status, St}} ->
            [W ! {self(), exited, St} || W <- maps:get(waiting, S)],
            owner_loop(S#{status := {exited, St}, waiting := []});
        {From, output} ->
            From ! {self(), output, iolist_to_binary(lists:reverse(maps:get(out, S)))},
            owner_loop(S);
        {From, os_pid} ->
            From ! {self(), os_pid, maps:get(os_pid, S)},
            owner_loop(S);
        {From, status} ->
            From ! {self(), status, maps:get(status, S)},
            owner_loop(S);
        {From, wait_exit} ->
            case maps:get(status, S) of
                {exited, St} -> From ! {self(), exited, St}, owner_loop(S);
                running -> owner_loop(S#{waiting := [From | maps:get(waiting, S)]})
            end;
        {_From, stop} ->
            maps:get(status, S) =:= running andalso
                os:cmd("kill -KILL " ++ integer_to_list(maps:get(os_pid, S))),
            ok;
        {From, {write, Data}} ->
            case maps:get(status, S) of
                running -> catch port_command(Port, Data);
                _ -> ok
            end,
            From ! {self(), written},
            owner_loop(S)
    end.

owner_call(P, Req, Tag) ->
    P ! {self(), Req},
    receive {P, Tag, V} -> V after 5000 -> error({no_answer_from_owner, Req}) end.

program_output(P) -> owner_call(P, output, output).
program_os_pid(P) -> owner_call(P, os_pid, os_pid).
program_write(P, Data) -> P ! {self(), {write, Data}}, receive {P, written} -> ok after 5000 -> ok end.

%% {ok, ExitStatus} or timeout.
program_wait_exit(P, TimeoutMs) ->
    P ! {self(), wait_exit},
    receive {P, exited, St} -> {ok, St} after TimeoutMs -> timeout end.

program_alive(P) -> owner_call(P, status, status) =:= running.

program_signal(P, Sig) ->
    case program_alive(P) of
        true -> os:cmd("kill -" ++ Sig ++ " " ++ integer_to_list(program_os_pid(P))), ok;
        false -> ok
    end.

%% Every program started in this VM and still running is killed (the end of a run).
kill_all_programs() ->
    [catch program_kill(P) || P <- persistent_term:get({?MODULE, programs}, []),
                              is_process_alive(P)],
    ok.

program_kill(P) ->
    program_signal(P, "KILL"),
    program_wait_exit(P, ?STOP_TIMEOUT).

%% --------------------------------------------------------------------------
%% epmdnsd

%% Opts: dir (for the log), hosts ([Ip]), zones (path), state_dir, keys (path), args
%% (extra flags), port (fixed; default: a free one). Returns a server map once it printed
%% its ready line. A restart keeps the map valid: it names the server, not one process.
start_epmdnsd(Opts) ->
    start_epmdnsd(Opts, 3).

start_epmdnsd(Opts, Attempts) ->
    Hosts = maps:get(hosts, Opts, [{127, 0, 0, 1}]),
    Port = case Opts of
               #{port := P} -> P;
               _ -> free_port(Hosts)
           end,
    Args = lists:append([["--listen", listen_text(H, Port)] || H <- Hosts])
        ++ opt_flag("--zones", zones, Opts)
        ++ opt_flag("--state-dir", state_dir, Opts)
        ++ opt_flag("--keys", keys, Opts)
        ++ ["--threads", "1" | maps:get(args, Opts, [])],
    Bin = env("EPMDNSD"),
    Prog = start_program(Bin, Args, []),
    Id = maps:get(id, Opts, make_ref()),
    persistent_term:put({?MODULE, server, Id}, Prog),
    Server = Opts#{id => Id, port => Port, hosts => Hosts, argv => [Bin | Args]},
    Ready = wait_until(fun() ->
                               Out = program_output(Prog),
                               case binary:match(Out, <<"epmdnsd: ready">>) of
                                   nomatch -> (not program_alive(Prog)) andalso {exited, Out};
                                   _ -> ready
                               end
                       end, ?READY_TIMEOUT),
    case Ready of
        ready ->
            Server;
        {exited, Out} when Attempts > 1, not is_map_key(port, Opts) ->
            case binary:match(Out, <<"in use">>) of
                nomatch -> ct:fail("epmdnsd exited at start: ~s~n~s", [lists:join(" ", [Bin | Args]), Out]);
                _ -> start_epmdnsd(Opts, Attempts - 1)
            end;
        Other ->
            program_kill(Prog),
            ct:fail("epmdnsd not ready within ~p ms (~p): ~s~n~s",
                    [?READY_TIMEOUT, Other, lists:join(" ", [Bin | Args]), program_output(Prog)])
    end.

opt_flag(Flag, Key, Opts) ->
    case Opts of
        #{Key := V} -> [Flag, V];
        _ -> []
    end.

listen_text({_, _, _, _} = Ip, Port) -> inet:ntoa(Ip) ++ ":" ++ integer_to_list(Port);
listen_text(Ip, Port) -> "[" ++ inet:ntoa(Ip) ++ "]:" ++ integer_to_list(Port).

%% The -epmdns_servers value for nodes: every listen address of the server.
servers_arg(#{hosts := Hosts, port := Port}) ->
    lists:flatten(lists:join(",", [listen_text(H, Port) || H <- Hosts])).

prog(#{id := Id}) -> persistent_term:get({?MODULE, server, Id}).

%% SIGTERM, then SIGKILL if it is still running after STOP_TIMEOUT. Returns the exit status.
stop_epmdnsd(Server) ->
    P = prog(Server),
    program_signal(P, "TERM"),
    case program_wait_exit(P, ?STOP_TIMEOUT) of
        {ok, St} -> St;
        timeout -> program_kill(P), killed
    end.

%% kill -9: a crash. Returns once the process has ended.
kill_epmdnsd(Server) ->
    P = prog(Server),
    program_signal(P, "KILL"),
    case program_wait_exit(P, ?STOP_TIMEOUT) of
        {ok, St} -> St;
        timeout -> ct:fail("epmdnsd still running ~p ms after kill -9", [?STOP_TIMEOUT])
    end.

%% The same flags, port and state directory again (the old process must have ended).
restart_epmdnsd(#{port := Port} = Server) ->
    program_alive(prog(Server)) andalso ct:fail("restart_epmdnsd: epmdnsd is still running"),
    start_epmdnsd(maps:without([argv], Server#{port => Port}), 1).

epmdnsd_alive(Server) -> program_alive(prog(Server)).
epmdnsd_output(Server) -> program_output(prog(Server)).

%% --------------------------------------------------------------------------
%% dig (the real binary)

%% dig +short: the answer lines ([] for none); fails the case if dig itself fails.
dig(Server, Name, Type) ->
    case dig_run(Server, Name, Type, ["+short"]) of
        {0, Out} -> [L || L <- string:split(binary_to_list(Out), "\n", all), L =/= ""];
        {St, Out} -> ct:fail("dig ~s ~s failed (~p): ~s", [Name, Type, St, Out])
    end.

%% The TTLs of the answer records.
dig_ttls(Server, Name, Type) ->
    case dig_run(Server, Name, Type, ["+noall", "+answer"]) of
        {0, Out} -> [list_to_integer(lists:nth(2, string:lexemes(L, " \t")))
                     || L <- string:split(binary_to_list(Out), "\n", all), L =/= ""];
        {St, Out} -> ct:fail("dig ~s ~s failed (~p): ~s", [Name, Type, St, Out])
    end.

%% {ok, Lines} or {error, Status, Output}: for a server that may be down.
dig_answers(Server, Name, Type) ->
    case dig_run(Server, Name, Type, ["+short"]) of
        {0, Out} -> {ok, [L || L <- string:split(binary_to_list(Out), "\n", all), L =/= ""]};
        {St, Out} -> {error, St, Out}
    end.

dig_run(#{hosts := [Host | _], port := Port}, Name, Type, Extra) ->
    run("dig", ["@" ++ inet:ntoa(Host), "-p", integer_to_list(Port), "+norecurse", "+tries=1",
                "+time=1" | Extra] ++ [Name, Type], 5000).

%% The port of the SRV record of Name (none: undefined).
srv_port(Server, Name) ->
    case dig(Server, Name, "SRV") of
        [Line] ->
            [_Prio, _Weight, Port, _Target] = string:lexemes(Line, " "),
            list_to_integer(Port);
        [] ->
            undefined;
        Many ->
            ct:fail("several SRV records at ~s: ~p", [Name, Many])
    end.

%% --------------------------------------------------------------------------
%% Files

%% A BIND key file (tsig-keygen's format) with one hmac-sha256 key KeyName.
write_key_file(Path, KeyName) ->
    Secret = base64:encode(crypto:strong_rand_bytes(32)),
    ok = file:write_file(Path, ["key \"", KeyName, "\" {\n\talgorithm hmac-sha256;\n\tsecret \"",
                                Secret, "\";\n};\n"]),
    Path.

%% A directory Dir/zones holding the bundled erl.internal.zone plus Extra (appended).
zone_dir(Dir, Extra) ->
    ZoneDir = filename:join(Dir, "zones"),
    ok = filelib:ensure_dir(filename:join(ZoneDir, "x")),
    Src = filename:join([env("EPMDNS_SOURCE_DIR"), "zones", "erl.internal.zone"]),
    {ok, Base} = file:read_file(Src),
    ok = file:write_file(filename:join(ZoneDir, "erl.internal.zone"), [Base, "\n", Extra]),
    ZoneDir.

%% --------------------------------------------------------------------------
%% Peer nodes

%% Spec: #{name => atom(), host => string(), servers := string(), key => path,
%% lease => integer(), interface => string(), args => [string()] (more flags)}. Without a
%% name the node boots without distribution (node: undefined). No -name for the origin:
%% peers are controlled over a TCP connection on loopback, not over distribution.
%% Returns #{peer, node, spec}.
start_node(Spec) ->
    {Args, Env} = node_args(Spec),
    Naming = case Spec of
                 #{name := Name, host := Host} -> #{name => Name, host => Host, longnames => true};
                 _ -> #{}
             end,
    T0 = erlang:monotonic_time(millisecond),
    case peer:start(Naming#{connection => {{127, 0, 0, 1}, 0}, wait_boot => ?BOOT_TIMEOUT,
                            args => Args, env => Env}) of
        {ok, Peer, Node} ->
            ct:log("started ~p in ~p ms: erl ~s", [Node, ms_since(T0), lists:join(" ", Args)]),
            #{peer => Peer, node => Node, spec => Spec};
        {ok, Peer} ->
            ct:log("started a node without distribution in ~p ms: erl ~s",
                   [ms_since(T0), lists:join(" ", Args)]),
            #{peer => Peer, node => undefined, spec => Spec};
        Error ->
            ct:fail("peer ~p did not start: ~p~nargs: ~p", [Naming, Error, Args])
    end.

%% The erl flags of a node (Spec as for start_node/1, without -name) and the environment
%% variables to unset.
node_args(#{servers := Servers} = Spec) ->
    Key = case Spec of
              #{key := K} -> ["-epmdns_key", K];
              _ -> []
          end,
    Lease = case Spec of
                #{lease := L} -> ["-epmdns_lease", integer_to_list(L)];
                _ -> []
            end,
    Interface = case Spec of
                    #{interface := I} -> I;
                    _ -> "{127,0,0,1}"
                end,
    Args = ["-pa", env("EPMDNS_EBIN"), "-pa", filename:dirname(code:which(?MODULE)),
            "-epmd_module", "epmdns", "-start_epmd", "false", "-setcookie", ?COOKIE,
            "-kernel", "inet_dist_use_interface", Interface,
            "-epmdns_servers", Servers] ++ Key ++ Lease ++ maps:get(args, Spec, []),
    Env = [{V, false} || V <- ["EPMDNS_SERVERS", "EPMDNS_KEY", "EPMDNS_DOMAIN", "EPMDNS_LEASE",
                               "EPMDNS_ADDRESS", "EPMDNS_STRICT", "EPMDNS_AUTOCONNECT",
                               "ERL_EPMD_PORT"]],
    {Args, Env}.

%% Runs a node of Spec (name and host required) as a plain erl process to its end, for a
%% node expected not to boot: erl -noshell -name Name@Host ... -eval Eval, within
%% TimeoutMs. Returns {ExitStatus | timeout, Output} (stdout and stderr). No crash dump.
run_node(#{name := Name, host := Host} = Spec, Eval, TimeoutMs) ->
    {Args, Env} = node_args(Spec),
    Dir = filename:join(filename:dirname(code:which(?MODULE)), "run_node"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Node = atom_to_list(Name) ++ "@" ++ Host,
    T0 = erlang:monotonic_time(millisecond),
    {St, Out} = Result = run(os:find_executable("erl"), ["-noshell", "-name", Node | Args] ++ ["-eval", Eval],
                             TimeoutMs, [{cd, Dir}, {env, [{"ERL_CRASH_DUMP_SECONDS", "0"} | Env]}]),
    ct:log("erl ~s ended (~p) after ~p ms:~n~s", [Node, St, ms_since(T0), Out]),
    Result.

%% kill -9 of a peer node; returns once its distribution port refuses connections.
kill_node(#{node := Node} = N) ->
    Port = call(N, ?MODULE, listen_port, []),
    OsPid = node_os_pid(N),
    os:cmd("kill -KILL " ++ integer_to_list(OsPid)),
    port_refuses(Port) orelse ct:fail("~p (os pid ~p): port ~p still accepts 5 s after kill -9",
                                      [Node, OsPid, Port]),
    stop_node(N),
    Port.

%% Whether TCP Port on 127.0.0.1 refuses connections (waits up to 5 s for it).
port_refuses(Port) ->
    wait_until(fun() ->
                       case gen_tcp:connect({127, 0, 0, 1}, Port, [], 1000) of
                           {ok, S} -> gen_tcp:close(S), false;
                           {error, _} -> true
                       end
               end, 5000).

%% Starts the nodes in parallel (2 cores: the boots overlap their waits).
start_nodes(Specs) ->
    Self = self(),
    Pids = [spawn(fun() -> Self ! {self(), catch start_node(S)} end) || S <- Specs],
    [receive
         {Pid, #{node := _} = N} -> N;
         {Pid, Error} -> ct:fail("starting a node failed: ~p", [Error])
     after ?BOOT_TIMEOUT + 5000 -> ct:fail("starting a node timed out")
     end || Pid <- Pids].

%% peer:stop (halts the node: no unregistration). Ignores nodes already gone.
stop_node(#{peer := Peer}) ->
    catch peer:stop(Peer),
    ok.

node_os_pid(N) -> list_to_integer(call(N, os, getpid, [])).

call(N, M, F, A) -> call(N, M, F, A, ?CALL_TIMEOUT).

call(#{peer := Peer, node := Node}, M, F, A, Timeout) ->
    try peer:call(Peer, M, F, A, Timeout)
    catch
        C:R -> ct:fail("~p: ~p:~p(~0p) raised ~p:~0p", [Node, M, F, A, C, R])
    end.

%% Run on a node: the port its distribution listens on.
listen_port() ->
    Ports = [P || Port <- erlang:ports(),
                  erlang:port_info(Port, name) =:= {name, "tcp_inet"},
                  {ok, Status} <- [catch prim_inet:getstatus(Port)], is_list(Status),
                  lists:member(listen, Status),
                  {ok, {_, P}} <- [inet:sockname(Port)]],
    case Ports of
        [P] -> P;
        _ -> {listen_ports, Ports}
    end.
