%% epmdns configuration, read once at boot from the command line (-epmdns_* flags, which
%% win) and the environment (EPMDNS_*). Pure functions apart from read/0, for EUnit.
-module(epmdns_config).
-export([own_host/0, host_of/1, read/0, parse/2, mode/1, node_string/2, family/1, host_string/1]).

-define(DEFAULT_DOMAIN, "erl.internal.").
-define(DEFAULT_LEASE, 60).
-define(DEFAULT_TIMEOUT_MS, 1000).

%% {Flag, EnvVar, Key}
-define(SETTINGS, [{epmdns_servers, "EPMDNS_SERVERS", servers},
                   {epmdns_key, "EPMDNS_KEY", key},
                   {epmdns_domain, "EPMDNS_DOMAIN", domain},
                   {epmdns_lease, "EPMDNS_LEASE", lease},
                   {epmdns_address, "EPMDNS_ADDRESS", address}]).

%% Only BIFs and init: this runs before the logger and the file server exist.
read() ->
    Args = [{Flag, Values} || {Flag, _, _} <- ?SETTINGS,
                              {ok, Values} <- [init:get_argument(Flag)]],
    Env = [{Var, Value} || {_, Var, _} <- ?SETTINGS,
                           Value <- [os:getenv(Var)], Value =/= false],
    parse(Args, Env).

%% Args: [{Flag, [[Value]]}] as init:get_argument/1 gives them; Env: [{Var, Value}].
%% Returns a map with servers, key (undefined: static mode), domain, lease, address,
%% timeout_ms. Invalid leases fall back to the default.
parse(Args, Env) ->
    Raw = maps:from_list([{Key, V} || {Flag, Var, Key} <- ?SETTINGS,
                                      V <- [value(Flag, Var, Args, Env)], V =/= undefined]),
    #{servers => maps:get(servers, Raw, ""),
      key => maps:get(key, Raw, undefined),
      domain => domain(maps:get(domain, Raw, ?DEFAULT_DOMAIN)),
      lease => lease(maps:get(lease, Raw, undefined)),
      address => maps:get(address, Raw, ""),
      timeout_ms => ?DEFAULT_TIMEOUT_MS}.

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

lease(undefined) -> ?DEFAULT_LEASE;
lease(Text) ->
    case string:to_integer(string:trim(Text)) of
        {N, ""} when is_integer(N), N > 0 -> N;
        _ -> ?DEFAULT_LEASE
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
