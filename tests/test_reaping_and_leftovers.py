"""Zombie reaping, leftovers after the main child, survivors, and what the
child inherits (signal state, file descriptors)."""
import os
import shlex
import signal
import time

import pytest

from conftest import PY, alive, children, prog, read_signals, recorder, wait_for, zombies


def host_pids(proc, ns_pids):
    """Host pids of tini-py's descendants whose pid in their own namespace is
    in ns_pids (identity in subreaper mode)."""
    wanted = set(ns_pids)
    found = {}
    for pid in proc.descendants():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        inner = int(line.split()[-1])
                        if inner in wanted:
                            found[inner] = pid
        except OSError:
            pass
    return found


def read_pids(path):
    return [int(x) for x in path.read_text().split()]


def wait_host_pids(proc, ns_pids):
    def find():
        found = host_pids(proc, ns_pids)
        return found if len(found) == len(set(ns_pids)) else None
    return list(wait_for(find, timeout=10, what="leftovers %r under tini-py" % ns_pids).values())


# ----------------------------------------------------------------- zombies

def test_hundreds_of_orphans_are_reaped(tini, tmp_path):
    count = 250
    ready, go = tmp_path / "ready", tmp_path / "go"
    proc = tini([PY, prog("orphans.py"), str(count), str(ready), str(go)])
    # All orphans reparented to tini-py (PID 1 or subreaper): its children.
    wait_for(lambda: len(children(proc.pid)) >= count + 1, timeout=30,
             what="%d orphans to be reparented to tini-py (have %d)" % (count, len(children(proc.pid))))
    go.write_text("")
    proc.wait_ready(ready, timeout=30)

    def settled():
        left = proc.descendants()
        return left if not zombies(left) and len(left) == 1 else None
    try:
        wait_for(settled, timeout=15, what="no zombies")
    except AssertionError:
        left = proc.descendants()
        raise AssertionError("%d zombies left among %d descendants of tini-py"
                             % (len(zombies(left)), len(left)))
    assert proc.running()
    proc.kill(signal.SIGTERM)
    assert proc.wait(20) == 143, proc.stderr


def test_zombie_reparented_while_idle_is_reaped(tini, tmp_path):
    """An orphan that exits long after start-up (tini-py idle in its wait)."""
    ready = tmp_path / "ready"
    proc = tini([PY, prog("orphans.py"), "3", str(ready), "1.0"])
    proc.wait_ready(ready)
    wait_for(lambda: len(proc.descendants()) == 1 and not zombies(proc.descendants()),
             timeout=10, what="the zombies to be reaped")
    proc.kill(signal.SIGTERM)
    assert proc.wait(20) == 143


def test_warn_reap_logs_reaped_zombies(tini, tmp_path):
    ready = tmp_path / "ready"
    proc = tini(["-w", PY, prog("orphans.py"), "2", str(ready), "0.1"])
    proc.wait_ready(ready)
    wait_for(lambda: len(proc.descendants()) == 1, timeout=10, what="reaping")
    proc.kill(signal.SIGTERM)
    assert proc.wait(20) == 143
    lines = [line for line in proc.stderr.splitlines() if line.startswith("tini-py: ")]
    assert len(lines) >= 2, "-w should log each reaped zombie: %r" % proc.stderr


# ----------------------------------------------------------------- leftovers

def leftover_command(tmp_path, code, *recorder_options):
    """sh that starts a recorder in its group as a leftover, then exits CODE
    once the file "go" exists (so the test can find the leftover first)."""
    log, ready, go = tmp_path / "left.log", tmp_path / "left.ready", tmp_path / "go"
    rec = recorder(log, ready, *recorder_options)
    script = ("%s & while [ ! -e %s ]; do sleep 0.01; done; while [ ! -e %s ]; do sleep 0.01; done; exit %d"
              % (shlex.join(rec), shlex.quote(str(ready)), shlex.quote(str(go)), code))
    return ["sh", "-c", script], log, ready


def go(tmp_path):
    """Let the main child exit (see leftover_command, daemon.py); returns the time."""
    (tmp_path / "go").write_text("")
    return time.monotonic()


def exit_main_child(proc, tmp_path, timeout=20):
    """go(), then (tini-py's exit status, seconds from go to its exit)."""
    start = go(tmp_path)
    rc = proc.wait(timeout)
    return rc, time.monotonic() - start


def test_leftover_ignoring_term_is_killed_at_orphan_grace(tini, tmp_path):
    command, log, ready = leftover_command(tmp_path, 4, "--ignore", "TERM")
    proc = tini(["--orphan-grace", "1.0"] + command)
    fields = proc.wait_ready(ready)
    leftover = wait_host_pids(proc, [int(fields[0])])[0]
    rc, elapsed = exit_main_child(proc, tmp_path)
    assert rc == 4, (rc, proc.stderr)
    assert 0.7 <= elapsed <= 8.0, "tini-py exited %.2fs after the main child; orphan-grace 1.0" % elapsed
    assert not alive(leftover)


