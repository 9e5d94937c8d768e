"""--profile, --list-profiles and -p (parent-death signal)."""
import os
import shlex
import signal
import subprocess
import time

import pytest

from conftest import (TINI, alive, descendants, kill_quietly, raw_env, read_signals, recorder,
                      run_tini, tini_env, wait_for, _clean_signals)

S = signal.Signals
MARKER = signal.SIGURG

PROFILES = {
    # name: {sent: expected}
    "nginx": {S.SIGTERM: S.SIGQUIT, S.SIGHUP: S.SIGHUP},
    "php-fpm": {S.SIGTERM: S.SIGQUIT, S.SIGHUP: S.SIGUSR2},
    "php-resque": {S.SIGTERM: S.SIGQUIT},
    "unicorn": {S.SIGTERM: S.SIGQUIT, S.SIGHUP: S.SIGHUP},
    "gunicorn": {S.SIGTERM: S.SIGTERM, S.SIGHUP: S.SIGHUP},
    "celery": {S.SIGTERM: S.SIGTERM},
    "apache": {S.SIGTERM: S.SIGWINCH, S.SIGHUP: S.SIGUSR1},
    "haproxy": {S.SIGTERM: S.SIGUSR1, S.SIGHUP: S.SIGUSR2},
    "puma": {S.SIGTERM: S.SIGTERM, S.SIGHUP: S.SIGUSR2},
    "sidekiq": {S.SIGTERM: S.SIGTERM, S.SIGTSTP: S.SIGTSTP},
    "uwsgi": {S.SIGTERM: S.SIGINT, S.SIGHUP: S.SIGHUP},
    "uvicorn": {S.SIGTERM: S.SIGTERM, S.SIGHUP: S.SIGHUP, S.SIGTTIN: S.SIGTTIN},
    "rq": {S.SIGTERM: S.SIGTERM},
    "dramatiq": {S.SIGTERM: S.SIGTERM, S.SIGHUP: S.SIGHUP},
    "none": {S.SIGTERM: S.SIGTERM, S.SIGHUP: S.SIGHUP},
}
# Checked against the real server by tests/docker/test_real_servers.py and
# test_real_python_servers.py ("none" is tini-py's defaults, which the whole
# suite checks).
VERIFIED = {"none", "nginx", "php-fpm", "gunicorn", "celery", "supervisord", "apache", "haproxy",
            "unicorn", "puma", "sidekiq", "uwsgi", "uvicorn", "rq", "dramatiq"}


def check_mapping(proc, log, sent, expected):
    for send, expect in zip(sent, expected):
        proc.kill(send)
        proc.wait_signal(log, expect)
    proc.kill(MARKER)
    proc.wait_signal(log, MARKER)
    time.sleep(0.1)
    assert read_signals(log) == [int(e) for e in expected] + [MARKER]


@pytest.mark.parametrize("how", ["option", "env"])
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_rewrites(tini, tmp_path, name, how):
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    options = ["--profile", name] if how == "option" else []
    env = raw_env(TINI_PY_PROFILE=name) if how == "env" else None
    proc = tini(options + recorder(log, ready, "--stop-file", stop), env=env)
    proc.wait_ready(ready)
    mapping = PROFILES[name]
    check_mapping(proc, log, list(mapping), list(mapping.values()))
    stop.write_text("")
    assert proc.wait(20) == 0, proc.stderr


@pytest.mark.parametrize("options", [["--profile", "nginx", "-g", "INT"],
                                     ["-g", "INT", "--profile", "nginx"]])
def test_graceful_option_overrides_profile(tini, tmp_path, options):
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    proc = tini(options + recorder(log, ready, "--stop-file", stop))
    proc.wait_ready(ready)
    check_mapping(proc, log, [S.SIGTERM], [S.SIGINT])
    stop.write_text("")
    assert proc.wait(20) == 0, proc.stderr


def test_list_profiles():
    result = run_tini(["--list-profiles"])
    assert result.returncode == 0, result.stderr
    for name in PROFILES:
        assert name in result.stdout
    assert result.stderr == ""
    unverified = {line.split()[0] for line in result.stdout.splitlines()[1:]
                  if line.endswith(" [unverified]")}
    listed = {line.split()[0] for line in result.stdout.splitlines()[1:]}
    assert listed - unverified == VERIFIED


@pytest.mark.parametrize("sig", ["USR1", "TERM"])
def test_pdeathsig_is_forwarded_when_the_parent_dies(tmp_path, sig):
    """tini-py -p SIG, started by a shell that then dies: tini-py gets SIG
    from the kernel and forwards it to its child like any other."""
    log, ready, pidfile = tmp_path / "log", tmp_path / "ready", tmp_path / "tini.pid"
    command = TINI + ["-p", sig] + recorder(log, ready, "--exit-on", sig, "--code", "0")
    script = "%s & echo $! > %s; wait" % (shlex.join(command), shlex.quote(str(pidfile)))
    parent = subprocess.Popen(["sh", "-c", script], env=tini_env(), preexec_fn=_clean_signals,
                              start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    tini_pid = None
    try:
        wait_for(lambda: ready.exists(), timeout=15, what="recorder under tini-py")
        tini_pid = int(pidfile.read_text())
        assert read_signals(log) == []
        parent.kill()
        parent.wait()
        wait_for(lambda: not alive(tini_pid), timeout=15,
                 what="tini-py to exit after its parent died (log %r)" % read_signals(log))
        assert read_signals(log) == [getattr(signal, "SIG" + sig)]
    finally:
        if tini_pid is not None:
            for pid in descendants(tini_pid):
                kill_quietly(pid)
            kill_quietly(tini_pid)
        kill_quietly(parent.pid)
        parent.wait()
