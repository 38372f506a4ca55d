%% EUnit tests of the pure parts of epmdns: configuration and names.
-module(epmdns_config_tests).
-include_lib("eunit/include/eunit.hrl").

defaults_test() ->
    C = epmdns_config:parse([], []),
    ?assertEqual("", maps:get(servers, C)),
    ?assertEqual(undefined, maps:get(key, C)),
    ?assertEqual("erl.internal.", maps:get(domain, C)),
    ?assertEqual(60, maps:get(lease, C)),
    ?assertEqual("", maps:get(address, C)),
    ?assertEqual(static, epmdns_config:mode(C)).

flags_test() ->
    C = epmdns_config:parse([{epmdns_servers, [["127.0.0.1:8053,[::1]:8053"]]},
                             {epmdns_key, [["/k/node.key"]]},
                             {epmdns_domain, [["example.test."]]},
                             {epmdns_lease, [["30"]]},
                             {epmdns_address, [["10.0.0.7"]]}], []),
    ?assertEqual("127.0.0.1:8053,[::1]:8053", maps:get(servers, C)),
    ?assertEqual("/k/node.key", maps:get(key, C)),
    ?assertEqual("example.test.", maps:get(domain, C)),
    ?assertEqual(30, maps:get(lease, C)),
    ?assertEqual("10.0.0.7", maps:get(address, C)),
    ?assertEqual(registered, epmdns_config:mode(C)).

env_test() ->
    C = epmdns_config:parse([], [{"EPMDNS_SERVERS", "127.0.0.1:53"}, {"EPMDNS_KEY", "k"},
                                 {"EPMDNS_DOMAIN", "z."}, {"EPMDNS_LEASE", "7"},
                                 {"EPMDNS_ADDRESS", "::1"}]),
    ?assertMatch(#{servers := "127.0.0.1:53", key := "k", domain := "z.", lease := 7,
                   address := "::1"}, C).

flag_wins_over_env_test() ->
    C = epmdns_config:parse([{epmdns_domain, [["a."], ["b."]]}], [{"EPMDNS_DOMAIN", "env."}]),
    ?assertEqual("b.", maps:get(domain, C)).  % the last flag, as for other -flags

empty_values_test() ->
    C = epmdns_config:parse([{epmdns_key, [[]]}], [{"EPMDNS_DOMAIN", ""}]),
    ?assertEqual(undefined, maps:get(key, C)),
    ?assertEqual("erl.internal.", maps:get(domain, C)).

bad_lease_test_() ->
    [?_assertEqual(60, maps:get(lease, epmdns_config:parse([{epmdns_lease, [[L]]}], [])))
     || L <- ["x", "-5", "0", "12s", ""]].

node_string_test_() ->
    [?_assertEqual("a@host1", epmdns_config:node_string(a, host1)),
     ?_assertEqual("a@host1.erl.internal", epmdns_config:node_string("a", "host1.erl.internal")),
     ?_assertEqual("a@h", epmdns_config:node_string(<<"a">>, <<"h">>))].

host_of_test_() ->
    [?_assertEqual("host1.erl.internal", epmdns_config:host_of("a@host1.erl.internal")),
     ?_assertEqual("h", epmdns_config:host_of("a@h")),
     ?_assert(is_list(epmdns_config:host_of("bare")))].

family_test_() ->
    [?_assertEqual(inet, epmdns_config:family(inet_tcp)),
     ?_assertEqual(inet6, epmdns_config:family(inet6_tcp)),
     ?_assertEqual(inet, epmdns_config:family(inet)),
     ?_assertEqual(inet6, epmdns_config:family(inet6)),
     ?_assertEqual(inet6, epmdns_config:family(inet6_tls)),
     ?_assertEqual(inet, epmdns_config:family(inet_tls)),
     ?_assertEqual(inet, epmdns_config:family("junk"))].
