"""Who gets a forwarded signal: the child's process group or the main child
alone, per signal; and what still reaches everyone (the -t SIGKILL, the drain).

The child is a group of two recorders: the main child (the group leader) and
a member of its group, each logging the signals it gets.  A marker sent to
the group last proves that everything before it was handled.
"""
import shlex
import signal
import time

import pytest

from conftest import MODES, raw_env, read_signals, recorder, run_tini

S = signal.Signals
MARKER = signal.SIGURG


def start_group(tini, tmp_path, options, env=None, leader=(), member=()):
    """tini-py OPTIONS -- sh -c 'MEMBER & exec LEADER'; returns proc, logs, stop file."""
    stop = tmp_path / "stop"
    logs = tmp_path / "leader.log", tmp_path / "member.log"
    first = recorder(logs[0], tmp_path / "ready1", "--stop-file", stop, *leader)
    second = recorder(logs[1], tmp_path / "ready2", "--stop-file", stop, *member)
    proc = tini(list(options) + ["sh", "-c", "%s & exec %s" % (shlex.join(second), shlex.join(first))],
                env=env)
    main = proc.wait_ready(tmp_path / "ready1")
    other = proc.wait_ready(tmp_path / "ready2")
    assert main[0] == main[1] == other[1] != other[0], (main, other)
    return proc, logs, stop


def settle(proc, logs):
    """Send the marker to tini-py, which forwards it; wait until it arrived."""
    proc.kill(MARKER)
    for log in logs:
        proc.wait_signal(log, MARKER)
    time.sleep(0.1)


def finish(proc, stop, expected=0):
    stop.write_text("")
    assert proc.wait(20) == expected, proc.stderr
    assert "Traceback" not in proc.stderr


# (options, environment, sent, forwarded, reaches the member too)
ROUTES = {
    "default: the group": ([], None, S.SIGUSR1, S.SIGUSR1, True),
    "--to-child": (["--to-child", "USR1", "--to-group", "URG"], None, S.SIGUSR1, S.SIGUSR1, False),
    "--to-child another signal": (["--to-child", "USR1"], None, S.SIGHUP, S.SIGHUP, True),
    "TINI_PY_TO_CHILD": ([], {"TINI_PY_TO_CHILD": "HUP,USR1", "TINI_PY_TO_GROUP": "URG"},
                         S.SIGHUP, S.SIGHUP, False),
    "php-fpm: HUP becomes USR2 for the master alone": (["--profile", "php-fpm"], None,
                                                       S.SIGHUP, S.SIGUSR2, False),
    "gunicorn: TTIN for the master alone": (["--profile", "gunicorn"], None,
                                            S.SIGTTIN, S.SIGTTIN, False),
    "tini -g --: the group": (["-g", "--"], None, S.SIGUSR1, S.SIGUSR1, True),
    "rewritten then routed": (["-r", "WINCH:USR2", "--to-child", "USR2"], None,
                              S.SIGWINCH, S.SIGUSR2, False),
}


@pytest.mark.parametrize("options,env,send,forwarded,member_too", ROUTES.values(), ids=list(ROUTES))
def test_recipient(tini, tmp_path, options, env, send, forwarded, member_too):
    proc, logs, stop = start_group(tini, tmp_path, options, env=raw_env(**(env or {})))
    proc.kill(send)
    proc.wait_signal(logs[0], forwarded)
    settle(proc, logs)
    assert read_signals(logs[0]) == [forwarded, MARKER]
    assert read_signals(logs[1]) == ([forwarded] if member_too else []) + [MARKER]
    finish(proc, stop)


