"""One line per event on stderr, prefixed ``tini-py:``; stdout belongs to the child.

Levels follow tini's: 0 errors, 1 warnings (default), 2 info (-v), 3 debug (-vv).
Imports ``posix``, not ``os``: ``os`` costs ~1 ms of every start (-X importtime).
"""
import posix
import sys

ERROR, WARNING, INFO, DEBUG = 0, 1, 2, 3
level = WARNING
MAX_MESSAGE = 1000


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
    if at_level > level:
        return
    if len(message) > MAX_MESSAGE:  # e.g. a 100 kB argument echoed back
        message = message[:MAX_MESSAGE] + "..."
    line = "tini-py: " + message.replace("\n", " ") + "\n"
    try:
        data = line.encode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())
    except UnicodeError:
        data = line.encode("utf-8", "backslashreplace")
    try:
        # A closed stderr (EPIPE, EBADF) or a full disk (ENOSPC) must not
        # take PID 1 down: the log line is lost, nothing else is.
        posix.write(2, data)
    except OSError:
        pass
