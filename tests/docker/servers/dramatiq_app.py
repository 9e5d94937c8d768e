"""A Dramatiq actor on its Redis broker (127.0.0.1:6379): `dramatiq
dramatiq_app` runs it; `python -c 'import dramatiq_app;
dramatiq_app.slow.send(4)'` queues a message of 4 s.  The actor writes
"start PID" and "done PID" to /out/events."""
import os
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(host="127.0.0.1", port=6379))


def event(text):
    with open("/out/events", "a") as events:
        events.write(text + "\n")


@dramatiq.actor(max_retries=0)
def slow(seconds):
    event("start %d" % os.getpid())
    time.sleep(seconds)
    event("done %d" % os.getpid())
