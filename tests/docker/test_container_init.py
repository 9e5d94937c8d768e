"""tini-py as PID 1 of real Docker containers: the process tree, reaping,
draining what the command left behind, exit statuses, and the zipapp on an
image without pip."""
import re
import time
from datetime import datetime

import pytest

from .conftest import INSTALLED_IMAGES
from .servers_util import record, said


def cmdline_of_pid1(container):
    return container.exec("cat", "/proc/1/cmdline", check=True).stdout.split("\0")


def test_pid1_is_tini_py_and_demo_cmd_is_its_child(tini_image, containers):
    """The image as Dockerfile.example builds it: ENTRYPOINT tini-py, demo CMD."""
    ctr = containers(tini_image)
    ctr.wait_for_log("job 1 started")
    argv = cmdline_of_pid1(ctr)
    # The launcher line: python3 -IS -c BOOT /usr/local/bin/tini-py -- CMD...
    assert argv[0] == "python3" and "/usr/local/bin/tini-py" in argv[:6], argv
    host = ctr.host()
    pid1 = host.process.get(pid=1)
    children = [p for p in host.process.filter(ppid=1) if "import signal" in p.args]
    assert len(children) == 1, [(p.pid, p.args) for p in host.process.filter(ppid=1)]
    demo = children[0]
    assert demo.comm.startswith("python3")
    # The child leads its own process group, so forwarded signals reach its group.
    assert demo.pgid == demo.pid != pid1.pgid
    # Plain TERM reaches the demo as TERM: it stops at once (exit 143).
    elapsed, code = ctr.stop(20)
    assert code == 143, ctr.logs()
    assert elapsed < 15, elapsed


def test_demo_cmd_drains_with_graceful_quit_from_env(tini_image, containers):
    ctr = containers(tini_image, env={"TINI_PY_GRACEFUL": "QUIT"})
    ctr.wait_for_log("job 1 started")
    elapsed, code = ctr.stop(20)
    logs = ctr.logs()
    assert code == 0, logs
    assert "drained, exiting" in logs
    assert elapsed < 15, elapsed


def test_orphan_storm_leaves_no_zombie(tini_image, containers):
    """300 double-forked orphans re-parent to PID 1 and exit there: tini-py
    must reap every one, while the main child keeps running."""
    count = 300
    ctr = containers(tini_image, "python3", "-u", "/t/storm.py", str(count), "4")
    ctr.wait_for_log("storm done", timeout=60)
    main_pid = int(re.search(r"storm done: \d+ orphans, pid (\d+)", ctr.logs()).group(1))

    def orphans_and_zombies():
        rows = ctr.processes()
        main = [r for r in rows if r[0] == main_pid and r[1] == 1]
        # Everything else PID 1 adopted: lingering orphans and their zombies
        # (docker exec'd processes, like this ps, have parent 0).
        orphans = [r for r in rows if r[1] == 1 and r[0] != main_pid]
        zombies = [r for r in rows if r[2].startswith("Z")]
        return main, orphans, zombies

    main, orphans, zombies = orphans_and_zombies()
    assert len(main) == 1, main
    # The storm really happened: the orphans (lingering 4 s) hang off PID 1.
    assert len(orphans) > count // 2, "only %d orphans re-parented to PID 1" % len(orphans)
    deadline = time.monotonic() + 30
    while True:
        main, orphans, zombies = orphans_and_zombies()
        if not orphans and not zombies:
            break
        assert time.monotonic() < deadline, (
            "after 30s: %d orphans, %d zombies left: %s"
            % (len(orphans), len(zombies), zombies[:5]))
        time.sleep(0.3)
    assert len(main) == 1 and ctr.running
    # And the testinfra view agrees: no zombie anywhere in the container.
    # Left: tini-py and the storm's main process (besides testinfra's sh + ps).
    processes = [p for p in ctr.host().process.filter() if p.comm not in ("sh", "ps")]
    assert sorted(p.pid for p in processes) == [1, main_pid], processes
    assert [p for p in processes if p.stat.startswith("Z")] == []
    ctr.stop(20)


def test_zipapp_runs_on_base_image_without_pip(docker_engine, base_image, zipapp):
    mount = ["-v", "%s:/x:ro" % zipapp.parent]
    base = ["run", "--rm", "--network", "none", *mount, base_image]
    no_pip = docker_engine(*base, "python3", "-m", "pip", "--version", check=False)
    assert no_pip.returncode != 0 and "No module named pip" in no_pip.stderr
    ok = docker_engine(*base, "python3", "/x/tini-py.pyz", "--", "true", check=False)
    assert ok.returncode == 0, ok.stderr
    code = docker_engine(*base, "python3", "/x/tini-py.pyz", "--", "sh", "-c", "exit 7",
                         check=False)
    assert code.returncode == 7, code.stderr
    # Run directly through its shebang, as PID 1, reporting its own process tree.
    tree = docker_engine(*base, "/x/tini-py.pyz", "--", "sh", "-c",
                         "tr '\\0' ' ' < /proc/1/cmdline; echo; echo ppid=$PPID",
                         check=False)
    assert tree.returncode == 0, tree.stderr
    first, second = tree.stdout.splitlines()[:2]
    assert "/x/tini-py.pyz" in first
    assert second == "ppid=1"
    missing = docker_engine(*base, "python3", "/x/tini-py.pyz", "--", "no-such-command",
                            check=False)
    assert missing.returncode == 127
    assert "tini-py: " in missing.stderr and "Traceback" not in missing.stderr


def engine_seconds(timestamp):
    """Docker's RFC 3339 time (nanoseconds, trailing zeros cut) as seconds."""
    whole, _, fraction = timestamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).timestamp() + float("0." + (fraction or "0"))


def seconds_run(ctr):
    """From the container's start to its exit, by the engine's clock."""
    state = ctr.inspect()["State"]
    return engine_seconds(state["FinishedAt"]) - engine_seconds(state["StartedAt"])


@pytest.mark.parametrize("installed_image", INSTALLED_IMAGES, indirect=True)
@pytest.mark.parametrize("ending, orphan, status, drained", [
    pytest.param("exit 3", "plain", 3, True, id="exit-3"),
    pytest.param("kill -KILL $$", "plain", 137, True, id="killed-by-KILL-137"),
    pytest.param("exit 3", "ignore", 3, False, id="control-orphan-ignores-TERM"),
])
def test_exit_status_passes_through_and_the_orphan_is_drained(installed_image, containers,
                                                              ending, orphan, status, drained):
    """The main child leaves an orphan (tests/docker/leaves_an_orphan.sh)
    and ends.  tini-py sends what is left TERM, waits until nothing is,
    and exits with the main child's status: the container is gone within a
    second, far before --orphan-grace 3 would SIGKILL.  The control: an
    orphan that ignores TERM lasts until that SIGKILL."""
    ctr = containers(installed_image.tag, "-v", "--orphan-grace", "3", "--",
                     "sh", "/t/leaves_an_orphan.sh", ending, orphan, entrypoint="tini-py")
    code = ctr.wait()
    seconds = seconds_run(ctr)
    record("leftovers", image=installed_image.tag, ending=ending, orphan=orphan, exit=code,
           seconds=round(seconds, 2))
    assert code == status, ctr.logs()
    assert said(ctr, "main child is gone; sent SIGTERM to 1 process left"), ctr.logs()
    if drained:
        assert not said(ctr, "sending SIGKILL"), ctr.logs()
        assert seconds < 1.5, seconds
    else:
        assert said(ctr, "after the main child exited; sending SIGKILL"), ctr.logs()
        assert 3 <= seconds < 5, seconds
