"""A server that has a profile, started with tini-py's defaults, gets one line
saying so; --show-routes prints what every signal becomes, from the same
policy.route_of the supervisor asks.
"""
import os
import re

import pytest

from conftest import run_tini, tini_env
from tini_py.config import configure
from tini_py.policy import GROUP, route_of
from tini_py.config import COMMANDS, PYTHON_MODULES, profile_name_for_command
from tini_py.profiles import lookup_profile
from tini_py.signals import FORWARDED, signal_name


@pytest.fixture
def servers_on_path(tmp_path):
    """Executables named like the servers (each is /bin/true), first on PATH."""
    for name in list(COMMANDS) + ["php-fpm8.2", "mynginx", "nginx-debug"]:
        os.symlink("/bin/true", tmp_path / name)
    return {"PATH": "%s:%s" % (tmp_path, os.environ["PATH"])}


def changes_something(profile_name):
    profile = lookup_profile(profile_name)
    return bool(profile.rewrites or profile.recipients or profile.default_recipient != GROUP)


HINTED = sorted(name for name, profile in COMMANDS.items() if changes_something(profile))


@pytest.mark.parametrize("name", HINTED + ["php-fpm8.2"])
def test_a_server_with_a_profile_gets_one_line(name, servers_on_path):
    result = run_tini(["--", name], env=servers_on_path)
    profile = COMMANDS.get(name) or COMMANDS[name.rstrip("0123456789.")]
    assert result.returncode == 0
    assert re.fullmatch(r"tini-py: '%s' has a profile: --profile %s .*; --profile none keeps "
                        r"tini-py's defaults and this line away\n" % (re.escape(name), profile),
                        result.stderr), result.stderr


def test_the_line_says_what_the_profile_would_change(servers_on_path):
    result = run_tini(["--", "php-fpm8.2", "-F"], env=servers_on_path)
    assert result.stderr == (
        "tini-py: 'php-fpm8.2' has a profile: --profile php-fpm rewrites TERM to QUIT, HUP to "
        "USR2 and sends USR1, USR2 to the main process alone; --profile none keeps tini-py's "
        "defaults and this line away\n")


@pytest.mark.parametrize("args,env", [
    (["--profile", "none"], {}), ([], {"TINI_PY_PROFILE": "none"}),
    (["--profile", "nginx"], {}), (["-g", "QUIT"], {}), (["-r", "HUP:HUP"], {}),
    (["--to-child", "HUP"], {}), (["--to-group", "all"], {}), (["-c"], {}), (["-g"], {}),
    ([], {"TINI_PY_GRACEFUL": "TERM"}), ([], {"TINI_PY_REWRITE": "USR1:USR1"}),
    ([], {"TINI_PY_TO_CHILD": "HUP"}), ([], {"TINI_PY_SINGLE_CHILD": "1"}),
    ([], {"DUMB_INIT_SETSID": "0"}), ([], {"TINI_KILL_PROCESS_GROUP": ""}),
], ids=lambda value: " ".join(value) if isinstance(value, list) else
   ",".join("%s=%s" % item for item in value.items()))
def test_a_choice_of_routing_means_no_line(args, env, servers_on_path):
    result = run_tini(args + ["--", "nginx"], env=dict(servers_on_path, **env))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("command", [["mynginx"], ["nginx-debug"], ["rq", "worker"],
                                     ["true", "nginx"], ["sh", "-c", "exec nginx"]])
def test_only_an_exact_name_with_something_to_change_gets_a_line(command, servers_on_path):
    result = run_tini(["--"] + command, env=servers_on_path)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("argv,profile", [
    (["/usr/sbin/php-fpm8.2", "-F"], "php-fpm"), (["python3.11", "-m", "gunicorn"], "gunicorn"),
    (["python", "-m", "celery", "worker"], "celery"), (["python3", "-m", "uvicorn"], "uvicorn"),
    (["python3", "-m", "supervisor.supervisord"], "supervisord"),
    (["python3", "gunicorn"], None), (["python3", "-m", "gunicorn2"], None),
    (["pythonw", "-m", "gunicorn"], None), (["php-fpm-exporter"], None), (["apache2ctl"], None),
])
def test_what_counts_as_the_servers_command(argv, profile):
    assert profile_name_for_command(argv) == profile


def test_every_named_profile_exists():
    assert all(lookup_profile(name) for name in list(COMMANDS.values())
               + list(PYTHON_MODULES.values()))


# ------------------------------------------------------------ --show-routes

def show_routes(args, env=None):
    result = run_tini(["--show-routes"] + args, env=env)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


def test_show_routes_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    out = show_routes(["--profile", "php-fpm"] + ["--", "touch", str(marker)])
    assert "SIGHUP" in out and not marker.exists()


@pytest.mark.parametrize("args,env", [
    ([], {}), (["--profile", "php-fpm"], {}), (["--profile", "celery", "-t", "20"], {}),
    (["-r", "USR1:0", "--delay", "3", "--to-child", "HUP"], {"TINI_PY_GRACEFUL": "QUIT"}),
    (["-g", "--orphan-grace", "2"], {"TINI_PY_PROFILE": "nginx"}),
])
def test_show_routes_prints_route_of_for_every_signal(args, env):
    out = show_routes(args, env=env)
    config = configure(args + ["--", "x"], tini_env(env))
    rows = {line.split()[0]: line.split(None, 2)[1:] for line in out.splitlines()[1:] if line
            and line.startswith("SIG")}
    assert len(rows) == len(FORWARDED)
    for received in FORWARDED:
        route = route_of(config, received)
        row = rows[signal_name(received)]
        if not route.signal:
            assert row == ["dropped"]
            continue
        assert row[0] == signal_name(route.signal)
        assert row[1].startswith("the process group" if route.recipient == GROUP
                                 else "the main child alone")
        assert row[1].split()[-1 if not route.held else -4] == ("yes" if route.stops else "no")


def test_show_routes_for_php_fpm_reads_as_in_the_readme():
    out = show_routes(["--profile", "php-fpm", "-t", "20"])
    assert "SIGHUP        SIGUSR2       the main child alone     no" in out
    assert "SIGTERM       SIGQUIT       the process group        yes" in out
    assert "graceful signal (what SIGTERM becomes): SIGQUIT" in out
    assert "-t: SIGKILL to every process 20s after a stop" in out
