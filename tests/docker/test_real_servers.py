"""Debian's real servers as the child of tini-py, PID 1 of a real container.

Each scenario runs a request (or a task, or a job) that is in flight when the
signal comes, and says what became of it; each has a control that shows the
same scenario failing with the wrong signal or the wrong recipient.  The
servers are Debian bookworm's (the servers_image fixture), their files are
in tests/docker/servers, and clients run in sidecar containers that share
the server's loopback (see servers_util.py).

What a "group" delivery does to a prefork server: the workers share the
master's process group, and most keep the default action for the master's
control signals -- HUP, USR1, USR2 kill a php-fpm or gunicorn worker, TERM,
QUIT, HUP, USR1 cut a Celery pool child's task.  Those signals must reach
the main process alone, which then tells its workers what to do.
"""
import re
import time

import pytest

from .servers_util import (APACHE, CELERY, GUNICORN, HAPROXY, NGINX, PHP_FPM, PHP_FPM_TIMEOUT_0,
                           PUMA, REQUEST_SECONDS, SERVERS, STOP_TIMEOUT, UNICORN,
                           assert_job_outcome, assert_stop_outcome, children_of,
                           count_workers_after_ttin_and_ttou, download_completed,
                           events_starting, fastcgi_get, http_download, main_pid, record,
                           run_server, said, sidekiq, signal_mid_request, slow_request,
                           slow_request_completed, start_redis, stop_mid_request,
                           wait_for_events, wait_for_log_count, wait_for_new_workers,
                           wsgi_backend)


# ----------------------------------------------------------------- php-fpm

def php_fpm_request(containers, image, init, server=PHP_FPM, seconds=REQUEST_SECONDS):
    """php-fpm under init, with a request of `seconds` in flight."""
    ctr = run_server(containers, image, init, server)
    ctr.wait_for_log("ready to handle connections")
    client = fastcgi_get(containers, ctr, image, SERVERS + "/slow.php", "s=%g" % seconds)
    client.go()
    wait_for_events(ctr, "start")
    return ctr, client


# php-fpm's scenarios run on the servers image (python3) and on a PHP
# team's image whose only Python is python3-minimal (no ctypes).
PHP_IMAGES = {"servers": "servers_image", "python3-minimal": "php_minimal_image"}


@pytest.fixture
def php_image(request):
    """Parametrize indirectly with a key of PHP_IMAGES."""
    return request.getfixturevalue(PHP_IMAGES[request.param])


def php_fpm_completed(ctr, client):
    return client.rc == 0 and b"done after" in client.body \
        and len(events_starting(ctr, "done")) == 1


@pytest.mark.parametrize("php_image, init, server, finishes", [
    pytest.param("servers", ["tini-py", "-v", "--profile", "php-fpm"], PHP_FPM, True,
                 id="profile-php-fpm-finishes"),
    pytest.param("servers", ["tini-py", "-v"], PHP_FPM, False, id="control-plain-TERM-cuts"),
    pytest.param("servers", ["tini-py", "-v", "--profile", "php-fpm"], PHP_FPM_TIMEOUT_0, False,
                 id="control-process_control_timeout-0-cuts"),
    pytest.param("python3-minimal", ["tini-py", "-v", "--profile", "php-fpm"], PHP_FPM, True,
                 id="python3-minimal-profile-php-fpm-finishes"),
    pytest.param("python3-minimal", ["tini-py", "-v"], PHP_FPM, False,
                 id="python3-minimal-control-plain-TERM-cuts"),
], indirect=["php_image"])
def test_php_fpm_docker_stop_mid_request(php_image, containers, init, server, finishes):
    ctr, client = php_fpm_request(containers, php_image, init, server)
    elapsed, code, completed = stop_mid_request(
        "php-fpm docker stop", ctr, client, lambda client: php_fpm_completed(ctr, client),
        init=init, config=server[-1], image=php_image)
    # php-fpm exits 0 after TERM too: only the request tells a drain from a cut.
    assert code == 0, ctr.logs()
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), ctr.events()))
    if finishes:
        assert said(ctr, "forwarding SIGQUIT to process group"), ctr.logs()
    else:
        assert client.rc != 0 or not client.body, client.describe()


