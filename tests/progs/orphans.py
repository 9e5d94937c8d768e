"""Test child: makes N orphans for tini-py to reap.

    orphans.py N READY [LIFETIME|GOFILE] [PIDFILE]

Forks an intermediate process that forks N grandchildren and exits at once,
so the grandchildren are reparented to tini-py (PID 1 or subreaper).  Each
grandchild sleeps LIFETIME seconds (default 0.3), or until GOFILE exists
when the argument is not a number, and exits.  When all of
them are gone (their pipe ends closed), writes "done\n" to READY and sleeps
until signalled (SIGTERM: default action).  PIDFILE, when given, gets the
grandchildren's pids, one per line (in this process's namespace).
"""
import os
import sys
import time

from progutil import write_atomic


def main():
    count = int(sys.argv[1])
    ready = sys.argv[2]
    lifetime = sys.argv[3] if len(sys.argv) > 3 else "0.3"
    try:
        lifetime, gofile = float(lifetime), None
    except ValueError:
        lifetime, gofile = None, lifetime
    pidfile = sys.argv[4] if len(sys.argv) > 4 else None
    read_end, write_end = os.pipe()
    pids_r, pids_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_end)
        os.close(pids_r)
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                os.close(pids_w)
                if gofile is None:
                    time.sleep(lifetime)
                else:
                    while not os.path.exists(gofile):
                        time.sleep(0.05)
                os._exit(0)
            os.write(pids_w, b"%d\n" % pid)
        os._exit(0)
    os.close(write_end)
    os.close(pids_w)
    os.waitpid(middle, 0)
    data = b""
    while True:
        chunk = os.read(pids_r, 65536)
        if not chunk:
            break
        data += chunk
    if pidfile:
        with open(pidfile, "wb") as f:
            f.write(data)
    # EOF on the pipe: every grandchild has exited (or at least closed it).
    while os.read(read_end, 1):
        pass
    write_atomic(ready, "done\n")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
