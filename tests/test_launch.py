"""The installed forms of tini-py, as an image starts them.

The installed command and the zipapp begin with the launcher line
`#!/usr/bin/env -S --block-signal python3 ...`: env blocks every signal
before the interpreter starts.  Kernel rule: PID 1 of a namespace gets no
default action for a signal it has no handler for -- such a signal is
dropped -- while a blocked one stays pending across execve until tini-py
collects it.  So a TERM sent right after the exec (a pod deleted as it
starts) must reach the command.

The command must still start as its caller started tini-py: with no signal
blocked (not the launcher's everything-blocked mask), and with tini-py's
environment byte for byte (under each locale: test_startup_fast_paths.py).
"""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ISOLATED_BOOT, REPO, UNSHARE, _clean_signals, descendants, kill_quietly, wait_for
from tini_py.launch import GENERIC, installed_command_line
from installed import (AT_BLOCK, ExecEvents, Installed, copied_command, form_env, parent_of,
                       run_to_exit_3, runs_after_the_block, signal_after_exec)

REPO_TINI_M = ["-m", "tini_py"]
TERM_EXIT = 128 + signal.SIGTERM
REPEAT = 5


def start(argv, env, mask=(), **kwargs):
    """Start argv as the test's child: nothing ignored, ``mask`` blocked."""
    def preexec():
        _clean_signals()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=preexec, start_new_session=True,
                            **kwargs)


def finish(proc, timeout):
    """Exit status, or None (everything it started is then killed)."""
    try:
        proc.communicate(timeout=timeout)
        return proc.returncode
    except subprocess.TimeoutExpired:
        for pid in descendants(proc.pid):
            kill_quietly(pid)
        kill_quietly(proc.pid)
        proc.communicate()
        return None


def term_after_exec_as_pid1(form, delay_ms, finish_within=5):
    """One run: `unshare ... FORM -- sleep 30`, TERM delay_ms after FORM's
    exec (or at AT_BLOCK).  Returns (tini-py's exit status, or None if it
    kept running; ms from the exec to the TERM; ms from the exec to the
    launcher's own exec of python3, i.e. until every signal was blocked, or
    None when there was no launcher)."""
    with ExecEvents() as events:
        proc = start(UNSHARE + form.argv + ["--", "sleep", "30"], form_env(form))
        try:
            _, _, sent_ms, blocked_ms = signal_after_exec(
                events, lambda pid, words: parent_of(pid) == proc.pid, delay_ms)
        except BaseException:
            finish(proc, 0)
            raise
    return finish(proc, finish_within), sent_ms, blocked_ms


@pytest.mark.parametrize("delay_ms", [AT_BLOCK, 2, 5, 20])
def test_term_right_after_exec_as_pid1_is_not_lost(installed, delay_ms):
    """Every TERM that comes after the launcher has blocked the signals is
    delivered: at AT_BLOCK (the interpreter is only starting, ~6 ms before
    tini-py's own code runs), and 2, 5 and 20 ms after the exec.  The
    launcher itself (GNU env, C like tini) needs 0.5-1.5 ms from its exec to
    block them, longer on a loaded machine: a TERM that came sooner is not
    counted here (the kernel drops it, as it would for tini) -- bench/run.py
    shows how often that happens at 1 ms, beside tini."""
    counted, early = runs_after_the_block(lambda: term_after_exec_as_pid1(installed, delay_ms),
                                          delay_ms, REPEAT, 4 * REPEAT)
    assert len(counted) == REPEAT, ("only %d of %d runs sent TERM after the launcher had "
                                    "blocked it: %r" % (len(counted), 4 * REPEAT, early))
    lost = [run for run in counted if run[0] != TERM_EXIT]
    assert not lost, ("%s: TERM sent %s ms after exec, as PID 1: %d of %d lost "
                      "(exit status, ms after exec, launcher done after ms): %r"
                      % (installed.name, delay_ms, len(lost), REPEAT, counted))


def test_term_at_block_is_lost_without_the_launchers_block(installed_venv):
    """The control: the same TERM, to a copy of the command whose line has no
    --block-signal, reaches a PID 1 interpreter with no handler yet, and the
    kernel drops it -- tini-py runs on with its command."""
    original = Path(installed_venv.argv[0])
    line, rest = original.read_bytes().split(b"\n", 1)
    assert b" --block-signal " in line
    command = original.with_name("tini-py-without-block")  # beside its package
    command.write_bytes(line.replace(b" --block-signal ", b" ") + b"\n" + rest)
    try:
        command.chmod(0o755)
        form = Installed("without-block", [str(command)], installed_venv.bin)
        runs = [term_after_exec_as_pid1(form, AT_BLOCK, finish_within=2) for _ in range(3)]
    finally:
        command.unlink()
    assert [status for status, _, _ in runs] == [None] * 3, runs


