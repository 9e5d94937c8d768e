"""The routing policy, checked from the configuration alone: no process is
started.  What a received signal becomes, who gets it, and whether it starts
the stop, for options, environment variables, profiles and the peers'
command lines (tini, dumb-init)."""
import signal

import pytest

from tini_py.config import UsageError, configure
from tini_py.policy import CHILD, GROUP, route_of
from tini_py.signals import FORWARDED

S = signal.Signals


def route_table(config):
    """{received signal: Route} for every forwarded signal."""
    return {received: route_of(config, received) for received in FORWARDED}


def routes(argv, env=None):
    return route_table(configure(list(argv) + ["cmd"], env or {}))


def decision(argv, received, env=None):
    """(forwarded signal, recipient, starts the stop) for one received signal."""
    route = routes(argv, env)[received]
    return route.signal, route.recipient, route.stops


def recipients(argv, env=None):
    table = routes(argv, env)
    return {received: table[received].recipient for received in FORWARDED}


def test_default_every_signal_unchanged_to_the_group():
    table = routes([])
    assert set(table) == set(FORWARDED)
    for received, route in table.items():
        assert (route.signal, route.recipient) == (received, GROUP)
    assert {r for r, route in table.items() if route.stops} == {S.SIGTERM, S.SIGINT, S.SIGQUIT}


def test_fault_signals_sent_by_others_are_forwarded():
    for fault in (S.SIGSEGV, S.SIGBUS, S.SIGFPE, S.SIGILL, S.SIGABRT, S.SIGTRAP, S.SIGSYS):
        assert decision([], fault) == (fault, GROUP, False)


# (argv, environment, received, expected (signal, recipient, stops))
DECISIONS = {
    "to-child one signal": (["--to-child", "USR1"], {}, S.SIGUSR1, (S.SIGUSR1, CHILD, False)),
    "to-child leaves others": (["--to-child", "USR1"], {}, S.SIGUSR2, (S.SIGUSR2, GROUP, False)),
    "to-child list": (["--to-child", "usr1,SIGHUP"], {}, S.SIGHUP, (S.SIGHUP, CHILD, False)),
    "routing follows the rewrite": (["-r", "HUP:USR2", "--to-child", "USR2"], {}, S.SIGHUP,
                                    (S.SIGUSR2, CHILD, False)),
    "routing is not by the received signal": (["-r", "HUP:USR2", "--to-child", "HUP"], {},
                                              S.SIGHUP, (S.SIGUSR2, GROUP, False)),
    "graceful to child": (["-g", "QUIT", "--to-child", "QUIT"], {}, S.SIGTERM,
                          (S.SIGQUIT, CHILD, True)),
    "single child": (["-c"], {}, S.SIGTERM, (S.SIGTERM, CHILD, True)),
    "single child long": (["--single-child"], {}, S.SIGWINCH, (S.SIGWINCH, CHILD, False)),
    "to-child all": (["--to-child", "all"], {}, S.SIGHUP, (S.SIGHUP, CHILD, False)),
    "env to-child": ([], {"TINI_PY_TO_CHILD": "HUP, USR2"}, S.SIGUSR2, (S.SIGUSR2, CHILD, False)),
    "env single child": ([], {"TINI_PY_SINGLE_CHILD": "yes"}, S.SIGINT, (S.SIGINT, CHILD, True)),
    "env single child off": ([], {"TINI_PY_SINGLE_CHILD": "0"}, S.SIGINT, (S.SIGINT, GROUP, True)),
    "dropped signal starts nothing": (["-g", "0"], {}, S.SIGTERM, (0, GROUP, False)),
    "rewritten into a stop": (["-r", "USR1:TERM"], {}, S.SIGUSR1, (S.SIGTERM, GROUP, True)),
}


@pytest.mark.parametrize("argv,env,received,expected", DECISIONS.values(), ids=list(DECISIONS))
def test_decision(argv, env, received, expected):
    assert decision(argv, received, env) == expected


def test_single_child_then_one_signal_back_to_the_group():
    got = recipients(["-c", "--to-group", "HUP"])
    assert got.pop(S.SIGHUP) == GROUP
    assert set(got.values()) == {CHILD}


def test_order_within_the_command_line_does_not_matter():
    assert recipients(["--to-group", "HUP", "-c"]) == recipients(["-c", "--to-group", "HUP"])


def test_command_line_everything_overrides_environment_per_signal():
    got = recipients(["--to-group", "all"], {"TINI_PY_TO_CHILD": "HUP"})
    assert set(got.values()) == {GROUP}


def test_environment_per_signal_on_top_of_profile():
    got = recipients([], {"TINI_PY_PROFILE": "celery", "TINI_PY_TO_GROUP": "WINCH"})
    assert got.pop(S.SIGWINCH) == GROUP
    assert set(got.values()) == {CHILD}


