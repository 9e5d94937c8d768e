"""Fork/exit storms, double forks, setsid/setpgid escapes.

The child abandons thousands of short-lived processes (all must be reaped:
no zombie left), then leaves long-lived processes in its own group, in new
groups and in new sessions, and exits.  Every one of them must get the
graceful signal and be gone within --orphan-grace, in both modes.
"""
import signal
import time

import pytest

from conftest import PY, children, prog, wait_for
from process_util import assert_all_gone, identity, is_zombie

STORM = 3000
LEFTOVERS = 12
CODE = 7


def start_forker(tini, tmp_path, term, options=(), storm=STORM):
    proc = tini(list(options) + [PY, prog("forker.py"), str(tmp_path), str(storm),
                                 str(LEFTOVERS), str(CODE), term])
    return proc


def tini_zombies(proc):
    """Zombies tini-py is responsible for: its own children.  (The main
    child's un-waited children are the main child's business.)"""
    proc.descendants()  # remembered for the cleanup
    return [p for p in map(identity, children(proc.pid)) if is_zombie(p)]


def assert_no_zombies(proc, what):
    try:
        wait_for(lambda: not tini_zombies(proc), timeout=10, what=what)
    except AssertionError:
        zombies = tini_zombies(proc)
        raise AssertionError("%s: %d zombies left under tini-py: %r"
                             % (what, len(zombies), zombies[:20]))


@pytest.mark.parametrize("term,storm", [("handle", STORM), ("ignore", 300)])
def test_fork_storm_then_leftovers(tini, tmp_path, term, storm):
    grace = 3.0
    proc = start_forker(tini, tmp_path, term, ["--orphan-grace", str(grace)], storm)
    proc.wait_ready(tmp_path / "stormed", timeout=120)
    # Every orphan of the storm has exited: tini-py must have reaped them all.
    assert_no_zombies(proc, "after the storm")
    proc.wait_ready(tmp_path / "ready", timeout=60)
    # tini-py's children: the main child and the leftovers, no zombie.
    assert_no_zombies(proc, "with leftovers")
    assert len(children(proc.pid)) == 1 + LEFTOVERS, children(proc.pid)
    leftovers = (tmp_path / "leftovers").read_text().split()
    assert len(leftovers) == LEFTOVERS
    # Everything under tini-py now: the main child, 50 zombies of its own
    # (not tini-py's yet) and the leftovers, re-parented to tini-py.
    def snapshot():
        found = proc.descendants()
        return found if len(found) >= 1 + 50 + LEFTOVERS else None
    everyone = [identity(p) for p in wait_for(snapshot, timeout=10, what="all leftovers")]
    main_pid = proc.descendants()[0]

    started = time.monotonic()
    (tmp_path / "go").write_text("")
    rc = proc.wait(grace + 30)
    elapsed = time.monotonic() - started
    assert rc == CODE, (rc, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert_all_gone(everyone, "the main child and its leftovers (main %d)" % main_pid)
    signalled = (tmp_path / "signalled").read_text().split("\n") \
        if (tmp_path / "signalled").exists() else []
    signalled = [line for line in signalled if line]
    if term == "handle":
        assert len(signalled) == LEFTOVERS, signalled
        assert all(line.split()[1] == str(int(signal.SIGTERM)) for line in signalled)
        # They all left on the graceful signal: no need to wait for the deadline.
        assert elapsed < grace, "tini-py waited %.1fs for processes that were gone" % elapsed
    else:
        assert signalled == []
        # Stubborn ones: SIGKILL at --orphan-grace, not before, not much after.
        assert grace - 0.3 <= elapsed < grace + 10, elapsed

