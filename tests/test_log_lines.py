"""What tini-py says is true: the drain names how many processes it signals,
and only when there are any; a usage error gives one hint.

Exact lines, at -v (the drain's) and at the default verbosity (errors).
"""
import re

import pytest

from conftest import MODES, run_tini


def lines_of(stderr):
    """stderr's lines with every number written N (pids differ per run)."""
    return [re.sub(r"\d+", "N", line) for line in stderr.splitlines()]


@pytest.mark.parametrize("mode", MODES)
def test_a_stop_that_reached_everyone_sends_nothing_more(mode):
    """README's first command: the stop went to the group, nobody is outside
    it.  Its `sleep 5 &` ignores QUIT (a shell's background jobs ignore INT
    and QUIT): the drain waits for it, and says so; it sends nothing."""
    result = run_tini(["-v", "--orphan-grace", "0.5", "-g", "QUIT", "--", "sh", "-c",
                       'trap "echo graceful stop; exit 0" QUIT; kill -TERM $PPID; sleep 5 & wait'],
                      mode=mode)
    assert (result.returncode, result.stdout) == (0, "graceful stop\n")
    assert lines_of(result.stderr)[3:] == [
        "tini-py: main child is gone; waiting up to N.Ns for N process of its group, "
        "which the stop reached",
        "tini-py: processes still alive N.Ns after the main child exited; sending SIGKILL"]


@pytest.mark.parametrize("mode", MODES)
def test_leftover_after_a_plain_exit_is_counted(mode):
    result = run_tini(["-v", "--", "sh", "-c", "setsid sleep 30 & sleep 0.3; exit 0"], mode=mode)
    assert result.returncode == 0
    assert lines_of(result.stderr)[-1] == "tini-py: main child is gone; sent SIGTERM to N process left"
    assert re.search(r"sent SIGTERM to 1 process left\n\Z", result.stderr), result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_leftover_outside_the_stopped_group_is_counted(mode):
    # HUP, not QUIT: a shell's background jobs ignore INT and QUIT.
    result = run_tini(["-v", "-g", "HUP", "--", "sh", "-c",
                       "setsid sleep 30 & sleep 0.3; kill -TERM $PPID; sleep 5"], mode=mode)
    assert result.returncode == 129  # sh died of the HUP the stop sent
    assert re.search(r"main child is gone; sent SIGHUP to 1 process outside its group, "
                     r"which the stop did not reach\n\Z", result.stderr), result.stderr


@pytest.mark.parametrize("mode", MODES)
def test_a_group_member_the_stop_reached_is_waited_for_and_said(mode, tmp_path):
    # The TERM is sent once the member ignores it (it would die of it otherwise).
    ready = tmp_path / "ignoring"
    result = run_tini(["-v", "--", "sh", "-c",
                       '(trap "" TERM; : > %s; exec sleep 0.5) & until [ -e %s ]; do sleep 0.01; '
                       'done; kill -TERM $PPID; wait' % (ready, ready)], mode=mode)
    assert result.returncode == 143
    assert re.search(r"main child is gone; waiting up to 5s for 1 process of its group, "
                     r"which the stop reached\n\Z", result.stderr), result.stderr


@pytest.mark.parametrize("args,line", [
    (["--profile", "nope", "true"],
     "tini-py: --profile: unknown profile 'nope' (see 'tini-py --list-profiles')\n"),
    (["--bogus", "true"], "tini-py: unknown option '--bogus' (see 'tini-py --help')\n"),
    (["-t", "soon", "true"],
     "tini-py: --grace: expected a number of seconds >= 0, got 'soon' (see 'tini-py --help')\n"),
    (["prestop", "--bogus"], "tini-py: prestop: unknown argument '--bogus'; usage: tini-py "
     "prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS] (see 'tini-py --help')\n"),
], ids=["unknown profile", "unknown option", "bad seconds", "prestop"])
def test_a_usage_error_is_one_line_with_one_hint(args, line):
    result = run_tini(args)
    assert (result.returncode, result.stderr) == (2, line)
