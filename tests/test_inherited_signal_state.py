"""What tini-py inherits from whoever started it, and what it passes on.

Kernel rule: an ignored signal stays ignored across exec.  A SIGCHLD ignored
by the parent (some supervisors and shells do it) makes the kernel reap
tini-py's children itself, and waitpid() finds nothing: tini-py must take the
default back, or the command's exit status is lost.  `env --ignore-signal`
(coreutils) execs tini-py with it ignored, as PID 1 too.
"""
import signal

import pytest

from conftest import sigmask_field, wait_for


IGNORING_SIGCHLD = ["env", "--ignore-signal=CHLD"]


def test_exit_status_comes_through_with_sigchld_ignored(tini):
    proc = tini(["sh", "-c", "sleep 0.3; exit 3"], launcher=IGNORING_SIGCHLD)
    assert proc.wait(15) == 3, proc.stderr


def test_orphans_are_reaped_with_sigchld_ignored(tini, tmp_path):
    done = tmp_path / "done"
    proc = tini(["sh", "-c", "(sleep 0.2 &); sleep 0.5; echo > %s; exit 4" % done],
                launcher=IGNORING_SIGCHLD)
    assert proc.wait(15) == 4, proc.stderr
    assert done.exists()


@pytest.mark.parametrize("field", ["SigIgn", "SigBlk"])
def test_the_child_starts_with_sigchld_at_its_default(tini, field):
    proc = tini(["sh", "-c", "grep -E '^(SigIgn|SigBlk):' /proc/self/status"],
                launcher=IGNORING_SIGCHLD)
    assert proc.wait(15) == 0, proc.stderr
    masks = {line.split(":")[0]: int(line.split()[1], 16) for line in proc.stdout.splitlines()}
    assert masks[field] & (1 << (signal.SIGCHLD - 1)) == 0, masks


def test_tini_py_itself_no_longer_ignores_sigchld(tini, tmp_path):
    proc = tini(["sh", "-c", "sleep 30"], launcher=IGNORING_SIGCHLD)
    wait_for(lambda: proc.descendants(), what="the child")
    assert sigmask_field(proc.pid, "SigIgn") & (1 << (signal.SIGCHLD - 1)) == 0
    proc.kill(signal.SIGTERM)
    assert proc.wait(15) == 143
