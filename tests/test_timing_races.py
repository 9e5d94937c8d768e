"""Timing faults.

Signals racing the child's exit, a group whose leader is gone, SIGCHLD
together with TERM, a second TERM in the -t grace period and in --delay,
and a child that stops itself.
"""
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import PY, prog, proc_state, read_signals, recorder, wait_for
from process_util import assert_all_gone, identity

TERM = int(signal.SIGTERM)


def clean(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr


def read_pairs(path):
    """'PID SIG' lines -> [(pid, sig)]."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [tuple(map(int, line.split())) for line in text.splitlines() if line.strip()]


class Sender(threading.Thread):
    """Sends signals to one process, through a pidfd (never to a reused pid),
    as fast as it can until stopped or the process is gone."""

    def __init__(self, pid, signals):
        super().__init__(daemon=True)
        self.pidfd = os.pidfd_open(pid)
        self.signals = signals
        self.halt = threading.Event()
        self.sent = 0

    def run(self):
        try:
            while not self.halt.is_set():
                for sig in self.signals:
                    signal.pidfd_send_signal(self.pidfd, sig)
                    self.sent += 1
        except ProcessLookupError:
            pass
        finally:
            os.close(self.pidfd)

    def stop(self):
        self.halt.set()
        self.join(10)


# ------------------------------------------------- signals racing the exit

def test_child_exits_while_signals_are_forwarded(tini, tmp_path):
    """Forwarding to a group that is just disappearing: exit code intact."""
    rng = random.Random(5)
    sigs = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH, signal.SIGRTMIN + 2]
    for attempt in range(6):
        code = 20 + attempt
        life = rng.uniform(0.05, 0.4)
        ready = tmp_path / ("ready%d" % attempt)
        proc = tini(["sh", "-c", 'trap "" USR1 USR2 HUP WINCH 36; echo > "$1"; sleep %.3f; exit %d'
                     % (life, code), "sh", str(ready)])
        proc.wait_ready(ready)
        sender = Sender(proc.pid, sigs)
        sender.start()
        rc = proc.wait(30)
        sender.stop()
        assert rc == code, (attempt, rc, proc.stderr)
        assert sender.sent > 0
        clean(proc)


# ------------------------------------------------- group leader gone

def test_group_members_outlive_their_leader(tini, tmp_path):
    """The main child (group leader) exits, its group members stay: they
    still get forwarded signals, then the graceful signal, then SIGKILL at
    --orphan-grace; tini-py exits with the leader's status."""
    grace = 3.0
    proc = tini(["--orphan-grace", str(grace), PY, prog("group_with_members.py"),
                 str(tmp_path), "3", "11"])
    proc.wait_ready(tmp_path / "ready")
    members_log, leader_log = tmp_path / "members.log", tmp_path / "leader.log"
    # While the leader lives, a signal reaches the whole group.
    proc.kill(signal.SIGHUP)
    wait_for(lambda: len(read_pairs(members_log)) == 3 and read_pairs(leader_log),
             what="SIGHUP at the leader and its 3 members")
    everyone = [identity(p) for p in proc.descendants()]
    assert len(everyone) == 4

    started = time.monotonic()
    (tmp_path / "go").write_text("")
    # Leader gone: the members get the graceful signal (they log and ignore it) ...
    wait_for(lambda: len({p for p, s in read_pairs(members_log) if s == TERM}) == 3,
             timeout=grace, what="SIGTERM at the 3 leftover members")
    # ... and signals tini-py receives meanwhile still reach them.
    proc.kill(signal.SIGUSR1)
    wait_for(lambda: len({p for p, s in read_pairs(members_log) if s == signal.SIGUSR1}) == 3,
             timeout=grace, what="SIGUSR1 forwarded to the leftover members")
    rc = proc.wait(grace + 20)
    elapsed = time.monotonic() - started
    assert rc == 11, (rc, proc.stderr)
    clean(proc)
    assert grace - 0.3 <= elapsed < grace + 10, elapsed
    # Each signal once per member: not once through the group and again
    # through the process.
    got = sorted(s for _, s in read_pairs(members_log))
    assert got == sorted([int(signal.SIGHUP)] * 3 + [TERM] * 3 + [int(signal.SIGUSR1)] * 3), \
        "signals at the members (PID SIG): %r" % read_pairs(members_log)
    assert_all_gone(everyone, "leader and members")


def test_group_members_leave_on_graceful_signal(tini, tmp_path):
    """Members that exit on SIGTERM: tini-py does not wait for the deadline."""
    proc = tini(["--orphan-grace", "20", PY, prog("group_with_members.py"),
                 str(tmp_path), "3", "12", "exit-on-term"])
    proc.wait_ready(tmp_path / "ready")
    everyone = [identity(p) for p in wait_for(
        lambda: len(proc.descendants()) == 4 and proc.descendants(), what="4 processes")]
    (tmp_path / "go").write_text("")
    rc = proc.wait(15)  # far less than --orphan-grace
    assert rc == 12, (rc, proc.stderr)
    clean(proc)
    assert sorted(s for _, s in read_pairs(tmp_path / "members.log")) == [TERM] * 3, \
        "one SIGTERM per member (PID SIG): %r" % read_pairs(tmp_path / "members.log")
    assert_all_gone(everyone, "leader and members")


# ------------------------------------------------- SIGCHLD together with TERM

def test_sigchld_together_with_term(tini, tmp_path):
    """On TERM the child forks 30 processes and exits at once: tini-py gets
    TERM, the child's exit and a burst of orphan exits together (plus fake
    SIGCHLDs from the test): exit code intact, everything reaped, no wait
    for --orphan-grace."""
    ready = tmp_path / "ready"
    script = (
        "import os, signal, sys, time\n"
        "def on_term(*a):\n"
        "    for _ in range(30):\n"
        "        if os.fork() == 0:\n"
        "            os._exit(0)\n"
        "    os._exit(9)\n"
        "signal.signal(signal.SIGTERM, on_term)\n"
        "signal.pthread_sigmask(signal.SIG_SETMASK, [])\n"
        "open(sys.argv[1], 'w').write('ready\\n')\n"
        "while True: time.sleep(1)\n")
    proc = tini(["--orphan-grace", "30", PY, "-c", script, str(ready)])
    proc.wait_ready(ready)
    started = time.monotonic()
    for _ in range(20):
        proc.kill(signal.SIGCHLD)
    proc.kill(signal.SIGTERM)
    for _ in range(20):
        proc.kill(signal.SIGCHLD)
    rc = proc.wait(20)
    assert rc == 9, (rc, proc.stderr)
    assert time.monotonic() - started < 15, "tini-py waited for zombies as if alive"
    clean(proc)


# ------------------------------------------------- -t: a second TERM

def test_second_term_during_grace_keeps_the_deadline(tini, tmp_path):
    """A stubborn child: TERM, another TERM 1.5 s later; SIGKILL comes once,
    2 s after the first TERM (the second does not restart the clock): 137."""
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    proc = tini(["-v", "-t", "2"] + recorder(log, ready, "--stop-file", stop))
    proc.wait_ready(ready)
    started = time.monotonic()
    proc.kill(signal.SIGTERM)
    proc.wait_signal(log, TERM)
    time.sleep(max(0.0, started + 1.5 - time.monotonic()))
    proc.kill(signal.SIGTERM)
    rc = proc.wait(20)
    elapsed = time.monotonic() - started
    assert rc == 128 + signal.SIGKILL, (rc, proc.stderr)
    assert read_signals(log) == [TERM, TERM], "both TERMs forwarded"
    assert 1.9 <= elapsed < 3.3, "SIGKILL %.2fs after the first TERM (deadline 2s)" % elapsed
    assert proc.stderr.count("sending SIGKILL") == 1, proc.stderr
    clean(proc)


# ------------------------------------------------- --delay

def test_term_held_for_delay(tini, tmp_path):
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    proc = tini(["--delay", "2"] + recorder(log, ready, "--exit-on", "TERM", "--code", "3"))
    proc.wait_ready(ready)
    started = time.monotonic()
    proc.kill(signal.SIGTERM)
    time.sleep(1.0)
    assert read_signals(log) == [], "TERM forwarded before --delay was over"
    proc.wait_signal(log, TERM, timeout=10)
    arrived = time.monotonic() - started
    assert rc_of(proc) == 3
    assert 1.9 <= arrived < 4.0, "TERM forwarded %.2fs after it came (--delay 2)" % arrived
    clean(proc)


def rc_of(proc):
    rc = proc.wait(20)
    return rc


def test_second_term_during_delay_forwards_at_once(tini, tmp_path):
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    proc = tini(["--delay", "3"] + recorder(log, ready, "--stop-file", stop))
    proc.wait_ready(ready)
    proc.kill(signal.SIGTERM)
    time.sleep(0.5)
    assert read_signals(log) == []
    second = time.monotonic()
    proc.kill(signal.SIGTERM)
    proc.wait_signal(log, TERM, timeout=10)
    assert time.monotonic() - second < 1.5, "the second TERM was not forwarded at once"
    # The held TERM must not come again when its delay is over.
    time.sleep(max(0.0, second + 3.5 - time.monotonic()))
    assert read_signals(log) == [TERM], read_signals(log)
    stop.write_text("")
    assert proc.wait(20) == 0, proc.stderr
    clean(proc)


# ------------------------------------------------- stopped child

@pytest.mark.parametrize("how", ["self", "tstp"])
def test_stopped_child_continues(tini, tmp_path, how):
    """The child stops (kill -STOP $$, or SIGTSTP forwarded by tini-py);
    tini-py neither exits nor mistakes it for an exit; SIGCONT sent to
    tini-py continues it and it finishes normally."""
    done = tmp_path / "done"
    if how == "self":
        script = 'kill -STOP $$; echo resumed > "$1"; exit 4'
    else:
        # The child waits in `read` on its stdin, not in a loop of `sleep`s:
        # dash starts a command with vfork(), and a TSTP that reaches the
        # group in that window stops the vfork child before its exec while
        # the parent waits for it (state D, signals blocked) with the TSTP
        # pending -- which the SIGCONT then discards (kernel rule: SIGCONT
        # clears pending stop signals), so sh itself never shows T.
        script = 'echo > "$1.started"; read go; echo resumed > "$1"; exit 4'
    proc = tini(["sh", "-c", script, "sh", str(done)], stdin=subprocess.PIPE)
    if how == "tstp":
        wait_for(lambda: os.path.exists(str(done) + ".started"), what="child started")
        proc.kill(signal.SIGTSTP)
    child = wait_for(lambda: proc.descendants(), what="the child")[0]
    wait_for(lambda: proc_state(child) == "T", what="child stopped")
    if how == "tstp":
        proc.popen.stdin.write(b"go\n")  # what it waits for: read once it runs again
        proc.popen.stdin.flush()
    time.sleep(0.5)
    assert proc.running(), "tini-py exited while the child was stopped: %r" % proc.stderr
    assert proc_state(child) == "T"
    assert not done.exists()
    proc.kill(signal.SIGCONT)
    rc = proc.wait(20)
    assert rc == 4, (rc, proc.stderr)
    assert done.read_text() == "resumed\n"
    clean(proc)
