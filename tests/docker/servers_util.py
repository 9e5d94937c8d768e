"""Running Debian's real servers under an init in a container, and clients
beside them.

A server container runs ``INIT [INIT-ARGS] -- SERVER...`` (INIT is tini-py as
the image installs it, or Debian's tini for a side-by-side control).  A
client runs in a sidecar container that shares the server's network
namespace (``--network container:ID``, as containers of a pod do): it reaches
the server on loopback, and it is not a process of the server's PID
namespace, so the init's stop never waits for it.

The servers' files are in tests/docker/servers, mounted at /t/servers.
"""
import time

SERVERS = "/t/servers"
NO_ENV = {"TINI_PY_GRACEFUL": ""}

PHP_FPM = ["php-fpm8.2", "-F", "-y", SERVERS + "/php-fpm.conf"]
PHP_FPM_TIMEOUT_0 = ["php-fpm8.2", "-F", "-y", SERVERS + "/php-fpm-debian-timeout.conf"]
# nginx reads its config from /tmp so that a test can change it and reload.
BIG_BYTES = 1200000  # /tmp/www/big: nginx and apache2 send it at 400 KB/s
NGINX = ["sh", "-c", "mkdir -p /tmp/www && head -c %d /dev/zero > /tmp/www/big"
         " && cp %s/nginx.conf /tmp/nginx.conf && exec nginx -c /tmp/nginx.conf"
         % (BIG_BYTES, SERVERS)]
GUNICORN = ["gunicorn", "--chdir", SERVERS, "--workers", "2", "--bind", "127.0.0.1:8000",
            "--graceful-timeout", "30", "--log-level", "info", "gunicorn_app:app"]
# apache2 as Debian's apache2ctl starts it (envvars sourced, its run and lock
# directories made), then exec: no shell is left between tini-py and apache2.
# The config is read from /tmp so that a test can change it and reload.
APACHE = ["sh", "-c", ". /etc/apache2/envvars"
          " && mkdir -p /tmp/www $APACHE_RUN_DIR $APACHE_LOCK_DIR"
          " && head -c %d /dev/zero > /tmp/www/big"
          " && echo 'config 1' > /tmp/www/version-1 && echo 'config 2' > /tmp/www/version-2"
          " && cp %s/apache2.conf /tmp/apache2.conf"
          " && exec apache2 -DFOREGROUND -f /tmp/apache2.conf" % (BIG_BYTES, SERVERS)]
# haproxy in master-worker mode (-W), in the foreground (-db).
HAPROXY = ["sh", "-c", "cp %s/haproxy.cfg /tmp/haproxy.cfg"
           " && exec haproxy -W -db -f /tmp/haproxy.cfg" % SERVERS]
# unicorn and puma (cluster mode) with 2 workers each, serving config.ru.
UNICORN = ["unicorn", "-c", SERVERS + "/unicorn.conf.rb", SERVERS + "/config.ru"]
PUMA = ["puma", "-w", "2", "-b", "tcp://127.0.0.1:8000", SERVERS + "/config.ru"]
CELERY = ["celery", "--workdir", SERVERS, "-A", "celery_app", "worker", "--pool", "prefork",
          "--concurrency", "2", "--loglevel", "INFO", "--without-mingle", "--without-gossip",
          "--without-heartbeat"]

# uWSGI (Debian's) serving gunicorn_app.py itself (--http-socket: no router
# process), a master and 2 workers; options such as --die-on-term follow.
UWSGI = ["uwsgi", "--plugin", "python3", "--master", "--processes", "2",
         "--http-socket", "127.0.0.1:8000", "--chdir", SERVERS, "--module", "gunicorn_app:app"]
# PyPI's servers, in the venv of conftest.PYPI_RECIPE.
PYPI_BIN = "/opt/pypi/bin/"
UVICORN = [PYPI_BIN + "uvicorn", "--app-dir", SERVERS, "--workers", "2",
           "--host", "127.0.0.1", "--port", "8000", "asgi_app:app"]
