"""uWSGI, uvicorn, RQ and Dramatiq as the child of tini-py, PID 1 of a real
container.

uWSGI is Debian bookworm's (uwsgi-core 2.0.21 with its python3 plugin);
uvicorn, RQ and Dramatiq are PyPI's, pinned in conftest.PYPI_RECIPE.  As in
test_real_servers.py, each scenario has a request (a job, a message) in
flight when the signal comes, says what became of it, and stands beside a
control that fails.
"""
import time

import pytest

from .servers_util import (DRAMATIQ, PYPI_BIN, REQUEST_SECONDS, RQ_WORKER, SERVERS,
                           STOP_TIMEOUT, UVICORN, UWSGI, assert_job_outcome, assert_stop_outcome,
                           children_of, count_workers_after_ttin_and_ttou, events_starting,
                           logged, main_pid, process_states, record, run_server,
                           signal_mid_request, slow_request, slow_request_completed, start_redis,
                           stop_mid_job, stop_mid_request, wait_for_events, wait_for_log_count,
                           wait_for_new_workers, workers_of)

DOCKER_DEFAULT_STOP = 10  # docker stop's own -t: what a hanging stop costs by default


# ------------------------------------------------------------------ uWSGI

# uWSGI 2.0's own setting for a graceful stop: a master hook that maps a
# signal to gracefully_kill_them_all (its workers get HUP and finish).
UWSGI_GRACEFUL_ON_INT = ["--hook-master-start", "unix_signal:2 gracefully_kill_them_all"]
UWSGI_GRACEFUL_ON_TERM = ["--hook-master-start", "unix_signal:15 gracefully_kill_them_all"]


uwsgi_ready = logged("spawned uWSGI worker 2")


def uwsgi_request(containers, image, init, options=()):
    """uWSGI (a master, 2 workers) under init, with a request in flight."""
    return slow_request(containers, image, init, [*UWSGI, *options], uwsgi_ready)


@pytest.mark.parametrize("init, options, outcome", [
    # uWSGI 2.0 takes TERM as a brutal reload: no signal is a graceful stop.
    # The profile turns docker's TERM into INT, its immediate stop.
    pytest.param(["tini-py", "-v", "--profile", "uwsgi"], [], "cut", id="profile-uwsgi-stops-at-once"),
    pytest.param(["tini-py", "-v"], [], "hangs", id="control-plain-TERM-reloads-until-SIGKILL"),
    pytest.param(["tini"], [], "hangs", id="control-tini-TERM-reloads-until-SIGKILL"),
    pytest.param(["tini-py", "-v"], ["--die-on-term"], "cut", id="die-on-term-stops-at-once"),
    # With the hook, the same profile stops gracefully.
    pytest.param(["tini-py", "-v", "--profile", "uwsgi"], UWSGI_GRACEFUL_ON_INT, "finishes",
                 id="profile-uwsgi-with-INT-hook-finishes"),
    pytest.param(["tini-py", "-v", "--profile", "uwsgi", "-g", "TERM"], UWSGI_GRACEFUL_ON_TERM,
                 "finishes", id="profile-uwsgi-g-TERM-with-TERM-hook-finishes"),
    # The workers die of TERM and INT (end_me): the hook's signal must reach
    # the master alone.
    pytest.param(["tini-py", "-v"], UWSGI_GRACEFUL_ON_TERM, "cut",
                 id="control-TERM-hook-but-TERM-to-the-group-cuts"),
])
def test_uwsgi_docker_stop_mid_request(servers_image, containers, init, options, outcome):
    ctr, client = uwsgi_request(containers, servers_image, init, options)
    timeout = DOCKER_DEFAULT_STOP if outcome == "hangs" else STOP_TIMEOUT
    elapsed, code, completed = stop_mid_request("uwsgi docker stop", ctr, client,
                                                slow_request_completed, timeout=timeout,
                                                init=init, options=options)
    logs = ctr.logs()
    if outcome == "hangs":
        assert not completed, (client.describe(), logs)
        assert "...brutally killing workers..." in logs, logs
        assert code == 137 and elapsed >= DOCKER_DEFAULT_STOP - 0.5, (code, elapsed, logs)
        return
    assert code == 0, logs
    assert_stop_outcome(outcome == "finishes", completed, elapsed, (client.describe(), logs))
    if outcome == "finishes":
        assert "graceful shutdown triggered..." in logs, logs


