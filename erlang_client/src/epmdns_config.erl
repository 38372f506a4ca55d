%% epmdns configuration, read once at boot from the command line (-epmdns_* flags, which
%% win) and the environment (EPMDNS_*). Pure functions apart from read/0, for EUnit.
-module(epmdns_config).
-export([own_host/0, host_of/1, read/0, parse/2, mode/1, node_string/2, family/1, host_string/1,
         boolean/1, node_atoms/1, node_key/2, as_known/3, nodes_named/2]).

-define(DEFAULT_DOMAIN, "erl.internal.").
-define(DEFAULT_LEASE, 60).
-define(DEFAULT_TIMEOUT_MS, 1000).
-define(AUTOCONNECT_INTERVAL_MS, 5000).

%% {Flag, EnvVar, Key}
-define(SETTINGS, [{epmdns_servers, "EPMDNS_SERVERS", servers},
                   {epmdns_key, "EPMDNS_KEY", key},
                   {epmdns_domain, "EPMDNS_DOMAIN", domain},
                   {epmdns_lease, "EPMDNS_LEASE", lease},
                   {epmdns_address, "EPMDNS_ADDRESS", address},
                   {epmdns_strict, "EPMDNS_STRICT", strict},
                   {epmdns_autoconnect, "EPMDNS_AUTOCONNECT", autoconnect},
                   {epmdns_cache, "EPMDNS_CACHE", cache}]).

%% Only BIFs and init: this runs before the logger and the file server exist.
read() ->
    Args = [{Flag, Values} || {Flag, _, _} <- ?SETTINGS,
                              {ok, Values} <- [init:get_argument(Flag)]],
    Env = [{Var, Value} || {_, Var, _} <- ?SETTINGS,
                           Value <- [os:getenv(Var)], Value =/= false],
    parse(Args, Env).

%% Args: [{Flag, [[Value]]}] as init:get_argument/1 gives them; Env: [{Var, Value}].
%% Returns a map with servers, key (undefined: static mode), domain, lease, address,
%% strict, autoconnect, cache (booleans), autoconnect_interval_ms, timeout_ms, and warnings: one
%% line for each bad setting, which falls back to its default.
parse(Args, Env) ->
    Raw = maps:from_list([{Key, V} || {Flag, Var, Key} <- ?SETTINGS,
                                      V <- [value(Flag, Var, Args, Env)], V =/= undefined]),
    {Lease, W1} = setting(lease, Raw, fun lease/1, ?DEFAULT_LEASE, "a positive number of seconds"),
    {Strict, W2} = setting(strict, Raw, fun boolean/1, false, "true or false"),
    {Auto, W3} = setting(autoconnect, Raw, fun boolean/1, false, "true or false"),
    {Cache, W4} = setting(cache, Raw, fun boolean/1, true, "true or false"),
    #{servers => maps:get(servers, Raw, ""),
      key => maps:get(key, Raw, undefined),
      domain => domain(maps:get(domain, Raw, ?DEFAULT_DOMAIN)),
      lease => Lease,
      address => maps:get(address, Raw, ""),
      strict => Strict,
      autoconnect => Auto,
      cache => Cache,
      autoconnect_interval_ms => ?AUTOCONNECT_INTERVAL_MS,
      timeout_ms => ?DEFAULT_TIMEOUT_MS,
      warnings => W1 ++ W2 ++ W3 ++ W4}.

%% {Value, Warnings}: the parsed setting, or its default and one line saying why.
setting(Key, Raw, Parse, Default, Want) ->
    case maps:find(Key, Raw) of
        error ->
            {Default, []};
        {ok, Text} ->
            case Parse(Text) of
                {ok, V} ->
                    {V, []};
                error ->
                    {Flag, Var, _} = lists:keyfind(Key, 3, ?SETTINGS),
                    {Default, [lists:flatten(io_lib:format(
                                 "epmdns: bad setting -~s / ~s: ~tp (want ~s); using ~p",
                                 [Flag, Var, Text, Want, Default]))]}
            end
    end.

value(Flag, Var, Args, Env) ->
    case lists:keyfind(Flag, 1, Args) of
        {_, [_ | _] = Values} ->
            case lists:last(Values) of
                [V | _] -> V;
                [] -> undefined
            end;
        _ ->
            case lists:keyfind(Var, 1, Env) of
                {_, V} when V =/= "" -> V;
                _ -> undefined
            end
    end.

domain("") -> ?DEFAULT_DOMAIN;
domain(D) -> D.