# The package of a tiny node server, for `npm start`.
NPM_APP = SERVERS + "/npm-app"


def after_redis(command):
    """command, once Redis answers on 127.0.0.1:6379 (start_redis), by exec:
    no shell left in between."""
    return ["sh", "-c", "until redis-cli ping > /dev/null 2>&1; do sleep 0.1; done; exec "
            + " ".join(command)]


def sidekiq(timeout):
    """sidekiq -t TIMEOUT with sidekiq_app.rb, after_redis."""
    return after_redis(["sidekiq", "-r", SERVERS + "/sidekiq_app.rb", "-c", "2", "-t", str(timeout)])


# RQ's worker (it forks a work-horse per job) and Dramatiq's (a main process
# and 2 worker processes of 1 thread), after_redis.
RQ_WORKER = after_redis([PYPI_BIN + "rq", "worker", "--url", "redis://127.0.0.1:6379",
                         "--path", SERVERS])
DRAMATIQ = after_redis([PYPI_BIN + "dramatiq", "--path", SERVERS, "--processes", "2",
                        "--threads", "1", "dramatiq_app"])


def start_redis(ctr):
    """redis-server on 127.0.0.1:6379 in ctr by docker exec: in the container
    beside the server, but not in the init's process group or tree."""
    ctr.engine("exec", "-d", ctr.id, "redis-server", "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no")


def run_server(containers, image, init, server, env=None, options=()):
    """init: e.g. ["tini-py", "--profile", "php-fpm"] or ["tini"]; none ([]):
    the server is PID 1 itself."""
    command = [*init, "--", *server] if init else server
    return containers(image, *command[1:], entrypoint=command[0],
                      env=env if env is not None else NO_ENV, options=options)


class Client:
    """One request from a sidecar container, sent when go() is called (the
    sidecar is started beforehand: starting a container takes a second or
    more on a busy machine).  Its outcome lands in the sidecar's /out."""

    def __init__(self, container):
        self.ctr = container

    def go(self):
        (self.ctr.out / "go").write_text("")
        return self

    def done(self):
        return (self.ctr.out / "rc").exists()

    def wait(self, timeout=60):
        self.ctr.wait_for(self.done, timeout=timeout, what="the client to finish")
        return self

    @property
    def rc(self):
        return int((self.ctr.out / "rc").read_text().strip() or -1)

    @property
    def body(self):
        path = self.ctr.out / "body"
        return path.read_bytes() if path.exists() else b""

    @property
    def result(self):
        """curl's -w output: 'HTTP_CODE BYTES' (empty for cgi-fcgi)."""
        path = self.ctr.out / "result"
        return path.read_text().strip() if path.exists() else ""

    def describe(self):
        err = self.ctr.out / "stderr"
        body = self.body
        return "rc=%s result=%r body=%s stderr=%r" % (
            self.rc if self.done() else None, self.result,
            "%d bytes" % len(body) if len(body) > 200 else repr(body),
            err.read_text()[-300:] if err.exists() else None)


def _sidecar(containers, server, image, script, go=True):
    wait_for_go = "while [ ! -e /out/go ]; do sleep 0.02; done; " if go else ""
    sidecar = containers(image, "sh", "-c", wait_for_go + script + "; echo $? > /out/rc",
                         entrypoint="", network="container:" + server.id)
    return Client(sidecar)


def http_get(containers, server, image, url):
    """curl URL from a sidecar: body, 'code bytes', curl's status (18: cut short)."""
    return _sidecar(containers, server, image,
                    "curl -sS --max-time 90 -o /out/body -w '%%{http_code} %%{size_download}' "
                    "'%s' > /out/result 2> /out/stderr" % url)


