"""Shared fixtures for the tini-py test suite.

tini-py is started in one of two modes:

* ``pid1``: as real PID 1 of a new PID namespace,
  ``unshare --pid --fork --mount-proc --kill-child tini-py ARGS``.  The Popen
  object is the unshare process; ``TiniProc.pid`` is tini-py's pid as seen from
  the host (the only child of unshare), which is what tests signal.
* ``subreaper``: as a plain child of the test (not PID 1, so tini-py makes
  itself a child subreaper).

Every process started here is killed (by pid) in the fixture teardown, with
all of its descendants.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from installed import installed, installed_venv, installed_zipapp  # noqa: F401 - fixtures
from interpreters import TEST_PYTHON

REPO = Path(__file__).resolve().parent.parent
PROGS = Path(__file__).resolve().parent / "progs"
TINI = [TEST_PYTHON, "-m", "tini_py"]
# tini-py started isolated, as its installed command and zipapp run it;
# `python -m tini_py` executes itself again like this (tini_py/isolation.py).
ISOLATED_BOOT = "import sys;sys.path+=sys.argv[1:2];import tini_py;tini_py.boot()"
TINI_ISOLATED = [TEST_PYTHON, "-I", "-S", "-c", ISOLATED_BOOT, str(REPO)]
PY = sys.executable
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
MODES = ("pid1", "subreaper")

# The signals tini-py forwards (contract): 1-31 but CHLD, KILL and STOP (the
# faults SEGV, BUS, ... included: sent with kill() they are signals like any
# other); plus the real-time signals 34-64.
NOT_FORWARDED = {signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP}
FORWARDED = [s for s in range(1, 32) if s not in NOT_FORWARDED] + list(range(34, 65))


def prog(name):
    """Path of a helper program in tests/progs."""
    return str(PROGS / name)


def recorder(log, ready, *args):
    """Command line of tests/progs/recorder.py (see its docstring)."""
    return [PY, prog("recorder.py"), "--log", str(log), "--ready", str(ready), *map(str, args)]


def tini_env(extra=None, keep_tini_vars=False):
    """A clean environment: no TINI_* variables of the caller, repo on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if keep_tini_vars or not k.startswith("TINI")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSTARTUP", None)
    if extra:
        env.update(extra)
    return env


def _clean_signals():
    """preexec_fn: start tini-py like a container runtime does -- nothing
    blocked, nothing ignored (whatever the test runner inherited)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def tini_command(mode, args, launcher=()):
    """tini-py's command line; ``launcher`` (e.g. ``env --ignore-signal=CHLD``)
    execs tini-py in the same process."""
    if mode == "pid1":
        return UNSHARE + list(launcher) + TINI + list(args)
    if mode == "subreaper":
        return list(launcher) + TINI + list(args)
    raise ValueError(mode)


# --------------------------------------------------------------------- /proc

def children(pid):
    """Direct children of pid (all threads), from /proc; [] when gone."""
    result = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return result
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                result.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return result


def descendants(pid):
    """All descendants of pid (zombies included), breadth first."""
    seen, todo = [], [pid]
    while todo:
        for child in children(todo.pop(0)):
            if child not in seen:
                seen.append(child)
                todo.append(child)
    return seen


def importtime_names(stderr):
    """Module names, in import order, from `python -X importtime`'s stderr."""
    return [line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line]


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (state first), or None
    when pid is gone.  The name in parentheses may itself hold ')' and spaces."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def proc_state(pid):
    """One-letter state of pid ('R', 'S', 'Z', ...) or None when it is gone."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


def alive(pid):
    """True when pid exists and is not a zombie."""
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def zombies(pids):
    return [p for p in pids if proc_state(p) == "Z"]


def sigmask_field(pid, field):
    """A mask field of /proc/PID/status (SigBlk, SigIgn, ...) as an int."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1], 16)
    raise KeyError(field)


# --------------------------------------------------------------------- waiting

