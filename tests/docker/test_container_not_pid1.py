"""tini-py inside a container but not its PID 1: started by `docker exec`,
or behind docker's own init (`docker run --init`).

Not PID 1, tini-py makes itself the child subreaper of its command (the
orphans the command leaves are adopted by tini-py, which drains them), and
-p asks the kernel for a signal when tini-py's parent dies.  Both are
prctl(2) calls through ctypes: on an image whose only Python is Debian's
python3-minimal there is no ctypes, and tini-py says so in one warning line
each and carries on -- the orphans go to the container's PID 1, the
parent's death goes unnoticed.  Run on every Debian release and form of
tests/docker/conftest.py's installed images, and on python3-minimal.
"""
import time

import pytest

from .conftest import INSTALLED_IMAGES
from .servers_util import record

IMAGES = INSTALLED_IMAGES + ["bookworm-python3-minimal"]
LEAVES_AN_ORPHAN = ["sh", "/t/leaves_an_orphan.sh", "exit 3", "report"]
SUBREAPER_WARNING = "tini-py: cannot become a child subreaper: this Python has no ctypes module"
PDEATHSIG_WARNING = ("tini-py: cannot set the parent-death signal (-p): "
                     "this Python has no ctypes module")


def warnings_expected(image, *warnings):
    """The warning lines image's tini-py prints: none where ctypes is."""
    return list(warnings) if not image.has_ctypes else []


def assert_warnings(stderr, expected):
    lines = stderr.splitlines()
    assert "Traceback" not in stderr, stderr
    assert len(lines) == len(expected), stderr
    for line, start in zip(lines, expected):
        assert line.startswith(start) and "python3-minimal" in line, stderr


def a_running_container(containers, image):
    """image's tini-py as PID 1 with `sleep 600` as its command."""
    ctr = containers(image.tag, "--", "sleep", "600", entrypoint="tini-py")
    ctr.wait_for(lambda: any(args == "sleep 600" for _, _, _, args in ctr.processes()),
                 what="sleep 600")
    return ctr


def read_pid(ctr, name):
    return int((ctr.out / name).read_text())


def parent_of(ctr, pid):
    result = ctr.exec("ps", "-o", "ppid=", "-p", str(pid))
    return int(result.stdout) if result.returncode == 0 else None


def check_orphan_adoption(image, ctr, status, stderr, how):
    """The command left an orphan and exited 3: with ctypes tini-py adopted
    it and drained it (the orphan, on TERM, wrote tini-py's pid as its
    parent); without, PID 1 adopted it and tini-py left it alone."""
    tini_py, orphan = read_pid(ctr, "init"), read_pid(ctr, "orphan")
    reaper = (ctr.out / "reaper").read_text().strip() if (ctr.out / "reaper").exists() else None
    record("not PID 1: orphan", image=image.tag, how=how, exit=status, tini_py=tini_py,
           reaper=reaper, stderr=stderr)
    assert status == 3, stderr
    assert_warnings(stderr, warnings_expected(image, SUBREAPER_WARNING))
    assert tini_py != 1
    if image.has_ctypes:
        assert reaper == str(tini_py), (reaper, tini_py)
        return None
    assert reaper is None
    return orphan


@pytest.mark.parametrize("installed_image", IMAGES, indirect=True)
def test_docker_exec_tini_py_adopts_and_drains_the_orphans_of_its_command(
        installed_image, containers):
    ctr = a_running_container(containers, installed_image)
    result = ctr.exec("tini-py", "--", *LEAVES_AN_ORPHAN, timeout=60)
    orphan = check_orphan_adoption(installed_image, ctr, result.returncode, result.stderr,
                                   "docker exec")
    if orphan is not None:
        assert parent_of(ctr, orphan) == 1


@pytest.mark.parametrize("installed_image", IMAGES[1:], indirect=True)
def test_behind_docker_init_tini_py_adopts_and_drains_the_orphans_of_its_command(
        installed_image, containers):
    """docker run --init: docker-init (tini) is PID 1, tini-py its child.
    Bookworm's zipapp: test_hostile_settings.py::test_behind_docker_init."""
    ctr = containers(installed_image.tag, "--", *LEAVES_AN_ORPHAN, entrypoint="tini-py",
                     options=["--init"])
    status = ctr.wait()
    check_orphan_adoption(installed_image, ctr, status, ctr.streams()[1], "docker run --init")


def start_under_a_parent(ctr, args):
    """docker exec -d: sh starts `tini-py ARGS -- sleep 300` in the
    background and waits; returns (sh's pid, tini-py's pid) once tini-py's
    command runs."""
    script = ("tini-py %s -- sleep 300 2> /out/stderr & echo $! > /out/tini-py; "
              "echo $$ > /out/parent; wait" % " ".join(args))
    ctr.engine("exec", "-d", ctr.id, "sh", "-c", script)
    ctr.wait_for(lambda: (ctr.out / "parent").exists() and (ctr.out / "tini-py").exists(),
                 what="tini-py under sh")
    parent, tini_py = read_pid(ctr, "parent"), read_pid(ctr, "tini-py")
    ctr.wait_for(lambda: any(ppid == tini_py for _, ppid, _, _ in ctr.processes()),
                 what="tini-py's command")
    return parent, tini_py


@pytest.mark.parametrize("installed_image", IMAGES, indirect=True)
@pytest.mark.parametrize("pdeathsig", [True, False], ids=["p-TERM", "control-without-p"])
def test_p_stops_tini_py_when_its_parent_dies(installed_image, containers, pdeathsig):
    """-p TERM: when the sh that started tini-py is SIGKILLed, the kernel
    sends tini-py TERM, which it forwards: tini-py and its command end.
    Without -p (and without ctypes) tini-py runs on, re-parented to PID 1."""
    ctr = a_running_container(containers, installed_image)
    parent, tini_py = start_under_a_parent(ctr, ["-p", "TERM"] if pdeathsig else [])
    ctr.exec("kill", "-KILL", str(parent), check=True)
    killed = time.monotonic()
    stops = pdeathsig and installed_image.has_ctypes
    deadline = killed + (10 if stops else 1)
    while parent_of(ctr, tini_py) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = parent_of(ctr, tini_py)
    stderr = (ctr.out / "stderr").read_text()
    record("not PID 1: -p", image=installed_image.tag, pdeathsig=pdeathsig,
           tini_py_alive=bool(alive), seconds=round(time.monotonic() - killed, 2),
           stderr=stderr)
    expected = [SUBREAPER_WARNING] + [PDEATHSIG_WARNING] * pdeathsig
    assert_warnings(stderr, warnings_expected(installed_image, *expected))
    if stops:
        assert alive is None, "tini-py still running 10s after its parent died"
    else:
        assert alive == 1, alive  # re-parented to PID 1, and still there
