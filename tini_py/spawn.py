"""Phase 3, spawn: fork the command into its own process group and exec it.

Between fork and exec the child undoes everything tini-py did to its own
signal state, so the command starts as if tini-py were not there.
"""
import os
import _signal

from tini_py import log

EXIT_FORK_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def spawn_child(command, inherited_mask, take_terminal):
    """Start ``command``; return its pid (which is also its process group id).

    With ``take_terminal``, the child's group becomes the terminal's
    foreground group (it gets Ctrl-C, and may read the terminal).
    """
    if not command[0]:
        # execvp("") finds nothing, as a shell's `''` does (Python refuses
        # an empty argv[0] with a ValueError instead).
        log.error("cannot run '': the command name is empty")
        os._exit(EXIT_NOT_FOUND)
    environment = original_environment()
    try:
        pid = os.fork()
    except OSError as error:
        log.error("cannot fork to run '%s': %s" % (command[0], error.strerror))
        os._exit(EXIT_FORK_FAILED)
    if pid == 0:
        become_command(command, inherited_mask, take_terminal, environment)
    # Both parent and child call setpgid: whichever runs first wins the race,
    # so the group exists before the parent forwards anything to it.
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it already, or has exec'd (EACCES), or is gone
    log.info("started '%s' as pid %d" % (" ".join(command), pid))
    return pid


def find_terminal():
    """(the first of fds 0, 1, 2 that is our controlling terminal, or None;
    whether our group is its foreground group).

    Kernel rule: tcgetpgrp() fails (ENOTTY) on any terminal but the caller's
    controlling terminal.
    """
    for fd in (0, 1, 2):
        try:
            return fd, os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            pass
    return None, False


def original_environment():
    """The environment exactly as tini-py received it.

    Python may have changed os.environ before our first line ran (PEP 538
    sets LC_CTYPE when the locale is C); the kernel keeps the original in
    /proc/self/environ.
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


def environment_without_locale_coercion():
    """os.environ, minus the LC_CTYPE that Python itself added (PEP 538).

    Python coerces only a C/POSIX locale, and then also turns on UTF-8 mode;
    a user's own LC_CTYPE=C.UTF-8 leaves UTF-8 mode off.
    """
    import sys
    environment = dict(os.environ)
    if sys.flags.utf8_mode and "PYTHONUTF8" not in environment:
        environment.pop("LC_CTYPE", None)
    return environment


def become_command(command, inherited_mask, take_terminal, environment):
    """In the forked child: reset signal state, exec; never returns."""
    try:
        os.setpgid(0, 0)
        if take_terminal:
            # Kernel rule: tcsetpgrp from a background group raises SIGTTOU
            # unless the caller blocks or ignores it; we still block it here.
            os.tcsetpgrp(0, os.getpgrp())
        restore_signal_state(inherited_mask)
        os.execvpe(command[0], command, environment)
    except OSError as error:
        report_exec_failure(command[0], error)
    except BaseException:
        os._exit(EXIT_FORK_FAILED)


def restore_signal_state(inherited_mask):
    """Undo Python's dispositions, then our mask.

    exec keeps ignored signals ignored (only caught ones go back to the
    default), so Python's SIG_IGN for SIGPIPE and SIGXFSZ must be undone by
    hand.  SIGINT goes back to the default before unblocking: Python's own
    handler would turn a SIGINT arriving before exec into KeyboardInterrupt.
    """
    for number in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(number, _signal.SIG_DFL)
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, inherited_mask)


def report_exec_failure(program, error):
    # The mask is already the command's: a broken stderr must not kill us
    # with SIGPIPE before the exit status says what went wrong.
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    log.error("cannot run '%s': %s" % (program, error.strerror or error))
    if error.errno in (2, 20):  # ENOENT, ENOTDIR: nothing there to run
        os._exit(EXIT_NOT_FOUND)
    os._exit(EXIT_NOT_EXECUTABLE)
