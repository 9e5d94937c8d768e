"""examples/kubernetes/deployment.yaml, replayed the way the kubelet would run
it: its env on the container, its preStop command via exec, then SIGTERM
with terminationGracePeriodSeconds as the stop timeout.  (No YAML library:
the few fields are read with regular expressions.)"""
import json
import re
import time
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "kubernetes" / "deployment.yaml"
WORKER = ["python3", "-u", "/t/worker.py", "--out", "/out", "--job-seconds", "3"]


def manifest():
    text = MANIFEST.read_text()
    period = int(re.search(r"^\s*terminationGracePeriodSeconds:\s*(\d+)", text, re.M).group(1))
    env = dict(re.findall(r'-\s*name:\s*(TINI_PY_\w+)\s*\n\s*value:\s*"([^"]*)"', text))
    prestop = re.search(r"preStop:\s*\n\s*exec:\s*\n(?:\s*#.*\n)*\s*command:\s*(\[.*\])", text)
    return period, env, json.loads(prestop.group(1))


def prestop_sleep(command):
    return float(command[command.index("--sleep") + 1]) if "--sleep" in command else 5.0


def test_manifest_budget_is_consistent():
    period, env, prestop = manifest()
    assert prestop[:2] == ["tini-py", "prestop"], prestop
    assert env["TINI_PY_GRACEFUL"] == "QUIT"
    budget = prestop_sleep(prestop) + float(env["TINI_PY_DELAY"]) + float(env["TINI_PY_GRACE"])
    # tini-py's own SIGKILL (GRACE) must come before the kubelet's, with a margin.
    assert period >= budget + 2, (period, budget)


def test_manifest_shutdown_sequence_in_docker(tini_image, containers):
    period, env, prestop = manifest()
    delay = float(env["TINI_PY_DELAY"])
    ctr = containers(tini_image, *WORKER, env=env)
    ctr.wait_for_event("start 1")
    started = time.monotonic()
    hook = ctr.exec(*prestop, timeout=60)
    assert hook.returncode == 0, hook.stderr
    assert time.monotonic() - started >= prestop_sleep(prestop)
    assert ctr.running  # the sleep-only hook leaves the stop to the kubelet's TERM
    elapsed, code = ctr.stop(period)
    events = ctr.events()
    quit_events = [e for e in events if e.startswith("quit")]
    assert len(quit_events) == 1 and not any(e.startswith("term") for e in events), events
    job = int(quit_events[0].split()[1])
    assert "done %d" % job in events and events[-1] == "exit 0", events
    assert code == 0, ctr.logs()
    # TINI_PY_DELAY held the TERM before it became QUIT; the drain then ended
    # well inside the grace period.
    assert delay <= elapsed < period, (delay, elapsed, period)
