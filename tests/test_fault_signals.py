"""SEGV, BUS, FPE, ILL, ABRT, TRAP and SYS: sent with kill() by another
process they are signals like any other, blocked and forwarded -- a tini-py
that died of `kill -ABRT` would leave its child running under the host's
init.  A real fault in tini-py itself still kills it (kernel rule: a fault is
forced on the faulting thread, unblocked and at its default action)."""
import signal
import subprocess
import sys

import pytest

from conftest import REPO, read_signals, recorder, tini_env

FAULTS = [signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT,
          signal.SIGTRAP, signal.SIGSYS]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_fault_signal_sent_to_tini_py_is_forwarded(tini, tmp_path, fault):
    log, ready = tmp_path / "log", tmp_path / "ready"
    proc = tini(recorder(log, ready, "--exit-on", str(int(fault)), "--code", "6"))
    proc.wait_ready(ready)
    proc.kill(fault)
    assert proc.wait(20) == 6, proc.stderr
    assert read_signals(log) == [fault]


def test_a_real_fault_still_crashes_with_every_signal_blocked():
    code = ("from tini_py.signals import block_signals; block_signals(); "
            "import ctypes; ctypes.string_at(0)")
    result = subprocess.run([sys.executable, "-c", code], env=tini_env(), cwd=str(REPO),
                            capture_output=True, timeout=30)
    assert result.returncode == -signal.SIGSEGV, result
