"""Test child: works while recording signals.

    busy_worker.py LOG READY CODE

Handles every catchable signal except SIGCHLD: appends its number, one per
line, to LOG.  On SIGTERM it logs it and exits with CODE.  Between signals
it keeps busy: hashes data and now and then forks a child that exits at
once (so SIGCHLD keeps coming to tini-py during a storm).  Writes its pid to
READY (atomically) when set up.
"""
import hashlib
import os
import signal
import sys
import time

from progutil import catch_all_signals, write_atomic


def main():
    log, ready, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def handler(sig, frame):
        os.write(log_fd, b"%d\n" % sig)
        if sig == signal.SIGTERM:
            os._exit(code)

    catch_all_signals(handler)
    write_atomic(ready, "%d\n" % os.getpid())

    data = b"x" * 4096
    last_fork = time.monotonic()
    while True:
        data = hashlib.sha256(data).digest() * 128
        if time.monotonic() - last_fork > 0.05:
            last_fork = time.monotonic()
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        time.sleep(0.001)


if __name__ == "__main__":
    main()
