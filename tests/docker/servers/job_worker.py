"""The seed incident's worker, run by supervisord as `bash -c 'job_worker; echo done'`.

* SIGTERM: stop at once; the current job is cut.
* SIGQUIT: finish the current job, then exit 0.
Every event goes to /out/events as "PID EVENT": "PID ready", "PID start N",
"PID done N", "PID quit", "PID term", "PID exit".
"""
import os
import signal
import sys
import time

JOB_SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
state = {"quit": False, "job": 0}


def event(text):
    with open("/out/events", "a") as events:
        events.write("%d %s\n" % (os.getpid(), text))


def on_term(signum, frame):
    event("term")
    os._exit(143)


def on_quit(signum, frame):
    state["quit"] = True
    event("quit")


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGQUIT, on_quit)
event("ready")
while not state["quit"]:
    state["job"] += 1
    event("start %d" % state["job"])
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.02)
    event("done %d" % state["job"])
event("exit")
