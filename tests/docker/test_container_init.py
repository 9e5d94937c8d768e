"""tini-py as PID 1 of real Docker containers: the process tree, reaping,
and the zipapp on an image without pip."""
import re
import time


def cmdline_of_pid1(container):
    return container.exec("cat", "/proc/1/cmdline", check=True).stdout.split("\0")


def test_pid1_is_tini_py_and_demo_cmd_is_its_child(tini_image, containers):
    """The image as Dockerfile.example builds it: ENTRYPOINT tini-py, demo CMD."""
    ctr = containers(tini_image)
    ctr.wait_for_log("job 1 started")
    argv = cmdline_of_pid1(ctr)
    assert any(word.endswith("/tini-py") or word == "tini-py" for word in argv[:2]), argv
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
