"""Signal forwarding, rewriting, process groups, grace kills and the terminal."""
import fcntl
import os
import shlex
import signal
import termios
import time

import pytest

from conftest import FORWARDED, MODES, raw_env, read_signals, recorder, sigmask_field, wait_for

S = signal.Signals
MARKER = signal.SIGURG  # sent last to know that everything before it was handled


def start_recorder(tini, tmp_path, options=(), extra=(), **kwargs):
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    proc = tini(list(options) + recorder(log, ready, "--stop-file", stop, *extra), **kwargs)
    fields = proc.wait_ready(ready)
    return proc, log, stop, fields


def stop_recorder(proc, stop, expected=0):
    stop.write_text("")
    rc = proc.wait(20)
    assert rc == expected, (rc, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr


# ----------------------------------------------------------------- forwarding

def test_every_catchable_signal_arrives_unchanged(tini, tmp_path):
    proc, log, stop, _ = start_recorder(tini, tmp_path)
    for sig in FORWARDED:
        proc.kill(sig)
        proc.wait_signal(log, sig)
    time.sleep(0.2)
    assert read_signals(log) == FORWARDED, "each signal once, unchanged, in order"
    stop_recorder(proc, stop)


# (options, environment, signal sent, signal expected or 0 for dropped)
MAPPINGS = {
    "-g QUIT": (["-g", "QUIT"], {}, S.SIGTERM, S.SIGQUIT),
    "--graceful=SIGINT": (["--graceful=SIGINT"], {}, S.SIGTERM, S.SIGINT),
    "-g 0 drops TERM": (["-g", "0"], {}, S.SIGTERM, 0),
    "-g RTMIN+1": (["-g", "RTMIN+1"], {}, S.SIGTERM, signal.SIGRTMIN + 1),
    "-r HUP:USR2": (["-r", "HUP:USR2"], {}, S.SIGHUP, S.SIGUSR2),
    "-r HUP:USR2 other signal": (["-r", "HUP:USR2"], {}, S.SIGUSR1, S.SIGUSR1),
    "-r USR1:0": (["-r", "USR1:0"], {}, S.SIGUSR1, 0),
    "-r sigusr1:rtmax-1": (["-r", "sigusr1:rtmax-1"], {}, S.SIGUSR1, signal.SIGRTMAX - 1),
    "-r 35:WINCH": (["-r", "35:WINCH"], {}, 35, S.SIGWINCH),
    # Linux's 16, which Python's signal module names from 3.11 on only.
    "-r STKFLT:USR1": (["-r", "STKFLT:USR1"], {}, 16, S.SIGUSR1),
    "two -r": (["-r", "HUP:USR2", "-r", "USR1:0"], {}, S.SIGHUP, S.SIGUSR2),
    "two -r drop": (["-r", "HUP:USR2", "-r", "USR1:0"], {}, S.SIGUSR1, 0),
    "env GRACEFUL": ([], {"TINI_PY_GRACEFUL": "QUIT"}, S.SIGTERM, S.SIGQUIT),
    "env REWRITE list 1": ([], {"TINI_PY_REWRITE": "HUP:USR2,USR1:0"}, S.SIGHUP, S.SIGUSR2),
    "env REWRITE list 2": ([], {"TINI_PY_REWRITE": "HUP:USR2,USR1:0"}, S.SIGUSR1, 0),
    "cmdline -g wins over env": (["-g", "INT"], {"TINI_PY_GRACEFUL": "QUIT"}, S.SIGTERM, S.SIGINT),
    "cmdline -r wins over env": (["-r", "HUP:WINCH"], {"TINI_PY_REWRITE": "HUP:USR2"},
                                 S.SIGHUP, S.SIGWINCH),
    "cmdline -r HUP:0 wins over env": (["-r", "HUP:0"], {"TINI_PY_REWRITE": "HUP:USR2"}, S.SIGHUP, 0),
    "empty env ignored": ([], {"TINI_PY_GRACEFUL": "", "TINI_PY_REWRITE": ""}, S.SIGTERM, S.SIGTERM),
}


@pytest.mark.parametrize("options,env,send,expect", MAPPINGS.values(), ids=list(MAPPINGS))
def test_signal_mapping(tini, tmp_path, options, env, send, expect):
    proc, log, stop, _ = start_recorder(tini, tmp_path, options, env=raw_env(**env))
    proc.kill(send)
    if expect:
        proc.wait_signal(log, expect)
    proc.kill(MARKER)
    proc.wait_signal(log, MARKER)
    time.sleep(0.2)
    assert read_signals(log) == ([int(expect)] if expect else []) + [MARKER]
    stop_recorder(proc, stop)


def test_verbose_logs_the_rewrite(tini, tmp_path):
    proc, log, stop, fields = start_recorder(tini, tmp_path, ["-v", "-g", "QUIT"])
    proc.kill(signal.SIGTERM)
    proc.wait_signal(log, signal.SIGQUIT)
    stop_recorder(proc, stop)
    lines = [line for line in proc.stderr.splitlines() if "SIGTERM" in line]
    assert lines and "SIGQUIT" in lines[0], proc.stderr
    assert all(line.startswith("tini-py: ") for line in proc.stderr.splitlines()), proc.stderr


def test_whole_process_group_receives_the_signal(tini, tmp_path):
    stop = tmp_path / "stop"
    first = recorder(tmp_path / "log1", tmp_path / "ready1", "--stop-file", stop)
    second = recorder(tmp_path / "log2", tmp_path / "ready2", "--stop-file", stop)
    proc = tini(["sh", "-c", "%s & exec %s" % (shlex.join(second), shlex.join(first))])
    main = proc.wait_ready(tmp_path / "ready1")
    grandchild = proc.wait_ready(tmp_path / "ready2")
    assert main[0] == main[1], "the child should lead its own process group: %r" % main
    assert grandchild[1] == main[1], "grandchild not in the child's group: %r %r" % (grandchild, main)
    assert grandchild[0] != main[0]
    for sig in (signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM, signal.SIGRTMIN + 5):
        proc.kill(sig)
        proc.wait_signal(tmp_path / "log1", sig)
        proc.wait_signal(tmp_path / "log2", sig)
    stop.write_text("")
    assert proc.wait(20) == 0, proc.stderr


# ----------------------------------------------------------------- early signals

def _block_term():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])