def wait_for(predicate, timeout=10.0, interval=0.01, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_signals(log):
    """Signal numbers a recorder logged, in order of arrival."""
    try:
        with open(str(log)) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------- tini-py

class TiniProc:
    """A running tini-py; ``pid`` is tini-py's own pid as seen from the host."""

    def __init__(self, mode, args, env=None, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(),
                 preexec_fn=None, cwd=None, new_session=True, launcher=()):
        self.mode = mode
        self.args = list(args)
        self.command = tini_command(mode, args, launcher)

        def preexec():
            _clean_signals()
            if preexec_fn is not None:
                preexec_fn()

        self.popen = subprocess.Popen(
            self.command, env=tini_env(env) if not isinstance(env, _RawEnv) else dict(env),
            stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=pass_fds,
            preexec_fn=preexec, cwd=cwd, start_new_session=new_session)
        self.started = time.monotonic()
        self._pid = self.popen.pid if mode == "subreaper" else None
        self._known = set()
        self.stdout_data = None
        self.stderr_data = None

    @property
    def pid(self):
        """tini-py's host pid (in pid1 mode: the child of unshare)."""
        if self._pid is None:
            def find():
                kids = children(self.popen.pid)
                if kids:
                    return kids[0]
                if self.popen.poll() is not None:
                    raise AssertionError("unshare exited (%s) before tini-py appeared: %r"
                                         % (self.popen.returncode, self._drain()))
                return None
            self._pid = wait_for(find, timeout=10, interval=0.0005, what="tini-py under unshare")
        return self._pid

    def _drain(self):
        try:
            out, err = self.popen.communicate(timeout=2)
        except Exception:
            return None
        return out, err

    def kill(self, sig):
        """Send sig to tini-py itself."""
        os.kill(self.pid, sig)

    def descendants(self):
        """tini-py's descendants (host pids), zombies included; remembered for cleanup."""
        found = descendants(self.pid)
        self._known.update(found)
        return found

    def running(self):
        return self.popen.poll() is None

    def wait(self, timeout=20):
        """Wait for the exit; returns tini-py's exit status (unshare passes it on)."""
        try:
            out, err = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.descendants()
            raise AssertionError("tini-py %r did not exit within %ss" % (self.args, timeout))
        self.stdout_data, self.stderr_data = out, err
        return self.popen.returncode

    @property
    def stdout(self):
        return (self.stdout_data or b"").decode(errors="replace")

    @property
    def stderr(self):
        return (self.stderr_data or b"").decode(errors="replace")

    def wait_ready(self, path, timeout=15):
        """Wait until a helper program wrote its ready file; return its words."""
        path = Path(path)

        def check():
            if path.exists():
                text = path.read_text()
                if text.endswith("\n"):
                    return text.split() or True
            if self.popen.poll() is not None:
                out, err = self.popen.communicate()
                raise AssertionError("tini-py exited (%s) before %s was ready; stderr: %r"
                                     % (self.popen.returncode, path.name, err))
            return None
        return wait_for(check, timeout=timeout, what=str(path))

    def wait_signal(self, log, sig, timeout=10):
        """Wait until the recorder writing log has logged sig; return the log."""
        def check():
            got = read_signals(log)
            return got if sig in got else None
        try:
            return wait_for(check, timeout=timeout, what="signal %d in %s" % (sig, log))
        except AssertionError:
            raise AssertionError("signal %d never reached the child (log: %r, tini running: %s)"
                                 % (sig, read_signals(log), self.running()))

    def cleanup(self):
        pids = set(self._known)
        try:
            if self._pid is not None or self.mode == "subreaper":
                pids.update(descendants(self._pid or self.popen.pid))
        except Exception:
            pass
        if self.mode == "pid1" and self.popen.poll() is None:
            pids.update(descendants(self.popen.pid))
        # Children first (they would be reparented), then tini-py, then unshare.
        for pid in pids:
            kill_quietly(pid)
        if self._pid is not None:
            kill_quietly(self._pid)
        if self.popen.poll() is None:
            kill_quietly(self.popen.pid)
        try:
            self.popen.communicate(timeout=10)
        except Exception:
            pass


class _RawEnv(dict):
    """An env passed as is (no cleaning of TINI_* variables)."""


def raw_env(**extra):
    env = _RawEnv(tini_env())
    env.update(extra)
    return env


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@pytest.fixture
def start_tini():
    """start_tini(mode, args, **popen options) -> TiniProc, killed at teardown."""
    started = []

    def start(mode, args, **kwargs):
        proc = TiniProc(mode, args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.cleanup()


@pytest.fixture
def tini(mode, start_tini):
    """tini(args, **popen options) -> TiniProc in the parametrized mode."""
    def start(args, **kwargs):
        return start_tini(mode, args, **kwargs)
    return start


def run_tini(args, mode="subreaper", timeout=30, env=None, input=None, **kwargs):
    """Run tini-py to completion; returns subprocess.CompletedProcess (text)."""
    env = dict(env) if isinstance(env, _RawEnv) else tini_env(env)
    proc = subprocess.Popen(
        tini_command(mode, args), env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_clean_signals,
        start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(input=input.encode() if isinstance(input, str) else input,
                                    timeout=timeout)
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid):
            kill_quietly(pid)
        kill_quietly(proc.pid)
        proc.communicate()
        raise AssertionError("tini-py %r did not exit within %ss" % (args, timeout))
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       out.decode(errors="replace"), err.decode(errors="replace"))


def pytest_report_header():
    version = subprocess.run([TEST_PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    return "tini-py runs under: %s (%s)" % (TEST_PYTHON, version or "does not start")


@pytest.fixture(scope="session", autouse=True)
def _needs_unshare():
    if os.geteuid() != 0:
        pytest.exit("the tini-py tests run as root (PID namespaces)", returncode=3)
