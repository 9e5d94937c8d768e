"""Processes left when the main child has exited that tini-py did not start.

`docker exec`, `kubectl exec` and exec probes put processes into the
container's PID namespace whose parent is outside it: when they end, no
SIGCHLD reaches PID 1.  tini-py, draining leftovers, must notice anyway and
exit as soon as the last one is gone -- not wait out --orphan-grace.
Here `nsenter` plays docker exec.
"""
import subprocess
import threading
import time

import pytest

from conftest import wait_for


def test_stop_ends_soon_after_an_exec_process_has_ended(start_tini, tmp_path):
    go = tmp_path / "go"
    proc = start_tini("pid1", ["--orphan-grace", "20", "sh", "-c",
                               "while [ ! -e %s ]; do sleep 0.05; done" % go])
    # The visitor ignores the graceful TERM tini-py sends it, and ends by
    # itself 1.5 s later, telling nobody inside the namespace.
    visitor = subprocess.Popen(
        ["nsenter", "--target", str(proc.pid), "--pid", "--mount", "--",
         "env", "--ignore-signal=TERM", "sleep", "1.5"])
    ended = {}
    watcher = threading.Thread(target=lambda: ended.setdefault("visitor", wait_time(visitor)))
    watcher.start()
    try:
        wait_for(lambda: len(proc.descendants()) >= 1 and visitor_inside(visitor),
                 what="the visitor inside the namespace")
        go.write_text("")
        assert proc.wait(25) == 0, proc.stderr
        ended["tini-py"] = time.monotonic()
        watcher.join(25)
    finally:
        if visitor.poll() is None:
            visitor.kill()
        watcher.join(25)
    late = ended["tini-py"] - ended["visitor"]
    print("tini-py exited %.3fs after the last leftover ended" % late)
    assert late < 0.5, "tini-py exited %.2fs after the last leftover ended" % late


def wait_time(process):
    process.wait()
    return time.monotonic()


def visitor_inside(visitor):
    """The sleep that nsenter forked into the namespace (its pid there is not 1)."""
    try:
        with open("/proc/%d/task/%d/children" % (visitor.pid, visitor.pid)) as f:
            return bool(f.read().split())
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_no_wake_ups_while_the_child_runs(start_tini, mode):
    """The drain polls; the supervision before it does not (voluntary
    context switches stay flat while idle)."""
    proc = start_tini(mode, ["sleep", "30"])
    wait_for(lambda: proc.descendants(), what="the child")
    time.sleep(0.3)
    before = switches(proc.pid)
    time.sleep(2)
    assert switches(proc.pid) - before == 0


def switches(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for %d" % pid)
