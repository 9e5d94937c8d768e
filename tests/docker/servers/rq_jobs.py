"""An RQ job: `rq worker --path /t/servers` runs it (Redis on 127.0.0.1:6379);
`python -c 'import rq_jobs; rq_jobs.enqueue(4)'` queues one of 4 s.  The job
writes "start PID" and "done PID" to /out/events."""
import os
import time


def event(text):
    with open("/out/events", "a") as events:
        events.write(text + "\n")


def slow(seconds):
    event("start %d" % os.getpid())
    time.sleep(seconds)
    event("done %d" % os.getpid())
    return seconds


def enqueue(seconds):
    from redis import Redis
    from rq import Queue
    Queue(connection=Redis("127.0.0.1", 6379)).enqueue(slow, seconds)