@pytest.mark.parametrize("php_image, signal, init, finishes, log_says", [
    pytest.param("servers", "HUP", ["tini-py", "-v", "--profile", "php-fpm"], True,
                 "Reloading in progress", id="HUP-as-USR2-to-the-master-reloads"),
    pytest.param("servers", "HUP",
                 ["tini-py", "-v", "--profile", "php-fpm", "--to-group", "USR2"], False,
                 "Reloading in progress", id="control-USR2-to-the-group-cuts"),
    # Debian's php-fpm 8.2 master reloads on HUP itself (older ones died).
    pytest.param("servers", "HUP", ["tini-py", "-v", "--to-child", "HUP"], True,
                 "Reloading in progress", id="plain-HUP-to-the-master-reloads"),
    pytest.param("servers", "HUP", ["tini-py", "-v"], False,
                 "Reloading in progress", id="control-plain-HUP-to-the-group-cuts"),
    pytest.param("servers", "USR1", ["tini-py", "-v", "--profile", "php-fpm"], True,
                 "error log file re-opened", id="USR1-to-the-master-reopens-logs"),
    pytest.param("servers", "USR1",
                 ["tini-py", "-v", "--profile", "php-fpm", "--to-group", "USR1"], False,
                 "error log file re-opened", id="control-USR1-to-the-group-cuts"),
    pytest.param("python3-minimal", "HUP", ["tini-py", "-v", "--profile", "php-fpm"], True,
                 "Reloading in progress", id="python3-minimal-HUP-as-USR2-to-the-master-reloads"),
    pytest.param("python3-minimal", "HUP", ["tini-py", "-v"], False,
                 "Reloading in progress", id="python3-minimal-control-plain-HUP-to-the-group-cuts"),
], indirect=["php_image"])
def test_php_fpm_master_signal_mid_request(php_image, containers, signal, init, finishes,
                                           log_says):
    ctr, client = php_fpm_request(containers, php_image, init)
    master, workers, elapsed = signal_mid_request(ctr, client, signal)
    ctr.wait_for_log(log_says, timeout=15)
    assert ctr.running, ctr.logs()
    completed = php_fpm_completed(ctr, client)
    after = children_of(ctr, master)
    record("php-fpm %s" % signal, init=init, completed=completed, seconds=round(elapsed, 2),
           workers_before=workers, workers_after=after, client=client.describe(),
           image=php_image)
    assert main_pid(ctr) == master
    if finishes:
        assert completed, (client.describe(), ctr.events(), ctr.logs())
        assert elapsed > REQUEST_SECONDS - 2, elapsed  # it ran its course
        assert "exited on signal" not in ctr.logs()
    else:
        assert not completed, (client.describe(), ctr.events())
    if log_says.startswith("Reloading"):
        # A reload replaces every worker, once the request is done.
        wait_for_new_workers(ctr, master, workers, timeout=15)
    elif finishes:
        assert after == workers  # reopening logs kept the workers


@pytest.mark.parametrize("grace, killed", [
    pytest.param(["-t", "2"], True, id="t-2-kills-at-2s"),
    pytest.param([], False, id="control-without-t-the-request-finishes"),
])
def test_grace_kills_a_request_that_outlives_it(servers_image, containers, grace, killed):
    """php-fpm finishes requests on QUIT (process_control_timeout 30 s); a
    request of 8 s outlives -t 2, and tini-py's SIGKILL ends it at 2 s."""
    init = ["tini-py", "-v", "--profile", "php-fpm", *grace]
    ctr, client = php_fpm_request(containers, servers_image, init, seconds=8)
    elapsed, code, completed = stop_mid_request(
        "-t against php-fpm", ctr, client, lambda client: php_fpm_completed(ctr, client),
        init=init)
    if killed:
        assert code == 137, ctr.logs()
        assert 2 <= elapsed < 6, elapsed
        assert not completed, client.describe()
        assert said(ctr, "grace period of 2s is over"), ctr.logs()
    else:
        assert code == 0, ctr.logs()
        assert completed, client.describe()
        assert elapsed >= 4, elapsed


# ------------------------------------------------------------------- nginx

def nginx_download(containers, image, init):
    """nginx under init, with a rate-limited download of /big in flight."""
    ctr = run_server(containers, image, init, NGINX)
    wait_for_log_count(ctr, "start worker process ", 2)
    return ctr, http_download(containers, ctr, image, "http://127.0.0.1:8080/big")


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "nginx"], True, id="profile-nginx-finishes"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-TERM-cuts"),
])
def test_nginx_docker_stop_mid_download(servers_image, containers, init, finishes):
    ctr, client = nginx_download(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("nginx docker stop", ctr, client,
                                                download_completed, init=init)
    assert code == 0, ctr.logs()
    if finishes:
        assert completed, client.describe()
        assert "gracefully shutting down" in ctr.logs()
        assert elapsed < 8, elapsed
    else:
        assert client.rc == 18, client.describe()  # curl: transfer closed, bytes missing
        assert elapsed < 5, elapsed


@pytest.mark.parametrize("init, reloads", [
    pytest.param(["tini-py", "-v", "--profile", "nginx"], True, id="profile-nginx-HUP-to-master"),
    # nginx workers ignore HUP: the group may have it too.
    pytest.param(["tini-py", "-v", "--profile", "nginx", "--to-group", "HUP"], True,
                 id="HUP-to-the-group-also-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "nginx", "-r", "HUP:0"], False,
                 id="control-HUP-dropped-no-reload"),
])
def test_nginx_hup_reloads_mid_download(servers_image, containers, init, reloads):
    ctr, client = nginx_download(containers, servers_image, init)
    ctr.exec("sed", "-i", "s/config 1/config 2/", "/tmp/nginx.conf", check=True)
    master, workers, _ = signal_mid_request(ctr, client, "HUP")
    time.sleep(0.5)
    served = ctr.exec("curl", "-sS", "http://127.0.0.1:8080/version").stdout.strip()
    after = children_of(ctr, master)
    completed = download_completed(client)
    record("nginx HUP", init=init, completed=completed, served=served,
           workers_before=workers, workers_after=after, client=client.describe())
    assert completed, client.describe()
    assert main_pid(ctr) == master
    if reloads:
        assert served == "config 2", ctr.logs()
        assert len(after) == 2 and not set(after) & set(workers), (workers, after)
    else:
        assert served == "config 1", ctr.logs()
        assert after == workers


# ---------------------------------------------------------------- gunicorn

def gunicorn_ready(containers, image, ctr):
    wait_for_log_count(ctr, "Booting worker with pid", 2)
    return ctr


def gunicorn_request(containers, image, init):
    return slow_request(containers, image, init, GUNICORN, gunicorn_ready)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "gunicorn"], True, id="profile-gunicorn-finishes"),
    pytest.param(["tini-py", "-v", "-g", "QUIT"], False, id="control-QUIT-cuts"),
])
def test_gunicorn_docker_stop_mid_request(servers_image, containers, init, finishes):
    ctr, client = gunicorn_request(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("gunicorn docker stop", ctr, client,
                                                slow_request_completed, init=init)
    assert code == 0, ctr.logs()
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), ctr.logs()))


