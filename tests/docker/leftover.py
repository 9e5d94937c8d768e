"""A process left behind by the main child: python3 -u leftover.py --out DIR

Leaves the process group it was started in (setsid), so that a signal
forwarded to the main child's group misses it: only an init's drain of the
leftovers reaches it.  Writes "leftover ready", then "leftover got N" for
the first TERM, QUIT or INT it gets, and exits 0.  A SIGKILL leaves no line.
"""
import argparse
import os
import signal
import time

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
args = parser.parse_args()
EVENTS = os.path.join(args.out, "events")


def event(text):
    with open(EVENTS, "a") as events:
        events.write(text + "\n")


def on_signal(signum, frame):
    event("leftover got %d" % signum)
    os._exit(0)


os.setsid()
for sig in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT):
    signal.signal(sig, on_signal)
event("leftover ready")
while True:
    time.sleep(3600)
