%% epmdns: an epmd module (-epmd_module epmdns) that finds nodes in DNS and, with a TSIG
%% key, registers this node there by DNS UPDATE (see README.md in this directory).
%%
%% A plain gen_server, started by net_sup very early in boot (before the logger and the
%% file server), owning the NIF resource. Lookups run in the calling process: the NIF answers
%% at once from the resolver's cache, or sends {Ref, Result} when DNS has answered; the
%% resolver's own deadline (1 s) and a receive timeout bound every wait. address_please
%% never raises: an exception there would take net_kernel and the whole VM down.
-module(epmdns).
-behaviour(gen_server).

%% The epmd module callbacks (OTP 25 contract)
-export([start_link/0, register_node/2, register_node/3, port_please/2, port_please/3,
         address_please/3, names/1, listen_port_please/2]).
%% Introspection and cluster discovery
-export([status/0, nodes/0]).
-compile({no_auto_import, [nodes/0]}).
%% gen_server
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(RESOURCE_KEY, {?MODULE, resource}).
-define(CONFIG_KEY, {?MODULE, config}).
%% The resolver ends every call within its timeout; this is the margin on top.
-define(WAIT_MARGIN_MS, 250).
-define(UNREGISTER_WAIT_MS, 1800).  % net_sup's shutdown time for us is 2000 ms
-define(RETRY_MIN_MS, 1000).
%% register_node holds up net_kernel at most this long outside strict mode; a registration
%% still under way then goes on in the background.
-define(REGISTER_WAIT_MS, 1500).
-define(RETRY_MAX_MS, 30000).
%% Distribution protocol version used when the caller gets the port only.
-define(VERSION, 6).

%% --------------------------------------------------------------------------
%% Callbacks of the epmd module

start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

register_node(Name, Port) ->
    register_node(Name, Port, inet_tcp).

%% {ok, -1}: net_kernel picks a random creation. {error, Line} when a live node holds the
%% name, or (strict mode) when the registration fails; otherwise a failed registration is
%% retried in the background and does not stop the node.
register_node(Name, Port, Driver) ->
    try
        gen_server:call(?MODULE, {register, Name, Port, epmdns_config:family(Driver)}, infinity)
    catch
        _:Reason -> {error, Reason}
    end.

port_please(Name, Host) ->
    port_please(Name, Host, infinity).

%% Host may be an address, as erl_epmd allows: erl_epmd then asks the EPMD at that address
%% for the node. Here DNS says which node of that name has that address: among the nodes of
%% the cluster (the browse PTR set at _erlang-dist._tcp.Z), those called Name are looked up
%% at once and the first whose address is Ip gives its port (see port_at/2). A host string
%% that DNS does not know as a node's host but that is an address ("10.0.0.7") is taken the
%% same way. Timeout (ms) bounds the whole call; every lookup is bounded anyway.
port_please(Name, Ip, Timeout) when is_tuple(Ip) ->
    case inet:is_ip_address(Ip) of
        true -> port_at(Name, Ip, Timeout);
        false -> noport
    end;
port_please(Name, Host, Timeout) ->
    case address_please(Name, Host, inet) of
        {ok, _Ip, Port, Version} ->
            {port, Port, Version};
        _ ->
            try inet:parse_strict_address(epmdns_config:host_string(Host)) of
                {ok, Ip} -> port_at(Name, Ip, Timeout);
                _ -> noport
            catch
                _:_ -> noport
            end
    end.

address_please(Name, Host, Family) ->
    try
        case lookup(epmdns_config:node_string(Name, Host), Family) of
            {ok, Ip, Port, Version} -> {ok, Ip, Port, Version};
            {error, Reason} -> {error, Reason};
            Other -> {error, {unexpected, Other}}
        end
    catch
        Class:Reason2 -> {error, {Class, Reason2}}
    end.

names(Host) ->
    try
        Res = resource(),
        Ref = make_ref(),
        case epmdns_nif:names(Res, epmdns_config:host_string(Host), Ref) of
            wait -> wait_reply(Ref);
            Result -> Result
        end
    catch
        Class:Reason -> {error, {Class, Reason}}
    end.