def gunicorn_reloaded(ctr, master, workers):
    """HUP: the arbiter says so and replaces both workers."""
    ctr.wait_for_log("Hang up: Master", timeout=15)
    wait_for_new_workers(ctr, master, workers)


def gunicorn_upgraded(ctr, master, workers):
    """USR2, the binary upgrade: the arbiter starts a new arbiter beside itself."""
    ctr.wait_for(lambda: ctr.logs().count("Starting gunicorn") == 2, timeout=20,
                 what="a second arbiter")


GUNICORN_MASTER_SIGNALS = {"HUP": (1, gunicorn_reloaded), "USR2": (12, gunicorn_upgraded)}


@pytest.mark.parametrize("signal, init, finishes", [
    pytest.param("HUP", ["tini-py", "-v", "--profile", "gunicorn"], True,
                 id="profile-gunicorn-HUP-to-master"),
    pytest.param("HUP", ["tini-py", "-v", "--profile", "gunicorn", "--to-group", "HUP"], False,
                 id="control-HUP-to-the-group-cuts"),
    pytest.param("USR2", ["tini-py", "-v", "--profile", "gunicorn"], True,
                 id="profile-gunicorn-USR2-to-master"),
    pytest.param("USR2", ["tini-py", "-v", "--profile", "gunicorn", "--to-group", "USR2"], False,
                 id="control-USR2-to-the-group-cuts"),
])
def test_gunicorn_master_signal_mid_request(servers_image, containers, signal, init, finishes):
    """The workers leave HUP and USR2 at the default action: sent to the group,
    they die of it mid-request (the arbiter sometimes with them: "reentrant
    call"); sent to the arbiter alone, it reloads or upgrades, and the
    request finishes."""
    number, acted = GUNICORN_MASTER_SIGNALS[signal]
    ctr, client = gunicorn_request(containers, servers_image, init)
    master, workers, _ = signal_mid_request(ctr, client, signal)
    completed = slow_request_completed(client)
    dead_of_it = "was terminated due to signal %d" % number
    if finishes:
        acted(ctr, master, workers)
    else:
        ctr.wait_for(lambda: dead_of_it in ctr.logs() or not ctr.running, timeout=15,
                     what="workers killed by %s" % signal)
    killed = re.findall(r"Worker with pid \d+ %s\b" % dead_of_it, ctr.logs())
    record("gunicorn %s" % signal, init=init, completed=completed, workers_killed=len(killed),
           arbiter_alive=ctr.running, arbiters_started=ctr.logs().count("Starting gunicorn"),
           workers_before=workers, client=client.describe())
    if finishes:
        assert ctr.running and main_pid(ctr) == master, ctr.logs()
        assert completed, (client.describe(), ctr.logs())
        assert not killed, ctr.logs()
    else:
        assert not completed, client.describe()
        assert killed or not ctr.running, ctr.logs()


@pytest.mark.parametrize("init, forwarded", [
    pytest.param(["tini-py", "-v", "--profile", "gunicorn"], True, id="profile-gunicorn"),
    # The workers keep the arbiter's handlers for TTIN/TTOU: the group may have them.
    pytest.param(["tini-py", "-v"], True, id="to-the-group-too"),
    pytest.param(["tini"], False, id="side-by-side-tini-does-not-forward-them"),
])
def test_gunicorn_ttin_and_ttou_add_and_remove_one_worker(servers_image, containers, init,
                                                          forwarded):
    ctr = run_server(containers, servers_image, init, GUNICORN)
    gunicorn_ready(containers, servers_image, ctr)
    counts = count_workers_after_ttin_and_ttou(ctr, forwarded)
    record("gunicorn TTIN/TTOU", init=init, workers=counts)
    assert counts == ([2, 3, 2] if forwarded else [2, 2, 2]), ctr.logs()
    assert ctr.logs().count("Booting worker with pid") == (3 if forwarded else 2)


# ------------------------------------------------------------------ apache