lease(Text) ->
    case string:to_integer(string:trim(Text)) of
        {N, ""} when is_integer(N), N > 0 -> {ok, N};
        _ -> error
    end.

%% {ok, Boolean} for true/false, yes/no, on/off, 1/0 (any case); error otherwise.
boolean(Text) ->
    case string:lowercase(string:trim(Text)) of
        T when T =:= "true"; T =:= "yes"; T =:= "on"; T =:= "1" -> {ok, true};
        F when F =:= "false"; F =:= "no"; F =:= "off"; F =:= "0" -> {ok, false};
        _ -> error
    end.

%% registered (a key: the node registers itself by UPDATE) or static (the zone has it).
mode(#{key := undefined}) -> static;
mode(#{}) -> registered.

%% "name@host" from a name and host, each an atom, string or binary.
node_string(Name, Host) ->
    to_string(Name) ++ "@" ++ host_string(Host).

host_string(Host) when is_atom(Host) -> atom_to_list(Host);
host_string(Host) when is_binary(Host) -> binary_to_list(Host);
host_string(Host) when is_list(Host) -> Host.

to_string(X) when is_atom(X) -> atom_to_list(X);
to_string(X) when is_binary(X) -> binary_to_list(X);
to_string(X) when is_list(X) -> X.

%% The node atoms of "name@host" strings (epmdns:nodes/0): sorted, without duplicates and
%% without anything that is not name@host.
node_atoms(Strings) ->
    lists:usort([list_to_atom(S) || S <- Strings, is_list(S),
                                    case string:split(S, "@") of
                                        [N, H] -> N =/= "" andalso H =/= "";
                                        _ -> false
                                    end]).

%% DNS is case-insensitive and epmdns publishes lower-case names, but node names are atoms
%% and a connection succeeds only under the exact name the node has ('App1@Host7.z' is not
%% 'app1@host7.z'). The key of a node name, "name@host" or an atom: what DNS makes of it,
%% lower case, with a short host made absolute in Domain ("erl.internal." or without the
%% dot). Two names with one key are one DNS instance: one node.
node_key(Node, Domain) when is_atom(Node) -> node_key(atom_to_list(Node), Domain);
node_key(Node, Domain) ->
    case string:split(Node, "@") of
        [Name, Host0] ->
            Host = string:trim(Host0, trailing, "."),
            Full = case lists:member($., Host) of
                       true -> Host;
                       false -> Host ++ "." ++ string:trim(Domain, trailing, ".")
                   end,
            string:lowercase(Name ++ "@" ++ Full);
        _ ->
            string:lowercase(Node)
    end.

%% Listed (node atoms as DNS gives them, lower case) with each name replaced by the node of
%% Known (this node and the connected ones: their real names) that has the same key.
as_known(Listed, Known, Domain) ->
    Real = maps:from_list([{node_key(K, Domain), K} || K <- Known, K =/= nonode@nohost]),
    lists:usort([maps:get(node_key(L, Domain), Real, L) || L <- Listed]).

%% The nodes of Nodes (atoms or "name@host" strings) whose name part is Name (an atom or a
%% string; compared without case, as DNS compares owner names), as "name@host" strings.
nodes_named(Name, Nodes) ->
    Want = string:lowercase(to_string(Name)),
    [S || Node <- Nodes,
          S <- [to_string(Node)],
          case string:split(S, "@") of
              [N, H] -> H =/= "" andalso string:lowercase(N) =:= Want;
              _ -> false
          end].

%% The address family of register_node/3's third argument: a driver module (OTP 25:
%% inet_tcp, inet6_tcp, ...) or a family (OTP 26+: inet, inet6).
family(inet) -> inet;
family(inet6) -> inet6;
family(Driver) when is_atom(Driver) ->
    case lists:member(Driver, [inet6_tcp, inet6_tls]) orelse
        string:find(atom_to_list(Driver), "inet6") =/= nomatch of
        true -> inet6;
        false -> inet
    end;
family(_) -> inet.

%% The host part of -name/-sname, or of node() (for register_node/2 callers without
%% listen_port_please first).
own_host() ->
    Names = [N || Flag <- [name, sname], {ok, [[N | _] | _]} <- [init:get_argument(Flag)]],
    case Names ++ [atom_to_list(node())] of
        [First | _] -> host_of(First)
    end.

%% "name@host" -> "host"; "name" -> the local host name as inet gives it.
host_of(Node) ->
    case string:split(Node, "@") of
        [_, Host] when Host =/= "" -> Host;
        _ -> {ok, H} = inet:gethostname(), H
    end.