def http_download(containers, server, image, url, under_way=100000):
    """http_get, sent, and under way: once `under_way` bytes have arrived."""
    client = http_get(containers, server, image, url).go()
    body = client.ctr.out / "body"
    client.ctr.wait_for(lambda: body.exists() and body.stat().st_size >= under_way,
                        timeout=30, what="the download to be under way")
    return client


def download_completed(client):
    return client.rc == 0 and client.result == "200 %d" % BIG_BYTES


def fastcgi_get(containers, server, image, script, query):
    """A FastCGI GET to php-fpm on 127.0.0.1:9000 by cgi-fcgi from a sidecar."""
    return _sidecar(containers, server, image,
                    "SCRIPT_FILENAME=%s SCRIPT_NAME=/x.php REQUEST_METHOD=GET QUERY_STRING='%s'"
                    " cgi-fcgi -bind -connect 127.0.0.1:9000 > /out/body 2> /out/stderr"
                    % (script, query))


def wsgi_backend(containers, server, image, port=8001):
    """A slow backend for a proxy: gunicorn_app.py (/slow?s=N) served by
    wsgiref on 127.0.0.1:PORT from a sidecar sharing server's loopback, at
    once (no go()).  Returns the sidecar container: its /out/events gets
    the requests' "start"/"done", its log "backend ready"."""
    serve = ("import sys; sys.path.insert(0, %r); import gunicorn_app; "
             "from wsgiref.simple_server import make_server; "
             "httpd = make_server('127.0.0.1', %d, gunicorn_app.app); "
             "print('backend ready', flush=True); httpd.serve_forever()" % (SERVERS, port))
    return _sidecar(containers, server, image, 'python3 -u -c "%s"' % serve, go=False).ctr


def events_starting(ctr, prefix):
    return [e for e in ctr.events() if e.startswith(prefix)]


def wait_for_events(ctr, prefix, count=1, timeout=30):
    return ctr.wait_for(lambda: len(events_starting(ctr, prefix)) >= count, timeout=timeout,
                        what="%d event(s) %r" % (count, prefix))


def children_of(ctr, pid):
    return sorted(p for p, ppid, stat, args in ctr.processes() if ppid == pid)


def wait_for_log_count(ctr, text, count, timeout=60):
    return ctr.wait_for(lambda: ctr.logs().count(text) >= count, timeout=timeout,
                        what="%d x %r in the logs" % (count, text))


def said(ctr, text):
    """tini-py's own -v lines that contain text."""
    return [line for line in ctr.logs().splitlines()
            if line.startswith("tini-py: ") and text in line]


def record(scenario, **values):
    """One measured outcome, printed (pytest -s) and appended to
    $TINI_PY_SERVERS_LOG when set: what a run of the suite saw."""
    import json
    import os
    line = json.dumps(dict(scenario=scenario, **values), sort_keys=True, default=str)
    print("\nSERVERS " + line)
    path = os.environ.get("TINI_PY_SERVERS_LOG")
    if path:
        with open(path, "a") as log:
            log.write(line + "\n")


# ------------------------------------------- a request in flight, a signal

REQUEST_SECONDS = 4
STOP_TIMEOUT = 30  # docker stop -t: far beyond every graceful stop here


def main_pid(ctr):
    """The init's child: the server's master process."""
    return children_of(ctr, 1)[0]


def slow_request(containers, image, init, server, ready, options=()):
    """server under init, with GET /slow?s=REQUEST_SECONDS on 127.0.0.1:8000
    in flight from a sidecar.  ready(containers, image, ctr) waits until the
    server serves and returns the container whose /out/events the request
    writes "start PID" and "done PID" to."""
    ctr = run_server(containers, image, init, server, options=options)
    events = ready(containers, image, ctr)
    client = http_get(containers, ctr, image,
                      "http://127.0.0.1:8000/slow?s=%d" % REQUEST_SECONDS)
    client.go()
    wait_for_events(events, "start")
    return ctr, client


def slow_request_completed(client):
    """The whole answer of gunicorn_app.py or slow.cgi: not an error page."""
    return client.rc == 0 and client.body.startswith(b"done after")


