"""The image Dockerfile.example builds, started by a real Docker engine.

ENTRYPOINT ["tini-py", "--"] runs the zipapp's launcher line: GNU env blocks
every signal before python3 starts, and python3 runs isolated (-I -S).  So a
TERM right after the container's process exec'd reaches the command, and
the image's PYTHON* variables, sitecustomize and .pth files stay out of
PID 1 -- while the command gets them, byte for byte.
"""
import os
import subprocess
import time
import uuid

import pytest

from installed import AT_BLOCK, FATAL, ExecEvents, runs_after_the_block, signal_after_exec

from .conftest import LABEL, OTHER_RELEASES
from .servers_util import record

TERM_EXIT = 143
EXIT = 7
SITE_PACKAGES = "/usr/lib/python3/dist-packages"  # the base image's python3 (Debian)
SITECUSTOMIZE = """\
import os, threading, time
open("/out/sitecustomize.%d" % os.getpid(), "w").close()
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
"""
PTH = ("import os, threading, time; open('/out/pth.%d' % os.getpid(), 'w').close(); "
       "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n")


def docker_cli(engine, *args):
    env = dict(os.environ, DOCKER_HOST=engine.host, DOCKER_BUILDKIT="0")
    return subprocess.Popen(["docker", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def term_after_exec_in_a_container(engine, image, delay_ms):
    """docker run IMAGE sleep 30.<token> (an InstalledImage); TERM from the
    host delay_ms after the container's process exec'd (or at AT_BLOCK).
    Returns (exit code or None if it kept running, ms exec -> TERM, ms exec
    -> the launcher's exec of python3)."""
    name = "tini-py-early-%s" % uuid.uuid4().hex[:12]
    token = "30.%d" % (uuid.uuid4().int % 10 ** 9)
    wanted, command = token.encode(), image.command.encode()

    def container_process(pid, words):
        return wanted in words and command in words

    try:
        with ExecEvents() as events:
            cli = docker_cli(engine, "run", "-d", "--name", name, "--network", "none",
                             "--label", LABEL, image.tag, "sleep", token)
            _, _, sent_ms, blocked_ms = signal_after_exec(events, container_process, delay_ms)
        cli.communicate(timeout=60)
        deadline = time.monotonic() + 5
        code = None
        while time.monotonic() < deadline:
            state = engine("inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name,
                           check=False).stdout.split()
            if state and state[0] == "false":
                code = int(state[1])
                break
            time.sleep(0.1)
    finally:
        engine("rm", "-f", name, check=False)
    return code, sent_ms, blocked_ms


@pytest.mark.parametrize("installed_image, delay_ms", [
    *[pytest.param("bookworm-zipapp", delay, id=str(delay)) for delay in (AT_BLOCK, 5, 20)],
    *[pytest.param(image, AT_BLOCK, id="%s-%s" % (image, AT_BLOCK)) for image in OTHER_RELEASES],
], indirect=["installed_image"])
def test_term_right_after_the_containers_exec_is_not_lost(docker_engine, installed_image,
                                                          delay_ms):
    """As in tests/test_launch.py: every TERM that comes after the launcher
    blocked the signals reaches the command (`sleep` dies: exit 143)."""
    # Up to 40 starts to find 5 whose TERM came after the launcher blocked.
    counted, early = runs_after_the_block(
        lambda: term_after_exec_in_a_container(docker_engine, installed_image, delay_ms),
        delay_ms, 5, 40)
    record("TERM after exec", image=installed_image.tag, delay_ms=delay_ms, counted=counted,
           early=early)
    assert len(counted) == 5, "too few runs after the launcher blocked: %r" % early
    lost = [run for run in counted if run[0] != TERM_EXIT]
    assert not lost, ("TERM %s ms after the container's exec: %d of 5 lost "
                      "(exit code, ms after exec, launcher done after ms): %r"
                      % (delay_ms, len(lost), counted))


# ------------------------------------------------------------ isolation

@pytest.fixture
def application(tmp_path):
    """Mount options: a PYTHONPATH with a sitecustomize and a broken ctypes,
    and a .pth file in the image interpreter's site-packages."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (app / "ctypes.py").write_text("raise ImportError('the application shadows ctypes')\n")
    pth = tmp_path / "zz_application.pth"
    pth.write_text(PTH)
    return ["-v", "%s:/app:ro" % app, "-v", "%s:%s/zz_application.pth:ro" % (pth, SITE_PACKAGES)]


@pytest.mark.parametrize("name", sorted(FATAL))
def test_python_variable_that_kills_the_interpreter(tini_image, containers, name):
    env = {name: FATAL[name]}
    plain = containers(tini_image, "-c", "pass", entrypoint="python3", env=env)
    assert plain.wait() != 0 and "Fatal Python error" in plain.logs()  # the case is real
    ctr = containers(tini_image, "sh", "-c", "exit %d" % EXIT, env=env)
    assert ctr.wait() == EXIT
    assert ctr.logs() == ""


def test_sitecustomize_pth_and_ctypes_stay_out_of_pid1(tini_image, containers, application):
    env = {"PYTHONPATH": "/app"}
    # -p KILL: tini-py loads ctypes (prctl) even as PID 1.
    ctr = containers(tini_image, "-p", "KILL", "--", "sleep", "60", env=env, entrypoint="tini-py",
                     options=application)
    ctr.wait_for(lambda: "sleep" in " ".join(row[3] for row in ctr.processes()),
                 what="the command")
    status = ctr.exec("cat", "/proc/1/status", check=True).stdout
    assert "Threads:\t1\n" in status, status
    assert sorted(os.listdir(ctr.out)) == [], "the application's site hooks ran in PID 1"
    elapsed, code = ctr.stop(20)
    assert code == TERM_EXIT and elapsed < 15, ctr.logs()
    # The command still gets them all: a python3 command runs both.
    ctr = containers(tini_image, "python3", "-c", "import ctypes", env=env, options=application)
    assert ctr.wait() == 1 and "the application shadows ctypes" in ctr.logs()
    assert sorted(name.split(".")[0] for name in os.listdir(ctr.out)) == ["pth", "sitecustomize"]


def test_command_environment_and_mask_are_the_containers(tini_image, containers):
    env = {"ODD": "a=b==c", "EMPTY": "", "PYTHONHOME": "/nonexistent"}
    ctr = containers(tini_image, "sh", "-c",
                     "cat /proc/1/environ > /out/pid1; cat /proc/$$/environ > /out/child; "
                     "grep -E '^Sig(Blk|Ign)' /proc/self/status > /out/masks", env=env)
    assert ctr.wait() == 0, ctr.logs()
    pid1, child = (ctr.out / "pid1").read_bytes(), (ctr.out / "child").read_bytes()
    assert child == pid1, "the command's environment differs from PID 1's: %r %r" % (child, pid1)
    assert b"ODD=a=b==c\0" in child and b"PYTHONHOME=/nonexistent\0" in child
    masks = dict(line.split(":") for line in (ctr.out / "masks").read_text().splitlines())
    assert int(masks["SigBlk"], 16) == 0, masks
    assert int(masks["SigIgn"], 16) & ~((1 << 31) | (1 << 32)) == 0, masks