def apache_ready(containers, image, ctr):
    ctr.wait_for_log("resuming normal operations")
    return ctr


def apache_request(containers, image, init):
    """apache2 (Debian's modules, mpm_event) under init, with a slow.cgi
    request (mod_cgid) in flight."""
    return slow_request(containers, image, init, APACHE, apache_ready)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "apache"], True, id="profile-apache-finishes"),
    # apache's children leave WINCH alone: the group may have it too.
    pytest.param(["tini-py", "-v", "--profile", "apache", "--to-group", "WINCH"], True,
                 id="WINCH-to-the-group-also-finishes"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-TERM-cuts"),
    pytest.param(["tini-py", "-v", "--to-child", "TERM"], False,
                 id="control-TERM-to-the-master-alone-cuts"),
])
def test_apache_docker_stop_mid_request(servers_image, containers, init, finishes):
    """WINCH is apache's graceful stop: the master closes its listeners and
    waits for the requests in flight.  TERM is its immediate stop, whether
    the master gets it (and kills its children) or the whole group."""
    ctr, client = apache_request(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("apache docker stop", ctr, client,
                                                slow_request_completed, init=init)
    logs = ctr.logs()
    assert code == 0, logs  # after TERM too: only the request tells a drain from a cut
    # TERM to the master alone: it waits for its children to die of it.
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs),
                        cut_within=REQUEST_SECONDS + 5)
    if finishes:
        assert said(ctr, "forwarding SIGWINCH to"), logs
        assert "caught SIGWINCH, shutting down gracefully" in logs, logs
    else:
        assert "caught SIGTERM, shutting down" in logs, logs


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "apache"], True,
                 id="profile-apache-HUP-as-USR1-to-the-master"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-HUP-to-the-group-cuts"),
    pytest.param(["tini-py", "-v", "--to-child", "HUP"], False,
                 id="control-HUP-to-the-master-alone-cuts"),
    pytest.param(["tini-py", "-v", "--profile", "apache", "--to-group", "USR1"], False,
                 id="control-USR1-to-the-group-cuts"),
])
def test_apache_hup_mid_request(servers_image, containers, init, finishes):
    """USR1 is apache's graceful restart; HUP restarts it at once, and its
    children die of HUP and of USR1.  Each way apache reloads its config and
    starts a new generation of children; only USR1 to the master alone lets
    the request in flight finish."""
    ctr, client = apache_request(containers, servers_image, init)
    ctr.exec("sed", "-i", "s/version-1/version-2/", "/tmp/apache2.conf", check=True)
    master, children, elapsed = signal_mid_request(ctr, client, "HUP")
    wait_for_log_count(ctr, "resuming normal operations", 2, timeout=20)
    ctr.wait_for(lambda: not set(children_of(ctr, master)) & set(children), timeout=20,
                 what="a new generation of children")
    served = ctr.exec("curl", "-sS", "http://127.0.0.1:8000/version").stdout.strip()
    completed = slow_request_completed(client)
    record("apache HUP", init=init, completed=completed, seconds=round(elapsed, 2),
           served=served, children_before=children, children_after=children_of(ctr, master),
           client=client.describe())
    assert ctr.running and main_pid(ctr) == master, ctr.logs()
    assert served == "config 2", ctr.logs()
    if finishes:
        assert "Doing graceful restart" in ctr.logs(), ctr.logs()
        assert completed, (client.describe(), ctr.logs())
    else:
        assert not completed, client.describe()


def test_apache_children_survive_usr1_to_the_group(servers_image, containers):
    """mpm_event's children leave USR1 to the master: sent to the whole group,
    it does not cut a static download.  What dies of it is a CGI script
    running in the group (control-USR1-to-the-group-cuts above)."""
    init = ["tini-py", "-v", "--profile", "apache", "--to-group", "USR1"]
    ctr = run_server(containers, servers_image, init, APACHE)
    apache_ready(containers, servers_image, ctr)
    client = http_download(containers, ctr, servers_image, "http://127.0.0.1:8000/big")
    ctr.kill("HUP")
    client.wait()
    wait_for_log_count(ctr, "resuming normal operations", 2, timeout=20)
    completed = download_completed(client)
    record("apache USR1 to the group, download", init=init, completed=completed,
           client=client.describe())
    assert said(ctr, "forwarding SIGUSR1 to process group"), ctr.logs()
    assert "Doing graceful restart" in ctr.logs(), ctr.logs()
    assert completed, client.describe()


# ----------------------------------------------------------------- haproxy

def haproxy_ready(containers, image, ctr):
    """haproxy serves, and its slow backend (a sidecar) too."""
    backend = wsgi_backend(containers, ctr, image)
    ctr.wait_for_log("Loading success")
    backend.wait_for_log("backend ready")
    return backend


