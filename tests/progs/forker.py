"""Test child: a fork/exit storm, then leftovers.

    forker.py DIR COUNT LEFTOVERS CODE TERM

Phase 1 (storm): starts COUNT short-lived processes and abandons them, so
they end up tini-py's to reap: double forks (the middle exits at once),
grandchildren that call setsid() or setpgid(0, 0) first, triple-fork
chains, and direct children this process never waits for.  When every
orphan has exited, writes "stormed\\n" to DIR/stormed.

Phase 2 (leftovers): starts LEFTOVERS long-lived processes, rotating over
"same group", "own group" (setpgid) and "own session" (setsid), each
orphaned (double fork).  TERM is "handle" (on SIGTERM: append "PID SIG\\n"
to DIR/signalled, exit 0) or "ignore" (SIG_IGN for SIGTERM; killed only by
SIGKILL).  Also leaves 50 direct children as zombies it never waits for.
Their pids go to DIR/leftovers, then "ready\\n" to DIR/ready.

Then waits until DIR/go exists and exits with CODE.
"""
import os
import random
import signal
import sys
import time

from progutil import close_stdio_and_sleep, wait_for_file, write_atomic


def orphan(kind, hold_fd, body):
    """Fork a process that ends up re-parented to tini-py, running body()."""
    middle = os.fork()
    if middle == 0:
        try:
            if kind == "session":
                os.setsid()
            levels = 2 if kind == "chain" else 1
            for _ in range(levels):
                if os.fork() != 0:
                    os._exit(0)
            if kind == "group":
                os.setpgid(0, 0)
            body()
        finally:
            os._exit(0)
    os.waitpid(middle, 0)


def main():
    directory, count, leftovers, code, term = sys.argv[1:6]
    count, leftovers, code = int(count), int(leftovers), int(code)
    rng = random.Random(count)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    # ---- phase 1: the storm
    read_end, write_end = os.pipe()
    kinds = ("plain", "session", "group", "chain", "direct")
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "direct":
            if os.fork() == 0:
                os._exit(i % 7)
            continue  # never waited for: a zombie until we exit
        lifetime = rng.random() * 0.02

        def body(lifetime=lifetime):
            os.close(read_end)
            time.sleep(lifetime)
        orphan(kind, write_end, body)
    os.close(write_end)
    while os.read(read_end, 1):  # EOF: every orphan has exited
        pass
    os.close(read_end)
    write_atomic(os.path.join(directory, "stormed"), "stormed\n")

    # ---- phase 2: leftovers
    pids_r, pids_w = os.pipe()
    signalled = os.path.join(directory, "signalled")
    groups = ("same", "group", "session")
    for i in range(leftovers):
        kind = groups[i % len(groups)]
        kind = "plain" if kind == "same" else kind

        def body():
            os.close(pids_r)
            if term == "handle":
                def on_term(sig, frame):
                    fd = os.open(signalled, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                    os.write(fd, b"%d %d\n" % (os.getpid(), sig))
                    os._exit(0)
                signal.signal(signal.SIGTERM, on_term)
            else:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(pids_w, b"%d\n" % os.getpid())
            os.close(pids_w)
            close_stdio_and_sleep()
        orphan(kind, pids_w, body)
    os.close(pids_w)
    data = b""
    while len(data.split()) < leftovers:
        chunk = os.read(pids_r, 65536)
        if not chunk:
            break
        data += chunk
    for _ in range(50):
        if os.fork() == 0:
            os._exit(3)
    write_atomic(os.path.join(directory, "leftovers"), data.decode())
    write_atomic(os.path.join(directory, "ready"), "ready\n")
    wait_for_file(os.path.join(directory, "go"))
    sys.exit(code)


if __name__ == "__main__":
    main()
