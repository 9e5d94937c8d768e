"""What each Debian release gives tini-py's launcher line, as installed there.

The launcher needs GNU env >= 8.31 (-S, --block-signal) and Python >= 3.9;
the pip-installed command's line puts the directory of the interpreter
that built it first on env's PATH (setup.py); the zipapp's looks python3 up
on PATH (tools/build_zipapp.py's default).
Each image's versions are recorded (pytest -s; $TINI_PY_SERVERS_LOG): the
table in docs/images-without-python.md comes from here.  The kernel is the
host's.
"""
import pytest

from .conftest import INSTALLED_IMAGES
from .servers_util import record

# release: (Python major.minor, GNU coreutils)
SHIPPED = {"bullseye": ("3.9", "8.32"), "bookworm": ("3.11", "9.1"), "trixie": ("3.13", "9.7")}
LINE_NAMES = {"venv": " PATH=/opt/venv/bin:${PATH} python3\\_-IS",
              "zipapp": " python3 -IS -c ",
              "python3-minimal": " python3 -IS -c "}
REPORT = ("python3 -c 'import sys; print(\"%%d.%%d.%%d\" %% sys.version_info[:3])'; "
          "env --version | head -1 | cut -d' ' -f4; uname -r; head -1 %s")


@pytest.mark.parametrize("installed_image", INSTALLED_IMAGES + ["bookworm-python3-minimal"],
                         indirect=True)
def test_the_release_gives_the_launcher_what_it_needs(installed_image, containers):
    ctr = containers(installed_image.tag, "-c", REPORT % installed_image.command,
                     entrypoint="sh")
    assert ctr.wait() == 0, ctr.logs()
    python, coreutils, kernel, line = ctr.streams()[0].splitlines()
    record("versions", image=installed_image.tag, python=python, coreutils=coreutils,
           kernel=kernel, launcher=line)
    assert (python.rsplit(".", 1)[0], coreutils) == SHIPPED[installed_image.suite]
    assert line.startswith("#!/usr/bin/env -S --block-signal "), line
    assert LINE_NAMES[installed_image.form] in line, line