@pytest.mark.parametrize("options,expect", [
    ([], signal.SIGTERM),
    (["-g", "QUIT"], signal.SIGQUIT),
    (["--graceful", "USR1"], signal.SIGUSR1),
])
def test_leftover_gets_graceful_signal_then_kill(tini, tmp_path, options, expect):
    command, log, ready = leftover_command(tmp_path, 6)
    proc = tini(["--orphan-grace", "0.8"] + options + command)
    fields = proc.wait_ready(ready)
    leftover = wait_host_pids(proc, [int(fields[0])])[0]
    rc, elapsed = exit_main_child(proc, tmp_path)
    assert rc == 6, (rc, proc.stderr)
    assert read_signals(log) == [expect], "the leftover should get the graceful signal once"
    assert 0.5 <= elapsed <= 8.0, elapsed
    assert not alive(leftover)


def test_leftover_handling_term_ends_orphan_grace_early(tini, tmp_path):
    command, log, ready = leftover_command(tmp_path, 0, "--exit-on", "TERM")
    proc = tini(["--orphan-grace", "30"] + command)
    proc.wait_ready(ready)
    rc, elapsed = exit_main_child(proc, tmp_path)
    assert rc == 0, (rc, proc.stderr)
    assert read_signals(log) == [signal.SIGTERM]
    assert elapsed < 10.0, "tini-py waited %.1fs although the leftover exited at once" % elapsed


@pytest.mark.parametrize("group", ["same", "session"])
@pytest.mark.parametrize("term", ["ignore", "handle"])
def test_daemonized_leftovers(tini, tmp_path, group, term):
    """Double-forked leftovers (in the child's group, or in a session of
    their own) get the graceful signal and are killed at orphan-grace."""
    pidfile, ready = tmp_path / "pids", tmp_path / "ready"
    grace = 1.0 if term == "ignore" else 30.0
    proc = tini(["--orphan-grace", str(grace), PY, prog("daemon.py"), str(pidfile), str(ready),
                 "7", group, term, "3", str(tmp_path / "go")])
    proc.wait_ready(ready)
    leftovers = wait_host_pids(proc, read_pids(pidfile))
    rc, elapsed = exit_main_child(proc, tmp_path, 40)
    assert rc == 7, (rc, proc.stderr)
    if term == "ignore":
        assert 0.7 <= elapsed <= 8.0, elapsed
    else:
        assert elapsed < 10.0, "leftovers exit on TERM, but tini-py waited %.1fs" % elapsed
    survivors = [pid for pid in leftovers if alive(pid)]
    assert not survivors, "processes outlived tini-py: %r" % survivors


@pytest.mark.parametrize("grace", ["0", "0.3"])
def test_short_orphan_grace_kills_leftovers_quickly(tini, tmp_path, grace):
    pidfile, ready = tmp_path / "pids", tmp_path / "ready"
    proc = tini(["--orphan-grace", grace, PY, prog("daemon.py"), str(pidfile), str(ready),
                 "0", "session", "ignore", "2", str(tmp_path / "go")])
    proc.wait_ready(ready)
    leftovers = wait_host_pids(proc, read_pids(pidfile))
    rc, elapsed = exit_main_child(proc, tmp_path)
    assert rc == 0, proc.stderr
    assert elapsed < 4.0, "orphan-grace %s took too long" % grace
    survivors = [pid for pid in leftovers if alive(pid)]
    assert not survivors, "processes outlived tini-py: %r" % survivors


def test_nothing_survives_grace_kill(tini, tmp_path):
    """Main child and leftovers of every kind; TERM with -t: all gone."""
    pid1, ready1 = tmp_path / "pids1", tmp_path / "ready1"
    pid2, ready2 = tmp_path / "pids2", tmp_path / "ready2"
    log, ready = tmp_path / "log", tmp_path / "ready"
    script = "; ".join([
        shlex.join([PY, prog("daemon.py"), str(pid1), str(ready1), "0", "session", "ignore", "2"]),
        shlex.join([PY, prog("daemon.py"), str(pid2), str(ready2), "0", "same", "ignore", "2"]),
        "exec " + shlex.join(recorder(log, ready, "--ignore", "TERM")),
    ])
    proc = tini(["-t", "0.5", "--orphan-grace", "30", "sh", "-c", script])
    main = proc.wait_ready(ready)
    everyone = wait_host_pids(proc, read_pids(pid1) + read_pids(pid2) + [int(main[0])])
    assert len(everyone) == 5
    start = time.monotonic()
    proc.kill(signal.SIGTERM)
    rc = proc.wait(20)
    elapsed = time.monotonic() - start
    assert rc == 137, (rc, proc.stderr)
    assert elapsed <= 8.0, "-t 0.5 must kill everything, not wait for --orphan-grace 30: %.1fs" % elapsed
    survivors = [pid for pid in everyone if alive(pid)]
    assert not survivors, "processes outlived tini-py: %r" % survivors


