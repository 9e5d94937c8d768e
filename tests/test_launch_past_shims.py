"""On a developer's machine the first python3 on PATH is often a shim
(pyenv's here): a bash script that adds its variables, and puts its own
folders first on PATH, for everything it starts.  The installed command and
the zipapp name the interpreter that built them (tini_py/launch.py), so the
shim never runs: the command gets the caller's environment byte for byte.
`python -m tini_py` typed through a shim has run it before tini-py's first
line; tini-py executes itself again with the real interpreter, not the shim.

Uses this machine's real pyenv shims; skipped where there are none.
"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

SHIMS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "shims"

pytestmark = pytest.mark.skipif(not (SHIMS / "python3").exists(),
                                reason="no pyenv shims at %s on this machine" % SHIMS)

# What a user's shell could hand over: shims first, odd values included.
CALLER = {
    "PATH": "%s:/usr/local/bin:/usr/bin:/bin" % SHIMS,
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "SPACED": "a b  c",
    "DOLLAR": "${PATH} $x \\n",
    "EMPTY": "",
}


def child_environment(argv, env):
    result = subprocess.run(argv + ["--", "/usr/bin/env", "-0"], env=env, capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    entries = result.stdout.split(b"\0")[:-1]
    return dict(entry.decode().split("=", 1) for entry in entries), result.stderr.decode()


def own_environment_of_tini_py(argv, env):
    """tini-py's own environment as the kernel holds it (the last exec's):
    what the interpreter was started with."""
    command = ["sh", "-c", "tr '\\0' '\\n' < /proc/$PPID/environ"]
    result = subprocess.run(argv + ["--"] + command, env=env, capture_output=True, text=True,
                            timeout=60)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_the_command_gets_the_callers_environment_byte_for_byte(installed):
    environment, stderr = child_environment(installed.argv, dict(CALLER))
    assert (environment, stderr) == (CALLER, "")


def test_no_shim_ran_before_tini_py(installed):
    """A shim would have left PYENV_* in the interpreter's own environment
    (and cost ~30 ms more: see the benchmark)."""
    own = own_environment_of_tini_py(installed.argv, dict(CALLER))
    assert not [name for name in own if name.startswith(("PYENV", "_PYENV"))], own


def test_python_m_through_a_shim_executes_the_real_interpreter_again(tmp_path):
    """The shim runs once, before tini-py (its variables reach the command:
    documented); tini-py's isolated re-execution does not run it again."""
    env = dict(CALLER, PYTHONPATH=str(REPO))
    environment, stderr = child_environment(["python3", "-m", "tini_py"], env)
    assert stderr == ""
    assert environment["PATH"].count("/libexec") == 1, environment["PATH"]
    assert environment["PYTHONPATH"] == str(REPO) and environment["SPACED"] == "a b  c"
