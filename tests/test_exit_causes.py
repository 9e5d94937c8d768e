"""Why the main child died: one line when tini-py did not end it, none when
it did; the OOM killer named from the memory cgroup's count (v1 and v2).

The cgroup readers are checked on file trees laid out as the kernel lays
them out; a real OOM kill is in tests/docker/test_hostile_settings.py.
"""
import re
import signal

import pytest

from conftest import MODES, run_tini
from tini_py.exitcause import ExitCause, memory_cgroup, memory_limit, oom_kills

MiB = 1 << 20


def cgroup_tree(root, proc_cgroup, files):
    """root/proc/self/cgroup and root/sys/fs/cgroup/... as given."""
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "cgroup").write_text(proc_cgroup)
    for path, text in files.items():
        target = root / "sys" / "fs" / "cgroup" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return str(root) + "/"


V1_HOST = "4:memory:/user.slice/app\n3:cpu:/\n0::/\n"
V2_EVENTS = "low 0\nhigh 0\nmax 12\noom 2\noom_kill %d\noom_group_kill 0\n"
V1_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill %d\n"


def test_v2_cgroup_named_in_proc(tmp_path):
    root = cgroup_tree(tmp_path, "0::/system.slice/app\n", {
        "system.slice/app/memory.events": V2_EVENTS % 3,
        "system.slice/app/memory.max": "%d\n" % (64 * MiB)})
    cgroup = memory_cgroup(root)
    assert (oom_kills(cgroup), memory_limit(cgroup)) == (3, 64 * MiB)


def test_v2_container_with_its_cgroup_at_the_mount_point(tmp_path):
    """A cgroup namespace shows "0::/" ... or a path its mount does not have."""
    root = cgroup_tree(tmp_path, "0::/../outer/ctr\n", {
        "memory.events": V2_EVENTS % 1, "memory.max": "max\n"})
    cgroup = memory_cgroup(root)
    assert (oom_kills(cgroup), memory_limit(cgroup)) == (1, None)


def test_v1_cgroup_named_in_proc(tmp_path):
    root = cgroup_tree(tmp_path, V1_HOST, {
        "memory/user.slice/app/memory.oom_control": V1_CONTROL % 5,
        "memory/user.slice/app/memory.limit_in_bytes": "%d\n" % (48 * MiB)})
    cgroup = memory_cgroup(root)
    assert (oom_kills(cgroup), memory_limit(cgroup)) == (5, 48 * MiB)


def test_v1_docker_mounts_the_containers_cgroup_at_the_mount_point(tmp_path):
    root = cgroup_tree(tmp_path, "4:memory:/docker/0123abcd\n", {
        "memory/memory.oom_control": V1_CONTROL % 0,
        "memory/memory.limit_in_bytes": "9223372036854771712\n"})  # v1's "no limit"
    cgroup = memory_cgroup(root)
    assert (oom_kills(cgroup), memory_limit(cgroup)) == (0, None)


@pytest.mark.parametrize("proc_cgroup,files", [
    (None, {}),                                   # no /proc/self/cgroup at all
    ("3:cpu:/\n", {}),                            # no memory controller
    ("0::/\n", {"memory.events": "low 0\n"}),     # a kernel without oom_kill (< 4.13)
], ids=["no proc", "no memory controller", "no oom_kill field"])
def test_nothing_to_read_claims_nothing(tmp_path, proc_cgroup, files):
    if proc_cgroup is None:
        root = str(tmp_path) + "/"
    else:
        root = cgroup_tree(tmp_path, proc_cgroup, files)
    cause = ExitCause(root)
    assert oom_kills(cause.cgroup) is None
    assert cause.explain(7, signal.SIGKILL, None, False) == "main child 7 was killed by SIGKILL"


def test_oom_count_that_rose_while_the_child_ran_names_the_oom_killer(tmp_path):
    root = cgroup_tree(tmp_path, V1_HOST, {
        "memory/user.slice/app/memory.oom_control": V1_CONTROL % 2,
        "memory/user.slice/app/memory.limit_in_bytes": "%d\n" % (48 * MiB)})
    cause = ExitCause(root)
    assert cause.explain(7, signal.SIGKILL, None, False) == "main child 7 was killed by SIGKILL"
    (tmp_path / "sys/fs/cgroup/memory/user.slice/app/memory.oom_control").write_text(
        V1_CONTROL % 3)
    assert cause.explain(7, signal.SIGKILL, None, False) == (
        "main child 7 was killed by SIGKILL: the kernel's OOM killer ended it "
        "(memory limit 48 MiB)")
    # Another signal is not the OOM killer's, whatever the count says.
    assert cause.explain(7, signal.SIGSEGV, None, False) == "main child 7 was killed by SIGSEGV"


def test_what_tini_py_itself_sent_is_not_explained(tmp_path):
    cause = ExitCause(str(tmp_path) + "/")
    assert cause.explain(7, signal.SIGQUIT, signal.SIGQUIT, False) is None  # the stop
    assert cause.explain(7, signal.SIGKILL, signal.SIGTERM, True) is None  # the -t SIGKILL


# ------------------------------------------------------- as tini-py says it

KILLED = re.compile(r"tini-py: main child \d+ was killed by (SIG\w+)\n")


@pytest.mark.parametrize("mode", MODES)
def test_a_death_tini_py_did_not_cause_is_said_in_one_line(mode):
    result = run_tini(["--", "sh", "-c", "kill -SEGV $$"], mode=mode)
    assert result.returncode == 139
    assert KILLED.fullmatch(result.stderr) and KILLED.match(result.stderr).group(1) == "SIGSEGV"


@pytest.mark.parametrize("mode", MODES)
def test_at_v_the_death_is_still_said_once(mode):
    result = run_tini(["-v", "--", "sh", "-c", "kill -SEGV $$"], mode=mode)
    assert result.returncode == 139
    assert [line for line in result.stderr.splitlines() if "main child" in line] == [
        "tini-py: main child %s was killed by SIGSEGV" % result.stderr.split(" as pid ")[1].split()[0]
    ], result.stderr


@pytest.mark.parametrize("args", [
    ["--", "sh", "-c", "kill -TERM $PPID; sleep 5"],               # the stop, forwarded
    ["-g", "QUIT", "--", "sh", "-c", "kill -TERM $PPID; sleep 5"],  # the stop, rewritten
    ["-e", "143", "--", "sh", "-c", "kill -TERM $$"],             # -e: a normal end
], ids=["TERM forwarded", "TERM forwarded as QUIT", "status listed in -e"])
@pytest.mark.parametrize("mode", MODES)
def test_no_line_for_a_death_tini_py_caused_or_was_told_is_normal(mode, args):
    result = run_tini(args, mode=mode)
    assert result.returncode in (0, 131, 143)
    assert result.stderr == ""


@pytest.mark.parametrize("mode", MODES)
def test_the_grace_sigkill_is_said_once(mode):
    result = run_tini(["-t", "0.3", "--", "sh", "-c", "trap '' TERM; kill -TERM $PPID; sleep 5"],
                      mode=mode)
    assert result.returncode == 137
    assert result.stderr == ("tini-py: grace period of 0.3s is over; "
                             "sending SIGKILL to every process\n")
