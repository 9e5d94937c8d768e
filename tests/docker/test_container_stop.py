"""`docker stop` / `docker kill` against tini-py in real containers.

The seed scenario: a worker (tests/docker/worker.py) stops at once on TERM
but finishes its current job on QUIT.  Docker only ever sends TERM (then
KILL); tini-py -g QUIT turns that TERM into a drain.
"""
import re
import time

import pytest

from .conftest import INSTALLED_IMAGES, OTHER_RELEASES

JOB_SECONDS = 3
WORKER = ["python3", "-u", "/t/worker.py", "--out", "/out", "--job-seconds", str(JOB_SECONDS)]
NO_ENV = {"TINI_PY_GRACEFUL": ""}


def run_worker(containers, image, *tini_args, env=None):
    return containers(image, *tini_args, "--", *WORKER, entrypoint="tini-py",
                      env=env if env is not None else NO_ENV)


@pytest.mark.parametrize("installed_image, tini_args", [
    pytest.param("bookworm-zipapp", ("-v", "-g", "QUIT"), id="g-QUIT"),
    pytest.param("bookworm-zipapp", ("-v", "--profile", "php-resque"), id="profile-php-resque"),
    *[pytest.param(name, ("-v", "-g", "QUIT"), id=name + "-g-QUIT") for name in OTHER_RELEASES],
], indirect=["installed_image"])
def test_graceful_quit_lets_the_job_finish_on_docker_stop(installed_image, containers,
                                                          tini_args):
    ctr = run_worker(containers, installed_image.tag, *tini_args)
    ctr.wait_for_event("start 1")
    worker_pid = int(re.search(r"ready pid=(\d+)", ctr.events()[0]).group(1))
    elapsed, code = ctr.stop(20)
    events = ctr.events()
    # -v: tini-py says what it did with docker's TERM (to the worker's group).
    said = [line for line in ctr.logs().splitlines()
            if line.startswith("tini-py: ") and "SIGTERM" in line and "SIGQUIT" in line]
    assert said and str(worker_pid) in said[0], ctr.logs()
    assert "quit 1" in events, events
    assert "done 1" in events, events  # the job ran to its end
    assert not any(e.startswith("term") for e in events), events
    assert events[-1] == "exit 0"
    assert "start 2" not in events  # and no new job was taken
    assert code == 0, ctr.logs()
    # Done when the job is done, far from docker's SIGKILL at 20 s.
    assert elapsed < JOB_SECONDS + 8, elapsed


@pytest.mark.parametrize("installed_image", INSTALLED_IMAGES, indirect=True)
def test_plain_term_cuts_the_job(installed_image, containers):
    ctr = run_worker(containers, installed_image.tag)
    ctr.wait_for_event("start 1")
    elapsed, code = ctr.stop(20)
    events = ctr.events()
    assert "term 1" in events, events
    assert "done 1" not in events, events
    assert code == 143, ctr.logs()
    assert elapsed < 10, elapsed


@pytest.mark.parametrize("rewrite", [True, False], ids=["rewrite-HUP-USR2", "no-rewrite"])
def test_docker_kill_hup_reloads_with_rewrite(tini_image, containers, rewrite):
    args = ("-r", "HUP:USR2") if rewrite else ()
    ctr = run_worker(containers, tini_image, *args)
    ctr.wait_for_event("start 1")
    ctr.kill("HUP")
    if not rewrite:
        # Control: HUP itself reaches the worker, whose default action is to die.
        assert ctr.wait(timeout=20) == 128 + 1, ctr.logs()
        assert "reload" not in ctr.events()
        return
    ctr.wait_for_event("reload", timeout=15)
    # It keeps working: the job in progress completes and the next one starts.
    ctr.wait_for(lambda: any(e.startswith("start 2") for e in ctr.events()),
                 timeout=JOB_SECONDS + 10, what="the job after the reload")
    assert ctr.running
    assert ctr.events().count("reload") == 1
    ctr.stop(20)


def test_without_init_docker_stop_waits_for_the_timeout(tini_image, containers):
    """Negative control: python as PID 1 without handlers ignores TERM (the
    kernel drops default-action signals to a namespace's init); only docker's
    SIGKILL at -t ends it."""
    ctr = containers(tini_image, "-c", "import time; print('ready', flush=True); time.sleep(600)",
                     entrypoint="python3")
    ctr.wait_for_log("ready")
    assert ctr.exec("cat", "/proc/1/comm", check=True).stdout.strip() == "python3"
    elapsed, code = ctr.stop(3)
    assert elapsed >= 3, elapsed
    assert code == 137, ctr.logs()


def test_grace_deadline_kills_a_stubborn_child(tini_image, containers):
    """-t 1: the child ignores TERM; tini-py SIGKILLs it 1 s after forwarding,
    long before docker's own SIGKILL at 20 s."""
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ignoring TERM', flush=True); time.sleep(600)")
    ctr = containers(tini_image, "-t", "1", "--", "python3", "-c", stubborn,
                     entrypoint="tini-py", env=NO_ENV)
    ctr.wait_for_log("ignoring TERM")
    elapsed, code = ctr.stop(20)
    assert code == 137, ctr.logs()
    assert 1 <= elapsed < 10, elapsed


def test_prestop_drains_before_docker_stop(tini_image, containers):
    """The Kubernetes preStop sequence, by hand: `tini-py prestop` inside the
    container signals PID 1 (TERM -> QUIT via TINI_PY_GRACEFUL) and waits for
    the drain; the runtime's later stop then finds nothing to cut."""
    ctr = containers(tini_image, *WORKER, env={"TINI_PY_GRACEFUL": "QUIT"})
    ctr.wait_for_event("start 1")
    started = time.monotonic()
    hook = ctr.exec("tini-py", "prestop", "--sleep", "0.5", "--signal", "TERM",
                    "--wait", "10", timeout=30)
    hook_elapsed = time.monotonic() - started
    events = ctr.events()
    # The drain was the hook's doing: QUIT arrived and the job finished before
    # docker stop was even called.
    assert "quit 1" in events, (hook.returncode, hook.stdout, hook.stderr, events)
    assert "done 1" in events, events
    assert not any(e.startswith("term") for e in events), events
    # The hook either saw the child go (0) or was killed with the container
    # when PID 1 exited (docker exec reports 137 then).
    assert hook.returncode in (0, 137), (hook.returncode, hook.stderr)
    assert "not tini-py" not in hook.stderr
    elapsed, code = ctr.stop(10)
    assert code == 0, ctr.logs()
    assert hook_elapsed + elapsed < 10, (hook_elapsed, elapsed)


def test_unprivileged_read_only_container(tini_image, containers):
    """tini-py as PID 1 without root, capabilities or a writable rootfs."""
    ctr = containers(tini_image, "-g", "QUIT", "--", *WORKER, entrypoint="tini-py",
                     options=["--read-only", "--user", "65534:65534", "--cap-drop", "ALL",
                              "--security-opt", "no-new-privileges"])
    ctr.wait_for_event("start 1")
    assert ctr.exec("id", "-u", check=True).stdout.strip() == "65534"
    # the launcher line: python3 -IS -c BOOT /usr/local/bin/tini-py -- ...
    assert "/usr/local/bin/tini-py" in ctr.exec("cat", "/proc/1/cmdline",
                                                check=True).stdout.split("\0")[:5]
    elapsed, code = ctr.stop(20)
    events = ctr.events()
    assert "done 1" in events and events[-1] == "exit 0", (events, ctr.logs())
    assert code == 0, ctr.logs()