@pytest.mark.parametrize("init, options, outcome", [
    pytest.param(["tini-py", "-v", "--profile", "uwsgi"], [], "reloads",
                 id="profile-uwsgi-HUP-to-the-master-reloads"),
    # The workers take HUP as their own graceful end: the group may have it.
    pytest.param(["tini-py", "-v"], [], "reloads", id="plain-HUP-to-the-group-also-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "uwsgi"], ["--lazy-apps"], "reloads",
                 id="lazy-apps-profile-uwsgi-HUP-reloads-the-workers"),
    # TERM, uWSGI's "brutal reload", as a control.
    pytest.param(["tini-py", "-v", "--profile", "uwsgi", "-r", "HUP:TERM"], [], "cut",
                 id="control-TERM-brutal-reload-cuts"),
])
def test_uwsgi_hup_reloads_mid_request(servers_image, containers, init, options, outcome):
    ctr, client = uwsgi_request(containers, servers_image, init, options)
    master, workers, elapsed = signal_mid_request(ctr, client, "HUP")
    wait_for_new_workers(ctr, master, workers)
    completed = slow_request_completed(client)
    logs = ctr.logs()
    record("uwsgi HUP", init=init, options=options, completed=completed,
           seconds=round(elapsed, 2), workers_before=workers,
           workers_after=children_of(ctr, master), client=client.describe())
    assert ctr.running and main_pid(ctr) == master, logs
    if outcome == "reloads":
        assert completed, (client.describe(), logs)
        assert elapsed > REQUEST_SECONDS - 1, elapsed
    else:
        assert not completed, (client.describe(), logs)
        assert "...brutally killing workers..." in logs, logs


@pytest.mark.parametrize("init, stopped", [
    # uWSGI 2.0 has no scaling signal, and leaves TTIN at its default
    # action: stop the process.  The kernel does so in a process group that
    # is not orphaned (tini-py, its parent, is in another group of the same
    # session); only an orphaned group's members would be spared.
    pytest.param(["tini-py", "-v", "--profile", "uwsgi"], "master",
                 id="profile-uwsgi-TTIN-stops-the-master"),
    pytest.param(["tini-py", "-v"], "all", id="plain-TTIN-to-the-group-stops-every-process"),
    pytest.param(["tini"], "none", id="tini-does-not-forward-it"),
    pytest.param(["tini-py", "-v", "--profile", "uwsgi", "-r", "TTIN:0"], "none",
                 id="TTIN-dropped-nothing-stops"),
])
def test_uwsgi_has_no_scaling_signal(servers_image, containers, init, stopped):
    ctr = run_server(containers, servers_image, init, UWSGI)
    uwsgi_ready(containers, servers_image, ctr)
    master = main_pid(ctr)
    everyone = [master, *children_of(ctr, master)]
    ctr.kill("TTIN")
    time.sleep(2)
    states = process_states(ctr, everyone)
    record("uwsgi TTIN", init=init, states=states)
    expected = {"none": set(), "master": {master}, "all": set(everyone)}[stopped]
    assert {pid for pid, state in states.items() if state == "T"} == expected, states
    assert len(states) == 3, states


# ---------------------------------------------------------------- uvicorn

def uvicorn_workers(ctr, main):
    """The workers of uvicorn's main process: multiprocessing's spawned
    interpreters, not its resource tracker (a third child)."""
    return workers_of(ctr, main, args="spawn_main")


uvicorn_ready = logged("Application startup complete.", 2)


