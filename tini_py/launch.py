"""The launcher lines of the installed command and of the zipapp.

Used when they are built (setup.py, tools/build_zipapp.py), never at start-up.

GNU env blocks every signal, then executes the interpreter isolated (-I -S):
a signal sent to PID 1 while Python starts stays pending instead of being
dropped.  The interpreter is named when tini-py is built, by the one that
builds it, so that env does not look `python3` up on PATH: on a developer's
machine the first `python3` there is often a shim (pyenv, asdf), a shell
script that adds its own variables to everything it starts and costs ~30 ms.

* The installed command puts the building interpreter's directory first on
  PATH for env's lookup only, and keeps the caller's PATH aside in
  _TINI_PY_PATH; tini-py restores it at start (spawn.restore_launcher_path).
  A directory that is gone (a wheel built elsewhere, in a temporary build
  environment) costs nothing: env then finds python3 on the caller's PATH.
* The zipapp is a file copied into images: by default its line looks
  python3 up on PATH (images have no shims); built with --python PATH for a
  developer's machine, it names that interpreter outright.
"""
from tini_py.spawn import LAUNCHER_PATH

GENERIC = "#!/usr/bin/env -S --block-signal python3\\_-I\\_-S"
# Kernels before 5.1 read 127 bytes of a #! line (BINPRM_BUF_SIZE 128) and
# cut the rest; later ones read 255.
OLD_KERNEL_LIMIT = 127
SHEBANG_LIMIT = 255
# What env -S passes on as it is: no spaces, quotes, backslashes, `$` or `#`;
# and no `:`, which would split the PATH entry.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-@,=%~")


def plain(text):
    return bool(text) and _PLAIN.issuperset(text)


def installed_command_line(interpreter_dir):
    """The #! line of the pip-installed command built by the interpreter in
    interpreter_dir; the generic one (PATH lookup) when that directory cannot
    be written on the line or would make it longer than old kernels read."""
    line = ("#!/usr/bin/env -S --block-signal %s=${PATH} PATH=%s:${PATH} python3\\_-IS"
            % (LAUNCHER_PATH.decode(), interpreter_dir))
    if not plain(interpreter_dir) or len(line) > OLD_KERNEL_LIMIT:
        return GENERIC
    return line


def zipapp_line(interpreter, boot):
    """The zipapp's #! line: env runs `interpreter -IS -c BOOT` on the archive."""
    if not plain(interpreter):
        raise ValueError("%r cannot be written on a #! line" % interpreter)
    line = "#!/usr/bin/env -S --block-signal %s -IS -c '%s'" % (interpreter, boot)
    if len(line) > SHEBANG_LIMIT:
        raise ValueError("the #! line would be %d bytes, more than the %d Linux reads"
                         % (len(line), SHEBANG_LIMIT))
    return line
