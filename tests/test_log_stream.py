"""A log stream that fails: only the log line is lost.

Kernel rule behind these: a write() that fails with EPIPE raises SIGPIPE on
the writer, one that fails with EFBIG (RLIMIT_FSIZE) raises SIGXFSZ.
tini-py blocks both, so the signal stays pending: it must never be
forwarded to the child as if someone had sent it, and a failing stream must
not be retried in a loop.
"""
import os
import resource
import signal
import time

from conftest import read_signals, recorder

S = signal.Signals


def broken_pipe():
    """A pipe whose read end is already closed: every write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def test_verbose_log_to_a_pipe_nobody_reads(tini):
    """-v logs every step; with the reader gone tini-py used to forward its
    own SIGPIPE, log that, get another one, ... at 100% CPU, forever."""
    write_end = broken_pipe()
    try:
        proc = tini(["-v", "sh", "-c", "sleep 1; exit 3"], stderr=write_end)
    finally:
        os.close(write_end)
    assert proc.wait(15) == 3


def test_verbose_log_to_a_file_at_its_size_limit(tini, tmp_path):
    """RLIMIT_FSIZE reached: every write gets EFBIG and raises SIGXFSZ."""
    path = tmp_path / "full.log"
    path.write_bytes(b"x" * 4096)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    with open(path, "ab") as log:
        proc = tini(["-v", "sh", "-c", "sleep 1; exit 3"], stderr=log,
                    preexec_fn=limit_file_size)
    assert proc.wait(15) == 3
    assert path.stat().st_size == 4096


def test_a_warning_to_a_dead_pipe_does_not_reach_the_child(tini, tmp_path):
    """At the default level one warning (-w: an orphan reaped) is written and
    fails.  Its SIGPIPE is tini-py's own; a SIGPIPE someone else sends later
    is still forwarded."""
    log, ready, stop = tmp_path / "log", tmp_path / "ready", tmp_path / "stop"
    script = "(sleep 0.1 &); exec %s" % " ".join(
        recorder(log, ready, "--stop-file", stop))
    write_end = broken_pipe()
    try:
        proc = tini(["-w", "sh", "-c", script], stderr=write_end)
    finally:
        os.close(write_end)
    proc.wait_ready(ready)
    time.sleep(0.6)  # the orphan has exited and been reaped with a warning
    proc.kill(S.SIGUSR1)
    proc.wait_signal(log, S.SIGUSR1)
    proc.kill(S.SIGPIPE)
    proc.wait_signal(log, S.SIGPIPE)
    stop.write_text("")
    assert proc.wait(20) == 0
    assert read_signals(log) == [S.SIGUSR1, S.SIGPIPE]
