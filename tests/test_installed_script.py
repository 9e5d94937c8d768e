"""The installed `tini-py` script, as a container's ENTRYPOINT runs it.

Until tini-py's first line has blocked the signals, a signal sent to PID 1 is
dropped by the kernel; whatever the entry point imports before that widens
the window (pip's console-script wrapper imports `re`, ~10 ms).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import importtime_names

SCRIPT = Path(sys.executable).parent / "tini-py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="tini-py is not installed in this venv "
                                "(bash tests/run installs it)")


def imports_of(*args):
    """Modules imported, in order, by `python -X importtime SCRIPT args`."""
    result = subprocess.run([sys.executable, "-X", "importtime", str(SCRIPT), *args],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=30, env={k: v for k, v in os.environ.items()
                                             if not k.startswith(("TINI", "PYTHONPATH"))})
    return result.returncode, importtime_names(result.stderr)


def test_installed_script_runs_the_command():
    result = subprocess.run([str(SCRIPT), "--", "sh", "-c", "echo out; exit 3"],
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "")


def test_nothing_heavy_is_imported_before_tini_py():
    code, names = imports_of("--", "true")
    assert code == 0
    before = names[:names.index("tini_py")]
    for heavy in ("re", "enum", "argparse", "signal", "subprocess", "ctypes"):
        assert heavy not in before, "%s imported before tini_py: %r" % (heavy, before)


def test_a_run_as_pid1_imports_no_heavy_module():
    """No argparse/enum/signal/ctypes on the way of an ordinary start (the
    interpreter's own site may import what it likes before us)."""
    code, names = imports_of("--", "true")
    own = names[names.index("tini_py"):]
    for heavy in ("re", "enum", "argparse", "signal", "subprocess"):
        assert heavy not in own, "%s imported by tini-py: %r" % (heavy, own)