def haproxy_request(containers, image, init):
    """haproxy -W (master-worker) under init, with a request in flight
    that it proxies to a slow backend on 127.0.0.1:8001."""
    return slow_request(containers, image, init, HAPROXY, haproxy_ready)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "haproxy"], True, id="profile-haproxy-finishes"),
    # haproxy's workers take USR1 as a soft stop too: the group may have it.
    pytest.param(["tini-py", "-v", "--profile", "haproxy", "--to-group", "USR1"], True,
                 id="USR1-to-the-group-also-finishes"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-TERM-cuts"),
])
def test_haproxy_docker_stop_mid_request(servers_image, containers, init, finishes):
    """USR1 is haproxy's soft stop: the master tells its worker, which stops
    listening, finishes its connections and exits; then the master exits.
    TERM is the hard stop."""
    ctr, client = haproxy_request(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("haproxy docker stop", ctr, client,
                                                slow_request_completed, init=init)
    logs = ctr.logs()
    assert code == 0, logs  # the master exits 0 even when TERM killed its worker
    assert "All workers exited" in logs, logs
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs))
    if finishes:
        assert said(ctr, "forwarding SIGUSR1 to"), logs
        assert "exited with code 0 (Exit)" in logs, logs
    else:
        assert "exited with code 143 (Terminated)" in logs, logs


@pytest.mark.parametrize("init, reloads", [
    pytest.param(["tini-py", "-v", "--profile", "haproxy"], True,
                 id="profile-haproxy-HUP-as-USR2-to-the-master"),
    # haproxy 2.6's master reloads on HUP as on USR2; its workers answer HUP
    # with a dump of the servers' states and leave USR2 alone.
    pytest.param(["tini-py", "-v"], True, id="plain-HUP-to-the-group-also-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "haproxy", "--to-group", "USR2"], True,
                 id="USR2-to-the-group-also-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "haproxy", "-r", "HUP:0"], False,
                 id="control-HUP-dropped-no-reload"),
])
def test_haproxy_hup_reloads_mid_request(servers_image, containers, init, reloads):
    """A reload re-executes the master (same pid), which starts a new worker
    and soft-stops the old one: the request in flight finishes on the old."""
    ctr, client = haproxy_request(containers, servers_image, init)
    ctr.exec("sed", "-i", "s/config 1/config 2/", "/tmp/haproxy.cfg", check=True)
    master, workers, elapsed = signal_mid_request(ctr, client, "HUP")
    if reloads:
        ctr.wait_for_log("Former worker (%d) exited with code 0" % workers[0], timeout=15)
    else:
        time.sleep(1)
    served = ctr.exec("curl", "-sS", "http://127.0.0.1:8000/version").stdout.strip()
    after = children_of(ctr, master)
    completed = slow_request_completed(client)
    record("haproxy HUP", init=init, completed=completed, seconds=round(elapsed, 2),
           served=served, workers_before=workers, workers_after=after, client=client.describe())
    assert completed, (client.describe(), ctr.logs())
    assert ctr.running and main_pid(ctr) == master, ctr.logs()
    if reloads:
        assert served == "config 2", ctr.logs()
        assert len(after) == 1 and after != workers, (workers, after)
    else:
        assert served == "config 1", ctr.logs()
        assert after == workers, (workers, after)


# ----------------------------------------------------------------- unicorn

def unicorn_ready(containers, image, ctr):
    for worker in (0, 1):
        ctr.wait_for_log("worker=%d ready" % worker)
    return ctr


def unicorn_request(containers, image, init):
    """unicorn (2 workers) under init, with a request to config.ru in flight."""
    return slow_request(containers, image, init, UNICORN, unicorn_ready)


@pytest.mark.parametrize("init, finishes", [
    pytest.param(["tini-py", "-v", "--profile", "unicorn"], True, id="profile-unicorn-finishes"),
    pytest.param(["tini-py", "-v"], False, id="control-plain-TERM-cuts"),
])
def test_unicorn_docker_stop_mid_request(servers_image, containers, init, finishes):
    """QUIT is unicorn's graceful stop: its workers finish their request,
    then the master exits.  TERM is its quick shutdown."""
    ctr, client = unicorn_request(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("unicorn docker stop", ctr, client,
                                                slow_request_completed, init=init)
    logs = ctr.logs()
    assert code == 0, logs  # after TERM too: only the request tells a drain from a cut
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs))
    if finishes:
        assert said(ctr, "forwarding SIGQUIT to process group"), logs


@pytest.mark.parametrize("init, reloads", [
    pytest.param(["tini-py", "-v", "--profile", "unicorn"], True,
                 id="profile-unicorn-HUP-to-the-master"),
    # unicorn's workers ignore HUP: the group may have it too.
    pytest.param(["tini-py", "-v", "--profile", "unicorn", "--to-group", "HUP"], True,
                 id="HUP-to-the-group-also-reloads"),
    pytest.param(["tini-py", "-v", "--profile", "unicorn", "-r", "HUP:0"], False,
                 id="control-HUP-dropped-no-reload"),
])
def test_unicorn_hup_reloads_mid_request(servers_image, containers, init, reloads):
    """HUP: the master reloads its config and replaces its workers one by
    one, each once it is idle: the request in flight finishes on the old."""
    ctr, client = unicorn_request(containers, servers_image, init)
    master, workers, elapsed = signal_mid_request(ctr, client, "HUP")
    if reloads:
        wait_for_new_workers(ctr, master, workers)
    else:
        time.sleep(1)
    after = children_of(ctr, master)
    completed = slow_request_completed(client)
    record("unicorn HUP", init=init, completed=completed, seconds=round(elapsed, 2),
           workers_before=workers, workers_after=after, client=client.describe())
    assert completed, (client.describe(), ctr.logs())
    assert ctr.running and main_pid(ctr) == master, ctr.logs()
    if reloads:
        assert "reloading config_file=" in ctr.logs(), ctr.logs()
    else:
        assert "reloading config_file=" not in ctr.logs(), ctr.logs()
        assert after == workers, (workers, after)


