%% epmdns_autoconnect: with -epmdns_autoconnect true, connects this node to every node of
%% the cluster listed in DNS (epmdns:nodes/0), and keeps doing so as nodes come and go, as
%% libcluster's DNS strategies do.
%%
%% A plain process linked to the epmdns gen_server (which restarts it if it dies). It never
%% calls that gen_server and never waits on net_kernel itself: each connection attempt runs
%% in a process of its own (net_kernel bounds it by net_setuptime), at most ?MAX_PENDING at
%% once, and one node has at most one attempt under way.
%%
%% DNS gives node names in lower case; a node named with capitals ('App1@Host7.z') is
%% reached only under its exact name. So when a connection under the DNS name fails, the
%% attempt asks the node its name, as the first steps of a distribution handshake do (its
%% challenge carries it), and connects under that name if it is the same DNS instance.
-module(epmdns_autoconnect).
-export([start_link/1, init/1, to_connect/4, connect/1, real_name/1]).

-define(NOT_ALIVE_MS, 500).    % poll interval until distribution is up
-define(MAX_PENDING, 32).      % connection attempts under way at once
-define(ASK_TIMEOUT_MS, 2000). % asking a node its name: connect, then each answer
%% What the NIF's name probe offers (c_src/epmdns_nif.cc kProbeFlags): a hidden node with
%% every flag OTP 23 to 27 require.
-define(PROBE_FLAGS, 16#d07df7fbc).

start_link(IntervalMs) ->
    spawn_link(?MODULE, init, [IntervalMs]).

init(IntervalMs) ->
    self() ! poll,
    loop(#{interval => max(IntervalMs, 100), pending => #{}}).

loop(#{interval := Interval, pending := Pending} = S) ->
    receive
        poll ->
            {Next, S1} = try poll(S)
                         catch _:_ -> {Interval, S}
                         end,
            erlang:send_after(Next, self(), poll),
            loop(S1);
        {'DOWN', MRef, process, _, _} ->
            loop(S#{pending := maps:filter(fun(_, R) -> R =/= MRef end, Pending)});
        _ ->
            loop(S)
    end.

%% {Delay before the next poll, State}.
poll(#{interval := Interval, pending := Pending} = S) ->
    case erlang:is_alive() of
        false ->
            {?NOT_ALIVE_MS, S};
        true ->
            case epmdns:nodes() of
                {ok, Listed} ->
                    Connected = erlang:nodes(connected),
                    Todo = to_connect(Listed, node(), Connected, Pending),
                    Started = maps:from_list([{N, attempt(N)} || N <- Todo]),
                    {Interval, S#{pending := maps:merge(Pending, Started)}};
                _ ->
                    {Interval, S}
            end
    end.

attempt(Node) ->
    {_Pid, MRef} = spawn_monitor(?MODULE, connect, [Node]),
    MRef.

%% Connects to Node, a name from DNS; failing that, to the node under its real name.
connect(Node) ->
    case net_kernel:connect_node(Node) of
        true ->
            true;
        _ ->
            case real_name(Node) of
                {ok, Real} when Real =/= Node -> net_kernel:connect_node(Real);
                _ -> false
            end
    end.

%% {ok, Atom}: the name of the node that listens where DNS puts Node, if it is the same DNS
%% instance (the same name up to case); {error, Reason} otherwise. Plain TCP distribution
%% only (a TLS listener cannot be asked in clear). The half-done handshake is dropped.
real_name(Node) ->
    try
        [Name, Host] = string:split(atom_to_list(Node), "@"),
        Family = case init:get_argument(proto_dist) of
                     {ok, [["inet6_tcp" | _] | _]} -> inet6;
                     {ok, [["inet_tcp" | _] | _]} -> inet;
                     {ok, _} -> tls_or_other;
                     error -> inet
                 end,
        Family =/= tls_or_other orelse throw(not_plain_tcp),
        {Ip, Port} = case epmdns:address_please(Name, Host, Family) of
                         {ok, I, P, _Version} -> {I, P};
                         {error, NotFound} -> throw(NotFound)
                     end,
        Text = ask_name(Ip, Port, Family),
        #{domain := Domain} = persistent_term:get({epmdns, config}, #{domain => "erl.internal."}),
        case epmdns_config:node_key(Text, Domain) =:= epmdns_config:node_key(Node, Domain) of
            true -> {ok, list_to_atom(Text)};
            false -> {error, {another_node, Text}}
        end
    catch
        throw:Reason -> {error, Reason};
        _:Reason2 -> {error, Reason2}
    end.

ask_name(Ip, Port, Family) ->
    {ok, S} = gen_tcp:connect(Ip, Port, [Family, binary, {packet, 2}, {active, false},
                                         {nodelay, true}], ?ASK_TIMEOUT_MS),
    try
        [_, Host] = string:split(atom_to_list(node()), "@"),
        Probe = iolist_to_binary(["epmdns_probe_",
                                  integer_to_list(erlang:unique_integer([positive]), 16), "@", Host]),
        Creation = 4 + rand:uniform(16#fffffff0) - 1,
        ok = gen_tcp:send(S, <<$N, ?PROBE_FLAGS:64, Creation:32, (byte_size(Probe)):16, Probe/binary>>),
        case gen_tcp:recv(S, 0, ?ASK_TIMEOUT_MS) of
            {ok, <<$s, "ok">>} -> ok;
            {ok, <<$s, "ok_simultaneous">>} -> ok;
            Status -> throw({status, Status})
        end,
        case gen_tcp:recv(S, 0, ?ASK_TIMEOUT_MS) of
            {ok, <<$N, _Flags:64, _Challenge:32, _Creation:32, Len:16, Got:Len/binary, _/binary>>} ->
                binary_to_list(Got);
            {ok, <<$n, _Version:16, _Flags:32, _Challenge:32, Got/binary>>} ->
                binary_to_list(Got);
            Challenge ->
                throw({challenge, Challenge})
        end
    after
        gen_tcp:close(S)
    end.

%% The nodes to try now: listed in DNS, not ourselves, not connected, no attempt under
%% way, and no more than ?MAX_PENDING attempts in all. Pure, for EUnit.
to_connect(Listed, Self, Connected, Pending) ->
    Room = max(0, ?MAX_PENDING - map_size(Pending)),
    Candidates = [N || N <- lists:usort(Listed), N =/= Self,
                       not lists:member(N, Connected), not maps:is_key(N, Pending)],
    lists:sublist(Candidates, Room).
