"""Phase 3, spawn: start the command in its own process group.

The command starts as if tini-py were not there: with the signal mask
tini-py's caller had, the default action for what Python ignores, and
tini-py's environment byte for byte.

posix_spawn (a vfork in glibc) rather than fork: it does not copy the
interpreter's page tables and starts the command ~0.4 ms sooner.  Only a
command that must take the terminal's foreground needs fork (posix_spawn
cannot call tcsetpgrp).  Imports ``posix``, not ``os`` (~1 ms of every start).
"""
import errno
import posix
import sys
import _signal

from tini_py import log

EXIT_FORK_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
# The caller's PATH, kept aside by the installed command's launcher line
# while env looks up the interpreter (see tini_py/launch.py).
LAUNCHER_PATH = b"_TINI_PY_PATH"


class SpawnFailed(Exception):
    """The command could not be started; ``code`` is tini-py's exit status."""

    def __init__(self, code):
        Exception.__init__(self, code)
        self.code = code


def spawn_child(command, child_mask, environment, take_terminal):
    """Start ``command``; return its pid (which is also its process group id).

    With ``take_terminal``, the child's group becomes the terminal's
    foreground group (it gets Ctrl-C, and may read the terminal).
    Raises SpawnFailed (after one line on stderr) when it cannot be started.
    """
    if not command[0]:
        # execvp("") finds nothing, as a shell's `''` does (Python refuses
        # an empty argv[0] with a ValueError instead).
        log.error("cannot run '': the command name is empty")
        raise SpawnFailed(EXIT_NOT_FOUND)
    if take_terminal:
        pid = fork_child(command, child_mask, environment)
    else:
        try:
            pid = posix.posix_spawnp(command[0], command, environment, setpgroup=0,
                                     setsigmask=child_mask, setsigdef=defaulted_signals())
        except OSError as error:
            raise SpawnFailed(report_spawn_failure(command[0], error)) from None
    log.info("started '%s' as pid %d" % (" ".join(command), pid))
    return pid


def defaulted_signals():
    """Signals whose disposition the command must not inherit from Python.

    exec keeps ignored signals ignored (only caught ones go back to the
    default), so Python's SIG_IGN for SIGPIPE and SIGXFSZ must be undone by
    hand; SIGINT too while it has Python's handler (a SIGINT arriving before
    exec would otherwise raise KeyboardInterrupt in the child).
    """
    signals = [_signal.SIGPIPE, _signal.SIGXFSZ]
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        signals.append(_signal.SIGINT)
    return signals


def report_spawn_failure(program, error):
    """One line on stderr; returns the exit status that says what failed."""
    if error.errno in (errno.EAGAIN, errno.ENOMEM):  # the clone, not the exec
        log.error("cannot fork to run '%s': %s" % (program, error.strerror))
        return EXIT_FORK_FAILED
    log.error("cannot run '%s': %s" % (program, error.strerror or error))
    if error.errno in (errno.ENOENT, errno.ENOTDIR):  # nothing there to run
        return EXIT_NOT_FOUND
    return EXIT_NOT_EXECUTABLE


def find_terminal():
    """(the first of fds 0, 1, 2 that is our controlling terminal, or None;
    whether our group is its foreground group).

    Kernel rule: tcgetpgrp() fails (ENOTTY) on any terminal but the caller's
    controlling terminal.
    """
    for fd in (0, 1, 2):
        try:
            return fd, posix.tcgetpgrp(fd) == posix.getpgrp()
        except OSError:
            pass
    return None, False


# -- the environment ------------------------------------------------------

def original_environment():
    """The environment exactly as tini-py received it, {bytes: bytes}.

    Python may have changed its own environment before our first line ran
    (PEP 538 sets LC_CTYPE when the locale is C); the kernel keeps the
    original in /proc/self/environ.
    """
    try:
        with open("/proc/self/environ", "rb") as source:
            entries = source.read().split(b"\0")
    except OSError:
        return environment_without_locale_coercion()
    environment = {}
    for entry in entries:
        name, equals, value = entry.partition(b"=")
        if equals and name:
            # getenv() finds the first of a repeated name: keep that one.
            environment.setdefault(name, value)
    return environment


def restore_launcher_path(environment):
    """Undo the launcher's PATH: the command, and tini-py's own lookup of it
    (glibc's posix_spawnp reads our C environment's PATH), get the caller's.

    env -S expands an unset ${PATH} to nothing: an empty one is taken for
    unset, the common case of the two.
    """
    saved = environment.pop(LAUNCHER_PATH, None)
    if saved is None:
        return
    posix.unsetenv(LAUNCHER_PATH)
    if saved:
        environment[b"PATH"] = saved
        posix.putenv(b"PATH", saved)
    else:
        environment.pop(b"PATH", None)
        posix.unsetenv(b"PATH")


def environment_without_locale_coercion():
    """posix.environ, minus the LC_CTYPE that Python itself added (PEP 538).

    Python coerces only a C/POSIX locale, and then also turns on UTF-8 mode;
    a user's own LC_CTYPE=C.UTF-8 leaves UTF-8 mode off.  PYTHONUTF8 turns
    UTF-8 mode on by itself, unless the interpreter ignores the environment.
    """
    environment = dict(posix.environ)
    if sys.flags.utf8_mode and (sys.flags.ignore_environment
                                or b"PYTHONUTF8" not in environment):
        environment.pop(b"LC_CTYPE", None)
    return environment


def decoded(environment):
    """{str: str} as os.environ would have it (for reading TINI_* settings)."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return {name.decode(encoding, errors): value.decode(encoding, errors)
            for name, value in environment.items()}


# -- fork: a command that takes the terminal ------------------------------

def fork_child(command, child_mask, environment):
    try:
        pid = posix.fork()
    except OSError as error:
        raise SpawnFailed(report_spawn_failure(command[0], error)) from None
    if pid == 0:
        become_command(command, child_mask, environment)
    # Both parent and child call setpgid: whichever runs first wins the race,
    # so the group exists before the parent forwards anything to it.
    try:
        posix.setpgid(pid, pid)
    except OSError:
        pass  # the child did it already, or has exec'd (EACCES), or is gone
    return pid


def become_command(command, child_mask, environment):
    """In the forked child: take the terminal, reset signal state, exec; never returns."""
    try:
        posix.setpgid(0, 0)
        # Kernel rule: tcsetpgrp from a background group raises SIGTTOU
        # unless the caller blocks or ignores it; we still block it here.
        posix.tcsetpgrp(0, posix.getpgrp())
        for number in defaulted_signals():
            _signal.signal(number, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, child_mask)
        execvpe(command[0], command, environment)
    except OSError as error:
        # The mask is already the command's: a broken stderr must not kill us
        # with SIGPIPE before the exit status says what went wrong.
        _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        posix._exit(report_spawn_failure(command[0], error))
    except BaseException:
        posix._exit(EXIT_FORK_FAILED)


def execvpe(program, argv, environment):
    """os.execvpe without importing os: the first of PATH's directories that
    holds ``program``; the most telling error if none will run it."""
    if "/" in program:
        posix.execve(program, argv, environment)
    path = environment.get(b"PATH", b"/bin:/usr/bin").decode(
        sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    first_error = last_error = None
    for directory in path.split(":"):
        try:
            posix.execve((directory or ".") + "/" + program, argv, environment)
        except OSError as error:
            last_error = error
            if error.errno not in (errno.ENOENT, errno.ENOTDIR) and first_error is None:
                first_error = error
    raise first_error or last_error
