"""What tini-py must never do.

It never changes the child's environment (byte for byte what tini-py got),
leaves no fd of its own open in the child, and as a subreaper on the host
(not PID 1) never signals a process that is not its descendant.
"""
import os
import signal
import subprocess
import time

import pytest

from conftest import PY, _clean_signals, _RawEnv, descendants, kill_quietly, prog, wait_for
from process_util import assert_all_gone, identity

# No LANG/LC_*: Python coerces the C locale by setting LC_CTYPE in its own
# environment (PEP 538) -- which must not reach the child.
WEIRD_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONPATH": str(__import__("conftest").REPO),
    "EMPTY": "",
    "EQUALS": "a=b==c=",
    "SPACES": "  lead and trail  ",
    "NEWLINE": "one\ntwo",
    "UNICODE": "héllo ☃ 𝄞",
    "NOT_UTF8": os.fsdecode(b"\xff\xfe\x80\xc3\x28"),
    "LONG": "y" * 50_000,
    "PYTHONDONTWRITEBYTECODE": "1",
}


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def wait_exec(pid, name):
    """Wait until pid has exec'd `name` (before that its environ is tini-py's copy)."""
    wait_for(lambda: read_bytes("/proc/%d/cmdline" % pid).split(b"\0")[0].endswith(name),
             what="pid %d to exec %r" % (pid, name))


@pytest.mark.parametrize("options", [[], ["-vv", "-p", "KILL", "--profile", "nginx"]],
                         ids=["plain", "options"])
def test_environment_passed_byte_for_byte(tini, options):
    proc = tini(options + ["sleep", "30"], env=_RawEnv(WEIRD_ENV))
    child = wait_for(lambda: proc.descendants(), what="the child")[0]
    wait_exec(child, b"sleep")
    given = read_bytes("/proc/%d/environ" % proc.pid)
    passed = read_bytes("/proc/%d/environ" % child)
    assert b"LC_CTYPE" not in given
    assert passed == given, "child environ differs:\n  tini-py %r\n  child   %r" % (
        sorted(given.split(b"\0"))[:20], sorted(passed.split(b"\0"))[:20])
    proc.kill(signal.SIGINT)  # not rewritten by any profile
    assert proc.wait(20) == 128 + signal.SIGINT, proc.stderr


# execve() with a raw environment: a name given twice, an entry without '='.
# Whatever the kernel handed tini-py goes on unchanged.
RAW_EXEC = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def arr(items):\n"
    "    a = (ctypes.c_char_p * (len(items) + 1))(*items)\n"
    "    a[len(items)] = None\n"
    "    return a\n"
    "argv = [os.fsencode(a) for a in sys.argv[1:]]\n"
    "env = [b'PYTHONPATH=' + os.environ['PYTHONPATH'].encode(), b'PATH=/usr/bin:/bin',\n"
    "       b'DUP=first', b'NOEQUALS', b'DUP=second', b'Z=last']\n"
    "libc.execve(argv[0], arr(argv), arr(env))\n"
    "raise OSError(ctypes.get_errno(), 'execve')\n")


def test_raw_environment_never_widened():
    """A raw environment with a name given twice and an entry without '='.

    os.execve() takes a mapping, so such an environment cannot pass byte for
    byte (a documented limit): the child gets every well-formed entry in its
    order, the value getenv() found ('first', not 'second'), and nothing
    tini-py did not get itself; only NOEQUALS and the shadowed DUP go."""
    launcher = subprocess.Popen(
        [PY, "-c", RAW_EXEC, PY, "-m", "tini_py", "--", "sleep", "30"],
        env=dict(WEIRD_ENV), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=_clean_signals, start_new_session=True)
    try:
        child = wait_for(lambda: descendants(launcher.pid), what="the child")[0]
        wait_exec(child, b"sleep")
        given = read_bytes("/proc/%d/environ" % launcher.pid)
        passed = read_bytes("/proc/%d/environ" % child)
        assert b"DUP=first" in given and b"NOEQUALS" in given  # the launcher worked
        expected, names = [], set()
        for entry in given.split(b"\0"):
            name = entry.partition(b"=")[0]
            if b"=" in entry and name not in names:
                names.add(name)
                expected.append(entry)
        assert b"DUP=first" in expected and b"DUP=second" not in expected
        assert passed.split(b"\0")[:-1] == expected, \
            "child environ differs:\n  tini-py %r\n  child   %r" % (
                given.split(b"\0"), passed.split(b"\0"))
    finally:
        for pid in descendants(launcher.pid):
            kill_quietly(pid)
        kill_quietly(launcher.pid)
        launcher.communicate(timeout=10)


@pytest.mark.parametrize("options", [[], ["-vv", "-w", "-p", "TERM", "--profile", "php-fpm"]],
                         ids=["plain", "options"])
def test_no_fd_leaks_into_the_child(tini, options):
    proc = tini(options + [PY, prog("status.py")])
    assert proc.wait(20) == 0, proc.stderr
    assert proc.stdout.split() == ["FDS", "0", "1", "2"], proc.stdout


# ------------------------------------------------- unrelated processes

def start_sleep(**kwargs):
    return subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL, **kwargs)


@pytest.mark.parametrize("path", ["orphans", "grace-kill"])
def test_subreaper_leaves_unrelated_processes_alone(start_tini, tmp_path, path):
    """tini-py (not PID 1) whose child leaves stubborn leftovers: at the end
    it signals and kills its own descendants only.  Unrelated processes --
    one in tini-py's own process group, one in the test's group, one in its
    own session -- all survive (no kill(-1), no kill(0))."""
    grace = ["--orphan-grace", "1"] if path == "orphans" else ["-t", "1", "--orphan-grace", "30"]
    proc = start_tini("subreaper", grace + [PY, prog("group_with_members.py"), str(tmp_path),
                                            "2", "13"],
                      new_session=False, preexec_fn=os.setpgrp)
    unrelated = []
    try:
        unrelated.append(start_sleep(preexec_fn=lambda: os.setpgid(0, proc.pid)))
        unrelated.append(start_sleep())
        unrelated.append(start_sleep(start_new_session=True))
        proc.wait_ready(tmp_path / "ready")
        assert os.getpgid(unrelated[0].pid) == proc.pid
        mine = [identity(p) for p in proc.descendants()]
        assert len(mine) == 3
        if path == "orphans":
            (tmp_path / "go").write_text("")
            expected = 13
        else:
            proc.kill(signal.SIGTERM)  # all ignore TERM (logged): SIGKILL at -t
            expected = 128 + signal.SIGKILL
        rc = proc.wait(30)
        assert rc == expected, (rc, proc.stderr)
        assert_all_gone(mine, "tini-py's own processes")
        time.sleep(0.2)
        for sleeper in unrelated:
            assert sleeper.poll() is None, "unrelated process %d was killed (%s)" % (
                sleeper.pid, sleeper.returncode)
        assert os.getpgid(unrelated[0].pid) == proc.pid
    finally:
        for sleeper in unrelated:
            kill_quietly(sleeper.pid)
            sleeper.wait(10)
