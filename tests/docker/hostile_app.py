"""The application of test_hostile_settings.py: it first does what a hostile
setting makes fail, says in DIR/events what happened, then becomes the job
worker (tests/docker/worker.py, run in this same process: same pid, and the
descriptors and children it holds are kept).

    python3 -u hostile_app.py --out DIR [--wait-for FILE] [--orphan]
        [--exhaust-fds | --exhaust-pids | --allocate] [--exit-status N]
        [worker.py's options]

It starts by writing "application pid=P".

* --wait-for FILE: first wait until FILE exists (the test's witness is in place).
* --orphan: leave a setsid'd orphan (double fork).  It writes
  "orphan ready pid=P ppid=Q" once re-parented (Q: its new parent), and on
  QUIT or TERM "orphan got SIGNAME" and "orphan exit", then exits 0.
* --exhaust-fds: open /dev/null until refused ("fds refused EMFILE after N
  opens"); close two for the worker's own log, keep the rest open.
* --exhaust-pids: fork until refused ("fork refused EAGAIN after N
  children"); the children sleep in the worker's group and exit 0 on QUIT
  or TERM.
* --allocate: 1 MB after 1 MB, touched, until killed ("allocated N MB"
  every 4 MB); never becomes the worker.
* --exit-status N: exit N where the worker would exit 0 (after its graceful
  stop), so that a test can tell the application's status from a default.
"""
import argparse
import errno
import os
import runpy
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def event(out, text):
    with open(os.path.join(out, "events"), "a") as events:
        events.write(text + "\n")


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.02)


def leave_orphan(out):
    middle = os.fork()
    if middle:
        os.waitpid(middle, 0)
        return
    middle = os.getpid()
    os.setsid()
    if os.fork():
        os._exit(0)
    while os.getppid() == middle:  # until the kernel has re-parented us
        time.sleep(0.01)
    run_orphan(out)


def run_orphan(out):
    def on_stop(signum, frame):
        event(out, "orphan got %s" % signal.Signals(signum).name)
        event(out, "orphan exit")
        os._exit(0)

    signal.signal(signal.SIGQUIT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    event(out, "orphan ready pid=%d ppid=%d" % (os.getpid(), os.getppid()))
    while True:
        signal.pause()


def exhaust_fds(out):
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as error:
        refused = error
    for fd in held[-2:]:  # room for the log line, and the worker's
        os.close(fd)
    event(out, "fds refused %s after %d opens" % (errno.errorcode[refused.errno], len(held)))
    return held[:-2]


def exhaust_pids(out):
    children = 0
    while True:
        try:
            pid = os.fork()
        except OSError as error:
            event(out, "fork refused %s after %d children"
                  % (errno.errorcode[error.errno], children))
            return
        if pid == 0:
            signal.signal(signal.SIGQUIT, lambda *a: os._exit(0))
            signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
            while True:
                signal.pause()
        children += 1


def allocate(out):
    chunks = []
    while True:
        chunks.append(b"x" * (1 << 20))  # written, not just mapped
        if len(chunks) % 4 == 0:
            event(out, "allocated %d MB" % len(chunks))


def run_worker(out, worker_args, exit_status):
    sys.argv = [os.path.join(HERE, "worker.py"), "--out", out, *worker_args]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as end:
        if end.code in (0, None) and exit_status is not None:
            event(out, "exit %d" % exit_status)
            sys.exit(exit_status)
        raise


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--wait-for")
    parser.add_argument("--orphan", action="store_true")
    parser.add_argument("--exhaust-fds", action="store_true")
    parser.add_argument("--exhaust-pids", action="store_true")
    parser.add_argument("--allocate", action="store_true")
    parser.add_argument("--exit-status", type=int)
    args, worker_args = parser.parse_known_args()
    event(args.out, "application pid=%d" % os.getpid())
    if args.wait_for:
        wait_for(args.wait_for)
    if args.orphan:
        leave_orphan(args.out)
    if args.allocate:
        allocate(args.out)
    held = exhaust_fds(args.out) if args.exhaust_fds else []  # noqa: F841 - kept open
    if args.exhaust_pids:
        exhaust_pids(args.out)
    run_worker(args.out, worker_args, args.exit_status)


if __name__ == "__main__":
    main()
