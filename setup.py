"""Build hook: the installed command's launcher line names the interpreter
that builds it (see tini_py/launch.py).  Everything else is in pyproject.toml.

pip builds with the interpreter it installs for -- a venv's own, the system's,
a pyenv version's -- and copies the scripts it gets as they are.
"""
import os
import sys

from setuptools import setup
# setuptools provides distutils (its own copy; Python 3.12 has none).
from distutils.command.build_scripts import build_scripts  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tini_py.launch import GENERIC, installed_command_line  # noqa: E402


class build_scripts_naming_the_interpreter(build_scripts):
    def copy_scripts(self):
        outfiles, updated = super().copy_scripts()
        line = installed_command_line(os.path.dirname(sys.executable))
        for path in outfiles:
            with open(path, "rb") as script:
                first, rest = script.readline(), script.read()
            if first.rstrip(b"\n") == GENERIC.encode():
                with open(path, "wb") as script:
                    script.write(line.encode() + b"\n" + rest)
        return outfiles, updated


setup(cmdclass={"build_scripts": build_scripts_naming_the_interpreter})
