"""Each fast path of tini-py's start is taken where it is meant to be, under
the session's interpreter (tests/test_interpreters.py runs this file under
every CPython it finds): what a new Python version could turn into a silent
fallback is seen from outside -- with strace and the interpreter's own
import log, nothing mocked.

* The launcher: the installed command and the zipapp run tini-py in the
  first Python they execute (env, then python3 -IS: no isolated
  re-execution).  `python -m tini_py` does execute itself again, and the
  second interpreter is isolated: it ignores PYTHON* variables, runs no site.
* The environment (spawn.original_environment) is the kernel's copy,
  /proc/self/environ, whatever Python did to its own (PEP 538 adds LC_CTYPE
  to a C locale -- LANG unset or C, not LC_ALL=C -- and overwrites the
  caller's own LC_CTYPE=C): the command gets the caller's environment byte
  for byte.
* posix_spawn (glibc: a clone with CLONE_VM|CLONE_VFORK) starts a command
  that does not take the terminal; fork, one that does (the control).
* The zipapp runs the bytecode its builder stored (the control: without
  the .pyc, the edited source runs; run by another minor version, see
  test_interpreters.py).
"""
import os
import subprocess

import pytest

from conftest import importtime_names
from installed import (EDITED_SOURCE_RAN, ODD_ENV, Installed, form_env, run_to_exit_3,
                       zipapp_with_edited_source)
from syscalls import traced

MODES = pytest.mark.parametrize("pid1", [True, False], ids=["pid1", "subreaper"])
PROC_ENVIRON = "/proc/self/environ"


def python_m(form):
    return Installed("python-m", [form.python, "-m", "tini_py"], form.bin)


@pytest.fixture(params=["command", "zipapp", "python-m"])
def started(request, installed_venv):
    """tini-py as users start it: the pip-installed command, the zipapp,
    `python -m tini_py` (the venv's python)."""
    if request.param == "python-m":
        return python_m(installed_venv)
    return request.getfixturevalue("installed_" + request.param.replace("command", "venv"))


# ------------------------------------------------------------ the launcher

@MODES
def test_tini_py_runs_in_the_first_python_its_launcher_executes(installed, pid1, tmp_path):
    result, tini = traced(installed.argv + ["--", "true"], form_env(installed), tmp_path,
                          pid1=pid1)
    assert (result.returncode, result.stderr) == (0, b"")
    programs = [program for program, _ in tini.execs]
    assert programs == [installed.argv[0], installed.python], tini.execs
    assert tini.execs[1][1][1] == "-IS", tini.execs


@MODES
def test_python_m_executes_itself_again_isolated(installed_venv, pid1, tmp_path):
    started = python_m(installed_venv)
    result, tini = traced(started.argv + ["--", "true"], form_env(started), tmp_path, pid1=pid1)
    assert (result.returncode, result.stderr) == (0, b"")
    assert [program for program, _ in tini.execs] == [started.python] * 2, tini.execs
    again = tini.execs[1][1]
    assert again[1:3] == ["-I", "-S"], again
    assert [word for word in again if word.startswith("tini_py_reexec=")], again


def run_to_exit_0(argv, form, extra=None):
    result = subprocess.run(argv, env=form_env(form, extra), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result


def test_the_second_python_ignores_python_variables_and_runs_no_site(installed_venv):
    """-X importtime, which tini-py passes on, logs both starts: the second
    imports no `site` (-S).  PYTHONPROFILEIMPORTTIME logs the same, but for
    the first only: the second ignores PYTHON* variables (-I), while the
    command still gets the variable."""
    python, rest = installed_venv.python, ["-m", "tini_py", "--", "sh", "-c",
                                           'echo "$PYTHONPROFILEIMPORTTIME"']
    names = importtime_names(run_to_exit_0([python, "-X", "importtime"] + rest,
                                           installed_venv).stderr)
    first, second = names[:names.index("tini_py") + 1], names[names.index("tini_py") + 1:]
    assert "site" in first and "tini_py" in second and "site" not in second, names
    result = run_to_exit_0([python] + rest, installed_venv, {"PYTHONPROFILEIMPORTTIME": "1"})
    names = importtime_names(result.stderr)
    assert "site" in names and names.count("tini_py") == 1, names
    assert result.stdout == "1\n"


# ---------------------------------------------------------- the environment

# What the caller sets; Python coerces the C locale (PEP 538) in the first,
# second and last.
LOCALES = {
    "LANG-unset": {},
    "LANG=C": {"LANG": "C"},
    "LANG=C.UTF-8": {"LANG": "C.UTF-8"},
    "LC_ALL=C": {"LC_ALL": "C"},
    "LC_CTYPE=C": {"LC_CTYPE": "C"},
}


@pytest.mark.parametrize("locale", list(LOCALES))
@MODES
def test_the_command_gets_the_callers_environment_as_the_kernel_kept_it(
        started, locale, pid1, tmp_path):
    settings = LOCALES[locale]
    env = form_env(started, ODD_ENV)
    del env["LANG"]
    env.update(settings)
    result, tini = traced(started.argv + ["--", "cat", PROC_ENVIRON], env, tmp_path, pid1=pid1)
    assert result.returncode == 0, result.stderr
    given = b"".join(b"%s=%s\0" % (os.fsencode(k), os.fsencode(v)) for k, v in env.items())
    assert result.stdout == given, "the command's environment differs:\n given %r\n got   %r" \
        % (given, result.stdout)
    assert PROC_ENVIRON in tini.opened, "%s: /proc/self/environ not read (opened: %r)" \
        % (locale, tini.opened)


# ------------------------------------------------------ posix_spawn or fork

@pytest.mark.parametrize("terminal", [False, True], ids=["posix_spawn", "fork-at-a-terminal"])
def test_the_command_is_started_with_posix_spawn_unless_it_takes_the_terminal(
        started, terminal, tmp_path):
    result, tini = traced(started.argv + ["--", "true"], form_env(started), tmp_path,
                          terminal=terminal)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(tini.clones) == 1, tini.clones
    assert ("CLONE_VFORK" in tini.clones[0]) != terminal, tini.clones


# --------------------------------------------------------- stored bytecode

@pytest.mark.parametrize("keep_bytecode", [True, False], ids=["stored-pyc", "control-no-pyc"])
def test_the_zipapp_runs_the_bytecode_its_builder_stored(installed_zipapp, keep_bytecode,
                                                         tmp_path):
    """Its sources are edited after the build: the same interpreter runs the
    .pyc as it was stored (zipimport cannot write a fresh one: it compiles
    a source it has to run at every start)."""
    archive = zipapp_with_edited_source(installed_zipapp.argv[0], tmp_path / "tini-py",
                                        keep_bytecode=keep_bytecode)
    expected = "" if keep_bytecode else EDITED_SOURCE_RAN
    assert run_to_exit_3([str(archive)], installed_zipapp) == (3, expected)
