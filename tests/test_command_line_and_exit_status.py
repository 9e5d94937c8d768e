"""Command line, exit statuses, exec failures and the child's stdio."""
import os
import signal
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import MODES, PY, prog, raw_env, run_tini

import tini_py


# ----------------------------------------------------------------- exit codes

@pytest.mark.parametrize("mode", MODES)
def test_every_exit_code_passes_through(mode):
    def run(code):
        return code, run_tini(["sh", "-c", "exit %d" % code], mode=mode).returncode

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = dict(pool.map(run, range(256)))
    wrong = {code: got for code, got in results.items() if got != code}
    assert not wrong, "exit code -> tini-py's exit status: %r" % wrong


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGKILL,
                                 signal.SIGUSR1, signal.SIGSEGV, signal.SIGABRT, signal.SIGTERM,
                                 signal.SIGPIPE, signal.SIGALRM, signal.SIGRTMIN + 2])
def test_child_killed_by_signal_gives_128_plus_n(mode, sig):
    result = run_tini([PY, prog("suicide.py"), str(int(sig))], mode=mode)
    assert result.returncode == 128 + sig, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_remap_exit_code(mode):
    assert run_tini(["-e", "143", "sh", "-c", "exit 143"], mode=mode).returncode == 0
    assert run_tini(["-e", "143", "-e", "3", "sh", "-c", "exit 3"], mode=mode).returncode == 0
    assert run_tini(["-e", "143", "sh", "-c", "exit 3"], mode=mode).returncode == 3
    killed = run_tini(["-e", "143", PY, prog("suicide.py"), "15"], mode=mode)
    assert killed.returncode == 0, "a death by SIGTERM (143) remapped with -e 143: %r" % killed.stderr


# ----------------------------------------------------------------- exec failures

def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, "expected exactly one stderr line, got %r" % stderr
    assert lines[0].startswith("tini-py: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command", ["/nonexistent/tini-py-test-cmd", "tini-py-no-such-command-xyz"])
def test_command_not_found_exits_127(mode, command):
    result = run_tini([command, "arg"], mode=mode)
    assert result.returncode == 127, result.stderr
    assert command in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("mode", MODES)
