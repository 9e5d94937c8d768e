"""tini-py as users install it, and signals sent a set time after its exec.

* ``installed_venv``: a venv made by the test session, with the repository
  pip-installed into it -- its bin/tini-py is what pip wrote, launcher line
  included.
* ``installed_zipapp``: tools/build_zipapp.py's archive.
* ``ExecEvents``: the kernel's exec events (netlink proc connector; root),
  to send a signal a set number of milliseconds after a process exec'd --
  the moment a container runtime starts PID 1.

Both are made with the session's interpreter (interpreters.TEST_PYTHON) and
run the first ``python3`` on PATH, as in an image; ``form_env`` puts the
session venv's bin first.
"""
import errno
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from interpreters import TEST_PYTHON

REPO = Path(__file__).resolve().parent.parent
# setuptools >= 61 reads [project] from pyproject.toml: the venvs of Python
# 3.9-3.11 come with an older one, those of 3.12 and later with none.  pip
# downloads this wheel once; every venv installs it offline.
SETUPTOOLS = ("setuptools", "82.0.1")
WHEELS = REPO / ".cache" / "wheels"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Each makes a plain `python3` die before running any code of its own
# ("Fatal Python error", exit 1); an isolated one ignores them.
FATAL = {
    "PYTHONHOME": "/nonexistent",
    "PYTHONHASHSEED": "bogus",
    "PYTHONMALLOC": "bogus",
    "PYTHONUTF8": "bogus",
    "PYTHONIOENCODING": "no-such-codec",
    "PYTHONINTMAXSTRDIGITS": "1",
}

# Values a command's environment may hold that Python could not pass on as
# it is through os.environ, and PYTHON* variables an isolated tini-py ignores.
ODD_ENV = {
    "EMPTY": "", "EQUALS": "a=b==c", "NEWLINE": "one\ntwo",
    "NOT_UTF8": os.fsdecode(b"\xff\xfe\x80"),
    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONWARNINGS": "error", "PYTHONINSPECT": "1",
}


class Installed:
    """An installed form: ``argv`` starts it; ``bin`` holds its python3."""

    def __init__(self, name, argv, bin_dir):
        self.name, self.argv, self.bin = name, list(argv), Path(bin_dir)

    def __repr__(self):
        return "<tini-py %s>" % self.name

    @property
    def python(self):
        return str(self.bin / "python3")

    @property
    def site_packages(self):
        return Path(subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True).stdout.strip())


def form_env(form, extra=None, path=None):
    """The environment of an image: PATH with the form's python3 first."""
    env = {"PATH": path or "%s:%s" % (form.bin, SYSTEM_PATH), "LANG": "C.UTF-8",
           "HOME": "/root"}
    env.update(extra or {})
    return env