# ------------------------------------------------------------- the command

def masks_of_child(argv, env, mask=()):
    proc = start(argv + ["--", "grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"], env, mask)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.decode().splitlines()}


GLIBC_RESERVED = (1 << 31) | (1 << 32)  # see test_core_reaping.GLIBC_RESERVED


@pytest.mark.parametrize("pid1", [True, False], ids=["pid1", "subreaper"])
def test_child_starts_with_nothing_blocked_after_the_launcher(installed, pid1):
    """The launcher blocked everything; the command must not inherit that."""
    masks = masks_of_child((UNSHARE if pid1 else []) + installed.argv, form_env(installed))
    assert masks["SigBlk"] == 0, "the command starts with %x blocked" % masks["SigBlk"]
    assert masks["SigIgn"] & ~GLIBC_RESERVED == 0, "the command ignores %x" % masks["SigIgn"]


def test_launcher_mask_is_not_the_callers(installed):
    """Even a caller that blocked some signals itself: env replaced its mask
    with everything blocked, so the command starts with none blocked (the
    caller's own mask is lost: README, known limits)."""
    masks = masks_of_child(installed.argv, form_env(installed), mask=[signal.SIGUSR1])
    assert masks["SigBlk"] == 0


def fallback_argv(form):
    return [form.python, "-I", "-S"] + form.argv


@pytest.mark.parametrize("how", ["fallback", "python-m"])
def test_callers_mask_reaches_the_child_without_the_launcher(installed_venv, how):
    """`python3 -I -S tini-py` (no GNU env) and `python -m tini_py` (executes
    itself again isolated) keep the caller's mask for the command."""
    argv = fallback_argv(installed_venv) if how == "fallback" else [installed_venv.python] + REPO_TINI_M
    masks = masks_of_child(argv, form_env(installed_venv), mask=[signal.SIGUSR1, signal.SIGHUP])
    assert masks["SigBlk"] == (1 << signal.SIGUSR1 - 1) | (1 << signal.SIGHUP - 1)


EXECVE_WITH_RAW_ENVIRONMENT = """if 1:
    import ctypes, json, sys
    argv, envp = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    def array(words):
        return (ctypes.c_char_p * (len(words) + 1))(*[w.encode() for w in words], None)
    ctypes.CDLL(None).execve(argv[0].encode(), array(argv), array(envp))
    sys.exit(126)
"""


