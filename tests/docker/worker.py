"""A job worker with the usual signal contract (php-resque, celery-like):

    python3 -u worker.py --out DIR [--job-seconds S] [--jobs N]

* SIGTERM: stop at once; the current job is cut (exit 143).
* SIGQUIT: finish the current job, then exit 0.
* SIGUSR2: reload (logged; keeps working).
* SIGHUP is left at its default action (terminate): a HUP that reaches the
  worker unrewritten kills it.

Progress goes to stdout and, one event per line, to DIR/events:
"start N", "done N", "term N", "quit N", "reload", "exit 0".
"""
import argparse
import os
import signal
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--job-seconds", type=float, default=3.0)
parser.add_argument("--jobs", type=int, default=0, help="stop after N jobs (0: never)")
args = parser.parse_args()
EVENTS = os.path.join(args.out, "events")
state = {"job": 0, "quit": False}


def event(text):
    with open(EVENTS, "a") as events:
        events.write(text + "\n")
    print("worker[%d]: %s" % (os.getpid(), text), flush=True)


def on_term(signum, frame):
    event("term %d" % state["job"])
    os._exit(143)


def on_quit(signum, frame):
    if not state["quit"]:
        state["quit"] = True
        event("quit %d" % state["job"])


def on_usr2(signum, frame):
    event("reload")


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGQUIT, on_quit)
signal.signal(signal.SIGUSR2, on_usr2)
event("ready pid=%d ppid=%d pgid=%d" % (os.getpid(), os.getppid(), os.getpgid(0)))
while not state["quit"]:
    state["job"] += 1
    event("start %d" % state["job"])
    deadline = time.monotonic() + args.job_seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    event("done %d" % state["job"])
    if args.jobs and state["job"] >= args.jobs:
        break
event("exit 0")
sys.exit(0)