def test_not_executable_file_exits_126(mode, tmp_path):
    path = tmp_path / "not-executable.sh"
    path.write_text("#!/bin/sh\necho should not run\n")
    path.chmod(0o644)
    result = run_tini([str(path)], mode=mode)
    assert result.returncode == 126, result.stderr
    assert str(path) in one_line(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize("mode", MODES)
def test_directory_as_command_exits_126(mode, tmp_path):
    result = run_tini([str(tmp_path)], mode=mode)
    assert result.returncode == 126, result.stderr
    assert str(tmp_path) in one_line(result.stderr)


# ----------------------------------------------------------------- usage errors

USAGE_ERRORS = {
    "no command": [],
    "only options": ["-v", "-t", "1"],
    "only double dash": ["--"],
    "unknown long option": ["--bogus", "true"],
    "unknown short option": ["-X", "true"],
    "graceful bogus": ["-g", "BOGUS", "true"],
    "graceful long bogus word": ["--graceful", "bogus", "true"],
    "graceful long bogus": ["--graceful=NOPE", "true"],
    "graceful number too big": ["-g", "99", "true"],
    "grace abc": ["-t", "abc", "true"],
    "grace negative": ["-t", "-1", "true"],
    "grace missing value": ["-t"],
    "orphan-grace abc": ["--orphan-grace", "abc", "true"],
    "delay abc": ["--delay", "abc", "true"],
    "remap 300": ["-e", "300", "true"],
    "remap abc": ["-e", "abc", "true"],
    "rewrite without colon": ["-r", "HUP", "true"],
    "rewrite bogus target": ["-r", "HUP:BOGUS", "true"],
    "rewrite bogus source": ["-r", "NOPE:HUP", "true"],
    "pdeathsig bogus": ["-p", "BOGUS", "true"],
    "profile unknown": ["--profile", "no-such-profile", "true"],
}


@pytest.mark.parametrize("args", USAGE_ERRORS.values(), ids=list(USAGE_ERRORS))
def test_usage_error_exits_2_with_one_line(args):
    result = run_tini(args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    one_line(result.stderr)
    assert result.stdout == ""


ENV_ERRORS = {
    "TINI_PY_GRACEFUL": "BOGUS",
    "TINI_PY_REWRITE": "HUP",
    "TINI_PY_GRACE": "abc",
    "TINI_PY_DELAY": "-3",
    "TINI_PY_PROFILE": "no-such-profile",
}


@pytest.mark.parametrize("variable,value", ENV_ERRORS.items(), ids=list(ENV_ERRORS))
def test_bad_environment_variable_exits_2_with_one_line(variable, value):
    result = run_tini(["true"], env=raw_env(**{variable: value}))
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = one_line(result.stderr)
    assert variable in line, "the message should name %s: %r" % (variable, line)
    assert result.stdout == ""


def test_bad_rewrite_in_env_list_exits_2():
    result = run_tini(["true"], env=raw_env(TINI_PY_REWRITE="HUP:USR2,USR1"))
    assert result.returncode == 2, result.stderr
    one_line(result.stderr)


def test_usage_error_in_pid1_mode_exits_2():
    result = run_tini(["-g", "BOGUS", "true"], mode="pid1")
    assert result.returncode == 2, result.stderr
    one_line(result.stderr)


# ----------------------------------------------------------------- --version, -h, parsing

@pytest.mark.parametrize("args", [["--version"]])
def test_version(args):
    result = run_tini(args)
    assert result.returncode == 0, result.stderr
    assert tini_py.__version__ in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("args", [["-h"], ["--help"]])
def test_help(args):
    result = run_tini(args)
    assert result.returncode == 0, result.stderr
    assert "tini-py" in result.stdout and "-g" in result.stdout
    assert "Traceback" not in result.stderr


def test_options_after_the_command_belong_to_the_command():
    result = run_tini(["printf", "%s\\n", "-v", "-t", "abc", "--bogus", "-g", "BOGUS", "--", "-h"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["-v", "-t", "abc", "--bogus", "-g", "BOGUS", "--", "-h"]
    assert result.stderr == ""


def test_double_dash_ends_options():
    result = run_tini(["-t", "5", "--", "printf", "%s\\n", "-v"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "-v\n"


def test_ls_dash_l_style(tmp_path):
    (tmp_path / "file-a").write_text("x")
    result = run_tini(["ls", "-l", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "file-a" in result.stdout and "total" in result.stdout


@pytest.mark.parametrize("args", [["-s", "true"], ["-w", "true"], ["-q", "true"],
                                  ["-v", "true"], ["-p", "TERM", "true"], ["-p", "SIGKILL", "true"],
                                  ["-g", "quit", "true"], ["-g", "SIGQUIT", "true"], ["-g", "3", "true"],
                                  ["-g", "RTMIN+2", "true"], ["-g", "RTMAX-1", "true"],
                                  ["-r", "HUP:0", "true"], ["-t", "0.5", "true"],
                                  ["--orphan-grace", "0", "true"], ["--delay", "0", "true"],
                                  ["-vv", "-w", "-s", "true"]])
def test_accepted_options(args):
    result = run_tini(args)
    assert result.returncode == 0, (args, result.stderr)
    assert "Traceback" not in result.stderr


# ----------------------------------------------------------------- stdio

@pytest.mark.parametrize("mode", MODES)
def test_stdin_passes_through(mode):
    data = "line one\nline two\n" + "x" * 100000 + "\n"
    result = run_tini(["cat"], mode=mode, input=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


@pytest.mark.parametrize("mode", MODES)
def test_stdout_carries_only_the_child_output(mode):
    result = run_tini(["-vv", "sh", "-c", "echo to-stdout; echo to-stderr >&2"], mode=mode)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "to-stdout\n"
    lines = result.stderr.splitlines()
    assert "to-stderr" in lines
    logs = [line for line in lines if line != "to-stderr"]
    assert logs, "-vv logged nothing on stderr"
    assert all(line.startswith("tini-py: ") for line in logs), logs


@pytest.mark.parametrize("mode", MODES)
def test_quiet_default_run_writes_nothing_on_stderr(mode):
    result = run_tini(["sh", "-c", "echo hi"], mode=mode)
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