%% Registered mode: {ok, 0}, the port comes from inet_dist_listen_min/max (or is any port)
%% and is published by register_node. Static mode: the port of our own SRV record.
listen_port_please(Name, Host) ->
    %% register_node/3 gets no host, and node() is not set yet when it is called.
    gen_server:cast(?MODULE, {host, epmdns_config:host_string(Host)}),
    try
        case config() of
            #{key := undefined} ->
                case lookup(epmdns_config:node_string(Name, Host), inet) of
                    {ok, _Ip, Port, _Version} -> {ok, Port};
                    _ -> {ok, 0}
                end;
            _ ->
                {ok, 0}
        end
    catch
        _:_ -> {ok, 0}
    end.

%% #{mode, registered, last_error}.
status() ->
    gen_server:call(?MODULE, status).

%% {ok, [Node]}: every node of the cluster, from the PTR records at _erlang-dist._tcp.Z
%% (straight from DNS, no cache); {error, Reason} if DNS cannot say. DNS has the names in
%% lower case, with the full host name: this node and the connected nodes are given under
%% their real names ('App1@Host7.z', found by DNS as app1@host7.z), the others as DNS has
%% them (epmdns_autoconnect asks such a node its real name before connecting).
nodes() ->
    try
        Res = resource(),
        Ref = make_ref(),
        Result = case epmdns_nif:nodes(Res, Ref) of
                     wait -> wait_reply(Ref);
                     R -> R
                 end,
        case Result of
            {ok, Strings} ->
                #{domain := Domain} = config(),
                {ok, epmdns_config:as_known(epmdns_config:node_atoms(Strings),
                                            [node() | erlang:nodes(connected)], Domain)};
            {error, not_found} -> {ok, []};
            {error, Reason} -> {error, Reason};
            Other -> {error, {unexpected, Other}}
        end
    catch
        Class:Reason2 -> {error, {Class, Reason2}}
    end.

%% --------------------------------------------------------------------------
%% Lookups in the calling process

%% port_please with an address: in a process of its own, so that answers still on their way
%% when the first match is found (or Timeout has passed) go nowhere.
port_at(Name, Ip, Timeout) ->
    {Pid, MRef} = spawn_monitor(fun() -> exit({port_at, port_at(Name, Ip)}) end),
    Wait = case Timeout of
               T when is_integer(T), T >= 0 -> T;
               _ -> infinity
           end,
    receive
        {'DOWN', MRef, process, Pid, {port_at, Result}} -> Result;
        {'DOWN', MRef, process, Pid, _} -> noport
    after Wait ->
        exit(Pid, kill),
        receive {'DOWN', MRef, process, Pid, _} -> ok end,
        noport
    end.

port_at(Name, Ip) ->
    try nodes() of
        {ok, Nodes} ->
            Family = case tuple_size(Ip) of 8 -> inet6; _ -> inet end,
            Res = resource(),
            Started = [start_lookup(Res, N, Family)
                       || N <- epmdns_config:nodes_named(Name, Nodes)],
            #{timeout_ms := Timeout} = config(),
            Deadline = erlang:monotonic_time(millisecond) + Timeout + ?WAIT_MARGIN_MS,
            first_at(Ip, Started, Deadline);
        _ ->
            noport
    catch
        _:_ -> noport
    end.

start_lookup(Res, Node, Family) ->
    Ref = make_ref(),
    case epmdns_nif:lookup(Res, Node, Family, Ref) of
        wait -> {wait, Ref};
        Result -> {done, Result}
    end.

first_at(_Ip, [], _Deadline) ->
    noport;
first_at(Ip, [{done, {ok, Ip, Port, Version}} | _], _Deadline) ->
    {port, Port, Version};
first_at(Ip, [{done, _} | Rest], Deadline) ->
    first_at(Ip, Rest, Deadline);
first_at(Ip, [{wait, Ref} | Rest], Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Ref, Result} -> first_at(Ip, [{done, Result} | Rest], Deadline)
    after Left ->
        first_at(Ip, Rest, Deadline)
    end.

lookup(Node, Family) ->
    Res = resource(),
    Ref = make_ref(),
    case epmdns_nif:lookup(Res, Node, Family, Ref) of
        wait -> wait_reply(Ref);
        Result -> Result
    end.

wait_reply(Ref) ->
    #{timeout_ms := Timeout} = config(),
    receive
        {Ref, Result} -> Result
    after Timeout + ?WAIT_MARGIN_MS ->
        {error, timeout}
    end.

