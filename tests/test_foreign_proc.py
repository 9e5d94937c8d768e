"""tini-py under a /proc that does not describe its own pid namespace.

Not as PID 1, tini-py finds its leftovers through /proc.  Three /procs lie
to it, each made here with real namespaces:

* foreign: ``unshare --pid --fork`` without --mount-proc keeps the outer
  namespace's /proc.  We nest two fresh namespaces so the pids are
  predictable: in the inner one, tini-py is pid 2 -- and in the outer /proc,
  pid 2 is the inner namespace's init, whose children are tini-py itself and
  its siblings.  Trusted, that /proc makes an unrelated sibling (inner pid 3)
  look like tini-py's descendant.
* tmpfs: an empty tmpfs over /proc (private mount namespace).
* unmounted: no /proc at all.

In each, tini-py must leave the sibling alone, still stop the leftover in
its child's process group (the fallback README promises), and say once that
it fell back.  As PID 1 it never needs /proc: kill(-1) reaches exactly its
namespace.
"""
import os
import shlex
import subprocess

import pytest

from conftest import (PY, TINI, _clean_signals, alive, descendants, kill_quietly,
                      prog, read_signals, tini_env, wait_for)

MAKE_PROC = {
    # The outer namespace mounts its own /proc; the inner one does not.
    "foreign": (["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                 "unshare", "--pid", "--fork", "--kill-child"], ":"),
    "tmpfs": (["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
              "mount -t tmpfs none /proc"),
    # Two proc mounts are stacked there: --mount-proc's and the host's.
    "unmounted": (["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
                  "while umount -l /proc 2>/dev/null; do :; done"),
}
EXIT_CODE = 5
WARNING = "finding leftovers through the child's process group only"


def runs(pid, script):
    """Is pid `python tests/progs/SCRIPT ...` (not a shell naming it)?"""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            words = f.read().split(b"\0")
    except OSError:
        return False
    return words[:2] == [os.fsencode(PY), os.fsencode(prog(script))]


def leftover_command(tmp_path):
    """tini-py running daemon.py: one leftover in the child's group that
    ignores TERM; the main child exits with EXIT_CODE once 'go' exists."""
    return TINI + ["--orphan-grace", "1", PY, prog("daemon.py"), str(tmp_path / "pids"),
                   str(tmp_path / "ready"), str(EXIT_CODE), "same", "ignore", "1",
                   str(tmp_path / "go")]


def scenario_script(prepare, tmp_path, pid1):
    """The shell that is PID 1 of the innermost namespace."""
    if pid1:
        return prepare + ' && exec "$@"'
    sibling = [PY, prog("recorder.py"), "--log", str(tmp_path / "sibling.log"),
               "--ready", str(tmp_path / "sibling.ready")]
    # The gate holds tini-py back (as pid 2) until the sibling has pid 3.
    return "\n".join([
        prepare + " || exit 99",
        '( read go < %s; exec "$@" ) 2> %s &' % (shlex.quote(str(tmp_path / "gate")),
                                                 shlex.quote(str(tmp_path / "stderr"))),
        "tini=$!",
        shlex.join(sibling) + " &",
        "wait $tini",
        "echo $? > %s" % shlex.quote(str(tmp_path / "rc")),
        "wait",
    ])


class Scenario:
    def __init__(self, tmp_path, proc, pid1):
        self.tmp_path = tmp_path
        self.pid1 = pid1
        namespaces, prepare = MAKE_PROC[proc]
        script = scenario_script(prepare, tmp_path, pid1)
        if not pid1:
            os.mkfifo(str(tmp_path / "gate"))
        self.popen = subprocess.Popen(
            namespaces + ["sh", "-c", script, "sh"] + leftover_command(tmp_path),
            env=tini_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE if pid1 else subprocess.DEVNULL,
            preexec_fn=_clean_signals, start_new_session=True)
        self.known = set()

    def wait_file(self, name, timeout=15):
        path = self.tmp_path / name

        def check():
            if path.exists() and path.read_text().endswith("\n"):
                return path.read_text()
            if self.popen.poll() is not None:
                raise AssertionError("the scenario ended (%s) before %s; stderr %r"
                                     % (self.popen.returncode, name, self.stderr()))
            return None
        return wait_for(check, timeout=timeout, what=name)

    def open_gate(self):
        def try_open():
            try:
                return os.open(str(self.tmp_path / "gate"), os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: the reader is not there yet
                return None
        fd = wait_for(try_open, what="the gate's reader")
        os.write(fd, b"go\n")
        os.close(fd)

    def processes(self):
        found = descendants(self.popen.pid)
        self.known.update(found)
        return found

    def stderr(self):
        if self.pid1:
            return (self.popen.stderr.read() or b"").decode(errors="replace")
        path = self.tmp_path / "stderr"
        return path.read_text() if path.exists() else ""

    def run(self):
        """Run to the end of tini-py; returns (exit status, stderr)."""
        if not self.pid1:
            self.wait_file("sibling.ready")
            self.open_gate()
        self.wait_file("ready")
        self.processes()
        (self.tmp_path / "go").write_text("")
        if self.pid1:
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise AssertionError("tini-py did not exit within 30s")
            return self.popen.returncode, self.stderr()
        return int(self.wait_file("rc", timeout=30)), self.stderr()

    def cleanup(self):
        for pid in self.known | set(descendants(self.popen.pid)):
            kill_quietly(pid)
        kill_quietly(self.popen.pid)
        self.popen.wait(10)
        if self.popen.stderr:
            self.popen.stderr.close()


@pytest.fixture
def scenario(tmp_path):
    made = []

    def make(proc, pid1):
        made.append(Scenario(tmp_path, proc, pid1))
        return made[-1]
    yield make
    for one in made:
        one.cleanup()


@pytest.mark.parametrize("proc", sorted(MAKE_PROC))
def test_not_pid1_falls_back_to_the_group_and_spares_strangers(scenario, proc):
    run = scenario(proc, pid1=False)
    rc, stderr = run.run()
    assert rc == EXIT_CODE, (rc, stderr)
    # The sibling (pid 3 of the namespace, started by its init, never
    # tini-py's) got no signal and lives.
    assert read_signals(run.tmp_path / "sibling.log") == [], stderr
    left = run.processes()
    siblings = [pid for pid in left if runs(pid, "recorder.py")]
    assert len(siblings) == 1 and alive(siblings[0]), "the sibling is gone"
    # The leftover in the child's process group was stopped.
    strays = [pid for pid in left if runs(pid, "daemon.py") and alive(pid)]
    assert not strays, "the leftover outlived tini-py: %r; %r" % (strays, stderr)
    assert "survived SIGKILL" not in stderr, stderr
    assert stderr.count(WARNING) == 1, "the fallback should be said once: %r" % stderr


@pytest.mark.parametrize("proc", sorted(MAKE_PROC))
def test_pid1_needs_no_proc(scenario, proc):
    run = scenario(proc, pid1=True)
    rc, stderr = run.run()
    assert rc == EXIT_CODE, (rc, stderr)
    assert "survived SIGKILL" not in stderr and WARNING not in stderr, stderr
    strays = [pid for pid in run.processes() if runs(pid, "daemon.py") and alive(pid)]
    assert not strays, "the leftover outlived tini-py"

