"""An ASGI app for uvicorn: /slow?s=SECONDS sleeps, /pid says which worker.
Writes "start PID" and "done PID" to /out/events, as gunicorn_app.py does."""
import asyncio
import os
from urllib.parse import parse_qs


def event(text):
    with open("/out/events", "a") as events:
        events.write(text + "\n")


async def app(scope, receive, send):
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    if scope["path"] == "/slow":
        seconds = float(parse_qs(scope["query_string"].decode()).get("s", ["3"])[0])
        event("start %d" % os.getpid())
        await asyncio.sleep(seconds)
        event("done %d" % os.getpid())
        body = "done after %g s by %d\n" % (seconds, os.getpid())
    else:
        body = "pid %d\n" % os.getpid()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})