@pytest.mark.parametrize("options,env", [
    (["-c"], None),
    (["--single-child"], None),
    ([], {"DUMB_INIT_SETSID": "0"}),
    ([], {"TINI_PY_SINGLE_CHILD": "1"}),
    (["--profile", "celery"], None),
], ids=["-c", "--single-child", "DUMB_INIT_SETSID=0", "TINI_PY_SINGLE_CHILD", "celery"])
def test_single_child_stop_reaches_the_main_child_alone(tini, tmp_path, options, env):
    """docker stop with every signal for the main child: the member (a pool
    child, say) is left to the main child -- and once that has exited, the
    drain still gives the member the graceful signal before anything else."""
    proc, logs, stop = start_group(tini, tmp_path, options, env=raw_env(**(env or {})),
                                   leader=("--exit-on", "TERM", "--code", "7"),
                                   member=("--exit-on", "TERM"))
    started = time.monotonic()
    proc.kill(S.SIGTERM)
    assert proc.wait(20) == 7, proc.stderr
    assert read_signals(logs[0]) == [S.SIGTERM]
    assert read_signals(logs[1]) == [S.SIGTERM], "the drain sends the graceful signal once"
    assert time.monotonic() - started < 4, "the member left on TERM: no --orphan-grace wait"


def test_dumb_init_command_line(tini, tmp_path):
    """dumb-init -c --rewrite 15:3 CMD: TERM reaches the main child as QUIT, alone."""
    proc, logs, stop = start_group(tini, tmp_path, ["-c", "--rewrite", "15:3"],
                                   leader=("--exit-on", "QUIT"), member=("--exit-on", "TERM"))
    proc.kill(S.SIGTERM)
    assert proc.wait(20) == 0, proc.stderr
    assert read_signals(logs[0]) == [S.SIGQUIT]
    # After the main child, the leftover member gets the graceful signal (QUIT).
    assert read_signals(logs[1]) == [S.SIGQUIT]


def test_grace_kill_reaches_the_whole_group_with_single_child(tini, tmp_path):
    """-c -t 1: TERM goes to the main child alone, but the -t SIGKILL reaches
    every process; nothing survives."""
    proc, logs, stop = start_group(tini, tmp_path, ["-c", "-t", "1"],
                                   leader=("--ignore", "TERM"), member=("--ignore", "TERM"))
    members = proc.descendants()
    started = time.monotonic()
    proc.kill(S.SIGTERM)
    assert proc.wait(20) == 137, proc.stderr
    assert 0.9 <= time.monotonic() - started < 6
    assert read_signals(logs[0]) == [] and read_signals(logs[1]) == []
    from conftest import alive
    assert not [pid for pid in members if alive(pid)]


def test_stop_reaches_leftovers_outside_the_group_before_any_kill(tini, tmp_path):
    """tini-py -- setsid -w WORKER, then TERM: setsid dies of it, the worker
    (another session, so another group) never got it.  It must get the
    graceful signal now, not a SIGKILL at --orphan-grace."""
    log, ready = tmp_path / "worker.log", tmp_path / "ready"
    proc = tini(["--orphan-grace", "30", "setsid", "-w"]
                + recorder(log, ready, "--exit-on", "TERM", "--code", "0"))
    worker = proc.wait_ready(ready)
    assert worker[0] == worker[1] == worker[2], "the worker leads its own session"
    started = time.monotonic()
    proc.kill(S.SIGTERM)
    assert proc.wait(20) == 143, proc.stderr  # setsid itself died of TERM
    assert read_signals(log) == [S.SIGTERM]
    assert time.monotonic() - started < 10, "waited for --orphan-grace"


@pytest.mark.parametrize("argv,env,code", [
    (["-g", "--", "sh", "-c", "exit 3"], {}, 3),
    (["-s", "-e", "143", "-p", "SIGKILL", "--", "sh", "-c", "kill -TERM $$"], {}, 0),
    (["--single-child", "sh", "-c", "exit 4"], {}, 4),
    (["sh", "-c", "exit 5"], {"DUMB_INIT_SETSID": "0"}, 5),
    (["-c", "--rewrite", "15:3", "sh", "-c", "exit 6"], {}, 6),
], ids=["tini -g --", "tini -s -e 143 -p SIGKILL --", "dumb-init --single-child",
        "DUMB_INIT_SETSID=0 dumb-init", "dumb-init -c --rewrite 15:3"])
@pytest.mark.parametrize("mode", MODES)
def test_the_peers_command_lines_run(mode, argv, env, code):
    result = run_tini(argv, mode=mode, env=raw_env(**env))
    assert (result.returncode, result.stderr) == (code, "")