def _check_early_term(proc, log):
    rc = proc.wait(20)
    assert rc in (0, 143), (rc, proc.stderr)
    if rc == 0:
        assert signal.SIGTERM in read_signals(log), "child exited 0 without seeing TERM"


def test_term_before_the_child_exists_is_not_lost(tini, tmp_path):
    """TERM arrives while tini-py is still starting (kept pending by an
    inherited mask so that the kernel cannot drop it before tini-py runs)."""
    log = tmp_path / "log"
    proc = tini(recorder(log, tmp_path / "ready", "--exit-on", "TERM"), preexec_fn=_block_term)
    proc.kill(signal.SIGTERM)
    _check_early_term(proc, log)


def test_term_right_after_tini_blocked_signals_is_not_lost(tini, tmp_path):
    """TERM sent the moment tini-py has blocked its signals (often before
    its child exists): the child must see it, or die of it."""
    log = tmp_path / "log"
    proc = tini(recorder(log, tmp_path / "ready", "--exit-on", "TERM"))
    pid = proc.pid

    def blocked():
        # Only once tini-py runs (in pid1 mode, unshare's forked child has
        # SIGTERM blocked for a moment before it execs tini-py).
        if not proc.running():
            raise AssertionError("tini-py exited (%r) before TERM was sent; stdout %r stderr %r"
                                 % (proc.popen.returncode,) + proc.popen.communicate())
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                # -m tini_py, or -I -S once it has executed itself isolated
                if f.read().split(b"\0")[1:3] not in ([b"-m", b"tini_py"], [b"-I", b"-S"]):
                    return None  # not exec'd yet (unshare's argv names tini_py too)
            if sigmask_field(pid, "SigBlk") & (1 << (signal.SIGTERM - 1)):
                return True
            # While it sleeps in sigwaitinfo() the kernel shows the waited-for
            # signals as unblocked (the real mask is kept aside).
            with open("/proc/%d/wchan" % pid) as f:
                return "sigtimedwait" in f.read()
        except (OSError, KeyError):
            return None
    wait_for(blocked, timeout=15, interval=0.0005, what="tini-py to block SIGTERM")
    proc.kill(signal.SIGTERM)
    _check_early_term(proc, log)


# ----------------------------------------------------------------- grace (-t)