@pytest.mark.parametrize("init, forwarded", [
    pytest.param(["tini-py", "-v", "--profile", "unicorn"], True, id="profile-unicorn"),
    # unicorn's workers ignore TTIN and TTOU: the group may have them.
    pytest.param(["tini-py", "-v"], True, id="to-the-group-too"),
    pytest.param(["tini"], False, id="side-by-side-tini-does-not-forward-them"),
])
def test_unicorn_ttin_and_ttou_add_and_remove_one_worker(servers_image, containers, init,
                                                         forwarded):
    ctr = run_server(containers, servers_image, init, UNICORN)
    unicorn_ready(containers, servers_image, ctr)
    counts = count_workers_after_ttin_and_ttou(ctr, forwarded)
    record("unicorn TTIN/TTOU", init=init, workers=counts)
    assert counts == ([2, 3, 2] if forwarded else [2, 2, 2]), ctr.logs()
    assert ctr.logs().count("worker=2 ready") == (1 if forwarded else 0), ctr.logs()


# -------------------------------------------------------------------- puma

def puma_ready(containers, image, ctr):
    wait_for_log_count(ctr, "booted in", 2)
    return ctr


def puma_request(containers, image, init):
    """puma in cluster mode (2 workers) under init, with a request in flight."""
    return slow_request(containers, image, init, PUMA, puma_ready)


@pytest.mark.parametrize("init, finishes, exit_status", [
    # puma re-raises TERM once its graceful stop is done (its option
    # raise_exception_on_sigterm, on by default): the master dies of it.
    pytest.param(["tini-py", "-v", "--profile", "puma"], True, 143, id="profile-puma-finishes"),
    pytest.param(["tini-py", "-v", "--profile", "puma", "-e", "143"], True, 0,
                 id="profile-puma-e-143-finishes-exit-0"),
    # INT is as graceful in cluster mode, and puma exits 0 after it.
    pytest.param(["tini-py", "-v", "-g", "INT"], True, 0, id="g-INT-finishes-exit-0"),
    pytest.param(["tini-py", "-v", "-g", "QUIT"], False, 131, id="control-QUIT-cuts"),
])
def test_puma_docker_stop_mid_request(servers_image, containers, init, finishes, exit_status):
    """TERM (and INT) is puma's graceful stop: the master tells its workers,
    which finish their requests.  Ruby leaves QUIT at its default action:
    the master dies of it, and the workers follow ("parent died")."""
    ctr, client = puma_request(containers, servers_image, init)
    elapsed, code, completed = stop_mid_request("puma docker stop", ctr, client,
                                                slow_request_completed, init=init)
    logs = ctr.logs()
    assert code == exit_status, logs
    assert_stop_outcome(finishes, completed, elapsed, (client.describe(), logs))
    if finishes:
        assert "Gracefully shutting down workers" in logs, logs


@pytest.mark.parametrize("signal, init, outcome", [
    pytest.param("USR1", ["tini-py", "-v", "--profile", "puma"], "phased restart",
                 id="profile-puma-USR1-to-the-master"),
    # puma 5.6's workers do not die of USR1 or USR2: the group may have them.
    pytest.param("USR1", ["tini-py", "-v", "--profile", "puma", "--to-group", "USR1"],
                 "phased restart", id="USR1-to-the-group-also-restarts"),
    pytest.param("USR1", ["tini-py", "-v", "--profile", "puma", "-r", "USR1:0"], "nothing",
                 id="control-USR1-dropped-no-restart"),
    pytest.param("USR2", ["tini-py", "-v", "--profile", "puma"], "restart",
                 id="profile-puma-USR2-to-the-master"),
    pytest.param("USR2", ["tini-py", "-v", "--profile", "puma", "--to-group", "USR2"], "restart",
                 id="USR2-to-the-group-also-restarts"),
    pytest.param("HUP", ["tini-py", "-v", "--profile", "puma"], "restart",
                 id="profile-puma-HUP-as-USR2-restarts"),
    # Without stdout_redirect in its config, puma takes HUP as a stop.
    pytest.param("HUP", ["tini-py", "-v"], "stop", id="control-plain-HUP-stops-puma"),
])
def test_puma_master_signal_mid_request(servers_image, containers, signal, init, outcome):
    """USR1 is puma's phased restart (one worker after the other, each once
    its requests are done), USR2 its hot restart (the master re-executes
    itself after its workers finished).  The request in flight finishes."""
    ctr, client = puma_request(containers, servers_image, init)
    master, workers, elapsed = signal_mid_request(ctr, client, signal)
    if outcome == "stop":
        code = ctr.wait(timeout=20)
    elif outcome == "nothing":
        time.sleep(1)
    else:
        wait_for_new_workers(ctr, master, workers)
    running = ctr.running
    after = children_of(ctr, master) if running else []
    completed = slow_request_completed(client)
    logs = ctr.logs()
    record("puma %s" % signal, init=init, completed=completed, seconds=round(elapsed, 2),
           running=running, workers_before=workers, workers_after=after,
           client=client.describe())
    assert completed, (client.describe(), logs)
    assert ("Starting phased worker restart" in logs) == (outcome == "phased restart"), logs
    assert ("* Restarting..." in logs) == (outcome == "restart"), logs
    if outcome == "stop":
        assert code == 0 and "Goodbye!" in logs, logs
    else:
        assert running and main_pid(ctr) == master, logs
    if outcome == "nothing":
        assert after == workers, (workers, after)