@pytest.mark.parametrize("init, options, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "uvicorn"], [], True,
                 id="profile-uvicorn-finishes"),
    # The workers take TERM as their own graceful stop, twice over harmless.
    pytest.param(["tini-py", "-v"], [], True, id="plain-TERM-to-the-group-also-finishes"),
    pytest.param(["tini"], [], True, id="tini-TERM-to-the-main-process-finishes"),
    pytest.param(["tini-py", "-v", "--profile", "uvicorn"], ["--timeout-graceful-shutdown", "1"],
                 False, id="control-timeout-graceful-shutdown-1-cuts"),
])
def test_uvicorn_docker_stop_mid_request(servers_image, containers, init, options, finishes):
    ctr, client = slow_request(containers, servers_image, init, [*UVICORN, *options],
                               uvicorn_ready)
    elapsed, code, completed = stop_mid_request("uvicorn docker stop", ctr, client,
                                                slow_request_completed, init=init,
                                                options=options)
    logs = ctr.logs()
    assert code == 0, logs
    assert "Stopping parent process" in logs, logs
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs))


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "uvicorn"], True,
                 id="profile-uvicorn-HUP-to-the-main-process"),
    pytest.param(["tini"], True, id="tini-HUP-to-the-main-process"),
    # The workers leave HUP at its default action: they die of it.
    pytest.param(["tini-py", "-v"], False, id="control-plain-HUP-to-the-group-cuts"),
])
def test_uvicorn_hup_restarts_workers_mid_request(servers_image, containers, init, finishes):
    """HUP: the main process starts a new worker, waits until it serves,
    then stops the old one gracefully -- one worker after the other."""
    ctr, client = slow_request(containers, servers_image, init, UVICORN, uvicorn_ready)
    workers = uvicorn_workers(ctr, main_pid(ctr))
    master, _, elapsed = signal_mid_request(ctr, client, "HUP")
    wait_for_new_workers(ctr, master, workers, children=uvicorn_workers)
    completed = slow_request_completed(client)
    logs = ctr.logs()
    record("uvicorn HUP", init=init, completed=completed, seconds=round(elapsed, 2),
           workers_before=workers, workers_after=uvicorn_workers(ctr, master),
           client=client.describe())
    assert ctr.running and main_pid(ctr) == master, logs
    assert "Received SIGHUP, restarting processes." in logs, logs
    assert completed == finishes, (client.describe(), logs)


@pytest.mark.parametrize("init, forwarded", [
    pytest.param(["tini-py", "-v", "--profile", "uvicorn"], True, id="profile-uvicorn"),
    pytest.param(["tini"], False, id="side-by-side-tini-does-not-forward-them"),
])
def test_uvicorn_ttin_and_ttou_add_and_remove_one_worker(servers_image, containers, init,
                                                         forwarded):
    ctr = run_server(containers, servers_image, init, UVICORN)
    uvicorn_ready(containers, servers_image, ctr)
    counts = count_workers_after_ttin_and_ttou(ctr, forwarded, workers=uvicorn_workers)
    record("uvicorn TTIN/TTOU", init=init, workers=counts)
    assert counts == ([2, 3, 2] if forwarded else [2, 2, 2]), ctr.logs()


def test_uvicorn_workers_are_stopped_by_ttin_to_the_group(servers_image, containers):
    """The workers (and the resource tracker) leave TTIN at its default
    action: sent to the whole group, it stops them (state T, as uWSGI's),
    while the main process adds one more worker."""
    ctr = run_server(containers, servers_image, ["tini-py", "-v"], UVICORN)
    uvicorn_ready(containers, servers_image, ctr)
    master = main_pid(ctr)
    children = children_of(ctr, master)
    ctr.kill("TTIN")
    wait_for_log_count(ctr, "Application startup complete.", 3, timeout=20)
    states = process_states(ctr, [master, *children])
    record("uvicorn TTIN to the group", states=states)
    assert len(children) == 3, children
    assert states == {master: "S", **{pid: "T" for pid in children}}, states


# --------------------------------------------------------------------- RQ

def queued_job(containers, image, init, server, ready, enqueue):
    """server (a worker) under init, Redis beside it (not in the init's
    tree); once it has logged ready (text, count), the python code enqueue
    (with SERVERS on sys.path) queues a job of REQUEST_SECONDS; returns
    when the job has started."""
    ctr = run_server(containers, image, init, server)
    start_redis(ctr)
    wait_for_log_count(ctr, *ready, timeout=60)
    sent = ctr.exec(PYPI_BIN + "python", "-c", "import sys; sys.path.insert(0, %r); %s"
                    % (SERVERS, enqueue % REQUEST_SECONDS), timeout=60)
    assert sent.returncode == 0, sent.stderr
    wait_for_events(ctr, "start")
    return ctr


def rq_job(containers, image, init):
    """rq worker under init, with a job running in its work-horse."""
    return queued_job(containers, image, init, RQ_WORKER, ("Listening on", 1),
                      "import rq_jobs; rq_jobs.enqueue(%d)")


