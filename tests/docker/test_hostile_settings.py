"""tini-py under the container settings production images run with: a
read-only root, a non-root user, no capabilities, a tiny fd limit, a pids
limit that fails the application's fork or tini-py's own, docker's --init in
front, the host's pid namespace, and the OOM killer.

The scenario: the application (hostile_app.py) does what the setting makes
fail, leaves a setsid'd orphan, then works as tests/docker/worker.py.
`docker stop` sends TERM; `tini-py -g QUIT` makes it a drain: the job in
progress finishes, the application exits EXIT_STATUS, and the orphan --
outside the process group the stop went to -- is sent QUIT by tini-py's
drain once the application has exited.  Where tini-py is PID 1, a
docker exec'd witness (witness.py) is its last process and says that
nothing else, no process and no zombie, was left.

Each setting is checked to hold (the root is read-only, PID 1's uid is
65534, ...), and the control test shows that the witness and the orphan
do see an init that leaves a process behind.  Every test records how long
the stop took (servers_util.record).
"""
import calendar
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import kill_quietly, proc_state, read_signals, recorder, wait_for

from .servers_util import record, said

JOB_SECONDS = 2
STOP_TIMEOUT = 20  # docker stop -t: far beyond the job
EXIT_STATUS = 3    # the application's, after a graceful stop
PIDS_LIMIT = 8     # tini-py, the application, its orphan, the witness, 4 forks
NO_ENV = {"TINI_PY_GRACEFUL": ""}
TINI_PY = ["tini-py", "-v", "-g", "QUIT"]
APP = ["python3", "-u", "/t/hostile_app.py", "--out", "/out", "--orphan",
       "--job-seconds", str(JOB_SECONDS), "--exit-status", str(EXIT_STATUS)]


def run_app(containers, image, command, options, witness=True):
    """command (tini-py ... -- APP..., or APP alone behind --init) in a
    container with the setting's docker run options.  With witness, the
    witness is in place before the application starts; returns once the
    application has left its orphan."""
    wait = ["--wait-for", "/out/go"] if witness else []
    ctr = containers(image, *command[1:], *wait, entrypoint=command[0], env=NO_ENV,
                     options=options)
    if witness:
        ctr.engine("exec", "-d", ctr.id, "python3", "/t/witness.py", "/out/witness")
        ctr.wait_for(lambda: (ctr.out / "witness").exists(), what="the witness")
        (ctr.out / "go").write_text("")
    ctr.wait_for(lambda: orphan_of(ctr), what="the orphan")
    return ctr


def orphan_of(ctr):
    """(pid, parent) the orphan wrote once re-parented, or None."""
    return event_numbers(ctr, r"orphan ready pid=(\d+) ppid=(\d+)")


def worker_of(ctr):
    """(pid, parent) of the application, as the worker says."""
    return event_numbers(ctr, r"ready pid=(\d+) ppid=(\d+)")


def event_numbers(ctr, pattern):
    for line in ctr.events():
        found = re.match(pattern, line)
        if found:
            return tuple(int(group) for group in found.groups())
    return None


def witness_saw(ctr):
    """The witness' last look: ["alone"], or what was still there."""
    return (ctr.out / "witness").read_text().splitlines()


def pid1_file(ctr, name):
    return ctr.exec("cat", "/proc/1/" + name, check=True).stdout


def stop_and_record(ctr, setting, witness=True):
    """docker stop; records and returns (seconds it took, exit status)."""
    elapsed, code = ctr.stop(STOP_TIMEOUT)
    facts = {"witness": witness_saw(ctr)} if witness else {}
    record("hostile " + setting, exit=code, seconds=round(elapsed, 2), tini_py=said(ctr, ""),
           **facts)
    return elapsed, code


def assert_drained(ctr, elapsed, code):
    """The graceful stop: the job finished, the application's status came
    through, and tini-py's drain -- not the stop, not the kernel -- ended the
    orphan, after the application had exited."""
    events, logs = ctr.events(), ctr.logs()
    assert code == EXIT_STATUS, logs
    assert "quit 1" in events and "done 1" in events, (events, logs)
    assert not any(e.startswith("term") for e in events), events
    assert "start 2" not in events, events
    assert "orphan got SIGQUIT" in events and "orphan exit" in events, (events, logs)
    assert events.index("orphan got SIGQUIT") > events.index("exit %d" % EXIT_STATUS), events
    # The orphan, and the witness when there is one: counted, as they are.
    assert [line for line in said(ctr, "main child is gone; sent SIGQUIT to ")
            if re.search(r"to [12] process(es)? outside its group, which the stop did not "
                         r"reach$", line)], logs
    assert "Traceback" not in logs and "SIGKILL" not in logs, logs
    # The job's remaining time, far from docker's SIGKILL at STOP_TIMEOUT.
    assert elapsed < JOB_SECONDS + 6, elapsed


# ------------------------------------------------ what shows a setting holds