@pytest.mark.parametrize("lang", [[], ["LANG=C.UTF-8"]], ids=["C-locale-coerced", "LANG"])
def test_a_repeated_or_nameless_variable_reaches_the_command_as_getenv_sees_it(installed,
                                                                                lang):
    """An environment only execve() can make: the first of a repeated name
    counts (getenv() finds it; so do shells), a "=value" entry names nothing."""
    import json
    env = ["PATH=%s" % form_env(installed)["PATH"]] + lang + ["A=first", "A=second", "=x"]
    argv = installed.argv + ["--", "cat", "/proc/self/environ"]
    result = subprocess.run([sys.executable, "-c", EXECVE_WITH_RAW_ENVIRONMENT,
                             json.dumps(argv), json.dumps(env)], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(b"\0")[:-1] == [word.encode() for word in env[:-2]]


def test_fallback_without_the_launcher_runs_isolated(installed):
    """Where GNU env is missing (busybox, distroless): python3 -I -S tini-py."""
    proc = start(fallback_argv(installed) + ["--", "sh", "-c", "exit 7"],
                 form_env(installed, {"PYTHONHOME": "/nonexistent"}))
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (7, b"")


def with_busybox_env(argv):
    """argv in a mount namespace where /usr/bin/env is busybox's (Alpine's,
    and busybox-based images'): no -S, no --block-signal."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox is not installed (bash tests/run installs it)"
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /usr/bin/env && exec "$@"', busybox] + argv


def test_busybox_env_refuses_the_launcher_line_and_the_fallback_runs(installed):
    """What README's "Without GNU env" says: the launcher line fails at once,
    with busybox's own complaint (nothing of tini-py has run), and
    `python3 -I -S tini-py` runs the command."""
    proc = start(with_busybox_env(installed.argv + ["--", "sh", "-c", "exit 7"]),
                 form_env(installed))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode not in (0, 7) and b"env" in err, (proc.returncode, err)
    proc = start(with_busybox_env(fallback_argv(installed) + ["--", "sh", "-c", "exit 7"]),
                 form_env(installed))
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (7, b"")


def test_only_one_thread_ever(installed):
    """tini-py runs no thread but its own: a signal for PID 1 cannot land
    anywhere else."""
    proc = start(installed.argv + ["--", "sleep", "30"], form_env(installed))
    try:
        wait_for(lambda: [p for p in descendants(proc.pid) if parent_of(p) == proc.pid],
                 what="the command")
        assert os.listdir("/proc/%d/task" % proc.pid) == [str(proc.pid)]
        os.kill(proc.pid, signal.SIGTERM)
        assert finish(proc, 10) == TERM_EXIT
    finally:
        finish(proc, 0)


def test_conftest_starts_tini_py_isolated_as_tini_py_does():
    """conftest.TINI_ISOLATED spells out isolation.BOOT (the tests may import
    an installed tini_py, not this tree's)."""
    import ast
    from conftest import ISOLATED_BOOT, REPO
    tree = ast.parse((REPO / "tini_py" / "isolation.py").read_text())
    boot = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and [target.id for target in node.targets] == ["BOOT"]]
    assert boot == [ISOLATED_BOOT]


# ------------------------------------------ where the command finds tini_py

def test_command_through_a_symlink(installed_venv, tmp_path):
    """ln -s /venv/bin/tini-py /usr/local/bin/ (relative links too)."""
    (tmp_path / "bin").mkdir()
    os.symlink(os.path.relpath(installed_venv.argv[0], tmp_path / "bin"),
               tmp_path / "bin" / "tini-py")
    assert run_to_exit_3([str(tmp_path / "bin" / "tini-py")], installed_venv) == (3, "")


def test_command_beside_another_pythons_package(installed_venv, tmp_path):
    """python3 on PATH is not the installation's: its package is pure Python."""
    command = copied_command(installed_venv, tmp_path)
    shutil.copytree(REPO / "tini_py", tmp_path / "lib" / "python3.99" / "site-packages" / "tini_py")
    assert run_to_exit_3([str(command)], installed_venv) == (3, "")


def test_command_of_an_editable_install(installed_venv, tmp_path):
    """pip install -e: the source tree is named in setuptools' finder module."""
    command = copied_command(installed_venv, tmp_path)
    site = tmp_path / installed_venv.site_packages.relative_to(installed_venv.bin.parent)
    site.mkdir(parents=True)
    (site / "__editable___tini_py_0_1_0_finder.py").write_text(
        "MAPPING: dict[str, str] = {'tini_py': '%s'}\n" % (REPO / "tini_py"))
    assert run_to_exit_3([str(command)], installed_venv) == (3, "")


def test_command_without_its_package(installed_venv, tmp_path):
    command = copied_command(installed_venv, tmp_path)
    code, err = run_to_exit_3([str(command)], installed_venv)
    assert code == 125 and err == "tini-py: cannot find the tini_py package next to %s\n" % command


# ------------------------------------------- the interpreter the line names

def test_pip_writes_the_line_setup_py_built_naming_the_venvs_interpreter(installed_venv):
    with open(installed_venv.argv[0]) as script:
        first = script.readline().rstrip("\n")
    assert first == installed_command_line(str(installed_venv.bin))
    assert first == ("#!/usr/bin/env -S --block-signal _TINI_PY_PATH=${PATH} PATH=%s:${PATH} "
                     "python3\\_-IS" % installed_venv.bin)


@pytest.mark.parametrize("directory", ["/" + "d" * 60 + "/bin", "/opt/my venv/bin",
                                       "/opt/a:b/bin", "/opt/$HOME/bin", ""])
def test_a_directory_the_line_cannot_carry_keeps_the_path_lookup(directory):
    """Longer than the 127 bytes kernels before 5.1 read, or a character
    env -S would take as syntax (or `:`, a PATH separator)."""
    assert installed_command_line(directory) == GENERIC


def test_the_zipapps_line_names_its_interpreter(installed_zipapp):
    with open(installed_zipapp.argv[0], "rb") as archive:
        first = archive.readline().decode().rstrip("\n")
    assert first == "#!/usr/bin/env -S --block-signal %s -IS -c '%s'" % (
        installed_zipapp.python, ISOLATED_BOOT)


def test_a_missing_interpreter_dir_falls_back_to_the_callers_path(installed_venv, tmp_path):
    """A wheel built elsewhere (a temporary build environment, another
    machine) names a directory that is not there: env looks further along."""
    (tmp_path / "bin").mkdir()
    command = tmp_path / "bin" / "tini-py"
    text = Path(installed_venv.argv[0]).read_text()
    command.write_text(installed_command_line("/nonexistent/bin") + "\n" + text.split("\n", 1)[1])
    command.chmod(0o755)
    (tmp_path / "lib").symlink_to(installed_venv.bin.parent / "lib")
    assert run_to_exit_3([str(command)], installed_venv) == (3, "")
