"""Phase 2b, register with the kernel: child subreaper and parent-death signal.

Both are Linux prctl(2) calls, reached through ctypes.  ctypes costs a few
milliseconds to import, so it is loaded only when one of them is needed.
Debian's python3-minimal (the Python a PHP image is given) has no ctypes:
tini-py then says, once for each, what it cannot do, and carries on.
"""
import posix

from tini_py import log

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def register_with_kernel(pdeathsig):
    """Become a subreaper when not PID 1; ask for pdeathsig if one was given.

    Returns False if the parent is already gone (pdeathsig would never come).
    """
    if posix.getpid() == 1 and not pdeathsig:
        return True
    parent_before = posix.getppid()
    prctl, missing = _load_prctl()
    if posix.getpid() != 1 and not _call(prctl, PR_SET_CHILD_SUBREAPER, 1):
        log.warning("cannot become a child subreaper%s; orphans of the command "
                    "will be reaped by the real init instead, out of tini-py's reach"
                    % missing)
    if pdeathsig:
        if not _call(prctl, PR_SET_PDEATHSIG, pdeathsig):
            log.warning("cannot set the parent-death signal (-p)%s; tini-py will not "
                        "notice its parent's death" % missing)
        # Kernel rule: pdeathsig fires when the parent dies *after* the
        # prctl; a parent that died before it is seen only as a new ppid.
        elif posix.getppid() != parent_before:
            return False
    return True


def _load_prctl():
    """(prctl, "") or (None, why not: the end of a warning)."""
    try:
        import ctypes
    except ImportError:
        return None, (": this Python has no ctypes module (Debian's python3-minimal; "
                      "install libpython3-stdlib)")
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError) as error:
        return None, ": cannot reach prctl() through ctypes (%s)" % error
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong, ctypes.c_ulong)
    return prctl, ""


def _call(prctl, option, value):
    return prctl is not None and prctl(option, value, 0, 0, 0) == 0
