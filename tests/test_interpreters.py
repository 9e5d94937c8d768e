"""tini-py on every CPython it supports (3.9-3.13: pyproject.toml).

* The contract under each interpreter: the process-level test files in
  CONTRACT run again, in a pytest session of their own, with the
  interpreter as TINI_PY_TEST_PYTHON -- `python -m tini_py` as PID 1 and
  as a subreaper, the pip-installed command of a venv that interpreter
  made (whose launcher line names that venv's bin), the zipapp it built.
  The interpreter of this session is the whole suite's: it is not run
  twice.
* The zipapp built by one and run by another: by its launcher line
  (`--python python3` found on PATH, or `--python` naming the other) and
  as `python3 -I -S tini-py.pyz`.  Another minor version cannot use the
  stored bytecode and compiles the sources (zipimport cannot cache it):
  a source edited after the build is what runs, and runs right.

A machine without some version skips its tests (interpreters.py); .ci/run
requires 3.9 and 3.13.
"""
import os
import subprocess
import sys

import pytest

from conftest import REPO
from installed import EDITED_SOURCE_RAN, Installed, run_to_exit_3, zipapp_with_edited_source
from interpreters import (REQUIRED_VARIABLE, SUPPORTED, TEST_PYTHON, TEST_PYTHON_VARIABLE, ask,
                          dotted, interpreter_or_skip)

# The process-level contract: every catchable signal forwarded, rewrites and
# routing, exit statuses, reaping and the leftovers' drain, the early TERM
# kept by the launcher, isolation from PYTHON* variables and site hooks,
# the environment byte for byte, the start-up's fast paths, signal names.
CONTRACT = [
    "test_forwarding.py",
    "test_routing.py",
    "test_command_line_and_exit_status.py",
    "test_reaping_and_leftovers.py",
    "test_launch.py",
    "test_isolation.py",
    "test_startup_fast_paths.py",
    "test_startup_loading.py",
    "test_profile_hint_and_routes.py",
]
VERSIONS = pytest.mark.parametrize("version", SUPPORTED, ids=dotted)


@VERSIONS
def test_the_contract_holds_under(version, tmp_path, capsys):
    session = ask(TEST_PYTHON)
    if session is not None and session.minor == version:
        pytest.skip("CPython %s runs this session: the whole suite is its run" % dotted(version))
    interpreter = interpreter_or_skip(version)
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
               "--basetemp", str(tmp_path / "basetemp")] + ["tests/" + name for name in CONTRACT]
    env = dict(os.environ, **{TEST_PYTHON_VARIABLE: interpreter.path})
    result = subprocess.run(command, cwd=str(REPO), env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=1800)
    summary = result.stdout.rstrip().rpartition("\n")[2]
    assert result.returncode == 0, "under %r:\n%s" % (interpreter, result.stdout[-12000:])
    with capsys.disabled():
        sys.stdout.write("\n  contract under %r: %s\n" % (interpreter, summary.strip("= ")))


@pytest.mark.parametrize("required", [False, True], ids=["skipped", "required-fails"])
def test_a_machine_without_a_version_skips_it_unless_it_is_required(required, tmp_path):
    """No pyenv and no python3.N on PATH: a user's machine skips 3.N and
    says why; with .ci/run's TINI_PY_REQUIRED_PYTHONS naming it, it fails."""
    version = dotted(next(v for v in SUPPORTED if v != ask(sys.executable).minor))
    env = dict(os.environ, PYENV_ROOT=str(tmp_path / "no-pyenv"), PATH=str(tmp_path / "no-bin"),
               **{REQUIRED_VARIABLE: version if required else "", TEST_PYTHON_VARIABLE: ""})
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider",
                             "--basetemp", str(tmp_path / "basetemp"),
                             "tests/test_interpreters.py::test_the_contract_holds_under[%s]"
                             % version],
                            cwd=str(REPO), env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120)
    missing = "no CPython %s on this machine (looked in %s and for python%s on PATH)" % (
        version, tmp_path / "no-pyenv" / "versions", version)
    assert missing in result.stdout, result.stdout
    if required:
        assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout
        assert "which %s requires" % REQUIRED_VARIABLE in result.stdout
    else:
        assert result.returncode == 0 and "1 skipped" in result.stdout, result.stdout


# ----------------------------------------------- a zipapp another one built

@pytest.fixture(scope="module")
def built_by(tmp_path_factory):
    """built_by(version, python=None): the zipapp tools/build_zipapp.py
    writes when CPython `version` runs it (with --python), its supervise.py
    edited afterwards; each built once."""
    built = {}

    def build(version, python=None):
        if (version, python) not in built:
            builder = interpreter_or_skip(version)
            directory = tmp_path_factory.mktemp("zipapp")
            archive = directory / "built.pyz"
            subprocess.run([builder.path, str(REPO / "tools" / "build_zipapp.py"), "--output",
                            str(archive)] + (["--python", python] if python else []),
                           check=True, capture_output=True, timeout=120)
            built[version, python] = zipapp_with_edited_source(archive, directory / "tini-py")
        return built[version, python]
    return build


def bin_with_python3(interpreter, tmp_path):
    """A directory whose python3 is interpreter (as an image's /usr/bin)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    os.symlink(interpreter.path, str(directory / "python3"))
    return directory


def expected_stderr(builder, runner):
    """The builder's own minor version runs the stored .pyc; another one
    compiles the (edited) sources."""
    return "" if builder == runner else EDITED_SOURCE_RAN


@pytest.mark.parametrize("runner", SUPPORTED, ids=lambda v: "run-by-" + dotted(v))
@pytest.mark.parametrize("builder", SUPPORTED, ids=lambda v: "built-by-" + dotted(v))
@pytest.mark.parametrize("how", ["--python-python3", "--python-runner", "runner-I-S"])
def test_a_zipapp_runs_under_any_interpreter(built_by, builder, runner, how, tmp_path):
    """What a user does with an archive built elsewhere (on a CI host, by
    another Python than the image's): builds it with `--python python3` or
    `--python /usr/bin/python3`, or runs it as `python3 -I -S tini-py`."""
    run_by = interpreter_or_skip(runner)
    bin_dir = bin_with_python3(run_by, tmp_path)
    if how == "runner-I-S":
        archive = built_by(builder)
        argv = [run_by.path, "-I", "-S", str(archive)]
    else:
        archive = built_by(builder, "python3" if how == "--python-python3" else run_by.path)
        argv = [str(archive)]
    form = Installed("zipapp", argv, bin_dir)
    assert run_to_exit_3(argv, form) == (3, expected_stderr(builder, runner))


def test_the_package_says_which_versions_it_is_tested_on():
    """pyproject.toml: requires-python and one classifier per tested version."""
    text = (REPO / "pyproject.toml").read_text()
    assert 'requires-python = ">=%s"' % dotted(SUPPORTED[0]) in text
    for version in SUPPORTED:
        assert '"Programming Language :: Python :: %s",' % dotted(version) in text

