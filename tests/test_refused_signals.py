"""A forwarded signal the kernel refuses is said as such, and tini-py goes on.

Made to fail for real: tini-py runs as an ordinary user (uid 1000, no
CAP_KILL) and its command takes another uid for good (CAP_SETUID, handed
down as an ambient capability).  Kernel rule: kill() needs the sender's real
or effective uid to match the target's real or saved uid, or CAP_KILL; a
process group none of whose members accepts the signal answers EPERM.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, UNSHARE, MODES, wait_for, kill_quietly, descendants

PYTHON = "/usr/bin/python3"  # readable by uid 1000 (pyenv's lives under /root)
CHILD = r"""
import os, sys, time
os.setresgid(2000, 2000, 2000)
os.setresuid(2000, 2000, 2000)
open(sys.argv[1], "w").close()
deadline = time.monotonic() + 3
while time.monotonic() < deadline and not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
sys.exit(7)
"""


@pytest.fixture
def shared_dir():
    """A directory uid 2000 can write (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="tini-py-refused-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def as_another_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to start tini-py as uid 1000 with CAP_SETUID")
    return ["setpriv", "--reuid", "1000", "--regid", "1000", "--clear-groups",
            "--inh-caps", "+setuid,+setgid", "--ambient-caps", "+setuid,+setgid"]


def tini_py_pid(proc, mode):
    if mode == "subreaper":
        return proc.pid
    return wait_for(lambda: (descendants(proc.pid) or [None])[0], what="tini-py")


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_signal_is_said_and_the_child_tried_alone(mode, shared_dir, as_another_user):
    ready, done = shared_dir / "ready", shared_dir / "done"
    argv = as_another_user + [PYTHON, "-m", "tini_py", "--", PYTHON, "-c", CHILD,
                              str(ready), str(done)]
    if mode == "pid1":
        argv = UNSHARE + argv
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_for(ready.exists, what="the child to switch users")
        os.kill(tini_py_pid(proc, mode), signal.SIGUSR1)
        time.sleep(0.3)
        assert proc.poll() is None  # tini-py goes on
        done.touch()
        _, stderr = proc.communicate(timeout=20)
    finally:
        for pid in descendants(proc.pid):
            kill_quietly(pid)
        kill_quietly(proc.pid)
    assert proc.returncode == 7
    lines = [re.sub(r"\d+", "N", line) for line in stderr.splitlines()]
    reason = ": Operation not permitted (it runs as another user, and tini-py may not signal it)"
    assert lines == [
        "tini-py: cannot forward SIGUSRN to process group N" + reason
        + "; trying the main child alone",
        "tini-py: cannot forward SIGUSRN to the main child N" + reason,
    ], stderr
    assert "SIGUSR1" in stderr and "internal error" not in stderr
