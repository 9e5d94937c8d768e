"""A Celery app on kombu's filesystem transport (no network, no broker
server): `celery -A celery_app worker`; `python3 -c 'import celery_app;
celery_app.slow.delay(4)'` queues a task of 4 s.  The task writes "start PID"
and "done PID" to /out/events."""
import os
import time

from celery import Celery

BROKER = "/tmp/broker"
for folder in ("queue", "processed"):
    os.makedirs(os.path.join(BROKER, folder), exist_ok=True)

app = Celery("celery_app", broker="filesystem://")
app.conf.broker_transport_options = {
    "data_folder_in": BROKER + "/queue",
    "data_folder_out": BROKER + "/queue",
    "processed_folder": BROKER + "/processed",
    "store_processed": True,
}
app.conf.worker_hijack_root_logger = False


def event(text):
    with open("/out/events", "a") as events:
        events.write(text + "\n")


@app.task
def slow(seconds):
    event("start %d" % os.getpid())
    time.sleep(seconds)
    event("done %d" % os.getpid())
    return seconds
