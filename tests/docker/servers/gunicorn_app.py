"""A WSGI app for gunicorn: /slow?s=SECONDS sleeps, /pid says which worker."""
import os
import time
from urllib.parse import parse_qs


def event(text):
    with open("/out/events", "a") as events:
        events.write(text + "\n")


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if environ["PATH_INFO"] == "/slow":
        seconds = float(query.get("s", ["3"])[0])
        event("start %d" % os.getpid())
        time.sleep(seconds)
        event("done %d" % os.getpid())
        body = "done after %g s by %d\n" % (seconds, os.getpid())
    else:
        body = "pid %d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
