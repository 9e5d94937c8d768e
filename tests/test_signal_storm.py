"""A storm of 100,000 signals at tini-py while the child works."""
import os
import signal
import time

from conftest import PY, prog, read_signals, wait_for
from process_util import (STORM_SIGNALS, pending_signals, send_storm, vmrss_kb,
                            wait_quiet)

STORM = 100_000
CODE = 42


def test_signal_storm(tini, tmp_path):
    log, ready = tmp_path / "log", tmp_path / "ready"
    proc = tini([PY, prog("busy_worker.py"), str(log), str(ready), str(CODE)])
    proc.wait_ready(ready)
    pid = proc.pid
    # Warm up the forwarding path once so the RSS baseline includes it.
    proc.kill(signal.SIGUSR1)
    proc.wait_signal(log, signal.SIGUSR1)
    time.sleep(0.2)
    rss_before = vmrss_kb(pid)

    sent, refused = send_storm(pid, STORM_SIGNALS, STORM)
    assert sent > STORM // 10, "the kernel refused nearly every signal (%d sent)" % sent
    assert proc.running(), "tini-py died in the storm: %r" % proc.stderr

    # Let tini-py work off what is pending, and the child record what it got.
    wait_for(lambda: pending_signals(pid) == 0, timeout=60, what="tini-py's pending signals")
    wait_quiet(log)
    assert proc.running(), "tini-py died after the storm"
    child_pids = proc.descendants()
    assert child_pids, "the child is gone after the storm"
    rss_after = vmrss_kb(pid)
    print("storm: %d sent, %d refused (EAGAIN); tini-py VmRSS %d -> %d kB; child logged %d"
          % (sent, refused, rss_before, rss_after, len(read_signals(log))))
    assert rss_after - rss_before < 1024, "tini-py grew by %d kB" % (rss_after - rss_before)
    got = set(read_signals(log))
    assert {signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH} <= got, got

    # Still forwarding: a signal that was not in the storm, then TERM.
    before = len(read_signals(log))
    proc.kill(signal.SIGURG)
    wait_for(lambda: signal.SIGURG in read_signals(log)[before:], timeout=10,
             what="SIGURG after the storm")
    proc.kill(signal.SIGTERM)
    rc = proc.wait(30)
    assert rc == CODE, (rc, proc.stderr[-2000:])
    assert read_signals(log)[-1] == signal.SIGTERM
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "internal error" not in proc.stderr, proc.stderr[-2000:]
