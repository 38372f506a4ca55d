%% Other distribution carriers and deployments with the epmdns module, against the real
%% epmdnsd on loopback, with no EPMD anywhere:
%%  - IPv6 distribution (-proto_dist inet6_tcp on ::1), registered through epmdnsd on [::1];
%%  - TLS distribution (-proto_dist inet_tls) with a CA and certificate made here by openssl,
%%    a second node under a TLS node's name refused;
%%  - static mode: SRV records with fixed ports in a zone file, no key anywhere.
%%
%% The CT node itself is not distributed: peers are controlled over TCP on loopback.
-module(epmdns_dist_SUITE).
-include_lib("common_test/include/ct.hrl").

-export([all/0, groups/0, suite/0, init_per_suite/1, end_per_suite/1,
         init_per_group/2, end_per_group/2, init_per_testcase/2, end_per_testcase/2]).
-export([ipv6/1, tls/1, static_zone/1]).

-import(epmdns_ct_lib, [call/4, call/5, dig/3, wait_until/2]).

-define(LEASE, 30).
-define(V6_LOOPBACK, {0, 0, 0, 0, 0, 0, 0, 1}).

suite() -> [{timetrap, {seconds, 45}}].

all() -> [{group, registered}, {group, static}].

groups() ->
    [{registered, [], [ipv6, tls]},
     {static, [], [static_zone]}].

init_per_suite(Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    Config.

end_per_suite(_Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    ok.

%% One epmdnsd on 127.0.0.1 and ::1 (same port), with a key, for registered nodes.
init_per_group(registered, Config) ->
    Priv = ?config(priv_dir, Config),
    Keys = epmdns_ct_lib:write_key_file(filename:join(Priv, "keys.conf"), "node."),
    Server = epmdns_ct_lib:start_epmdnsd(#{hosts => [{127, 0, 0, 1}, ?V6_LOOPBACK],
                                          zones => epmdns_ct_lib:zone_dir(Priv, ""),
                                          keys => Keys,
                                          state_dir => filename:join(Priv, "state"),
                                          args => ["--lease-min", "1"]}),
    [{server, Server}, {key, Keys} | Config];
%% No key anywhere: epmdnsd without --keys or --state-dir (UPDATE refused), nodes without
%% -epmdns_key; the zone file has the nodes' SRV records with fixed ports.
init_per_group(static, Config) ->
    Priv = ?config(priv_dir, Config),
    P1 = epmdns_ct_lib:free_port([{127, 0, 0, 1}]),
    P2 = epmdns_ct_lib:free_port([{127, 0, 0, 1}]),
    (P1 =/= P2) orelse ct:fail("free_port gave the same port twice"),
    Zones = epmdns_ct_lib:zone_dir(Priv, static_zone_text([{"st1", "sta1", P1},
                                                           {"st2", "sta2", P2}])),
    Server = epmdns_ct_lib:start_epmdnsd(#{zones => Zones}),
    [{server, Server}, {static_ports, {P1, P2}} | Config].

end_per_group(_Group, Config) ->
    Server = ?config(server, Config),
    ct:log("epmdnsd output:~n~s", [epmdns_ct_lib:epmdnsd_output(Server)]),
    epmdns_ct_lib:stop_epmdnsd(Server),
    ok.

init_per_testcase(_Case, Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    Config.

end_per_testcase(_Case, Config) ->
    epmdns_ct_lib:assert_no_epmd(),
    Config.

%% --------------------------------------------------------------------------
%% Cases

%% Two nodes with -proto_dist inet6_tcp on ::1, talking to epmdnsd over IPv6: they publish
%% AAAA ::1 (no A), connect over IPv6, and address_please(inet6) gives ::1 and the port.
ipv6(Config) ->
    Server = ?config(server, Config),
    Servers = "[::1]:" ++ integer_to_list(maps:get(port, Server)),
    Spec = fun(Name, Host) ->
                   #{name => Name, host => Host, key => ?config(key, Config), lease => ?LEASE,
                     servers => Servers, interface => "{0,0,0,0,0,0,0,1}",
                     args => ["-proto_dist", "inet6_tcp"]}
           end,
    Nodes = [V1, V2] = epmdns_ct_lib:start_nodes([Spec(v1, "v6a.erl.internal"),
                                                  Spec(v2, "v6b.erl.internal")]),
    try
        PortV2 = call(V2, epmdns_ct_lib, listen_port, []),
        is_integer(PortV2) orelse ct:fail("v2 listens on ~p", [PortV2]),
        Inst = "v2._erlang-dist._tcp.v6b.erl.internal",
        wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Inst) =:= PortV2 end, 5000)
            orelse ct:fail("SRV ~s: ~p, v2 listens on ~p",
                           [Inst, dig(Server, Inst, "SRV"), PortV2]),
        expect(dig(Server, "v6b.erl.internal", "AAAA"), ["::1"], aaaa_published),
        expect(dig(Server, "v6b.erl.internal", "A"), [], no_a_published),
        expect(call(V1, epmdns, address_please, ["v2", "v6b.erl.internal", inet6]),
               {ok, ?V6_LOOPBACK, PortV2, 6}, address_please_inet6),
        expect(call(V1, net_adm, ping, [node_of(V2)]), pong, ping),
        expect(call(V1, rpc, call, [node_of(V2), erlang, node, [], 5000]), node_of(V2), rpc),
        expect(call(V2, rpc, call, [node_of(V1), erlang, node, [], 5000]), node_of(V1), rpc_back),
        %% The connection really is IPv6, to v2's published port.
        {ok, Info} = call(V1, net_kernel, node_info, [node_of(V2)]),
        case proplists:get_value(address, Info) of
            {net_address, {?V6_LOOPBACK, PortV2}, _, tcp, inet6} -> ok;
            Addr -> ct:fail("v1's connection to v2: ~p, expected IPv6 ::1 port ~p", [Addr, PortV2])
        end
    after
        [epmdns_ct_lib:stop_node(N) || N <- Nodes]
    end.