def test_nothing_survives_normal_exit(tini, tmp_path):
    pidfile, ready = tmp_path / "pids", tmp_path / "ready"
    proc = tini(["--orphan-grace", "0.5", PY, prog("daemon.py"), str(pidfile), str(ready),
                 "0", "session", "ignore", "5", str(tmp_path / "go")])
    proc.wait_ready(ready)
    leftovers = wait_host_pids(proc, read_pids(pidfile))
    go(tmp_path)
    assert proc.wait(20) == 0, proc.stderr
    survivors = [pid for pid in leftovers if alive(pid)]
    assert not survivors, "processes outlived tini-py: %r" % survivors


# ----------------------------------------------------------------- inherited state

def status_masks(text):
    masks = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigBlk", "SigIgn", "SigPnd", "ShdPnd"):
            masks[key] = int(value.strip(), 16)
    return masks


# Signals 32 and 33 are glibc's own (thread cancellation, setxid): no
# program can catch, ignore or send them through libc (sigaction() refuses
# them), and glibc's posix_spawn leaves them SIG_IGN in every child it starts.
GLIBC_RESERVED = (1 << 31) | (1 << 32)


def test_child_blocks_and_ignores_nothing(tini):
    proc = tini(["cat", "/proc/self/status"])
    assert proc.wait(20) == 0, proc.stderr
    masks = status_masks(proc.stdout)
    assert masks.get("SigBlk") == 0, "child starts with blocked signals: %x" % masks.get("SigBlk", -1)
    ignored = masks.get("SigIgn", -1) & ~GLIBC_RESERVED
    assert ignored == 0, "child starts with ignored signals: %x" % ignored


def test_child_gets_no_extra_file_descriptors(tini):
    read_end, write_end = os.pipe()
    try:
        os.set_inheritable(write_end, True)
        proc = tini([PY, prog("status.py")], pass_fds=(write_end,))
        assert proc.wait(20) == 0, proc.stderr
        fds = [int(x) for x in proc.stdout.split()[1:]]
        assert proc.stdout.startswith("FDS"), proc.stdout
        assert fds == sorted({0, 1, 2, write_end}), "child's open fds: %r (passed %d)" % (fds, write_end)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_child_gets_no_extra_file_descriptors_without_passed_fds(tini):
    proc = tini([PY, prog("status.py")])
    assert proc.wait(20) == 0, proc.stderr
    assert proc.stdout.split() == ["FDS", "0", "1", "2"]


@pytest.mark.parametrize("options,send,expect", [
    ([], signal.SIGUSR1, signal.SIGUSR1),
    (["-r", "USR1:USR2"], signal.SIGUSR1, signal.SIGUSR2),
], ids=["plain", "rewritten"])
def test_signals_during_orphan_grace_reach_leftovers(tini, tmp_path, options, send, expect):
    command, log, ready = leftover_command(tmp_path, 0)
    proc = tini(["--orphan-grace", "3"] + options + command)
    fields = proc.wait_ready(ready)
    leftover = wait_host_pids(proc, [int(fields[0])])[0]
    go(tmp_path)
    proc.wait_signal(log, signal.SIGTERM)  # the graceful signal: main child is gone
    proc.kill(send)
    proc.wait_signal(log, expect)
    assert proc.wait(20) == 0, proc.stderr
    assert read_signals(log) == [signal.SIGTERM, expect]
    assert not alive(leftover)


def test_stop_signal_during_orphan_grace_starts_grace_kill(tini, tmp_path):
    """Main child gone, a leftover ignores TERM, --orphan-grace is long; a
    TERM now (docker stop) is forwarded and -t applies: SIGKILL at 0.5s."""
    command, log, ready = leftover_command(tmp_path, 0, "--ignore", "TERM")
    proc = tini(["-t", "0.5", "--orphan-grace", "10"] + command)
    fields = proc.wait_ready(ready)
    leftover = wait_host_pids(proc, [int(fields[0])])[0]
    go(tmp_path)
    # Wait until the main child is reaped: tini-py's only descendant is the leftover.
    wait_for(lambda: proc.descendants() == [leftover], timeout=10, what="main child reaped")
    time.sleep(0.3)
    start = time.monotonic()
    proc.kill(signal.SIGTERM)
    rc = proc.wait(40)
    elapsed = time.monotonic() - start
    assert rc == 0, (rc, proc.stderr)
    assert elapsed <= 6.0, ("TERM during --orphan-grace 10 with -t 0.5: tini-py waited %.1fs"
                            % elapsed)
    assert not alive(leftover)
