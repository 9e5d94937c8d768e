"""tini-py runs its sources as they are now: bytecode compiled from older
sources, hash-checked bytecode and no bytecode at all are the import system's
to handle, as for any package.
"""
import shutil
import subprocess

import pytest

from installed import EDIT_MARK, EDITED_SOURCE_RAN, copied_command, form_env, run_to_exit_3


def copied_installation(installed_venv, prefix):
    """bin/tini-py and lib/pythonX.Y/site-packages/tini_py (with the .pyc
    pip compiled, their timestamps kept) under prefix."""
    command = copied_command(installed_venv, prefix)
    site = prefix / installed_venv.site_packages.relative_to(installed_venv.bin.parent)
    shutil.copytree(installed_venv.site_packages / "tini_py", site / "tini_py")
    return command, site / "tini_py"


def run(command, form, python_flags=()):
    argv = [str(command)]
    if python_flags:
        argv = [form.python, "-I", "-S", *python_flags, str(command)]
    return run_to_exit_3(argv, form)


@pytest.mark.parametrize("module", ["supervise", "config"])
def test_a_module_edited_after_it_was_compiled_runs_as_edited(installed_venv, tmp_path, module):
    command, package = copied_installation(installed_venv, tmp_path)
    assert run(command, installed_venv) == (3, "")
    with open(package / (module + ".py"), "ab") as source:
        source.write(EDIT_MARK)
    assert run(command, installed_venv) == (3, EDITED_SOURCE_RAN)


def test_hash_checked_bytecode_is_left_to_the_import_system(installed_venv, tmp_path):
    """SOURCE_DATE_EPOCH makes compileall write hash-checked .pyc (Debian's
    and reproducible builds): their header holds no timestamp to compare."""
    command, package = copied_installation(installed_venv, tmp_path)
    shutil.rmtree(package / "__pycache__")
    subprocess.run([installed_venv.python, "-m", "compileall", "-q", "--invalidation-mode",
                    "checked-hash", str(package)], check=True, timeout=60)
    (package / "supervise.py").write_bytes((package / "supervise.py").read_bytes() + EDIT_MARK)
    assert run(command, installed_venv) == (3, EDITED_SOURCE_RAN)


@pytest.mark.parametrize("python_flags", [[], ["-B"], ["-O"]], ids=["plain", "B", "O"])
def test_without_bytecode_it_runs_from_the_sources(installed_venv, tmp_path, python_flags):
    command, package = copied_installation(installed_venv, tmp_path)
    shutil.rmtree(package / "__pycache__")
    assert run(command, installed_venv, python_flags) == (3, "")