def root_is_read_only(ctr):
    touch = ctr.exec("touch", "/usr/local/bin/written")
    assert touch.returncode != 0 and "Read-only file system" in touch.stderr, touch


def pid1_runs_as_nobody(ctr):
    status = pid1_file(ctr, "status")
    assert re.search(r"^Uid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status
    assert re.search(r"^Gid:\s+65534\s+65534\s+65534\s+65534$", status, re.M), status


def pid1_has_no_capabilities(ctr):
    status = pid1_file(ctr, "status")
    for field in ("CapPrm", "CapEff", "CapBnd"):
        assert re.search(r"^%s:\s+0+$" % field, status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status


def fd_limit_reached(ctr):
    assert re.search(r"^Max open files\s+24\s+24\s", pid1_file(ctr, "limits"), re.M)
    opened = event_numbers(ctr, r"fds refused EMFILE after (\d+) opens")
    assert opened and opened[0] < 24, ctr.events()


def pids_limit_reached(ctr):
    forked = ctr.wait_for(lambda: event_numbers(ctr, r"fork refused EAGAIN after (\d+)"),
                          what="the application's refused fork")
    assert forked[0] >= 1, ctr.events()
    # Every pid is taken when docker stop comes: tini-py must do all of
    # its work -- forward, reap, drain -- without a new process.
    assert pids_cgroup(ctr) == (PIDS_LIMIT, PIDS_LIMIT)


def pids_cgroup(ctr):
    """(pids.current, pids.max) of the container's cgroup, read on the host."""
    pid = ctr.inspect()["State"]["Pid"]
    for line in Path("/proc/%d/cgroup" % pid).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):  # cgroup v1
            base = Path("/sys/fs/cgroup/pids") / path.lstrip("/")
            break
    else:
        base = Path("/sys/fs/cgroup") / path.lstrip("/")  # v2: the "0::" line
    return (int((base / "pids.current").read_text()),
            int((base / "pids.max").read_text()))


PID1_SETTINGS = [
    pytest.param(["--read-only"], [], root_is_read_only, id="read-only"),
    pytest.param(["--user", "65534:65534"], [], pid1_runs_as_nobody, id="user-65534"),
    pytest.param(["--cap-drop", "ALL", "--security-opt", "no-new-privileges"], [],
                 pid1_has_no_capabilities, id="cap-drop-ALL-no-new-privileges"),
    pytest.param(["--ulimit", "nofile=24"], ["--exhaust-fds"], fd_limit_reached,
                 id="ulimit-nofile-24"),
    pytest.param(["--pids-limit", str(PIDS_LIMIT)], ["--exhaust-pids"], pids_limit_reached,
                 id="pids-limit-the-application-cannot-fork"),
]


@pytest.mark.parametrize("options, app_args, setting_holds", PID1_SETTINGS)
def test_graceful_stop_as_pid1(tini_image, containers, request, options, app_args,
                               setting_holds):
    ctr = run_app(containers, tini_image, [*TINI_PY, "--", *APP, *app_args], options)
    ctr.wait_for_event("start 1")
    setting_holds(ctr)
    elapsed, code = stop_and_record(ctr, request.node.callspec.id)
    assert_drained(ctr, elapsed, code)
    assert witness_saw(ctr) == ["alone"], witness_saw(ctr)


def test_control_an_init_that_does_not_drain_leaves_the_orphan(tini_image, containers):
    """docker's --init alone (its tini is PID 1, the application its child):
    the stop's TERM cuts the job, tini exits with the application, and the
    kernel SIGKILLs the orphan with the namespace -- the witness' last look
    lists it, and the orphan got no signal it could see."""
    ctr = run_app(containers, tini_image, APP, ["--init"])
    ctr.wait_for_event("start 1")
    orphan, _ = orphan_of(ctr)
    elapsed, code = stop_and_record(ctr, "control: docker --init alone")
    events, seen = ctr.events(), witness_saw(ctr)
    assert code == 128 + signal.SIGTERM, ctr.logs()
    assert "term 1" in events, events
    assert elapsed < 5, elapsed  # cut at once, not drained
    assert not any(e.startswith("orphan got") for e in events), events
    assert any(row.split()[0] == str(orphan) for row in seen), seen


# ------------------------------------------------- tini-py's own spawn fails

@pytest.mark.parametrize("limit, status", [(1, 125), (2, EXIT_STATUS)],
                         ids=["pids-limit-1-tini-py-cannot-fork", "control-pids-limit-2"])
def test_pids_limit_that_fails_tini_pys_own_spawn(tini_image, containers, limit, status):
    """pids.max 1: the container's one process is tini-py (GNU env and the
    interpreter replaced each other by exec), so its posix_spawn of the
    command is refused (EAGAIN).  One line says so, and the status is 125."""
    ctr = containers(tini_image, "--", "sh", "-c", "exit %d" % EXIT_STATUS,
                     entrypoint="tini-py", env=NO_ENV, options=["--pids-limit", str(limit)])
    code = ctr.wait(timeout=30)
    logs = ctr.engine("logs", ctr.id)
    record("hostile pids-limit %d" % limit, exit=code, seconds=round(lifetime(ctr), 2),
           stderr=logs.stderr)
    assert code == status, logs.stderr
    assert logs.stdout == "", logs.stdout
    lines = logs.stderr.splitlines()
    if status == 125:
        assert len(lines) == 1 and lines[0].startswith("tini-py: ") and "'sh'" in lines[0], \
            logs.stderr
    else:
        assert lines == [], logs.stderr


def lifetime(ctr):
    """Seconds from the container's start to its exit, by docker's clock."""
    state = ctr.inspect()["State"]
    return docker_time(state["FinishedAt"]) - docker_time(state["StartedAt"])


def docker_time(text):
    """RFC 3339 with nanoseconds, e.g. 2026-12-04T15:29:46.822328744Z."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + fraction)


# ------------------------------------------------------- tini-py not PID 1

def test_behind_docker_init(tini_image, containers):
    """docker run --init: docker-init (tini) is PID 1 and tini-py its child.
    tini forwards docker's TERM to tini-py alone; tini-py, a child
    subreaper, adopted the orphan and drains it; its status is tini's."""
    ctr = run_app(containers, tini_image, [*TINI_PY, "--", *APP], ["--init"], witness=False)
    ctr.wait_for_event("start 1")
    assert pid1_file(ctr, "cmdline").split("\0")[0] == "/sbin/docker-init"
    _, tini_py = worker_of(ctr)
    orphan, adopter = orphan_of(ctr)
    assert tini_py != 1 and adopter == tini_py, (tini_py, adopter)
    assert "/usr/local/bin/tini-py" in ctr.exec("cat", "/proc/%d/cmdline" % tini_py).stdout
    elapsed, code = stop_and_record(ctr, "docker --init", witness=False)
    assert_drained(ctr, elapsed, code)


def test_host_pid_namespace_leaves_host_processes_alone(tini_image, containers, tmp_path):
    """--pid host: tini-py is not PID 1 and its /proc shows the host's
    processes.  A process of the host, which the container could signal,
    is neither signalled nor stopped by tini-py's stop and drain."""
    log, ready = tmp_path / "host-signals", tmp_path / "host-ready"
    host = subprocess.Popen(recorder(log, ready), start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wait_for(ready.exists, what="the host's recorder")
        ctr = run_app(containers, tini_image, [*TINI_PY, "--", *APP], ["--pid", "host"],
                      witness=False)
        ctr.wait_for_event("start 1")
        tini_py = ctr.inspect()["State"]["Pid"]
        assert orphan_of(ctr)[1] == tini_py  # host pids: the container shares them
        # Control: the container sees the host's process and may signal it.
        assert ctr.exec("kill", "-USR1", str(host.pid)).returncode == 0
        wait_for(lambda: read_signals(log) == [signal.SIGUSR1], what="the control's USR1")
        elapsed, code = stop_and_record(ctr, "--pid host", witness=False)
        time.sleep(0.5)  # a signal sent by the drain has been handled by now
        received, state = read_signals(log), proc_state(host.pid)
        assert_drained(ctr, elapsed, code)
        assert received == [signal.SIGUSR1], received
        assert host.poll() is None and state in ("S", "R"), state
    finally:
        kill_quietly(host.pid)
        host.wait(10)


# ------------------------------------------------------------ the OOM killer

def test_oom_killed_child(tini_image, containers):
    """--memory 48m without swap: the application allocates until the OOM
    killer SIGKILLs it (the largest process of the cgroup).  tini-py
    survives, says how its child died, drains the orphan and exits 137."""
    limits = ["--memory", "48m", "--memory-swap", "48m"]
    ctr = run_app(containers, tini_image, [*TINI_PY, "--", *APP, "--allocate"], limits)
    code = ctr.wait(timeout=60)
    logs, events = ctr.logs(), ctr.events()
    allocated = max([int(n) for n in re.findall(r"allocated (\d+) MB", "\n".join(events))],
                    default=0)
    record("hostile OOM", exit=code, seconds=round(lifetime(ctr), 2), allocated_mb=allocated,
           tini_py=said(ctr, ""))
    assert ctr.inspect()["State"]["OOMKilled"], logs
    assert 8 <= allocated < 48, events  # the limit, not our 60 s, ended the allocation
    assert code == 137, logs
    # The status came from tini-py, alive after its child's death: it said
    # so, drained the orphan, and stayed until the witness was alone.
    application = event_numbers(ctr, r"application pid=(\d+)")[0]
    # At the default verbosity (-v not needed): the OOM killer named, from
    # the container's memory cgroup (v1 here), with the limit in force.
    assert ("tini-py: main child %d was killed by SIGKILL: the kernel's OOM killer ended it "
            "(memory limit 48 MiB)" % application) in said(ctr, "main child %d " % application), logs
    assert "orphan got SIGQUIT" in events, (events, logs)
    assert witness_saw(ctr) == ["alone"], (witness_saw(ctr), logs)
