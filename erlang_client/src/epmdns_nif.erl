%% The NIF under epmdns (c_src/epmdns_nif.cc): one resolver per resource, answers that are
%% not ready at once come back as {Ref, Result} messages. Loaded from ../priv next to this
%% module's ebin directory (the OTP application layout).
-module(epmdns_nif).
-export([new/4, lookup/4, names/3, nodes/2, register/8, unregister/2, log/1]).
-on_load(init/0).

init() ->
    Ebin = filename:dirname(code:which(?MODULE)),
    Lib = filename:join([filename:dirname(Ebin), "priv", "epmdns_nif"]),
    erlang:load_nif(Lib, 0).

new(_Servers, _Domain, _TimeoutMs, _Cache) -> erlang:nif_error(not_loaded).
lookup(_Res, _Node, _Family, _Ref) -> erlang:nif_error(not_loaded).
names(_Res, _Host, _Ref) -> erlang:nif_error(not_loaded).
register(_Res, _Node, _Port, _Family, _KeyFile, _Lease, _Address, _Ref) -> erlang:nif_error(not_loaded).
unregister(_Res, _Ref) -> erlang:nif_error(not_loaded).
nodes(_Res, _Ref) -> erlang:nif_error(not_loaded).
log(_Text) -> erlang:nif_error(not_loaded).