@pytest.mark.parametrize("how", ["ignore", "handle"])
def test_child_not_stopping_is_killed_at_grace(tini, tmp_path, how):
    extra = ["--ignore", "TERM"] if how == "ignore" else []
    proc, log, stop, _ = start_recorder(tini, tmp_path, ["-t", "0.5"], extra)
    start = time.monotonic()
    proc.kill(signal.SIGTERM)
    rc = proc.wait(20)
    elapsed = time.monotonic() - start
    assert rc == 137, (rc, proc.stderr)
    assert 0.4 <= elapsed <= 6.0, "killed after %.2fs, grace was 0.5s" % elapsed
    if how == "handle":
        assert read_signals(log) == [signal.SIGTERM], "TERM must be forwarded before the kill"


@pytest.mark.parametrize("options,send,expect", [
    (["-t", "0.5", "-g", "QUIT"], signal.SIGTERM, signal.SIGQUIT),
    (["--grace=0.5"], signal.SIGINT, signal.SIGINT),
    (["-t", "0.5", "-r", "HUP:TERM"], signal.SIGHUP, signal.SIGTERM),
], ids=["TERM-as-QUIT", "INT", "HUP-as-TERM"])
def test_stop_signal_after_rewriting_starts_grace(tini, tmp_path, options, send, expect):
    proc, log, stop, _ = start_recorder(tini, tmp_path, options)
    start = time.monotonic()
    proc.kill(send)
    rc = proc.wait(20)
    elapsed = time.monotonic() - start
    assert rc == 137, (rc, proc.stderr)
    assert 0.4 <= elapsed <= 6.0, elapsed
    assert read_signals(log) == [expect]


def test_grace_from_environment(tini, tmp_path):
    proc, log, stop, _ = start_recorder(tini, tmp_path, [], env=raw_env(TINI_PY_GRACE="0.5"))
    start = time.monotonic()
    proc.kill(signal.SIGTERM)
    assert proc.wait(20) == 137, proc.stderr
    assert 0.4 <= time.monotonic() - start <= 6.0


def test_non_stop_signal_does_not_start_grace(tini, tmp_path):
    proc, log, stop, _ = start_recorder(tini, tmp_path, ["-t", "0.3", "-r", "TERM:0"])
    proc.kill(signal.SIGUSR1)
    proc.wait_signal(log, signal.SIGUSR1)
    proc.kill(signal.SIGTERM)  # dropped: no stop signal was forwarded
    time.sleep(1.2)
    assert proc.running(), "child killed although no stop signal was forwarded"
    stop_recorder(proc, stop)
    assert read_signals(log) == [signal.SIGUSR1]


def test_no_grace_means_no_kill(tini, tmp_path):
    proc, log, stop, _ = start_recorder(tini, tmp_path)
    proc.kill(signal.SIGTERM)
    proc.wait_signal(log, signal.SIGTERM)
    time.sleep(1.0)
    assert proc.running()
    stop_recorder(proc, stop)


# ----------------------------------------------------------------- terminal

@pytest.mark.parametrize("mode", MODES)
def test_ctrl_c_on_terminal_reaches_child_in_foreground(start_tini, tmp_path, mode):
    master, slave = os.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    log, ready = tmp_path / "log", tmp_path / "ready"
    try:
        proc = start_tini(mode, recorder(log, ready, "--exit-on", "INT", "--code", "5"),
                          stdin=slave, stdout=slave, stderr=slave, pass_fds=(),
                          preexec_fn=controlling_terminal, new_session=False)
        os.close(slave)
        slave = None
        pid, pgid, sid, foreground = (int(x) for x in proc.wait_ready(ready))
        assert pid == pgid, "child should lead its own process group"
        assert foreground == pgid, ("terminal foreground group %d is not the child's group %d"
                                    % (foreground, pgid))
        os.write(master, b"\x1c")  # Ctrl-\\: SIGQUIT to the foreground group
        proc.wait_signal(log, signal.SIGQUIT)
        os.write(master, b"\x1a")  # Ctrl-Z: SIGTSTP (the recorder handles it)
        proc.wait_signal(log, signal.SIGTSTP)
        os.write(master, b"\x03")  # Ctrl-C
        rc = proc.wait(20)
        assert rc == 5, "child did not exit on SIGINT from the terminal (status %r)" % rc
        assert read_signals(log) == [signal.SIGQUIT, signal.SIGTSTP, signal.SIGINT], \
            "each terminal signal must arrive exactly once"
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