resource() ->
    case persistent_term:get(?RESOURCE_KEY, undefined) of
        undefined -> error(not_started);
        Res -> Res
    end.

config() ->
    persistent_term:get(?CONFIG_KEY, #{key => undefined, timeout_ms => 1000,
                                       domain => "erl.internal."}).

%% --------------------------------------------------------------------------
%% gen_server: owns the resource and the registration

init([]) ->
    process_flag(trap_exit, true),
    Config = epmdns_config:read(),
    #{servers := Servers, domain := Domain, timeout_ms := Timeout, cache := Cache} = Config,
    case epmdns_nif:new(Servers, Domain, Timeout, Cache) of
        {ok, Res} ->
            persistent_term:put(?CONFIG_KEY, Config),
            persistent_term:put(?RESOURCE_KEY, Res),
            _ = [stderr(W) || W <- maps:get(warnings, Config, [])],
            S = #{res => Res, config => Config, node => undefined, ref => undefined,
                  waiting => undefined, registered => false, last_error => undefined,
                  retry_ms => ?RETRY_MIN_MS, failures => 0, retry_timer => undefined,
                  autoconnect => undefined},
            {ok, start_autoconnect(S)};
        {error, Reason} ->
            {stop, {epmdns, Reason}}
    end.

handle_call({register, Name, Port, Family}, From, #{config := Config} = S) ->
    case epmdns_config:mode(Config) of
        static ->
            {reply, {ok, -1}, S};
        registered ->
            Node = {atom_to_list(Name), Port, Family},
            S1 = start_register(cancel_retry(S#{node := Node, registered := false, failures := 0,
                                               retry_ms := ?RETRY_MIN_MS})),
            case maps:get(strict, Config, false) of
                true -> ok;
                false -> erlang:send_after(?REGISTER_WAIT_MS, self(), {register_wait_over, From})
            end,
            {noreply, S1#{waiting := From}}
    end;
handle_call(status, _From, #{config := Config} = S) ->
    {reply, #{mode => epmdns_config:mode(Config), registered => maps:get(registered, S),
              last_error => maps:get(last_error, S)}, S};
handle_call(_Other, _From, S) ->
    {reply, {error, unknown_call}, S}.

handle_cast({host, Host}, S) ->
    {noreply, S#{host => Host}};
handle_cast(_Msg, S) ->
    {noreply, S}.

handle_info({Ref, Result}, #{ref := Ref} = S) ->
    registered(Result, S#{ref := undefined});
handle_info({register_wait_over, From}, #{waiting := From} = S) ->
    stderr("epmdns: registering " ++ node_name(S) ++ " takes long; the node starts and the "
           "registration goes on in the background"),
    {noreply, reply_waiting({ok, -1}, S)};
handle_info({register_wait_over, _}, S) ->
    {noreply, S};
handle_info(retry_register, #{ref := undefined, registered := false, node := {_, _, _}} = S) ->
    {noreply, start_register(S#{retry_timer := undefined})};
handle_info(retry_register, S) ->
    {noreply, S#{retry_timer := undefined}};
%% A renewal found our token gone and the NIF registered again.
handle_info({epmdns_nif, reregistered, Result}, #{node := {_, _, _}} = S) ->
    case Result of
        ok ->
            log("epmdns: registered " ++ node_name(S) ++ " again (its records had lapsed)"),
            {noreply, S#{registered := true, last_error := undefined}};
        {error, {_Kind, Text}} ->
            log("epmdns: lost the registration of " ++ node_name(S) ++ ": " ++ Text
                ++ "; retrying in the background"),
            {noreply, schedule_retry(S#{registered := false, last_error := Text})}
    end;
handle_info({'EXIT', Pid, _Reason}, #{autoconnect := Pid} = S) ->
    %% Restarted a little later, so that a crash cannot loop fast.
    erlang:send_after(maps:get(autoconnect_interval_ms, maps:get(config, S), 5000), self(),
                      restart_autoconnect),
    {noreply, S#{autoconnect := undefined}};
handle_info(restart_autoconnect, #{autoconnect := undefined} = S) ->
    {noreply, start_autoconnect(S)};
handle_info(_Msg, S) ->
    {noreply, S}.

terminate(_Reason, #{res := Res, registered := Registered}) ->
    case Registered of
        true ->
            Ref = make_ref(),
            ok = epmdns_nif:unregister(Res, Ref),
            receive {Ref, _} -> ok after ?UNREGISTER_WAIT_MS -> ok end;
        false ->
            ok
    end,
    ok.

%% The answer to a registration: the first one answers register_node.
registered(ok, #{failures := Failures} = S) ->
    case Failures > 0 of
        true ->
            log(lists:flatten(io_lib:format("epmdns: registered ~s after ~p failed attempt~s",
                                            [node_name(S), Failures, plural(Failures)])));
        false ->
            ok
    end,
    {noreply, reply_waiting({ok, -1}, S#{registered := true, last_error := undefined,
                                         retry_ms := ?RETRY_MIN_MS, failures := 0})};
registered({error, {Kind, Text}}, #{waiting := From, config := Config} = S) when From =/= undefined ->
    %% At boot (register_node waits): a live holder of the name, or any failure in strict
    %% mode, stops distribution as EPMD would; otherwise the node starts and we retry.
    Strict = maps:get(strict, Config, false),
    if
        Kind =:= taken; Strict ->
            Line = case Kind of
                       taken -> Text;
                       _ -> "epmdns: cannot register " ++ node_name(S) ++ " (strict mode): " ++ Text
                   end,
            stderr(Line),
            {noreply, reply_waiting({error, Line},
                                    S#{node := undefined, registered := false, last_error := Text})};
        true ->
            stderr("epmdns: cannot register " ++ node_name(S) ++ " yet: " ++ Text
                   ++ "; the node starts anyway and retries in the background"),
            {noreply, reply_waiting({ok, -1}, schedule_retry(S#{last_error := Text, failures := 1}))}
    end;
registered({error, {Kind, Text}}, #{failures := Failures, last_error := Last} = S) ->
    case Kind =:= taken andalso Text =/= Last of
        true -> log(Text ++ "; not registered, retrying in the background");
        false -> ok
    end,
    {noreply, schedule_retry(S#{registered := false, last_error := Text, failures := Failures + 1})};
registered(Other, S) ->
    registered({error, {failed, lists:flatten(io_lib:format("~p", [Other]))}}, S).

schedule_retry(#{retry_ms := Retry} = S) ->
    S1 = cancel_retry(S),
    Timer = erlang:send_after(Retry, self(), retry_register),
    S1#{retry_timer := Timer, retry_ms := min(Retry * 2, ?RETRY_MAX_MS)}.

cancel_retry(#{retry_timer := undefined} = S) ->
    S;
cancel_retry(#{retry_timer := Timer} = S) ->
    _ = erlang:cancel_timer(Timer),
    receive retry_register -> ok after 0 -> ok end,
    S#{retry_timer := undefined}.

start_register(#{res := Res, config := Config, node := {Name, Port, Family}} = S) ->
    #{key := Key, lease := Lease, address := Address} = Config,
    Ref = make_ref(),
    ok = epmdns_nif:register(Res, Name ++ "@" ++ host(S), Port, Family, Key, Lease, Address, Ref),
    S#{ref := Ref}.

host(#{host := H}) -> H;
host(_) -> epmdns_config:own_host().

node_name(#{node := {Name, _, _}} = S) -> Name ++ "@" ++ host(S);
node_name(_) -> "this node".

plural(1) -> "";
plural(_) -> "s".

reply_waiting(_Reply, #{waiting := undefined} = S) ->
    S;
reply_waiting(Reply, #{waiting := From} = S) ->
    gen_server:reply(From, Reply),
    S#{waiting := undefined}.

start_autoconnect(#{config := #{autoconnect := true, autoconnect_interval_ms := Interval}} = S) ->
    S#{autoconnect := epmdns_autoconnect:start_link(Interval)};
start_autoconnect(S) ->
    S.

%% --------------------------------------------------------------------------
%% Logging that never fails: stderr through the NIF at boot (no logger handler, no
%% file server yet), the logger once it runs.

stderr(Line) ->
    try epmdns_nif:log(Line) catch _:_ -> ok end,
    ok.

log(Line) ->
    try
        case whereis(logger) of
            undefined -> stderr(Line);
            _ -> logger:notice("~ts", [Line])
        end
    catch
        _:_ -> stderr(Line)
    end,
    ok.