# ----------------------------------------------------------------- profiles

PROFILES = {
    # profile: {received: (forwarded, recipient)}; everything else unchanged to the group
    "php-fpm": {S.SIGTERM: (S.SIGQUIT, GROUP), S.SIGHUP: (S.SIGUSR2, CHILD),
                S.SIGUSR1: (S.SIGUSR1, CHILD), S.SIGUSR2: (S.SIGUSR2, CHILD)},
    "nginx": {S.SIGTERM: (S.SIGQUIT, GROUP), S.SIGHUP: (S.SIGHUP, CHILD),
              S.SIGUSR1: (S.SIGUSR1, CHILD), S.SIGUSR2: (S.SIGUSR2, CHILD),
              S.SIGWINCH: (S.SIGWINCH, CHILD)},
    "gunicorn": {S.SIGHUP: (S.SIGHUP, CHILD), S.SIGUSR2: (S.SIGUSR2, CHILD),
                 S.SIGTTIN: (S.SIGTTIN, CHILD), S.SIGTTOU: (S.SIGTTOU, CHILD),
                 S.SIGWINCH: (S.SIGWINCH, CHILD)},
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_routes(name):
    table = routes(["--profile", name])
    for received, route in table.items():
        expected = PROFILES[name].get(received, (received, GROUP))
        assert (route.signal, route.recipient) == expected, (name, route)


@pytest.mark.parametrize("name", ["celery", "supervisord", "apache", "haproxy"])
def test_profiles_that_send_everything_to_the_main_process(name):
    assert set(recipients(["--profile", name]).values()) == {CHILD}


def test_celery_docker_stop_is_a_warm_shutdown_of_the_main_process_only():
    assert decision(["--profile", "celery"], S.SIGTERM) == (S.SIGTERM, CHILD, True)


def test_explicit_options_override_the_profile():
    assert decision(["--profile", "php-fpm", "--to-group", "USR2"], S.SIGHUP) \
        == (S.SIGUSR2, GROUP, False)
    assert decision(["-g", "INT", "--profile", "php-fpm"], S.SIGTERM) == (S.SIGINT, GROUP, True)
    assert set(recipients(["--profile", "php-fpm", "-g", "--"]).values()) == {GROUP}


# ------------------------------------------------- the peers' command lines

def test_tini_dash_g_flag_is_group_delivery():
    config = configure(["-g", "--", "cmd", "arg"], {})
    assert config.command == ["cmd", "arg"]
    assert config.rewrites == {}
    assert set(recipients(["-g", "--"]).values()) == {GROUP}


def test_tini_dash_g_flag_before_the_command_word():
    config = configure(["-g", "sleep", "5"], {})
    assert config.command == ["sleep", "5"]
    assert config.rewrites == {}


def test_tini_py_dash_g_takes_a_signal():
    for argv in (["-g", "QUIT"], ["-g", "quit"], ["-g", "3"], ["-gQUIT"], ["-sg", "SIGQUIT"]):
        config = configure(argv + ["cmd"], {})
        assert config.command == ["cmd"], argv
        assert config.rewrites == {S.SIGTERM: S.SIGQUIT}, argv


@pytest.mark.parametrize("word", ["QUITT", "99", "SIGNOPE"])
def test_a_word_that_looks_like_a_signal_after_dash_g_is_a_usage_error(word):
    with pytest.raises(UsageError):
        configure(["-g", word, "cmd"], {})


def test_tini_full_command_line():
    config = configure(["-s", "-e", "143", "-p", "SIGKILL", "--", "cmd"], {})
    assert (config.command, config.remap_exit, config.pdeathsig) == (["cmd"], {143}, S.SIGKILL)
    assert set(route.recipient for route in route_table(config).values()) == {GROUP}


def test_tini_kill_process_group_variable():
    got = recipients([], {"TINI_KILL_PROCESS_GROUP": "1", "TINI_PY_PROFILE": "celery"})
    assert set(got.values()) == {GROUP}


def test_dumb_init_single_child_with_rewrite():
    config = configure(["-c", "--rewrite", "15:3", "cmd"], {})
    assert config.command == ["cmd"]
    assert decision(["-c", "--rewrite", "15:3"], S.SIGTERM) == (S.SIGQUIT, CHILD, True)


@pytest.mark.parametrize("value,expected", [("0", CHILD), ("1", GROUP), ("", GROUP)])
def test_dumb_init_setsid_variable(value, expected):
    assert set(recipients([], {"DUMB_INIT_SETSID": value}).values()) == {expected}


@pytest.mark.parametrize("argv", [["--to-child", "CHLD"], ["--to-child", "KILL"],
                                  ["--to-group", "NOPE"], ["--to-child", ""]])
def test_bad_recipient_option_is_a_usage_error(argv):
    with pytest.raises(UsageError):
        configure(argv + ["cmd"], {})
