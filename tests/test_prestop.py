"""`tini-py prestop` against real PID 1s of fresh PID namespaces.

Each test starts a PID 1 (tini-py in its several launch forms, or something
that only mentions tini-py), then runs prestop inside that namespace with
nsenter, as Kubernetes' exec hook would -- as root, or as user nobody with
setpriv.  prestop must signal PID 1 only when PID 1 really runs tini-py, and
must never report success it could not see: one line on stderr and exit 1
when it may not signal PID 1, cannot tell what PID 1 is, or cannot see its
children (/proc mounted hidepid, or a /proc of another namespace).

Everything user nobody touches (a python, a copy of tini_py, logs) lives in
a world-readable directory of its own.
"""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, _clean_signals, children, kill_quietly, read_signals, wait_for

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SLEEPER = """\
import signal, sys, time
log = open(sys.argv[2], "a")
def record(number, frame):
    log.write("%d\\n" % number)
    log.flush()
signal.signal(signal.SIGTERM, record)
with open(sys.argv[3], "w") as ready:
    ready.write("ready\\n")
while True:
    time.sleep(60)
"""


def runs_as_nobody(python):
    """Can user nobody start python?  Asked of a process already running as
    nobody: setpriv itself execs while it still holds root's capabilities."""
    probe = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
    try:
        return subprocess.run(NOBODY + [python, "-S", "-c", probe, python, "-c", "import json"],
                              timeout=30, capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.fixture(scope="module")
def public():
    """A world-readable tree: tini_py, launchers named tini-py, a zipapp,
    the signal recorder; and a python that user nobody may run."""
    candidates = ["/usr/bin/python3", os.path.realpath(sys.executable)]
    python = next((c for c in candidates if runs_as_nobody(c)), None)
    assert python, "no python that user nobody may run among %r" % candidates
    root = Path(tempfile.mkdtemp(prefix="tini-py-prestop-", dir="/tmp"))
    try:
        root.chmod(0o755)
        shutil.copytree(REPO / "tini_py", root / "tini_py",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "tests" / "progs" / "recorder.py", root / "recorder.py")
        (root / "sleeper.py").write_text(SLEEPER)
        subprocess.run([python, str(REPO / "tools" / "build_zipapp.py"), "--output",
                        str(root / "tini-py.pyz")], check=True, capture_output=True,
                       timeout=60)
        body = "import sys\nsys.path.insert(0, %r)\nfrom tini_py.__main__ import main\nmain()\n" \
            % str(root)
        for folder, shebang in (("bin", "#!%s" % python),
                                ("envbin", "#!/usr/bin/env -S %s -I -S" % python)):
            (root / folder).mkdir()
            launcher = root / folder / "tini-py"
            launcher.write_text(shebang + "\n" + body)
            launcher.chmod(0o755)
        # `app`: the recorder, by a name without a slash, as in `sh -c "tini-py -- app"`.
        (root / "bin" / "app").write_text(
            '#!/bin/sh\nexec %s %s --log "$APP_DIR/log" --ready "$APP_DIR/ready" "$@"\n'
            % (python, root / "recorder.py"))
        (root / "bin" / "app").chmod(0o755)
        for path in [root] + list(root.rglob("*")):
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
        yield {"root": root, "python": python}
    finally:
        shutil.rmtree(str(root), ignore_errors=True)


class Namespace:
    """A PID namespace (and private mount namespace) whose PID 1 is ``argv``."""

    def __init__(self, public, work, argv, proc_options=None, user=None):
        self.public, self.work = public, work
        if user:
            argv = NOBODY + argv
        mount = "mount -t proc %sproc /proc" % (
            "-o %s " % proc_options if proc_options else "")
        command = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
                   "--kill-child", "sh", "-c", mount + ' && exec "$@"', "sh"] + argv
        self.popen = subprocess.Popen(command, env=self.env(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      preexec_fn=_clean_signals, start_new_session=True)
        self.pid1 = wait_for(lambda: (children(self.popen.pid) or [None])[0] or
                             self.check_running(), what="PID 1 of the namespace")

    def env(self):
        return {"PATH": "%s:/usr/sbin:/usr/bin:/sbin:/bin" % (self.public["root"] / "bin"),
                "PYTHONPATH": str(self.public["root"]), "APP_DIR": str(self.work)}

    def check_running(self):
        if self.popen.poll() is not None:
            raise AssertionError("the namespace ended early (%s): %r"
                                 % (self.popen.returncode, self.popen.stderr.read()))
        return None

    def prestop(self, *args, user=None, enter_mount=True):
        """Run `tini-py prestop ARGS` inside the namespace; CompletedProcess."""
        command = ["nsenter", "-t", str(self.pid1), "-p"] + (["-m"] if enter_mount else [])
        command += (NOBODY if user else []) + [self.public["python"], "-m", "tini_py",
                                               "prestop", "--sleep", "0"] + list(args)
        return subprocess.run(command, env=self.env(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)

    def alive(self):
        return self.popen.poll() is None

    def end(self):
        for pid in children(self.pid1) + [self.pid1]:
            kill_quietly(pid)
        kill_quietly(self.popen.pid)
        self.popen.wait(10)
        self.popen.stderr.close()


@pytest.fixture
def work():
    path = Path(tempfile.mkdtemp(prefix="tini-py-prestop-work-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(str(path), ignore_errors=True)


@pytest.fixture
def namespace(public, work):
    made = []

    def make(argv, **kwargs):
        made.append(Namespace(public, work, argv, **kwargs))
        return made[-1]
    yield make
    for one in made:
        one.end()


def app(public, work):
    """The main child: records every signal it gets."""
    return [public["python"], str(public["root"] / "recorder.py"), "--log",
            str(work / "log"), "--ready", str(work / "ready")]


def wait_ready(ns, work):
    wait_for(lambda: (work / "ready").exists() or ns.check_running(), timeout=20,
             what="the program under PID 1")


def one_line(result):
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tini-py: prestop: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def launch_forms(public):
    python, root = public["python"], public["root"]
    return {
        "python -m tini_py": [python, "-m", "tini_py"],
        "options, then -m": [python, "-X", "dev", "-Wignore", "-m", "tini_py"],
        "python -I -S script": [python, "-I", "-S", str(root / "bin" / "tini-py")],
        "script (#! python)": [str(root / "bin" / "tini-py")],
        "script (#! env -S python -I -S)": [str(root / "envbin" / "tini-py")],
        "zipapp": [python, str(root / "tini-py.pyz")],
        "sh -c 'exec tini-py'": ["sh", "-c", 'exec tini-py "$@"', "sh"],
    }


FORMS = ["python -m tini_py", "options, then -m", "python -I -S script",
         "script (#! python)", "script (#! env -S python -I -S)", "zipapp",
         "sh -c 'exec tini-py'"]


@pytest.mark.parametrize("form", FORMS)
def test_signals_and_waits_for_tini_py_however_launched(namespace, public, work, form):
    ns = namespace(launch_forms(public)[form] + ["--"] + app(public, work) + ["--exit-on", "TERM"])
    wait_ready(ns, work)
    result = ns.prestop("--signal", "TERM", "--wait", "20")
    assert result.returncode == 0, result.stderr
    assert read_signals(work / "log") == [signal.SIGTERM]


@pytest.mark.parametrize("pid1", ["shell form", "python script"])
def test_pid1_that_only_mentions_tini_py_is_not_signalled(namespace, public, work, pid1):
    """Docker's shell form, `sh -c "tini-py -- app"` (dash does not exec):
    PID 1 is sh, which would drop the signal.  A python program given the
    word tini-py as an argument is not tini-py either."""
    if pid1 == "shell form":
        argv = ["sh", "-c", "tini-py -- app"]
    else:
        argv = [public["python"], str(public["root"] / "sleeper.py"), "tini-py",
                str(work / "log"), str(work / "ready")]
    ns = namespace(argv)
    wait_ready(ns, work)
    result = ns.prestop("--signal", "TERM")
    assert result.returncode == 1, result.stderr
    assert "not tini-py" in one_line(result)
    time.sleep(0.2)
    assert read_signals(work / "log") == [], "a signal was sent all the same"
    assert ns.alive()


def test_user_who_may_not_signal_pid1_gets_one_line(namespace, public, work):
    ns = namespace([public["python"], "-m", "tini_py", "--"] + app(public, work))
    wait_ready(ns, work)
    result = ns.prestop("--signal", "TERM", user="nobody")
    assert result.returncode == 1, result.stderr
    assert "Operation not permitted" in one_line(result)
    assert read_signals(work / "log") == []


def test_same_user_as_pid1_may_signal_it(namespace, public, work):
    ns = namespace([public["python"], "-m", "tini_py", "--"] + app(public, work)
                   + ["--exit-on", "TERM"], user="nobody")
    wait_ready(ns, work)
    result = ns.prestop("--signal", "TERM", "--wait", "20", user="nobody")
    assert result.returncode == 0, result.stderr
    assert read_signals(work / "log") == [signal.SIGTERM]


@pytest.mark.parametrize("hidepid", ["1", "2"])
def test_wait_under_hidepid_does_not_claim_success(namespace, public, work, hidepid):
    """/proc mounted hidepid: PID 1 (root's) is hidden from user nobody, so
    prestop cannot see whether the main child is still there."""
    ns = namespace([public["python"], "-m", "tini_py", "--"] + app(public, work),
                   proc_options="hidepid=" + hidepid)
    wait_ready(ns, work)
    result = ns.prestop("--wait", "3", user="nobody")
    assert result.returncode == 1, "prestop --wait said done although it saw nothing"
    assert "cannot see PID 1's children" in one_line(result)
    result = ns.prestop("--signal", "TERM", user="nobody")
    assert result.returncode == 1, result.stderr
    assert "cannot tell what PID 1 is" in one_line(result)
    assert read_signals(work / "log") == []
    # root sees through hidepid: the same hook works for it.
    result = ns.prestop("--wait", "0.5")
    assert result.returncode == 1 and "still running" in one_line(result)


def test_proc_of_another_namespace_is_not_trusted(namespace, public, work):
    """prestop entering only the pid namespace keeps the outer /proc, whose
    PID 1 is not ours: it must say it cannot tell, not judge that one."""
    ns = namespace([public["python"], "-m", "tini_py", "--"] + app(public, work))
    wait_ready(ns, work)
    for args, expect in ((["--signal", "TERM"], "cannot tell what PID 1 is"),
                         (["--wait", "1"], "cannot see PID 1's children")):
        result = ns.prestop(*args, enter_mount=False)
        assert result.returncode == 1, result.stderr
        line = one_line(result)
        assert expect in line and "another pid namespace" in line, line
    assert read_signals(work / "log") == []


def waits_for_signals(pid):
    """Is pid asleep in sigtimedwait()?  (Kernel rule: meanwhile its
    /proc status shows the waited-for signals as unblocked.)"""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "sigtimedwait" in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_hook_still_stops_on_a_signal_from_elsewhere(namespace, public, work, sig):
    """prestop drops the signals PID 1 sends it (tini-py's drain reaches every
    process of its namespace, the hook included), and only those."""
    ns = namespace([public["python"], "-m", "tini_py", "--"] + app(public, work))
    wait_ready(ns, work)
    command = ["nsenter", "-t", str(ns.pid1), "-p", "-m", public["python"], "-m", "tini_py",
               "prestop", "--sleep", "0", "--wait", "60"]
    hook = subprocess.Popen(command, env=ns.env(), stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=_clean_signals)
    try:
        inner = wait_for(lambda: children(hook.pid), what="prestop under nsenter")[0]
        wait_for(lambda: waits_for_signals(inner), what="prestop to wait in sigtimedwait")
        os.kill(inner, sig)
        _, err = hook.communicate(timeout=20)
    finally:
        kill_quietly(hook.pid)
        hook.wait(10)
    assert hook.returncode in (-sig, 128 + sig), (hook.returncode, err)
    assert b"Traceback" not in err, err