# ----------------------------------------------------------------- sidekiq

def sidekiq_job(containers, image, init, timeout=25):
    """sidekiq -t TIMEOUT under init, Redis beside it in the container (not in
    the init's tree), and a SlowJob of REQUEST_SECONDS running."""
    ctr = run_server(containers, image, init, sidekiq(timeout))
    start_redis(ctr)
    ctr.wait_for_log("Booting Sidekiq", timeout=60)
    enqueue_slow_job(ctr)
    wait_for_events(ctr, "start")
    return ctr


def enqueue_slow_job(ctr):
    sent = ctr.exec("ruby", "-r", SERVERS + "/sidekiq_app.rb", "-e",
                    "SlowJob.perform_async(%d)" % REQUEST_SECONDS, timeout=60)
    assert sent.returncode == 0, sent.stderr


@pytest.mark.parametrize("timeout, docker_timeout, finishes", [
    pytest.param(25, STOP_TIMEOUT, True, id="profile-sidekiq-finishes"),
    # sidekiq's own -t shorter than the job: it stops the job and pushes it back.
    pytest.param(1, STOP_TIMEOUT, False, id="control-sidekiq-t-1-cuts"),
    # docker's stop timeout shorter than the job: docker's SIGKILL.
    pytest.param(25, 1, False, id="control-docker-stop-t-1-kills"),
])
def test_sidekiq_docker_stop_mid_job(servers_image, containers, timeout, docker_timeout,
                                     finishes):
    """TERM: sidekiq stops fetching and waits up to -t seconds for its jobs.
    It has no immediate-stop signal (INT is TERM): what cuts a job is a
    timeout, sidekiq's or docker's."""
    init = ["tini-py", "-v", "--profile", "sidekiq"]
    ctr = sidekiq_job(containers, servers_image, init, timeout)
    elapsed, code = ctr.stop(docker_timeout)
    done = events_starting(ctr, "done")
    logs = ctr.logs()
    record("sidekiq docker stop", init=init, sidekiq_timeout=timeout,
           docker_timeout=docker_timeout, exit=code, seconds=round(elapsed, 2),
           job_done=bool(done), pushed_back="Pushed 1 jobs back to Redis" in logs)
    assert said(ctr, "forwarding SIGTERM to process group"), logs
    assert_job_outcome(finishes, done, code, elapsed, (ctr.events(), logs))
    if not finishes:
        if docker_timeout == 1:
            assert code == 137, logs
        else:
            assert code == 0 and "Pushed 1 jobs back to Redis" in logs, logs


@pytest.mark.parametrize("init, quiets", [
    pytest.param(["tini-py", "-v", "--profile", "sidekiq"], True, id="profile-sidekiq-TSTP-quiets"),
    pytest.param(["tini-py", "-v", "--profile", "sidekiq", "-r", "TSTP:0"], False,
                 id="control-TSTP-dropped-the-next-job-runs"),
])
def test_sidekiq_tstp_quiets_mid_job(servers_image, containers, init, quiets):
    """TSTP: sidekiq finishes the job in flight and fetches no more, and
    keeps running (until TERM)."""
    ctr = sidekiq_job(containers, servers_image, init)
    ctr.kill("TSTP")
    enqueue_slow_job(ctr)
    wait_for_events(ctr, "done", timeout=REQUEST_SECONDS + 5)
    time.sleep(2)
    started = len(events_starting(ctr, "start"))
    running = ctr.running
    record("sidekiq TSTP", init=init, jobs_started=started, running=running)
    assert running, ctr.logs()
    if quiets:
        assert started == 1, (ctr.events(), ctr.logs())
    else:
        assert started == 2, (ctr.events(), ctr.logs())


# ------------------------------------------------------------------ celery

def celery_task(containers, image, init):
    """A Celery worker under init with a task of REQUEST_SECONDS running."""
    ctr = run_server(containers, image, init, CELERY)
    ctr.wait_for_log(" ready.", timeout=60)
    sent = ctr.exec("python3", "-c", "import sys; sys.path.insert(0, %r); import celery_app; "
                    "celery_app.slow.delay(%d)" % (SERVERS, REQUEST_SECONDS), timeout=60)
    assert sent.returncode == 0, sent.stderr
    wait_for_events(ctr, "start")
    return ctr


