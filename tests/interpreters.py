"""The CPython interpreters of this machine that tini-py is tested under.

One per minor version of SUPPORTED: the newest of pyenv's versions
($PYENV_ROOT/versions/3.N.P), else the first `python3.N` on PATH.  Each
candidate is asked for its own sys.executable (a pyenv shim names the real
interpreter; a shim of a version pyenv has not selected fails and is passed
over).  A machine that lacks one skips its tests; TINI_PY_REQUIRED_PYTHONS
(`3.9,3.13`: .ci/run sets it) turns that skip into a failure.
"""
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The interpreter that runs tini-py in this session (conftest.TINI, and the
# `installed` forms are made with it): TINI_PY_TEST_PYTHON, else the one
# running pytest.  tests/test_interpreters.py sets it for each other CPython.
TEST_PYTHON_VARIABLE = "TINI_PY_TEST_PYTHON"
TEST_PYTHON = os.environ.get(TEST_PYTHON_VARIABLE) or sys.executable
SUPPORTED = [(3, minor) for minor in range(9, 14)]
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or "/root/.pyenv") / "versions"
REQUIRED_VARIABLE = "TINI_PY_REQUIRED_PYTHONS"
ASK = "import sys;print(sys.executable);print('%d.%d.%d' % sys.version_info[:3])"


def dotted(version):
    return "%d.%d" % version


class Interpreter:
    """A real CPython executable and its version (3, N, P)."""

    def __init__(self, path, version):
        self.path, self.version = path, version

    @property
    def minor(self):
        return self.version[:2]

    def __repr__(self):
        return "CPython %s (%s)" % (".".join(map(str, self.version)), self.path)


def ask(candidate):
    """The Interpreter candidate really is, or None when it does not run."""
    try:
        result = subprocess.run([candidate, "-I", "-S", "-c", ASK], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    words = result.stdout.split()
    if result.returncode != 0 or len(words) != 2:
        return None
    return Interpreter(words[0], tuple(map(int, words[1].split("."))))


def pyenv_candidates(version):
    """bin/python3.N of each pyenv 3.N.P, the newest patch release first
    (not 3.N-dev, 3.N.0rc1 or a free-threaded 3.13.0t)."""
    pattern = re.compile(r"%d\.%d\.(\d+)$" % version)
    try:
        names = os.listdir(str(PYENV_VERSIONS))
    except OSError:
        return []
    found = [(int(match.group(1)), name) for name in names for match in [pattern.match(name)]
             if match]
    return [str(PYENV_VERSIONS / name / "bin" / ("python%s" % dotted(version)))
            for _, name in sorted(found, reverse=True)]


def candidates(version):
    on_path = shutil.which("python%s" % dotted(version))
    return pyenv_candidates(version) + ([on_path] if on_path else [])


@functools.lru_cache(maxsize=None)
def find(version):
    """The Interpreter of minor version (3, N) on this machine, or None."""
    for candidate in candidates(version):
        found = ask(candidate)
        if found is not None and found.minor == version:
            return found
    return None


def required():
    """The minor versions TINI_PY_REQUIRED_PYTHONS names ('3.9,3.13')."""
    words = os.environ.get(REQUIRED_VARIABLE, "").replace(",", " ").split()
    return {tuple(map(int, word.split("."))) for word in words}


def interpreter_or_skip(version):
    """find(version); the test is skipped when there is none (failed when
    it is required)."""
    found = find(version)
    if found is not None:
        return found
    reason = "no CPython %s on this machine (looked in %s and for python%s on PATH)" % (
        dotted(version), PYENV_VERSIONS, dotted(version))
    if version in required():
        pytest.fail("%s, which %s requires" % (reason, REQUIRED_VARIABLE), pytrace=False)
    pytest.skip(reason)
