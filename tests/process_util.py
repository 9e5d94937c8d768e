"""Helpers for tests that watch processes through /proc: identity, zombies, signal storms."""
import os
import signal
import time

from conftest import proc_state, stat_fields


def status_field(pid, field):
    """A field of /proc/PID/status as its raw text (e.g. 'VmRSS' -> '10240 kB')."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(field)


def vmrss_kb(pid):
    return int(status_field(pid, "VmRSS").split()[0])


def start_time(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks), None when gone."""
    fields = stat_fields(pid)
    return int(fields[19]) if fields else None


def identity(pid):
    """(pid, start time): names one process for good, unlike a bare pid."""
    return (pid, start_time(pid))


def is_gone(ident):
    """True when the process named by identity() has exited and been reaped
    (or is a zombie no longer, or the pid now belongs to someone else)."""
    pid, started = ident
    now = start_time(pid)
    if now is None or now != started:
        return True
    return False


def is_zombie(ident):
    pid, started = ident
    return start_time(pid) == started and proc_state(pid) == "Z"


def pending_signals(pid):
    """Signals pending for the process (shared) and its main thread, as a mask."""
    return int(status_field(pid, "ShdPnd"), 16) | int(status_field(pid, "SigPnd"), 16)


def send_storm(pid, signals, count):
    """kill(pid, sig) count times, cycling through signals.

    A full real-time signal queue makes kill() fail with EAGAIN: that is the
    kernel saying no, not tini-py; such sends are counted and skipped.
    Returns (sent, refused).
    """
    sent = refused = 0
    n = len(signals)
    for i in range(count):
        try:
            os.kill(pid, signals[i % n])
            sent += 1
        except BlockingIOError:
            refused += 1
            if refused % 64 == 0:
                time.sleep(0.001)
    return sent, refused


def wait_quiet(path, quiet=0.5, timeout=60):
    """Wait until the file at path has stopped growing for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return size
        time.sleep(0.05)
    raise AssertionError("%s kept growing for %ss" % (path, timeout))


def no_traceback(text):
    return "Traceback" not in text and "internal error" not in text


STORM_SIGNALS = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH,
                 signal.SIGRTMIN, signal.SIGRTMIN + 1, signal.SIGRTMIN + 5, signal.SIGRTMAX]


def describe(ident):
    """'pid: state S, ppid P' for an assertion message."""
    pid = ident[0]
    fields = stat_fields(pid)
    if fields is None:
        return "%d: gone" % pid
    return "%d: state %s, ppid %s" % (pid, fields[0], fields[1])


def assert_all_gone(idents, what="processes"):
    """Every process named by an identity() has exited *and been reaped*."""
    left = [describe(i) for i in idents if not is_gone(i)]
    assert not left, "%s still there (a zombie means tini-py exited without reaping it): %s" \
        % (what, "; ".join(left))
