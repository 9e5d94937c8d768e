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


def sidekiq(timeout):
    """sidekiq -t TIMEOUT with sidekiq_app.rb, once Redis answers on
    127.0.0.1:6379 (start_redis), then exec: no shell left in between."""
    return ["sh", "-c", "until redis-cli ping > /dev/null 2>&1; do sleep 0.1; done;"
            " exec sidekiq -r %s/sidekiq_app.rb -c 2 -t %d" % (SERVERS, timeout)]


def start_redis(ctr):
    """redis-server on 127.0.0.1:6379 in ctr by docker exec: in the container
    beside the server, but not in the init's process group or tree."""
    ctr.engine("exec", "-d", ctr.id, "redis-server", "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no")


def run_server(containers, image, init, server, env=None):
    """init: e.g. ["tini-py", "--profile", "php-fpm"] or ["tini"]."""
    return containers(image, *init[1:], "--", *server, entrypoint=init[0],
                      env=env if env is not None else NO_ENV)


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