%% Two nodes with -proto_dist inet_tls, certificates from a CA made here with openssl,
%% peer verification both ways. They find each other through epmdnsd and connect over TLS;
%% a plain-TCP node cannot connect to them.
tls(Config) ->
    Server = ?config(server, Config),
    OptFile = make_tls_files(?config(priv_dir, Config), ["tls1.erl.internal", "tls2.erl.internal"]),
    Servers = epmdns_ct_lib:servers_arg(Server),
    Tls = fun(Name, Host) ->
                  #{name => Name, host => Host, key => ?config(key, Config), lease => ?LEASE,
                    servers => Servers,
                    args => ["-proto_dist", "inet_tls", "-ssl_dist_optfile", OptFile]}
          end,
    Nodes = [T1, T2, Plain] = epmdns_ct_lib:start_nodes(
        [Tls(t1, "tls1.erl.internal"), Tls(t2, "tls2.erl.internal"),
         #{name => plain, host => "plain.erl.internal", servers => Servers}]),
    try
        PortT2 = call(T2, epmdns_ct_lib, listen_port, []),
        is_integer(PortT2) orelse ct:fail("t2 listens on ~p", [PortT2]),
        Inst = "t2._erlang-dist._tcp.tls2.erl.internal",
        wait_until(fun() -> epmdns_ct_lib:srv_port(Server, Inst) =:= PortT2 end, 5000)
            orelse ct:fail("SRV ~s: ~p, t2 listens on ~p", [Inst, dig(Server, Inst, "SRV"), PortT2]),
        expect(call(T1, epmdns, status, []), #{mode => registered, registered => true,
                                               last_error => undefined}, t1_status),
        expect(call(T1, net_adm, ping, [node_of(T2)]), pong, tls_ping),
        expect(call(T1, rpc, call, [node_of(T2), erlang, node, [], 5000]), node_of(T2), tls_rpc),
        {ok, Info} = call(T1, net_kernel, node_info, [node_of(T2)]),
        case proplists:get_value(address, Info) of
            {net_address, {{127, 0, 0, 1}, PortT2}, _, tls, inet} -> ok;
            Addr -> ct:fail("t1's connection to t2: ~p, expected TLS to port ~p", [Addr, PortT2])
        end,
        %% A second t2 is refused: the name probe (plain TCP) cannot read a TLS node's name,
        %% so a TLS answer counts as the live holder.
        {St, Out} = epmdns_ct_lib:run_node(Tls(t2, "tls2.erl.internal"), "io:format(\"STARTED~n\")",
                                           20000),
        Line = "epmdns: name t2@tls2.erl.internal is registered by a live node at 127.0.0.1:"
            ++ integer_to_list(PortT2) ++ " (",
        (St =/= 0 andalso St =/= timeout andalso string:find(Out, "STARTED") =:= nomatch
         andalso string:find(Out, Line) =/= nomatch)
            orelse ct:fail("a second t2 (TLS) was not refused: exit ~p, want a line ~p:~n~s",
                           [St, Line, Out]),
        expect(epmdns_ct_lib:srv_port(Server, Inst), PortT2, t2_srv_kept),
        expect(call(T1, rpc, call, [node_of(T2), erlang, node, [], 5000]), node_of(T2), tls_rpc_after),
        %% The plain node finds t2 in DNS, but TLS is required to connect.
        expect(call(Plain, epmdns, address_please, ["t2", "tls2.erl.internal", inet]),
               {ok, {127, 0, 0, 1}, PortT2, 6}, plain_finds_t2),
        expect(call(Plain, net_adm, ping, [node_of(T2)], 15000), pang, plain_tcp_refused)
    after
        [epmdns_ct_lib:stop_node(N) || N <- Nodes]
    end.

%% Static mode: each node listens on the port of its own SRV record in the zone file, is
%% reachable there, and nothing is written to DNS.
static_zone(Config) ->
    Server = ?config(server, Config),
    {P1, P2} = ?config(static_ports, Config),
    Serial = dig(Server, "erl.internal", "SOA"),
    Servers = epmdns_ct_lib:servers_arg(Server),
    Nodes = [S1, S2] = epmdns_ct_lib:start_nodes(
        [#{name => st1, host => "sta1.erl.internal", servers => Servers},
         #{name => st2, host => "sta2.erl.internal", servers => Servers}]),
    try
        expect(call(S1, epmdns_ct_lib, listen_port, []), P1, st1_listens_on_srv_port),
        expect(call(S2, epmdns_ct_lib, listen_port, []), P2, st2_listens_on_srv_port),
        [case gen_tcp:connect({127, 0, 0, 1}, P, [], 2000) of
             {ok, Sock} -> gen_tcp:close(Sock);
             Error -> ct:fail("nothing accepts on 127.0.0.1:~p: ~p", [P, Error])
         end || P <- [P1, P2]],
        Static = #{mode => static, registered => false, last_error => undefined},
        expect(call(S1, epmdns, status, []), Static, st1_status),
        expect(call(S2, epmdns, status, []), Static, st2_status),
        expect(call(S1, epmdns, address_please, ["st2", "sta2.erl.internal", inet]),
               {ok, {127, 0, 0, 1}, P2, 6}, address_please),
        expect(call(S1, net_adm, ping, [node_of(S2)]), pong, ping),
        expect(call(S2, rpc, call, [node_of(S1), erlang, node, [], 5000]), node_of(S1), rpc_back),
        expect(call(S2, net_adm, names, ["sta1.erl.internal"]), {ok, [{"st1", P1}]}, names),
        %% Nothing was written: the same SOA serial, the zone's own SRV records.
        expect(dig(Server, "erl.internal", "SOA"), Serial, soa_unchanged),
        expect(dig(Server, "st1._erlang-dist._tcp.sta1.erl.internal", "SRV"),
               ["0 0 " ++ integer_to_list(P1) ++ " sta1.erl.internal."], srv_unchanged)
    after
        [epmdns_ct_lib:stop_node(N) || N <- Nodes]
    end.

%% --------------------------------------------------------------------------
%% Helpers

static_zone_text(Nodes) ->
    ["; epmdns_dist_SUITE: static nodes on fixed ports\n"
     | [[Host, " IN A 127.0.0.1\n",
         "_erlang-dist._tcp.", Host, " IN PTR ", Name, "._erlang-dist._tcp.", Host, ".erl.internal.\n",
         Name, "._erlang-dist._tcp.", Host, " IN SRV 0 0 ", integer_to_list(Port), " ", Host,
         ".erl.internal.\n",
         Name, "._erlang-dist._tcp.", Host, " IN TXT \"vsn=6\"\n"]
        || {Name, Host, Port} <- Nodes]].

%% A test CA, one node certificate (EC P-256) for Hosts signed by it, and the
%% -ssl_dist_optfile using them with peer verification on both sides. Returns its path.
make_tls_files(Dir, Hosts) ->
    F = fun(Name) -> filename:join(Dir, Name) end,
    Ext = F("node.ext"),
    ok = file:write_file(Ext, ["basicConstraints=CA:FALSE\n",
                               "keyUsage=critical,digitalSignature,keyEncipherment\n",
                               "extendedKeyUsage=serverAuth,clientAuth\n",
                               "subjectAltName=", lists:join(",", ["DNS:" ++ H || H <- Hosts]),
                               "\n"]),
    openssl(["req", "-x509", "-new", "-nodes", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-keyout", F("ca.key"),
             "-out", F("ca.pem"), "-days", "2", "-subj", "/CN=epmdns CT test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
    openssl(["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-keyout", F("node.key"), "-out", F("node.csr"), "-subj", "/CN=epmdns CT node"]),
    openssl(["x509", "-req", "-in", F("node.csr"), "-CA", F("ca.pem"), "-CAkey", F("ca.key"),
             "-CAcreateserial", "-out", F("node.pem"), "-days", "2", "-extfile", Ext]),
    openssl(["verify", "-CAfile", F("ca.pem"), F("node.pem")]),
    Common = [{certfile, F("node.pem")}, {keyfile, F("node.key")}, {cacertfile, F("ca.pem")},
              {verify, verify_peer}],
    Opts = [{server, Common ++ [{fail_if_no_peer_cert, true}]}, {client, Common}],
    OptFile = F("ssl_dist.conf"),
    ok = file:write_file(OptFile, io_lib:format("~p.~n", [Opts])),
    OptFile.

openssl(Args) ->
    case os:find_executable("openssl") of
        false -> ct:fail("the openssl CLI is missing: install the Debian package openssl "
                         "(scripts/setup.sh does)");
        _ -> ok
    end,
    case epmdns_ct_lib:run("openssl", Args, 20000) of
        {0, _} -> ok;
        {St, Out} -> ct:fail("openssl ~s: exit ~p~n~s", [lists:join(" ", Args), St, Out])
    end.

node_of(#{node := N}) -> N.

expect(Got, Expected, What) ->
    case Got of
        Expected -> Got;
        _ -> ct:fail("~0p: got ~0p, expected ~0p", [What, Got, Expected])
    end.
