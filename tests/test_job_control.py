"""Job control: tini-py typed at an interactive shell is a shell job like any other.

Ctrl-Z stops the job and gives the prompt back, `fg` hands the terminal to
the command again, `bg` runs it in the background until it reads the
terminal, and a job that cannot be stopped (PID 1, an orphaned process group)
is never stopped.  A stopped child that is told to stop (TERM, or a signal
that reaches it as TERM/INT/QUIT) is continued so that it can act on it.

The terminal tests drive a real `bash -i` on a pseudo-terminal, exactly as a
user types: the prompt shows the last exit status (`<tp $?> `), and the
terminal's foreground process group is read from the master side.
"""
import fcntl
import os
import re
import select
import shlex
import signal
import subprocess
import termios
import time

import pytest

from conftest import (PY, TINI, UNSHARE, _clean_signals, descendants, kill_quietly, prog,
                      proc_state, stat_fields, tini_env, wait_for)

WAIT = 15.0          # bound on every wait for the shell or a process
PROMPT = rb"<tp (\d+)> "
CTRL_C, CTRL_Z = b"\x03", b"\x1a"
STOPPED = ("T",)     # /proc state of a stopped process (t is a ptrace stop)


# ------------------------------------------------------------------ the shell

def _controlling_terminal():
    _clean_signals()
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The master side of a new pseudo-terminal, with the process started on
    it as session leader (the terminal is its controlling terminal)."""

    def __init__(self, command, env):
        self.master, slave = os.openpty()
        try:
            self.popen = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                                          env=env, preexec_fn=_controlling_terminal)
        finally:
            os.close(slave)
        self.output = b""
        self.seen = 0  # expect() looks at output from here on

    @property
    def pid(self):
        return self.popen.pid

    def type(self, text):
        os.write(self.master, text if isinstance(text, bytes) else text.encode())

    def read_for(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every process left the terminal
                return
            if not data:
                return
            self.output += data

    def expect(self, pattern, what, timeout=WAIT):
        """Wait for pattern in the output not yet matched; return the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output, self.seen)
            if match:
                self.seen = match.end()
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.0fs waiting for %s; terminal so far:\n%s"
                                     % (timeout, what, self.transcript()))
            self.read_for(min(left, 0.2))

    def transcript(self):
        return self.output.decode(errors="replace").replace("\r", "")

    def foreground(self):
        """The terminal's foreground process group (host pid numbers)."""
        return os.tcgetpgrp(self.master)

    def close(self):
        pids = descendants(self.pid)
        for pid in pids:
            kill_quietly(pid)
        kill_quietly(self.pid)
        try:
            self.popen.wait(timeout=10)
        finally:
            os.close(self.master)
        for pid in pids:
            wait_for(lambda: proc_state(pid) in (None, "Z"), timeout=10,
                     what="process %d to end" % pid)


class Shell(Terminal):
    """An interactive bash, no rc files, no line editing."""

    def __init__(self, tmp_path):
        env = tini_env({"PS1": "<tp $?> ", "TERM": "dumb",
                        "HISTFILE": str(tmp_path / "history")})
        super().__init__(["bash", "--norc", "--noprofile", "--noediting", "-i"], env)
        self.prompt("the first prompt")

    def prompt(self, what="the prompt"):
        """Wait for the next prompt; return the exit status it shows."""
        return int(self.expect(PROMPT, what).group(1))

    def run(self, line, what=None):
        """Type a command that ends by itself; return the status its prompt shows."""
        self.type(line + "\n")
        return self.prompt(what or "the prompt after %r" % line)

    def jobs(self):
        self.type("jobs\n")
        listing = self.expect(rb"(?s)jobs\r?\n(.*?)" + PROMPT, "the output of jobs")
        return listing.group(1).decode(errors="replace").replace("\r", "")


@pytest.fixture
def shell(tmp_path):
    sh = Shell(tmp_path)
    yield sh
    sh.close()


