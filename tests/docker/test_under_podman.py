"""tini-py under podman, rootful and rootless (podman_engines.py), with the
images the docker suite builds.

The stop, kill and real-server scenarios are the docker suite's own test
functions, each run here with podman's containers and images: the same
assertions (signal arrived, exit status, request finished or cut, time
window) and the same controls that show the scenario failing.  New here:
podman's own --init, catatonit as PID 1 with tini-py as its child.
"""
import pytest

from .conftest import InstalledImage
from .podman_engines import (podman, podman_containers, podman_example,  # noqa: F401 - fixtures
                             podman_rootful, podman_rootless, podman_servers)
from .servers_util import PHP_FPM, children_of, record
from .test_container_stop import JOB_SECONDS, NO_ENV, WORKER
from .test_container_stop import test_docker_kill_hup_reloads_with_rewrite as kill_hup_scenario
from .test_container_stop import \
    test_graceful_quit_lets_the_job_finish_on_docker_stop as graceful_stop_scenario
from .test_container_stop import test_plain_term_cuts_the_job as plain_term_scenario
from .test_real_servers import \
    test_gunicorn_docker_stop_mid_request as gunicorn_stop_scenario
from .test_real_servers import \
    test_php_fpm_docker_stop_mid_request as php_fpm_stop_scenario
from .test_real_servers import \
    test_php_fpm_master_signal_mid_request as php_fpm_signal_scenario

TINI_PY = "/usr/local/bin/tini-py"
LEFTOVER = ["python3", "-u", "/t/leftover.py", "--out", "/out"]


def run_and_record(podman, scenario, run, *args):
    """run(*args), then record how long each podman stop and kill took."""
    podman.signalled.clear()
    run(*args)
    record("podman " + scenario, mode=podman.mode, version=podman.version,
           signalled=list(podman.signalled))


def pid1_args(ctr):
    return ctr.exec("cat", "/proc/1/cmdline", check=True).stdout.split("\0")


# ------------------------------------------------------- podman stop / kill

@pytest.mark.parametrize("tini_args", [("-v", "-g", "QUIT"), ()],
                         ids=["g-QUIT-finishes-the-job", "control-plain-TERM-cuts"])
def test_podman_stop(podman, podman_example, podman_containers, tini_args):
    """tini-py is PID 1 (its launcher line); podman stop -t 20: -g QUIT lets
    the job finish (exit 0), plain TERM cuts it (143)."""
    if tini_args:
        run_and_record(podman, "stop -g QUIT", graceful_stop_scenario,
                       InstalledImage(podman_example, "bookworm", "zipapp"), podman_containers,
                       tini_args)
    else:
        run_and_record(podman, "stop plain TERM", plain_term_scenario,
                       InstalledImage(podman_example, "bookworm", "zipapp"), podman_containers)


def test_podman_runs_tini_py_as_pid1(podman, podman_example, podman_containers):
    ctr = podman_containers(podman_example, "--", *WORKER, entrypoint="tini-py", env=NO_ENV)
    ctr.wait_for_event("start 1")
    assert TINI_PY in pid1_args(ctr)[:6], pid1_args(ctr)
    assert len(children_of(ctr, 1)) == 1, ctr.processes()
    ctr.stop(20)


@pytest.mark.parametrize("rewrite", [True, False], ids=["HUP-as-USR2-reloads",
                                                        "control-plain-HUP-kills"])
def test_podman_kill_hup(podman, podman_example, podman_containers, rewrite):
    """podman kill -s HUP: with -r HUP:USR2 the worker reloads and works on;
    without, HUP itself reaches it and it dies of it (129)."""
    run_and_record(podman, "kill -s HUP", kill_hup_scenario, podman_example, podman_containers,
                   rewrite)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "php-fpm"], True,
                 id="HUP-as-USR2-to-the-master-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "php-fpm", "--to-group", "USR2"], False,
                 id="control-USR2-to-the-group-cuts"),
])
def test_podman_kill_hup_php_fpm_mid_request(podman, podman_servers, podman_containers, init,
                                             finishes):
    """Routing: podman kill -s HUP during a request; php-fpm's profile makes
    it USR2 to the master alone, which reloads and lets the request finish."""
    run_and_record(podman, "php-fpm kill -s HUP", php_fpm_signal_scenario, podman_servers,
                   podman_containers, "HUP", init, finishes, "Reloading in progress")


# ---------------------------------------------------------- real servers

@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "php-fpm"], True, id="profile-php-fpm-finishes"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-TERM-cuts"),
])
def test_podman_stop_php_fpm_mid_request(podman, podman_servers, podman_containers, init,
                                         finishes):
    run_and_record(podman, "php-fpm stop", php_fpm_stop_scenario, podman_servers,
                   podman_containers, init, PHP_FPM, finishes)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "gunicorn"], True, id="profile-gunicorn-finishes"),
    pytest.param(["tini-py", "-v", "-g", "QUIT"], False, id="control-QUIT-cuts"),
])
def test_podman_stop_gunicorn_mid_request(podman, podman_servers, podman_containers, init,
                                          finishes):
    run_and_record(podman, "gunicorn stop", gunicorn_stop_scenario, podman_servers,
                   podman_containers, init, finishes)


# ------------------------------------------------------------------ --init

@pytest.mark.parametrize("tini_py, drains", [
    pytest.param(["tini-py", "-v", "-g", "QUIT", "--"], True, id="catatonit-over-tini-py-drains"),
    pytest.param([], False, id="control-catatonit-alone-cuts"),
])
def test_podman_init_with_tini_py_beneath(podman, podman_example, podman_containers, tini_py,
                                          drains):
    """podman run --init: catatonit is PID 1 and forwards podman stop's TERM
    to its one child.  With tini-py as that child (a subreaper, not PID 1),
    the TERM becomes QUIT for the worker's group: the job finishes; and the
    process the worker left in another session gets the graceful QUIT from
    tini-py's drain.  Without tini-py, the worker gets TERM and is cut, and
    the leftover dies with the PID namespace, unsignalled."""
    shell = ["sh", "-c", "%s & exec %s" % (" ".join(LEFTOVER), " ".join(WORKER))]
    ctr = podman_containers(podman_example, *tini_py[1:], *shell,
                            entrypoint=tini_py[0] if tini_py else "", env=NO_ENV,
                            options=["--init"])
    ctr.wait_for_event("start 1")
    ctr.wait_for_event("leftover ready")
    assert pid1_args(ctr)[0] == "/run/podman-init", pid1_args(ctr)
    args = {pid: line for pid, ppid, stat, line in ctr.processes()}
    (child,) = children_of(ctr, 1)
    if tini_py:
        assert TINI_PY in args[child], args
        (child,) = children_of(ctr, child)
    assert "/t/worker.py" in args[child], args
    elapsed, code = ctr.stop(20)
    events = ctr.events()
    record("podman --init stop", mode=podman.mode, tini_py=bool(tini_py), exit=code,
           seconds=round(elapsed, 2), events=events)
    if drains:
        assert code == 0, ctr.logs()
        assert "quit 1" in events and "done 1" in events, events
        assert "leftover got 3" in events, (events, ctr.logs())
        assert elapsed < JOB_SECONDS + 8, elapsed
    else:
        assert code == 143, ctr.logs()
        assert "term 1" in events and "done 1" not in events, events
        assert not [e for e in events if e.startswith("leftover got")], events
        assert elapsed < 10, elapsed