@pytest.mark.parametrize("init, warm", [
    pytest.param(["tini-py", "-v", "--profile", "celery"], True, id="profile-celery-warm-shutdown"),
    pytest.param(["tini-py", "-v"], False, id="control-TERM-to-the-group-cuts"),
])
def test_celery_docker_stop_mid_task(servers_image, containers, init, warm):
    ctr = celery_task(containers, servers_image, init)
    # The control may hang in the pool's join until docker's SIGKILL.
    elapsed, code = ctr.stop(STOP_TIMEOUT if warm else 15)
    done = events_starting(ctr, "done")
    logs = ctr.logs()
    record("celery docker stop", init=init, exit=code, seconds=round(elapsed, 2),
           task_done=bool(done), pool_children_killed=logs.count("exited with 'signal 15"))
    if warm:
        assert said(ctr, "forwarding SIGTERM to the main child"), logs
        assert "Warm shutdown" in logs, logs
        assert done, (ctr.events(), logs)
        assert code == 0, logs
        assert elapsed < REQUEST_SECONDS + 8, elapsed
    else:
        assert not done, (ctr.events(), logs)


# -------------------------------------------------------------- supervisor

def job_worker_pids(ctr):
    return sorted(pid for pid, ppid, stat, args in ctr.processes()
                  if args.startswith("python3 -u %s/job_worker.py" % SERVERS))


def supervisord_running_a_job(containers, image, variant):
    """tini-py --profile supervisord as PID 1, supervisord its child, and
    the program's worker (pid `old`) 1 job in."""
    conf = "%s/supervisord-%s.conf" % (SERVERS, variant)
    ctr = run_server(containers, image, ["tini-py", "-v", "--profile", "supervisord"],
                     ["supervisord", "-n", "-c", conf])
    ctr.wait_for(lambda: [e for e in ctr.events() if e.endswith(" start 1")], timeout=30,
                 what="the first job")
    return ctr, conf, int(ctr.events()[0].split()[0])


@pytest.mark.parametrize("variant, clean", [
    pytest.param("tini-py", True, id="command-tini-py-g-QUIT-finishes-the-job"),
    pytest.param("bare", False, id="control-bare-bash-leaves-the-old-worker"),
])
def test_supervisorctl_restart_of_a_bash_wrapped_worker(servers_image, containers, variant,
                                                        clean):
    """supervisord runs `bash -c 'worker; echo done'`; bash gets its stop
    signal alone and dies of TERM without passing it on.  With tini-py -g QUIT
    in command= (not PID 1: a subreaper), the worker gets QUIT, finishes the
    job in flight, and nothing of the old program is left."""
    ctr, conf, old = supervisord_running_a_job(containers, servers_image, variant)
    started = time.monotonic()
    restart = ctr.exec("supervisorctl", "-c", conf, "restart", "worker", timeout=60)
    elapsed = time.monotonic() - started
    assert restart.returncode == 0, restart.stdout + restart.stderr
    ctr.wait_for(lambda: len([e for e in ctr.events() if e.endswith(" ready")]) == 2,
                 timeout=15, what="the new worker")
    pids = job_worker_pids(ctr)
    events = ctr.events()
    record("supervisorctl restart", variant=variant, seconds=round(elapsed, 2),
           workers=pids, old=old, old_finished_its_job="%d done 1" % old in events)
    if clean:
        assert ["%d %s" % (old, e) for e in ("start 1", "quit", "done 1", "exit")] == \
            [e for e in events if e.startswith("%d " % old) and e != "%d ready" % old], events
        assert old not in pids and len(pids) == 1, pids
        assert "done" in ctr.logs()  # bash went on to `echo done`
    else:
        # The seed incident: the old worker lives on beside the new one.
        assert old in pids and len(pids) == 2, pids
        assert "%d quit" % old not in events and "%d term" % old not in events


@pytest.mark.parametrize("variant, finishes", [
    pytest.param("tini-py", True, id="command-tini-py-g-QUIT-finishes-the-job"),
    pytest.param("bare", False, id="control-bare-bash-loses-the-job"),
])
def test_supervisord_docker_stop_mid_job(servers_image, containers, variant, finishes):
    """docker stop: supervisord stops its program with TERM and waits; with
    tini-py -g QUIT in command= the job in flight finishes.  Without it, bash
    dies and the orphaned worker is left to PID 1's drain, which cuts it."""
    ctr, conf, old = supervisord_running_a_job(containers, servers_image, variant)
    elapsed, code = ctr.stop(STOP_TIMEOUT)
    events = ctr.events()
    record("supervisord docker stop", variant=variant, exit=code, seconds=round(elapsed, 2),
           job_done="%d done 1" % old in events, events=events)
    assert code == 0, ctr.logs()
    assert said(ctr, "forwarding SIGTERM to the main child"), ctr.logs()
    if finishes:
        assert ["%d %s" % (old, e) for e in ("ready", "start 1", "quit", "done 1", "exit")] \
            == events, events
        assert elapsed < 3 + 5, elapsed
    else:
        assert "%d done 1" % old not in events, events