def stop_mid_request(scenario, ctr, client, completed, timeout=STOP_TIMEOUT, **facts):
    """docker stop -t timeout while client's request is in flight; records and
    returns (seconds the stop took, exit status, completed(client))."""
    elapsed, code = ctr.stop(timeout)
    client.wait()
    done = completed(client)
    record(scenario, exit=code, seconds=round(elapsed, 2), completed=done,
           client=client.describe(), **facts)
    return elapsed, code, done


def assert_stop_outcome(finishes, completed, elapsed, evidence, cut_within=5):
    """A graceful stop let the request finish within REQUEST_SECONDS + 5 s;
    otherwise the request was cut, and the stop took under cut_within s."""
    if finishes:
        assert completed, evidence
        assert elapsed < REQUEST_SECONDS + 5, elapsed
    else:
        assert not completed, evidence
        assert elapsed < cut_within, elapsed


def stop_mid_job(scenario, ctr, timeout=STOP_TIMEOUT, **facts):
    """docker stop -t timeout while a job (a task, a message) runs that
    writes "done PID" at its end; records and returns (seconds the stop
    took, exit status, whether the job got done)."""
    elapsed, code = ctr.stop(timeout)
    done = bool(events_starting(ctr, "done"))
    record(scenario, exit=code, seconds=round(elapsed, 2), job_done=done, **facts)
    return elapsed, code, done


def assert_job_outcome(finishes, done, code, elapsed, evidence):
    """A graceful stop let the job finish and exit 0 within REQUEST_SECONDS
    + 5 s; otherwise the job was cut, and the stop took under 4 s."""
    if finishes:
        assert done, evidence
        assert code == 0, evidence
        assert elapsed < REQUEST_SECONDS + 5, elapsed
    else:
        assert not done, evidence
        assert elapsed < 4, elapsed


def logged(text, count=1):
    """A ready() for slow_request: once the server has logged text count times."""
    def ready(containers, image, ctr):
        wait_for_log_count(ctr, text, count)
        return ctr
    return ready


def signal_mid_request(ctr, client, signal):
    """docker kill -s signal while client's request is in flight; returns
    (the master, its children before, seconds until the client was done)."""
    master = main_pid(ctr)
    workers = children_of(ctr, master)
    started = time.monotonic()
    ctr.kill(signal)
    client.wait()
    return master, workers, time.monotonic() - started


def wait_for_new_workers(ctr, master, workers, timeout=20, children=children_of):
    """Until the master has two children again (children(ctr, master)), none
    of them one of workers."""
    ctr.wait_for(lambda: len(children(ctr, master)) == 2
                 and not set(children(ctr, master)) & set(workers),
                 timeout=timeout, what="two new workers")


def workers_of(ctr, master, args=""):
    """The master's children (whose command line contains args), none of
    them stopped (T)."""
    workers = [row for row in ctr.processes() if row[1] == master and args in row[3]]
    assert not [row for row in workers if row[2].startswith("T")], workers
    return sorted(row[0] for row in workers)


def count_workers_after_ttin_and_ttou(ctr, forwarded, workers=workers_of):
    """TTIN, then TTOU: the master's worker count (workers(ctr, master))
    before, after each."""
    master = main_pid(ctr)
    counts = [len(workers(ctr, master))]
    for signal, expected in (("TTIN", 3), ("TTOU", 2)):
        ctr.kill(signal)
        if forwarded:
            ctr.wait_for(lambda: len(workers(ctr, master)) == expected, timeout=15,
                         what="%d workers after %s" % (expected, signal))
        else:
            time.sleep(3)
        counts.append(len(workers(ctr, master)))
    return counts


def process_states(ctr, pids):
    """{pid: its ps state letter (S, R, T, ...)} for those of pids alive."""
    return {pid: stat[0] for pid, ppid, stat, args in ctr.processes() if pid in pids}
