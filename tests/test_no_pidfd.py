"""tini-py where pidfd_open and pidfd_send_signal fail.

A kernel older than 5.3 answers ENOSYS; Docker engines before 20.10 run
containers under a seccomp profile that does not list the calls, which then
fail with EPERM.  tests/progs/no_pidfd.py installs a real seccomp filter that
does either, then execs tini-py.  Not as PID 1, tini-py signals leftovers
by pidfd; without one it must still reach them (by pid, right after checking
they are its descendants) -- the orphan-grace SIGKILL and the -t SIGKILL
alike.  As PID 1 it uses kill(-1) and never needed a pidfd.
"""
import errno
import signal
import subprocess
import time

import pytest

from conftest import PY, alive, prog, recorder, wait_for


@pytest.fixture(params=["ENOSYS", "EPERM"])
def no_pidfd(request):
    """The launcher that starts tini-py under the filter (PID 1 still: it
    execs tini-py)."""
    return [PY, prog("no_pidfd.py"), "--errno", request.param]


def ns_to_host(proc, ns_pids):
    """Host pids of tini-py's descendants with these pids in their namespace."""
    wanted, found = set(ns_pids), {}
    for pid in proc.descendants():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("NSpid:") and int(line.split()[-1]) in wanted:
                        found[int(line.split()[-1])] = pid
        except OSError:
            pass
    return list(found.values()) if len(found) == len(wanted) else None


def test_pidfd_calls_really_fail_under_the_wrapper(no_pidfd):
    probe = ("import os\ntry:\n    os.pidfd_open(os.getpid())\n"
             "except OSError as e:\n    print(e.errno)\n")
    out = subprocess.run(no_pidfd + [PY, "-c", probe], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.split() == [str(getattr(errno, no_pidfd[-1]))], out


def test_leftovers_outside_the_group_are_stopped(tini, no_pidfd, tmp_path):
    """Two double-forked leftovers in sessions of their own, ignoring TERM:
    only a per-process signal reaches them; the orphan-grace SIGKILL must."""
    pidfile, ready = tmp_path / "pids", tmp_path / "ready"
    proc = tini(["--orphan-grace", "1", PY, prog("daemon.py"), str(pidfile), str(ready),
                 "7", "session", "ignore", "2", str(tmp_path / "go")], launcher=no_pidfd)
    proc.wait_ready(ready)
    ns_pids = [int(x) for x in pidfile.read_text().split()]
    leftovers = wait_for(lambda: ns_to_host(proc, ns_pids), what="the leftovers")
    (tmp_path / "go").write_text("")
    rc = proc.wait(20)
    assert rc == 7, (rc, proc.stderr)
    survivors = [pid for pid in leftovers if alive(pid)]
    assert not survivors, "leftovers outlived tini-py: %r; %s" % (survivors, proc.stderr)
    assert "survived SIGKILL" not in proc.stderr, proc.stderr


def test_grace_kill_stops_a_child_ignoring_term(tini, no_pidfd, tmp_path):
    log, ready = tmp_path / "log", tmp_path / "ready"
    proc = tini(["-t", "0.5"] + recorder(log, ready, "--ignore", "TERM"), launcher=no_pidfd)
    proc.wait_ready(ready)
    start = time.monotonic()
    proc.kill(signal.SIGTERM)
    rc = proc.wait(15)
    elapsed = time.monotonic() - start
    assert rc == 128 + signal.SIGKILL, (rc, proc.stderr)
    assert 0.4 <= elapsed <= 8.0, "killed after %.2fs, grace was 0.5s" % elapsed
