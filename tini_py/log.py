"""One line per event on stderr, prefixed ``tini-py:``; stdout belongs to the child.

Levels follow tini's: 0 errors, 1 warnings (default), 2 info (-v), 3 debug (-vv).
"""
import os

ERROR, WARNING, INFO, DEBUG = 0, 1, 2, 3
level = WARNING
MAX_MESSAGE = 1000
stream_failed = False  # stderr failed once: no further line is tried


def set_level(new_level):
    global level
    level = new_level


def error(message):
    emit(ERROR, message)


def warning(message):
    emit(WARNING, message)


def info(message):
    if level >= INFO:
        emit(INFO, message)


def debug(message):
    if level >= DEBUG:
        emit(DEBUG, message)


def emit(at_level, message):
    global stream_failed
    if at_level > level or stream_failed:
        return
    if len(message) > MAX_MESSAGE:  # e.g. a 100 kB argument echoed back
        message = message[:MAX_MESSAGE] + "..."
    line = "tini-py: " + message.replace("\n", " ") + "\n"
    try:
        data = os.fsencode(line)
    except UnicodeError:
        data = line.encode("utf-8", "backslashreplace")
    try:
        os.write(2, data)
    except OSError as error:
        # A closed stderr (EPIPE, EBADF), a full disk (ENOSPC) or a log file
        # at its size limit (EFBIG) must not take PID 1 down: the line is
        # lost, nothing else is.  A stream that failed is given up for good.
        stream_failed = True
        discard_own_signal(error.errno)


def discard_own_signal(errno):
    """Kernel rule: a write() that fails with EPIPE or EFBIG also raises
    SIGPIPE or SIGXFSZ on the writing thread.  Ours are blocked, so it stays
    pending and would be forwarded to the child as if someone had sent it.
    A thread's own pending signals are dequeued before the process-wide
    ones, so this takes exactly the one our write raised."""
    import _signal
    number = {32: _signal.SIGPIPE, 27: _signal.SIGXFSZ}.get(errno)  # EPIPE, EFBIG
    if number is not None and number in _signal.pthread_sigmask(_signal.SIG_BLOCK, ()):
        _signal.sigtimedwait((number,), 0)
