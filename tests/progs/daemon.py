"""Test child: leaves processes behind, then exits.

    daemon.py PIDFILE READY CODE [same|session] [ignore|handle] [COUNT] [GOFILE]

Starts COUNT (default 1) leftover processes (double fork; "session" ones call
setsid, "same" ones stay in this process group), each of which ignores or
handles SIGTERM ("handle": exits 0 at once on SIGTERM) and otherwise sleeps
forever.  Writes their pids (this namespace) to PIDFILE, one per line, then
"ready" to READY, then (once GOFILE exists, if given) exits with CODE.
"""
import os
import signal
import sys

from progutil import close_stdio_and_sleep, wait_for_file, write_atomic


def main():
    pidfile, ready, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    group = sys.argv[4] if len(sys.argv) > 4 else "same"
    term = sys.argv[5] if len(sys.argv) > 5 else "ignore"
    count = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    gofile = sys.argv[7] if len(sys.argv) > 7 else None
    pids = []
    for _ in range(count):
        r, w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(r)
            if group == "session":
                os.setsid()
            pid = os.fork()
            if pid == 0:
                signal.pthread_sigmask(signal.SIG_SETMASK, [])
                if term == "ignore":
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                else:
                    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
                os.write(w, b"%d\n" % os.getpid())
                os.close(w)
                close_stdio_and_sleep()
            os._exit(0)
        os.close(w)
        os.waitpid(middle, 0)
        data = b""
        while True:
            chunk = os.read(r, 100)
            if not chunk:
                break
            data += chunk
        os.close(r)
        pids.append(int(data))
    with open(pidfile, "w") as f:
        f.write("".join("%d\n" % p for p in pids))
    write_atomic(ready, "ready\n")
    if gofile:
        wait_for_file(gofile)
    sys.exit(code)


if __name__ == "__main__":
    main()