@pytest.mark.parametrize("init, finishes", [
    # The work-horse is in a process group of its own (rq calls setpgrp):
    # a TERM to the worker's group does not reach it.
    pytest.param(["tini-py", "-v"], True, id="plain-TERM-to-the-group-finishes"),
    pytest.param(["tini-py", "-v", "--profile", "rq"], True, id="profile-rq-finishes"),
    pytest.param(["tini"], True, id="tini-finishes"),
    # tini-py's own grace shorter than the job: the SIGKILL reaches every process.
    pytest.param(["tini-py", "-v", "-t", "1"], False, id="control-grace-1-kills"),
])
def test_rq_docker_stop_mid_job(servers_image, containers, init, finishes):
    """TERM (or INT) is RQ's warm shutdown: the worker waits for its
    work-horse to finish the job, then exits 0.  A second one within the
    job is the cold shutdown."""
    ctr = rq_job(containers, servers_image, init)
    elapsed, code, done = stop_mid_job("rq docker stop", ctr, init=init)
    assert_job_outcome(finishes, done, code, elapsed, (ctr.events(), ctr.logs()))
    if not finishes:
        assert code == 137, ctr.logs()


# --------------------------------------------------------------- Dramatiq

def dramatiq_message(containers, image, init):
    """dramatiq (a main process, 2 worker processes) under init, with a
    message being processed."""
    return queued_job(containers, image, init, DRAMATIQ,
                      ("Worker process is ready for action.", 2),
                      "import dramatiq_app; dramatiq_app.slow.send(%d)")


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "dramatiq"], True, id="profile-dramatiq-finishes"),
    pytest.param(["tini"], True, id="tini-TERM-to-the-main-process-finishes"),
    # The worker processes ignore INT; the main process passes it on as TERM.
    pytest.param(["tini-py", "-v", "-g", "INT"], True, id="g-INT-to-the-group-also-finishes"),
    # tini-py's own grace shorter than the message: the SIGKILL reaches every process.
    pytest.param(["tini-py", "-v", "--profile", "dramatiq", "-t", "1"], False,
                 id="control-grace-1-kills"),
])
def test_dramatiq_docker_stop_mid_message(servers_image, containers, init, finishes):
    ctr = dramatiq_message(containers, servers_image, init)
    elapsed, code, done = stop_mid_job("dramatiq docker stop", ctr, init=init)
    logs = ctr.logs()
    assert_job_outcome(finishes, done, code, elapsed, (ctr.events(), logs))
    assert "Killing worker process" not in logs, logs
    if not finishes:
        assert code == 137, logs


def test_dramatiq_term_to_the_group_races_to_kill_the_workers(servers_image, containers):
    """A Dramatiq worker process takes a second TERM as "kill" (its message
    may be lost; the main process then exits 1).  Sent to the whole group,
    docker's TERM reaches each worker twice: from tini-py, and a moment
    later from the main process.  Standard signals do not queue: when both
    arrive before the worker's handler has run, they are one, and the worker
    stops gracefully.  Seen in 11 runs: exit 1 in 9, the message lost in 5.
    Here: until a worker is killed, 6 runs at most."""
    killed = False
    for run in range(1, 7):
        ctr = dramatiq_message(containers, servers_image, ["tini-py", "-v"])
        elapsed, code, done = stop_mid_job("dramatiq TERM to the group", ctr, run=run)
        killed = "Killing worker process" in ctr.logs()
        if killed:
            break
        assert done and code == 0, ctr.logs()
    assert killed and code == 1, ctr.logs()


@pytest.mark.parametrize("init, restarts", [
    pytest.param(["tini-py", "-v", "--profile", "dramatiq"], True,
                 id="profile-dramatiq-HUP-to-the-main-process"),
    pytest.param(["tini-py", "-v", "--profile", "dramatiq", "-r", "HUP:0"], False,
                 id="control-HUP-dropped-no-restart"),
])
def test_dramatiq_hup_restarts_mid_message(servers_image, containers, init, restarts):
    """HUP: the main process stops its worker processes as for TERM (the
    message finishes), then executes itself again (same pid) and starts new
    ones."""
    ctr = dramatiq_message(containers, servers_image, init)
    master = main_pid(ctr)
    workers = children_of(ctr, master)
    ctr.kill("HUP")
    if restarts:
        wait_for_log_count(ctr, "Worker process is ready for action.", 4, timeout=60)
    else:
        wait_for_events(ctr, "done", timeout=REQUEST_SECONDS + 5)
    done = events_starting(ctr, "done")
    after = children_of(ctr, master)
    logs = ctr.logs()
    record("dramatiq HUP", init=init, message_done=bool(done), workers_before=workers,
           workers_after=after)
    assert done, (ctr.events(), logs)
    assert ctr.running and main_pid(ctr) == master, logs
    assert "Killing worker process" not in logs, logs
    if restarts:
        assert not set(after) & set(workers), (workers, after)
    else:
        assert after == workers, (workers, after)
