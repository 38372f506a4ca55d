%% epmdns_autoconnect: with -epmdns_autoconnect true, connects this node to every node of
%% the cluster listed in DNS (epmdns:nodes/0), and keeps doing so as nodes come and go, as
%% libcluster's DNS strategies do.
%%
%% A plain process linked to the epmdns gen_server (which restarts it if it dies). It never
%% calls that gen_server and never waits on net_kernel itself: each connection attempt runs
%% in a process of its own (net_kernel bounds it by net_setuptime), at most ?MAX_PENDING at
%% once, and one node has at most one attempt under way.
-module(epmdns_autoconnect).
-export([start_link/1, init/1, to_connect/4]).

-define(NOT_ALIVE_MS, 500).    % poll interval until distribution is up
-define(MAX_PENDING, 32).      % connection attempts under way at once

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
    {_Pid, MRef} = spawn_monitor(fun() -> net_kernel:connect_node(Node) end),
    MRef.

%% The nodes to try now: listed in DNS, not ourselves, not connected, no attempt under
%% way, and no more than ?MAX_PENDING attempts in all. Pure, for EUnit.
to_connect(Listed, Self, Connected, Pending) ->
    Room = max(0, ?MAX_PENDING - map_size(Pending)),
    Candidates = [N || N <- lists:usort(Listed), N =/= Self,
                       not lists:member(N, Connected), not maps:is_key(N, Pending)],
    lists:sublist(Candidates, Room).
