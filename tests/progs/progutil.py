"""Pieces the helper programs in tests/progs share (they run as scripts, so
this directory is first on sys.path)."""
import os
import signal
import time


def catch_all_signals(handler):
    """Install handler for every catchable signal but SIGCHLD, then unblock all."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        try:
            signal.signal(sig, handler)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def close_stdio_and_sleep():
    """Become a silent leftover: no stdio held open, never exits by itself."""
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        time.sleep(3600)


def write_atomic(path, text):
    """Write path so that a reader sees all of text or no file (rename)."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def wait_for_file(path):
    """Poll until path exists (the test's "go")."""
    while not os.path.exists(path):
        time.sleep(0.01)