def copy_sources(target):
    """What pip needs to build tini-py: pyproject.toml and what it names."""
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, target / name)
    for name in ("tini_py", "scripts"):
        shutil.copytree(REPO / name, target / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


@pytest.fixture(scope="session")
def installed_venv():
    """`python3 -m venv V && V/bin/pip install <repo>`, from a copy of the
    sources (pip builds in the source tree).  V is short, as an image's
    /opt/venv is: the launcher line names V/bin only when the whole line
    fits the 127 bytes old kernels read (tini_py/launch.py)."""
    root = Path(tempfile.mkdtemp(prefix="tpy-", dir="/tmp"))
    try:
        yield _install_into_venv(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _install_into_venv(root):
    source = root / "src"
    source.mkdir()
    copy_sources(source)
    venv = root / "venv"
    subprocess.run([TEST_PYTHON, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
           "--no-index", "--disable-pip-version-check"]
    for what in ([str(setuptools_wheel())], ["--no-build-isolation", str(source)]):
        result = subprocess.run(pip + what, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    script = venv / "bin" / "tini-py"
    assert script.exists(), "pip did not install the tini-py command"
    return Installed("venv", [str(script)], venv / "bin")


def setuptools_wheel():
    """The SETUPTOOLS wheel in WHEELS, downloaded the first time."""
    pattern = "%s-%s-*.whl" % SETUPTOOLS
    if not list(WHEELS.glob(pattern)):
        WHEELS.mkdir(parents=True, exist_ok=True)
        download = Path(tempfile.mkdtemp(dir=str(WHEELS)))
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--disable-pip-version-check", "--dest", str(download),
                        "%s==%s" % SETUPTOOLS], check=True, timeout=300)
        for wheel in download.glob(pattern):
            wheel.rename(WHEELS / wheel.name)  # whole, or not there
        shutil.rmtree(download, ignore_errors=True)
    return sorted(WHEELS.glob(pattern))[0]


def copied_command(installed_venv, prefix):
    """The pip-installed command, copied to PREFIX/bin (without its package)."""
    (prefix / "bin").mkdir(parents=True)
    command = prefix / "bin" / "tini-py"
    shutil.copy2(installed_venv.argv[0], command)
    return command


def run_to_exit_3(argv, form):
    """argv + `-- sh -c 'exit 3'` with form's environment, started as a
    container runtime starts PID 1 (nothing blocked or ignored, a session of
    its own): (exit status, stderr text)."""
    from conftest import _clean_signals  # conftest imports this module's fixtures
    result = subprocess.run(argv + ["--", "sh", "-c", "exit 3"], env=form_env(form),
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                            preexec_fn=_clean_signals, start_new_session=True)
    return result.returncode, result.stderr.decode()


@pytest.fixture(scope="session")
def installed_zipapp(tmp_path_factory, installed_venv):
    """tools/build_zipapp.py's archive, run by the same python3, named on its
    launcher line as a developer builds it (--python: no shim in between;
    the default PATH lookup is what the container tests' zipapp has)."""
    output = tmp_path_factory.mktemp("zipapp") / "tini-py"
    subprocess.run([installed_venv.python, str(REPO / "tools" / "build_zipapp.py"),
                    "--output", str(output), "--python", installed_venv.python],
                   check=True, capture_output=True, timeout=120)
    return Installed("zipapp", [str(output)], installed_venv.bin)


# Appended to a module's source: says so when that source is what runs.
EDITED_SOURCE_RAN = "edited source ran\n"
EDIT_MARK = b"import posix\nposix.write(2, %r)\n" % EDITED_SOURCE_RAN.encode()


def zipapp_with_edited_source(archive, target, module="tini_py/supervise.py",
                              keep_bytecode=True):
    """A copy of the zipapp at target whose source of module ends with
    EDIT_MARK; its stored .pyc is kept as it was (or left out)."""
    data = Path(archive).read_bytes()
    launcher = data[:data.index(b"\n") + 1]
    with zipfile.ZipFile(io.BytesIO(data)) as source, open(str(target), "wb") as output:
        output.write(launcher)
        with zipfile.ZipFile(output, "w") as copy:
            for info in source.infolist():
                if info.filename == module + "c" and not keep_bytecode:
                    continue
                body = source.read(info)
                copy.writestr(info, body + EDIT_MARK if info.filename == module else body)
    os.chmod(str(target), 0o755)
    return target


@pytest.fixture(params=["venv", "zipapp"])
def installed(request):
    """Each installed form in turn."""
    return request.getfixturevalue("installed_" + request.param)


# ------------------------------------------------------------ exec events

NETLINK_CONNECTOR, CN_IDX_PROC, CN_VAL_PROC = 11, 1, 1
PROC_CN_MCAST_LISTEN, PROC_EVENT_EXEC = 1, 2


class ExecEvents:
    """The kernel's exec events, with their CLOCK_MONOTONIC timestamps."""

    def __init__(self):
        try:
            self.socket = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.socket.bind((0, CN_IDX_PROC))
        except OSError as error:
            pytest.skip("no netlink proc connector (exec events): %s" % error)
        listen = struct.pack("I", PROC_CN_MCAST_LISTEN)
        message = struct.pack("IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(listen), 0) + listen
        self.socket.send(struct.pack("IHHII", 16 + len(message), 3, 0, 0, 0) + message)

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def events(self, timeout):
        """Yield (pid, exec time in ns) of every exec until timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.socket.settimeout(left)
            try:
                data = self.socket.recv(65536)
            except socket.timeout:
                return
            except OSError as error:  # ENOBUFS: events of a busy machine overflowed
                if error.errno != errno.ENOBUFS:
                    raise
                continue
            offset = 0
            while offset + 16 <= len(data):
                length = struct.unpack_from("I", data, offset)[0]
                # nlmsghdr (16) + cn_msg (20) + proc_event: what, cpu, timestamp
                what, _, stamp = struct.unpack_from("IIQ", data, offset + 36)
                if what == PROC_EVENT_EXEC:
                    yield struct.unpack_from("i", data, offset + 56)[0], stamp  # process_tgid
                offset += max(length, 16)

    def wait_exec(self, wanted, timeout=20):
        """(pid, exec time in ns) of the first exec whose /proc/PID/cmdline
        satisfies wanted(pid, words)."""
        for pid, stamp in self.events(timeout):
            words = command_line(pid)
            if words is not None and wanted(pid, words):
                return pid, stamp
        raise AssertionError("no exec event matched within %ss" % timeout)

    def next_exec_of(self, pid, timeout):
        """Exec time (ns) of pid's next exec, or None if it made none."""
        for other, stamp in self.events(timeout):
            if other == pid:
                return stamp
        return None


def command_line(pid):
    """pid's argv as bytes words, or None when it is gone.

    Kernel rule: /proc/PID/cmdline reads the argv in the process's memory;
    in the middle of an execve (the old memory dropped, the new argv not
    yet laid out) it reads empty.  An exec event read late, on a loaded
    machine, meets the launcher exactly there as it execs python3 -- so an
    empty read is retried for a few milliseconds (a zombie stays empty)."""
    for _ in range(30):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as source:
                words = source.read().split(b"\0")
        except OSError:
            return None
        if words != [b""]:
            break
        time.sleep(0.0001)
    return words


def parent_of(pid):
    from conftest import stat_fields  # conftest imports this module's fixtures
    fields = stat_fields(pid)
    return int(fields[1]) if fields else None


# A delay for signal_after_exec: as soon as the launcher has exec'd the
# interpreter.  GNU env blocks every signal before that exec, and a blocked
# signal stays pending across execve; so a signal sent then is one tini-py
# must deliver, however long env itself took to start on this machine.
AT_BLOCK = "blocked"


def signal_after_exec(events, wanted, delay_ms, sig=signal.SIGTERM):
    """Send sig to the process wanted() picks, delay_ms after its exec (or
    at AT_BLOCK).  Return (pid, exec time in ns, ms between the exec and the
    kill, ms between the exec and the launcher's exec of the interpreter, or
    None when there was none within a second)."""
    pid, stamp = events.wait_exec(wanted)
    if delay_ms == AT_BLOCK:
        interpreter_exec = events.next_exec_of(pid, timeout=1)
        assert interpreter_exec is not None, "the launcher of %d exec'd nothing" % pid
    else:
        due = stamp + int(delay_ms * 1e6)
        ahead = (due - time.monotonic_ns()) / 1e9 - 0.0003
        if ahead > 0:
            time.sleep(ahead)
        while time.monotonic_ns() < due:
            pass  # the last 0.3 ms busy: sleep() may overshoot
    sent = time.monotonic_ns()
    os.kill(pid, sig)
    if delay_ms != AT_BLOCK:
        interpreter_exec = events.next_exec_of(pid, timeout=1)
    blocked_ms = None if interpreter_exec is None else (interpreter_exec - stamp) / 1e6
    return pid, stamp, (sent - stamp) / 1e6, blocked_ms


def runs_after_the_block(one_run, delay_ms, wanted, tries):
    """Call one_run() -> (outcome, ms exec -> signal, ms exec -> block) up to
    tries times, until wanted runs sent their signal after the launcher had
    blocked it.  A run whose signal came sooner tests nothing (the kernel
    drops it, as it would for tini), nor one whose sender was late (a loaded
    machine).  Returns (the runs counted, the runs that came too early), each
    as (outcome, ms, ms) rounded."""
    counted, early = [], []
    for _ in range(tries):
        if len(counted) == wanted:
            break
        outcome, sent_ms, blocked_ms = one_run()
        if delay_ms != AT_BLOCK and sent_ms > delay_ms + 2:
            continue
        run = (outcome, round(sent_ms, 2), blocked_ms and round(blocked_ms, 2))
        if blocked_ms is not None and sent_ms < blocked_ms:
            early.append(run)
        else:
            counted.append(run)
    return counted, early