# ------------------------------------------------------------------ the job

class Job:
    """tests/progs/terminal_job.py run under tini-py; its files live in tmp_path."""

    def __init__(self, tmp_path, term_exit=None, read_after=False):
        self.ready = tmp_path / "ready"
        self.lines = tmp_path / "lines"
        self.beat = tmp_path / "beat"
        self.trigger = tmp_path / "read-now"
        self.argv = [PY, prog("terminal_job.py"), "--ready", str(self.ready),
                     "--lines", str(self.lines)]
        if term_exit is not None:
            self.argv += ["--term-exit", str(term_exit)]
        if read_after:
            self.argv += ["--beat", str(self.beat), "--read-after", str(self.trigger)]

    def command(self, tini_args=(), pid1=False):
        """The line to type at the prompt."""
        argv = (UNSHARE if pid1 else []) + TINI + list(tini_args) + ["--"] + self.argv
        return shlex.join(argv)

    def wait_started(self, under):
        """Wait for the child; return (child, tini-py) as host pids."""
        wait_for(self.ready.exists, timeout=WAIT, what="the child to start")

        def find():
            for pid in descendants(under):
                if _cmdline(pid)[1:2] == [prog("terminal_job.py")]:
                    return pid
            return None
        child = wait_for(find, timeout=WAIT, what="the child's host pid")
        return child, int(stat_fields(child)[1])

    def read_lines(self):
        try:
            return self.lines.read_text()
        except FileNotFoundError:
            return ""

    def beats(self):
        try:
            return int(self.beat.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [os.fsdecode(arg) for arg in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


def pgid_of(pid):
    return int(stat_fields(pid)[2])


def wait_state(pids, states, what, timeout=WAIT):
    def check():
        return all(proc_state(pid) in states for pid in pids)
    try:
        wait_for(check, timeout=timeout, what=what)
    except AssertionError:
        raise AssertionError("%s: states are %s" % (what, [(pid, proc_state(pid), _cmdline(pid)[:4])
                                                          for pid in pids]))


def wait_running(pids, what):
    wait_state(pids, ("R", "S", "D"), what)


def wait_foreground(terminal, pgid, what):
    try:
        wait_for(lambda: terminal.foreground() == pgid, timeout=WAIT, what=what)
    except AssertionError:
        raise AssertionError("%s: the terminal's foreground group is %d, not %d"
                             % (what, terminal.foreground(), pgid))


def start_job(shell, job, tini_args=()):
    shell.type(job.command(tini_args) + "\n")
    child, tini = job.wait_started(shell.pid)
    wait_foreground(shell, pgid_of(child), "the child owns the terminal once started")
    return child, tini


def ctrl_z(shell, processes):
    """Ctrl-Z: the prompt must come back with the job stopped."""
    shell.type(CTRL_Z)
    status = shell.prompt("the prompt after Ctrl-Z (the job must stop and give it back)")
    wait_state(processes, STOPPED, "every process of the job stops")
    return status


def type_line_to_child(shell, job, text):
    shell.type(text + "\n")
    wait_for(lambda: text in job.read_lines(), timeout=WAIT,
             what="the child to read %r from the terminal (it has: %r)" % (text, job.read_lines()))


# ------------------------------------------------------------------ Ctrl-Z, fg, bg


def fg_then_ctrl_c(shell, job, child, line):
    """`fg` gives the child the terminal: it reads a typed line, then Ctrl-C ends the job."""
    shell.type("fg\n")
    wait_foreground(shell, pgid_of(child), "after fg the child's group owns the terminal")
    type_line_to_child(shell, job, line)
    shell.type(CTRL_C)
    assert shell.prompt() == 128 + signal.SIGINT


def test_ctrl_z_stops_the_child_and_tini_py_and_gives_the_prompt_back(shell, tmp_path):
    job = Job(tmp_path)
    child, tini = start_job(shell, job)
    status = ctrl_z(shell, [child, tini])
    assert status == 128 + signal.SIGTSTP, \
        "the shell must see its job stopped by SIGTSTP, as for any command (status %d)" % status
    assert re.search(r"\[1\]\+\s+Stopped\s", shell.jobs()), shell.transcript()
    assert shell.foreground() == pgid_of(shell.pid), "the shell must have its terminal back"
    shell.type("echo prompt-$((6*7))\n")
    shell.expect(rb"prompt-42\r?\n" + PROMPT, "the shell to run a command while the job is stopped")


def test_fg_gives_the_terminal_to_the_child_and_ctrl_c_ends_it(shell, tmp_path):
    job = Job(tmp_path)
    child, tini = start_job(shell, job)
    ctrl_z(shell, [child, tini])
    shell.type("fg\n")
    wait_running([child, tini], "fg continues the child and tini-py")
    wait_foreground(shell, pgid_of(child), "after fg the child's group owns the terminal")
    type_line_to_child(shell, job, "typed-after-fg")
    shell.type(CTRL_C)
    status = shell.prompt("the prompt after Ctrl-C ends the job")
    assert status == 128 + signal.SIGINT, "Ctrl-C must end the child (status %d)" % status
    assert proc_state(child) is None and proc_state(tini) is None, "nothing may be left"


def test_bg_runs_the_job_in_the_background_until_it_reads_the_terminal(shell, tmp_path):
    job = Job(tmp_path, read_after=True)
    child, tini = start_job(shell, job)
    ctrl_z(shell, [child, tini])
    beats = job.beats()
    shell.type("bg\n")
    shell.expect(rb"\[1\]\+ ", "bg to report the job")
    assert shell.prompt() == 0
    wait_running([child, tini], "bg continues the child and tini-py")
    wait_for(lambda: job.beats() > beats + 5, timeout=WAIT, what="the child to run after bg")
    assert shell.foreground() == pgid_of(shell.pid), "after bg the shell keeps its terminal"
    shell.type("echo alive-$((6*7))\n")
    shell.expect(rb"alive-42\r?\n" + PROMPT, "the shell's prompt to work while the job runs")
    assert re.search(r"\[1\]\+\s+Running\s", shell.jobs())

    job.trigger.write_text("")  # the child reads its stdin now: SIGTTIN from the background
    wait_state([child, tini], STOPPED, "a background read stops the child and tini-py")
    assert re.search(r"\[1\]\+\s+Stopped\s", shell.jobs()), shell.transcript()

    fg_then_ctrl_c(shell, job, child, "read-in-the-foreground")


def test_a_job_started_in_the_background_stops_when_it_reads_the_terminal(shell, tmp_path):
    job = Job(tmp_path)
    shell.type(job.command() + " &\n")
    assert shell.prompt() == 0
    child, tini = job.wait_started(shell.pid)
    assert shell.foreground() == pgid_of(shell.pid)
    wait_state([child, tini], STOPPED, "reading the terminal stops the child and tini-py")
    assert re.search(r"\[1\]\+\s+Stopped\s", shell.jobs()), shell.transcript()
    fg_then_ctrl_c(shell, job, child, "typed-after-fg")


def test_ctrl_z_stops_a_whole_pipeline(shell, tmp_path):
    """The job is tini-py's process group: `cat` beside it must stop too,
    or the shell waits for the job forever."""
    job = Job(tmp_path)
    assert shell.run("set -o pipefail") == 0  # the job's status: tini-py's, not cat's
    shell.type(job.command() + " | cat\n")
    child, tini = job.wait_started(shell.pid)
    wait_foreground(shell, pgid_of(child), "the child owns the terminal once started")
    cat = [pid for pid in descendants(shell.pid) if _cmdline(pid)[:1] == ["cat"]]
    assert len(cat) == 1 and pgid_of(cat[0]) == pgid_of(tini)
    ctrl_z(shell, [child, tini, cat[0]])
    fg_then_ctrl_c(shell, job, child, "typed-after-fg")


def test_ctrl_z_stops_a_job_whose_stdin_is_a_pipe(shell, tmp_path):
    """stdin a pipe, stdout the terminal: the terminal stays with tini-py's
    group (Ctrl-Z and Ctrl-C reach tini-py, which forwards them), and the job
    still stops and resumes as a whole."""
    job = Job(tmp_path)
    shell.type("true | " + job.command() + "\n")
    child, tini = job.wait_started(shell.pid)
    wait_foreground(shell, pgid_of(tini), "tini-py's group keeps the terminal")
    ctrl_z(shell, [child, tini])
    shell.type("fg\n")
    wait_running([child, tini], "fg continues the child and tini-py")
    assert shell.foreground() == pgid_of(tini), "the terminal is not the child's stdin"
    shell.type(CTRL_C)
    assert shell.prompt() == 128 + signal.SIGINT


def start_script(shell, job):
    """bash -c 'tini-py ...; echo after=$?; read word; echo got=$word':
    tini-py shares the script's process group, the script reads the
    terminal after it.  Returns (child, tini-py, the script's bash)."""
    script = job.command() + "; echo after=$?; read word; echo got=$word"
    shell.type(shlex.join(["bash", "-c", script]) + "\n")
    child, tini = job.wait_started(shell.pid)
    wait_foreground(shell, pgid_of(child), "the child owns the terminal once started")
    return child, tini, int(stat_fields(tini)[1])


def end_script(shell, job, script):
    """Ctrl-C ends tini-py's child; the script goes on and reads a line."""
    shell.type(CTRL_C)
    shell.expect(rb"after=130", "the script to go on after tini-py")
    wait_foreground(shell, pgid_of(script), "the script's group has the terminal back")
    shell.type("word-for-the-script\n")
    shell.expect(rb"got=word-for-the-script", "the script to read the terminal")
    assert shell.prompt() == 0


def test_a_script_gets_the_terminal_back_after_tini_py(shell, tmp_path):
    """An interactive shell takes its terminal back after a job; a script
    does not -- tini-py gives it back to the group it took it from."""
    job = Job(tmp_path)
    child, tini, script = start_script(shell, job)
    type_line_to_child(shell, job, "typed-to-the-child")
    end_script(shell, job, script)


def test_ctrl_z_stops_the_script_that_runs_tini_py(shell, tmp_path):
    """Run from a script, tini-py shares the script's process group: Ctrl-Z
    must stop the script too, or the shell waits for it forever."""
    job = Job(tmp_path)
    child, tini, script = start_script(shell, job)
    ctrl_z(shell, [child, tini, script])
    shell.type("fg\n")
    wait_foreground(shell, pgid_of(child), "after fg the child's group owns the terminal")
    type_line_to_child(shell, job, "typed-after-fg")
    end_script(shell, job, script)


def test_fg_continues_every_process_of_the_child_group_with_single_child(shell, tmp_path):
    """-c sends signals to the main child alone, but Ctrl-Z stopped its whole
    group: fg must continue all of it."""
    job = Job(tmp_path)
    wrapper = shlex.join(job.argv) + "; echo inner=$?"
    shell.type(shlex.join(TINI + ["-c", "--", "sh", "-c", wrapper]) + "\n")
    child, sh = job.wait_started(shell.pid)
    tini = int(stat_fields(sh)[1])
    wait_foreground(shell, pgid_of(child), "the child owns the terminal once started")
    ctrl_z(shell, [child, sh, tini])
    shell.type("fg\n")
    wait_running([child, sh, tini], "fg continues the whole job")
    type_line_to_child(shell, job, "typed-after-fg")
    shell.type(CTRL_C)
    assert shell.prompt() == 128 + signal.SIGINT


# ------------------------------------------------------------------ jobs that must not stop

def test_as_pid1_tini_py_never_stops_and_a_stopped_child_still_gets_term(shell, tmp_path):
    """PID 1 cannot stop (the kernel ignores SIGSTOP from inside its namespace
    and nobody would continue it): Ctrl-Z stops the child alone, and a TERM
    then continues it so that it exits."""
    job = Job(tmp_path, term_exit=7)
    shell.type(job.command(pid1=True) + "\n")
    child, tini = job.wait_started(shell.pid)
    wait_foreground(shell, pgid_of(child), "the child owns the terminal once started")
    shell.type(CTRL_Z)
    wait_state([child], STOPPED, "Ctrl-Z stops the child")
    seen = set()
    watch_until = time.monotonic() + 1.0
    while time.monotonic() < watch_until:
        seen.add(proc_state(tini))
        time.sleep(0.01)
    assert "T" not in seen, "tini-py as PID 1 stopped itself (states seen: %s)" % seen
    os.kill(tini, signal.SIGTERM)
    status = shell.prompt("the job to end after TERM")
    assert status == 7, "the stopped child must act on TERM (status %d)" % status


def test_an_orphaned_job_is_never_stopped(tmp_path):
    """tini-py as session leader of its terminal (`setsid -c`): nobody could
    continue it, so -- as the kernel does for such a process group -- Ctrl-Z
    stops nothing; the child goes on reading the terminal."""
    job = Job(tmp_path)
    terminal = Terminal(TINI + ["--"] + job.argv, tini_env())
    try:
        child, tini = job.wait_started(terminal.pid)
        assert tini == terminal.pid
        wait_foreground(terminal, pgid_of(child), "the child owns the terminal once started")
        terminal.type(CTRL_Z)
        terminal.read_for(0.5)
        wait_running([child, tini], "after Ctrl-Z the child and tini-py run")
        type_line_to_child(terminal, job, "typed-after-ctrl-z")
        terminal.type(CTRL_C)
        assert terminal.popen.wait(timeout=WAIT) == 128 + signal.SIGINT
    finally:
        terminal.close()


# ------------------------------------------------------------------ a stopped child told to stop

@pytest.mark.parametrize("sent, options", [("TERM", []), ("HUP", ["-r", "HUP:TERM"])])
def test_a_stopped_child_told_to_stop_is_continued_to_act_on_it(start_tini, mode, tmp_path,
                                                                 sent, options):
    job = Job(tmp_path, term_exit=7)
    proc = start_tini(mode, options + ["--"] + job.argv)
    child, _ = job.wait_started(proc.popen.pid)
    os.kill(child, signal.SIGSTOP)
    wait_state([child], STOPPED, "the child stops")
    time.sleep(0.2)  # let tini-py see the stop, as it would in real life
    proc.kill(getattr(signal, "SIG" + sent))
    rc = proc.wait(WAIT)
    assert rc == 7, "the child must act on TERM (status %r; stderr %r)" % (rc, proc.stderr)


def test_a_child_that_stops_just_before_term_is_continued_too(start_tini, mode, tmp_path):
    """tini-py frozen while the child stops and TERM arrives: it finds TERM
    (15) pending before the child's SIGCHLD (17) -- the stop is not reaped yet
    when the TERM is forwarded.  -r CONT:0 keeps the SIGCONT that thaws
    tini-py from reaching the child."""
    job = Job(tmp_path, term_exit=7)
    proc = start_tini(mode, ["-r", "CONT:0", "--"] + job.argv)
    child, tini = job.wait_started(proc.popen.pid)
    os.kill(tini, signal.SIGSTOP)
    wait_state([tini], STOPPED, "tini-py freezes")
    os.kill(child, signal.SIGSTOP)
    wait_state([child], STOPPED, "the child stops")
    os.kill(tini, signal.SIGTERM)
    os.kill(tini, signal.SIGCONT)
    rc = proc.wait(WAIT)
    assert rc == 7, "the child must act on TERM (status %r; stderr %r)" % (rc, proc.stderr)
