"""A reused pid is not ours.

As a subreaper, once tini-py's main child (pid G, leader of group G) is
reaped, G may be handed to an unrelated process that makes itself leader of
a new group G.  Signals tini-py sends while it drains leftovers (forwarded
ones, the final SIGKILL) must not reach that group.  Staged in a PID
namespace of its own, whose PID 1 is the scenario script (not tini-py), with
ns_last_pid steering the reuse -- see tests/progs/pid_reuse.py.
"""
import json
import signal
import subprocess

import pytest

from conftest import PY, UNSHARE, _clean_signals, prog, tini_env


@pytest.mark.parametrize("variant", ["usr1", "delay"])
def test_reused_main_child_pid_is_left_alone(tmp_path, variant):
    """usr1: a signal forwarded during the drain, then the final SIGKILL.
    delay: a TERM held by --delay that falls due after the main child is
    gone (it must not be forwarded to the old group or pid)."""
    result = subprocess.run(UNSHARE + [PY, prog("pid_reuse.py"), str(tmp_path), variant],
                            env=tini_env(), stdin=subprocess.DEVNULL, capture_output=True,
                            preexec_fn=_clean_signals, start_new_session=True, timeout=60)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, (result.returncode, err)
    report = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert report["unrelated_pid"] == report["group"], \
        "the scenario could not reuse the pid (%r); nothing tested" % report
    assert report["tini_exit"] == 0, (report, err)
    assert report["signals"] == [], "tini-py signalled the unrelated group: %r" % report
    assert report["alive"], "tini-py killed the unrelated process: %r" % report
    assert "Traceback" not in err, err
    assert signal.SIGKILL != report["killed_by"]
