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

strict_and_autoconnect_default_off_test() ->
    C = epmdns_config:parse([], []),
    ?assertEqual(false, maps:get(strict, C)),
    ?assertEqual(false, maps:get(autoconnect, C)),
    ?assertEqual([], maps:get(warnings, C)),
    ?assert(maps:get(autoconnect_interval_ms, C) > 0).

strict_and_autoconnect_flags_test() ->
    C = epmdns_config:parse([{epmdns_strict, [["true"]]}, {epmdns_autoconnect, [["yes"]]}], []),
    ?assertMatch(#{strict := true, autoconnect := true, warnings := []}, C).

strict_and_autoconnect_env_test() ->
    C = epmdns_config:parse([], [{"EPMDNS_STRICT", "TRUE"}, {"EPMDNS_AUTOCONNECT", "1"}]),
    ?assertMatch(#{strict := true, autoconnect := true}, C),
    %% The flag wins over the environment.
    C2 = epmdns_config:parse([{epmdns_strict, [["false"]]}], [{"EPMDNS_STRICT", "true"}]),
    ?assertEqual(false, maps:get(strict, C2)).

cache_setting_test() ->
    ?assertEqual(true, maps:get(cache, epmdns_config:parse([], []))),
    ?assertMatch(#{cache := false, warnings := []},
                 epmdns_config:parse([{epmdns_cache, [["false"]]}], [{"EPMDNS_CACHE", "true"}])),
    ?assertMatch(#{cache := false}, epmdns_config:parse([], [{"EPMDNS_CACHE", "off"}])),
    #{cache := true, warnings := [W]} = epmdns_config:parse([{epmdns_cache, [["later"]]}], []),
    ?assertNotEqual(nomatch, string:find(W, "-epmdns_cache / EPMDNS_CACHE")).

boolean_test_() ->
    [?_assertEqual({ok, true}, epmdns_config:boolean(T)) || T <- ["true", "True", " yes ", "on", "1"]]
    ++ [?_assertEqual({ok, false}, epmdns_config:boolean(F)) || F <- ["false", "NO", "off", "0"]]
    ++ [?_assertEqual(error, epmdns_config:boolean(B)) || B <- ["", "maybe", "2", "truee"]].

bad_settings_warn_test() ->
    C = epmdns_config:parse([{epmdns_strict, [["maybe"]]}, {epmdns_lease, [["12s"]]}],
                            [{"EPMDNS_AUTOCONNECT", "sometimes"}]),
    ?assertMatch(#{strict := false, autoconnect := false, lease := 60}, C),
    [Lease, Strict, Auto] = maps:get(warnings, C),
    ?assertEqual("epmdns: bad setting -epmdns_lease / EPMDNS_LEASE: \"12s\" "
                 "(want a positive number of seconds); using 60", Lease),
    ?assertEqual("epmdns: bad setting -epmdns_strict / EPMDNS_STRICT: \"maybe\" "
                 "(want true or false); using false", Strict),
    ?assertNotEqual(nomatch, string:find(Auto, "-epmdns_autoconnect / EPMDNS_AUTOCONNECT")).

node_atoms_test() ->
    ?assertEqual(['a@h1.z', 'b@h2.z'],
                 epmdns_config:node_atoms(["b@h2.z", "a@h1.z", "b@h2.z", "junk", "@h", "n@"])).

to_connect_test_() ->
    Pending = #{'p@h' => make_ref()},
    [?_assertEqual(['c@h'], epmdns_autoconnect:to_connect(['me@h', 'c@h', 'up@h', 'p@h'], 'me@h',
                                                          ['up@h'], Pending)),
     ?_assertEqual([], epmdns_autoconnect:to_connect([], 'me@h', [], #{})),
     %% No more than 32 attempts under way at once.
     ?_assertEqual(32, length(epmdns_autoconnect:to_connect(
                               [list_to_atom("n" ++ integer_to_list(I) ++ "@h") || I <- lists:seq(1, 50)],
                               'me@h', [], #{}))),
     ?_assertEqual(31, length(epmdns_autoconnect:to_connect(
                               [list_to_atom("n" ++ integer_to_list(I) ++ "@h") || I <- lists:seq(1, 50)],
                               'me@h', [], Pending)))].

node_key_test_() ->
    [?_assertEqual("app1@host7.erl.internal",
                   epmdns_config:node_key('App1@Host7.erl.internal', "erl.internal.")),
     ?_assertEqual("app1@host7.erl.internal", epmdns_config:node_key("App1@HOST7", "erl.internal.")),
     ?_assertEqual("app1@host7.erl.internal",
                   epmdns_config:node_key("app1@host7.erl.internal.", "erl.internal")),
     ?_assertEqual("a@h.example.test", epmdns_config:node_key("A@h", "Example.Test."))].

as_known_test() ->
    Listed = ['app1@host7.z', 'b@h.z', 'me@h.z'],
    Known = ['Me@h.z', 'App1@Host7.z', 'other@h.z'],
    ?assertEqual(['App1@Host7.z', 'Me@h.z', 'b@h.z'], epmdns_config:as_known(Listed, Known, "z.")),
    ?assertEqual(['b@h.z'], epmdns_config:as_known(['b@h.z'], [nonode@nohost], "z.")).

%% port_please with an address: the nodes of the cluster called Name (case aside, as DNS).
nodes_named_test_() ->
    Nodes = ['app1@host1.z', 'App1@Host2.z', 'app2@host1.z', 'app10@host3.z', junk, '@h'],
    [?_assertEqual(["app1@host1.z", "App1@Host2.z"], epmdns_config:nodes_named(app1, Nodes)),
     ?_assertEqual(["app1@host1.z", "App1@Host2.z"], epmdns_config:nodes_named("APP1", Nodes)),
     ?_assertEqual(["a@h.z"], epmdns_config:nodes_named("a", ["a@h.z", "a@", "b@h.z"])),
     ?_assertEqual([], epmdns_config:nodes_named("app3", Nodes)),
     ?_assertEqual([], epmdns_config:nodes_named("app1", []))].
