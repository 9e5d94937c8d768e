"""Leaving the application's Python environment behind.

The image's PYTHONPATH, PYTHONHOME, sitecustomize, .pth files ... are set up
for the application, not for PID 1.  The installed command and the zipapp
start tini-py as `python3 -I -S` (see scripts/tini-py, tools/build_zipapp.py);
any other start -- `python -m tini_py`, `python3 tini-py.pyz` -- has already
run them when tini-py's first line blocks the signals, and comes here to
execute itself again, isolated.  Kernel rules that make this lossless:
execve keeps the signal mask and every pending signal, and ends every other
thread (one a sitecustomize started, say).
"""
import posix
import sys
import _signal

from tini_py import REEXEC_XOPTION
from tini_py.signals import BLOCKED

# `python3 -I -S -c BOOT ENTRY ARG...`: ENTRY is the sys.path entry holding
# the tini_py package (a directory or the zipapp); it stands in for the
# script name.  Also the zipapp's shebang line (tools/build_zipapp.py).
BOOT = "import sys;sys.path+=sys.argv[1:2];import tini_py;tini_py.boot()"
EXIT_CANNOT_START = 125
# Not caught: a handler that returns from a real fault faults again.
FAULTS = frozenset((_signal.SIGSEGV, _signal.SIGBUS, _signal.SIGFPE, _signal.SIGILL,
                    _signal.SIGABRT, _signal.SIGTRAP, _signal.SIGSYS))


def execute_isolated(child_mask):
    """Execute this tini-py again as `python -I -S`; never returns.

    ``child_mask`` (the caller's signal mask) travels in an -X option.
    """
    from tini_py import log
    from tini_py.spawn import original_environment

    environment = original_environment()  # not os.environ: site hooks may have changed it
    caught = catch_signals_in_other_threads()
    argv = isolated_command(child_mask, caught)
    try:
        posix.execve(argv[0], argv, environment)
    except (OSError, ValueError) as error:
        log.error("cannot execute %r isolated (-I -S): %s"
                  % (argv[0], getattr(error, "strerror", None) or error))
    posix._exit(EXIT_CANNOT_START)


def isolated_command(child_mask, caught):
    argv = [sys.executable, "-I", "-S"]
    # Keep the interpreter options that help to look inside (-X importtime, -v).
    argv += ["-B"] * bool(sys.flags.dont_write_bytecode)
    argv += ["-O"] * sys.flags.optimize + ["-v"] * sys.flags.verbose
    for name, value in sys._xoptions.items():
        if name != REEXEC_XOPTION:
            argv += ["-X", name if value is True else "%s=%s" % (name, value)]
    bits = sum(1 << (number - 1) for number in child_mask)
    argv += ["-X", "%s=%x,%d" % (REEXEC_XOPTION, bits, caught)]
    return argv + ["-c", BOOT, package_entry()] + sys.argv[1:]


def package_entry():
    """The sys.path entry tini_py was imported from (directory or zipapp)."""
    import tini_py
    package_dir = tini_py.__file__.rpartition("/")[0]
    return package_dir.rpartition("/")[0] or "/"


def catch_signals_in_other_threads():
    """Keep the signals that other threads take until the exec; return the
    fd the re-executed tini-py reads them from.

    Kernel rule: a process-directed signal goes to any thread that does not
    block it; a thread the application's site hooks started has its own mask.
    Python's C-level handler writes the number of each signal it catches, in
    whichever thread, to the wakeup fd.  Ignored signals are left alone:
    setting SIG_IGN (or SIG_DFL for CHLD, WINCH, URG, CONT) would discard
    the ones already pending.
    """
    read_end, write_end = pipe_above_stdio()
    posix.set_blocking(write_end, False)
    posix.set_inheritable(read_end, True)
    _signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for number in BLOCKED - FAULTS:
        if _signal.getsignal(number) is not _signal.SIG_IGN:
            _signal.signal(number, _note_only)
    return read_end


def pipe_above_stdio():
    """A pipe whose ends are not 0, 1 or 2: one of them may be closed (`<&-`),
    and stays closed for the command."""
    ends, low = list(posix.pipe()), []
    for index, fd in enumerate(ends):
        while fd <= 2:
            low.append(fd)
            fd = posix.dup(fd)
        ends[index] = fd
    for fd in low:
        posix.close(fd)
    posix.set_inheritable(ends[1], False)  # dup() makes an inheritable one
    return ends


def _note_only(number, frame):
    """The handler: the wakeup fd already holds the signal's number."""


def resume_after_reexec(value):
    """In the re-executed tini-py: raise again what other threads caught
    before the exec; return the command's signal mask."""
    bits_text, _, fd_text = value.partition(",")
    bits, fd = int(bits_text, 16), int(fd_text)
    replay_caught_signals(fd)
    return {number for number in range(1, 65) if bits >> (number - 1) & 1}


def replay_caught_signals(fd):
    """Each number read from fd is sent again to ourselves; blocked, it stays
    pending until the supervisor collects it (real-time ones queue)."""
    if fd <= 2:
        return
    caught = b""
    try:
        posix.set_blocking(fd, False)
        while True:
            chunk = posix.read(fd, 4096)
            if not chunk:
                break
            caught += chunk
    except OSError:
        pass  # EAGAIN: all read (or fd was not ours: nothing to replay)
    try:
        posix.close(fd)
    except OSError:
        pass
    me = posix.getpid()
    for number in caught:
        if number in BLOCKED:
            posix.kill(me, number)
