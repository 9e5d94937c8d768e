"""Resource faults.

fork() failing (RLIMIT_NPROC for an unprivileged user), a child closing its
stdout, a closed stdout pipe, tini-py started with stdin closed, and a full
disk for the log (stderr on /dev/full).
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import (PY, REPO, TINI, UNSHARE, _clean_signals, prog, read_signals, recorder,
                      tini_env)

NOBODY = 64999  # a uid with no processes of its own, so RLIMIT_NPROC=0 bites at once

# Runs as the unprivileged user: lower RLIMIT_NPROC to 0 *after* the uid
# change (a limit already exceeded at setuid() time would fail the exec
# instead), then exec tini-py, whose fork() must then fail with EAGAIN.
LIMIT_THEN_EXEC = (
    "import os, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'tini_py'] + sys.argv[1:])\n")


def as_nobody(command):
    # The Python in use may live under a directory only root can read (pyenv
    # in /root): keep CAP_DAC_READ_SEARCH, which does not lift RLIMIT_NPROC.
    return ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", "--"] + command


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing")
@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_fork_fails(mode, tmp_path):
    command = as_nobody([PY, "-c", LIMIT_THEN_EXEC, "--", "true"])
    if mode == "pid1":
        command = UNSHARE + command
    result = subprocess.run(command, env=tini_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, preexec_fn=_clean_signals,
                            start_new_session=True, cwd=str(tmp_path), timeout=30)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 125, (result.returncode, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tini-py: "), err
    assert "Traceback" not in err
    assert result.stdout == b""


def test_child_closes_its_stdout(tini):
    proc = tini(["-v", "sh", "-c", 'exec 1>&-; sleep 0.3; echo gone >&2; exit 6'])
    rc = proc.wait(20)
    assert rc == 6, (rc, proc.stderr)
    assert proc.stdout == ""
    assert "gone" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stdout_reader_goes_away(tini, tmp_path):
    """Nobody reads stdout any more: the child dies of SIGPIPE (its default,
    which tini-py restored), tini-py itself is unaffected and says 141."""
    started = tmp_path / "started"
    r, w = os.pipe()
    try:
        proc = tini(["sh", "-c", 'echo > "$1"; sleep 0.3; echo hello; exit 0', "sh", str(started)],
                    stdout=w)
    finally:
        os.close(w)
    os.close(r)
    rc = proc.wait(20)
    assert rc == 128 + signal.SIGPIPE, (rc, proc.stderr)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_stdin_closed(mode):
    """Started with fd 0 closed (`<&-`): the child gets exactly what tini-py
    got -- no fd 0 -- and the run works."""
    inner = (UNSHARE if mode == "pid1" else []) + TINI + [PY, prog("status.py")]
    result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh"] + inner, env=tini_env(),
                            capture_output=True, preexec_fn=_clean_signals,
                            start_new_session=True, timeout=30)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, (result.returncode, err)
    assert result.stdout.decode().split() == ["FDS", "1", "2"], result.stdout
    assert "Traceback" not in err


def test_log_to_a_full_disk(tini, tmp_path):
    """stderr on /dev/full (every write fails with ENOSPC) and -vv, which
    logs every step: tini-py still forwards, reaps and exits right."""
    log, ready = tmp_path / "log", tmp_path / "ready"
    with open("/dev/full", "wb") as full:
        proc = tini(["-vv", "-w"] + recorder(log, ready, "--exit-on", "TERM", "--code", "5"),
                    stderr=full)
    proc.wait_ready(ready)
    proc.kill(signal.SIGHUP)
    proc.wait_signal(log, signal.SIGHUP)
    proc.kill(signal.SIGTERM)
    rc = proc.wait(20)
    assert rc == 5
    assert read_signals(log) == [signal.SIGHUP, signal.SIGTERM]


def test_usage_error_to_a_full_disk():
    """Even the usage error, which cannot be written, gives exit status 2."""
    with open("/dev/full", "wb") as full:
        result = subprocess.run(TINI + ["--no-such-option", "true"], env=tini_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=full,
                                timeout=30)
    assert result.returncode == 2


# ------------------------------------------------- no file descriptors, no /proc

@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_no_fds_left_when_the_child_exits(tini, tmp_path, mode):
    """tini-py cannot open anything any more (RLIMIT_NOFILE lowered to the 3
    fds it holds: what ENFILE would do) when its main child exits and leaves
    two group members behind.  It cannot see /proc, so it may not be able to
    stop them, but it must not crash: exit with the child's status, no
    traceback, no hang.  (The members are killed by the fixture.)"""
    import resource
    proc = tini(["--orphan-grace", "1", PY, prog("group_with_members.py"), str(tmp_path), "2", "11"])
    proc.wait_ready(tmp_path / "ready")
    assert len(proc.descendants()) == 3
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (3, 3))
    (tmp_path / "go").write_text("")
    rc = proc.wait(30)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert rc == 11, (rc, proc.stderr[-3000:])


def test_environment_when_proc_is_unreadable(tmp_path):
    """No /proc (an empty tmpfs over it, in a private mount namespace) and
    no locale variables: Python's C-locale coercion (PEP 538) puts
    LC_CTYPE=C.UTF-8 into tini-py's os.environ; it must not reach the child."""
    given = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO), "KEEP": "me"}
    script = 'mount -t tmpfs none /proc && exec env -i "$@"'
    inner = ["%s=%s" % item for item in given.items()] + TINI + ["--", "env", "-0"]
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             script, "sh"] + inner,
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=30,
                            preexec_fn=_clean_signals)
    assert result.returncode == 0, (result.returncode, result.stderr)
    got = dict(entry.split("=", 1) for entry in result.stdout.decode().split("\0") if entry)
    assert got == given, "the child's environment differs from tini-py's: %r" % got
