"""Real-container tests: a Docker engine, a base image, the example image.

Everything here is session scoped and self-contained (no registry pulls, no
network inside containers):

* ``docker_engine``: uses a reachable engine (``$DOCKER_HOST`` or the default
  socket); otherwise, as root, installs docker.io when ``dockerd`` is missing
  and starts a private ``dockerd`` (no bridge, no iptables) whose state lives
  under /var/tmp/tini-py-docker (kept between runs, so images are cached).
  That dockerd is stopped (SIGTERM, by pid) when the session ends.
* ``base_image``: ``tini-py-base:<recipe hash>``, a debootstrap'ed Debian
  bookworm minbase with python3 and procps (no pip), imported with
  ``docker import``; built once, then reused.
* ``tini_image``: Dockerfile.example built on the base image with
  ``--network none``; tini-py inside is the zipapp tools/build_zipapp.py
  builds there, with the image's python3.
* ``installed_images`` / ``installed_image``: tini-py installed in each form
  on each Debian release (bookworm's zipapp is ``tini_image``; bullseye and
  trixie get the zipapp and a pip-installed venv, images/venv.Dockerfile),
  and on php-fpm with python3-minimal alone (``php_minimal_image``,
  images/php-python3-minimal.Dockerfile).  Bases by debootstrap, cached by
  recipe hash; every build offline.
* ``containers``: starts containers (always ``--network none``, labelled
  ``tini-py-test``) and removes them after the test.

If no engine can be had, the tests are skipped with the reason; set
TINI_PY_DOCKER_REQUIRED=1 to make that an error instead (CI).
"""
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("TINI_PY_DOCKER_DIR", "/var/tmp/tini-py-docker"))
SOCKET = STATE / "docker.sock"
PIDFILE = STATE / "dockerd.pid"
LABEL = "tini-py-test"
REQUIRED = os.environ.get("TINI_PY_DOCKER_REQUIRED", "") not in ("", "0")

# The base image recipe; its hash is the image tag, so changing it rebuilds.
BASE_RECIPE = {
    "version": 1,
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["python3", "procps"],
}
# The real servers' base (tests/docker/test_real_servers.py): the same minbase
# plus Debian's servers, an HTTP and a FastCGI client, and Debian's tini for
# side-by-side controls.  Debootstrap only, no host fallback.
SERVERS_RECIPE = {
    "version": 1,
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["python3", "procps", "php8.2-fpm", "nginx-light", "supervisor",
                "python3-gunicorn", "gunicorn", "python3-celery", "celery", "apache2", "haproxy",
                "ruby", "ruby-rack", "unicorn", "puma", "ruby-sidekiq", "redis-server",
                "uwsgi-core", "uwsgi-plugin-python3", "nodejs",
                "curl", "libfcgi-bin", "tini"],
    # By apt-get in the debootstrap'ed tree: debootstrap's own resolver
    # ignores Provides, and npm's node-* dependencies need them.
    "apt": ["npm"],
}
SERVERS_REPO = "tini-py-servers-base"
SERVERS_IMAGE = "tini-py-servers:test"
# Python servers Debian does not ship (or ships old): PyPI's, every
# distribution pinned, downloaded on the host as wheels for the image's
# python3 (bookworm: 3.11), installed offline into the venv PYPI_VENV of
# tini-py-servers-pypi:<hash of this recipe and the servers base's tag>.
PYPI_RECIPE = {
    "version": 1,
    "python": "3.11",
    "pip": "pip==26.3",
    "requirements": ["uvicorn==0.55.0", "h11==0.16.0", "click==8.5.1",
                     # redis-py 8's PubSubWorkerThread.stop() waits for the thread,
                     # which may sit 60 s in get_message: rq 3.0's worker then hangs
                     # at exit (seen: 1 stop in 12).  async-timeout: redis-py's for
                     # Python < 3.11.3 (bookworm's is 3.11.2).
                     "rq==3.0.0", "redis==7.4.1", "async-timeout==5.0.1", "croniter==7.0.0",
                     "python-dateutil==4.0.0", "tzdata==2026.6", "dramatiq[redis]==2.2.1"],
}
PYPI_REPO = "tini-py-servers-pypi"
PYPI_VENV = "/opt/pypi"
# A PHP team's image (tests/docker/test_python3_minimal.py): php-fpm with
# Debian's python3-minimal -- no ctypes, no shlex -- and nothing of python3;
# cgi-fcgi for the FastCGI client, ps for the tests.
PHP_MINIMAL_RECIPE = {
    "version": 1,
    "suite": "bookworm",
    "variant": "minbase",
    "include": ["php8.2-fpm", "python3-minimal", "libfcgi-bin", "procps"],
}
PHP_MINIMAL_REPO = "tini-py-php-minimal-base"
PHP_MINIMAL_IMAGE = "tini-py-php-minimal:test"
# The other Debian releases users run beside bookworm (BASE_RECIPE): their
# python3, and python3-venv for the pip-installed form.
DISTRIBUTION_RECIPES = {
    suite: {"version": 1, "suite": suite, "variant": "minbase",
            "include": ["python3", "procps", "python3-venv"]}
    for suite in ("bullseye", "trixie")
}
DISTRIBUTION_REPO = "tini-py-distribution-base"
# pyproject.toml needs setuptools>=61; bullseye's venv has 52, trixie's none.
# The newest that still runs on bullseye's Python 3.9.
SETUPTOOLS = "setuptools==80.9.0"
# Where each installed form puts the command (tests/docker/images/).
COMMAND_OF_FORM = {"zipapp": "/usr/local/bin/tini-py", "venv": "/opt/venv/bin/tini-py"}
IMAGES_DIR = HERE / "images"
# Fallback when debootstrap cannot run: a rootfs copied from this machine's
# own Debian packages (dpkg -L) -- the python3 interpreter, its stdlib and
# libraries, dash, coreutils, procps; pip is not among them.
HOST_ROOTS = ["base-files", "dash", "coreutils", "procps", "debianutils", "sed", "grep",
              "python3-minimal", "libpython3-stdlib"]
HOST_SKIP = {"dpkg", "init-system-helpers", "debconf", "perl-base", "tzdata", "install-info",
             "python3-pip", "python3-setuptools", "python3-distutils", "python3-lib2to3"}
# TINI_PY_DOCKER_BASE=host forces the fallback (to test it); "debootstrap" forbids it.
BASE_SOURCE = os.environ.get("TINI_PY_DOCKER_BASE", "")
BASE_REPO = "tini-py-base"
EXAMPLE_IMAGE = "tini-py-example:test"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _unavailable(reason):
    if REQUIRED:
        pytest.fail("docker tests required (TINI_PY_DOCKER_REQUIRED) but: " + reason,
                    pytrace=False)
    pytest.skip(reason)


def _note(message):
    """Progress for slow setup steps; visible with -s, kept in STATE/setup.log."""
    line = "[tini-py docker] %s\n" % message
    sys.stderr.write(line)
    with contextlib.suppress(OSError):
        STATE.mkdir(parents=True, exist_ok=True)
        with open(STATE / "setup.log", "a") as log:
            log.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + line)


@contextlib.contextmanager
def _locked(name, shared=False):
    """A file lock under STATE so concurrent pytest sessions cooperate."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / name, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_cli(command, *args, env, check=True, timeout=120, input=None, **popen):
    """Run an engine's CLI (docker, podman); returns CompletedProcess (text)."""
    result = subprocess.run([command, *args], capture_output=True, text=True,
                            timeout=timeout, input=input, env=env, **popen)
    if check and result.returncode != 0:
        raise RuntimeError("%s %s failed (%d): %s" % (
            command, " ".join(args[:3]), result.returncode,
            (result.stderr or result.stdout).strip()))
    return result


def docker(*args, host=None, env=None, **kwargs):
    """Run the docker CLI; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if host:
        full_env["DOCKER_HOST"] = host
    full_env.setdefault("DOCKER_BUILDKIT", "0")  # legacy builder: no buildx needed
    full_env.update(env or {})
    return run_cli("docker", *args, env=full_env, **kwargs)


def _engine_answers(host):
    try:
        result = docker("version", "--format", "{{.Server.Version}}",
                        host=host, check=False, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _apt_install(packages, recommends=True):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    options = [] if recommends else ["--no-install-recommends"]
    _note("apt-get install %s %s" % (" ".join(options), " ".join(packages)))
    for attempt in range(2):
        if attempt:
            subprocess.run(["apt-get", *lock, "update", "-qq"], env=env,
                           capture_output=True, timeout=600)
        result = subprocess.run(["apt-get", *lock, "install", "-y", "-qq", *options, *packages],
                                env=env, capture_output=True, text=True, timeout=1200)
        if result.returncode == 0:
            return None
    return (result.stderr or result.stdout).strip()[-500:]


def ensure_tools(tools, recommends=True):
    """tools: {command: debian package}; installs missing ones as root."""
    missing = sorted({pkg for cmd, pkg in tools.items() if shutil.which(cmd) is None})
    if not missing:
        return None
    if os.geteuid() != 0:
        return "missing %s and not root to apt-get install them" % ", ".join(missing)
    error = _apt_install(missing, recommends)
    if error:
        return "apt-get install %s failed: %s" % (" ".join(missing), error)
    still = [cmd for cmd in tools if shutil.which(cmd) is None]
    return "still missing after install: %s" % ", ".join(still) if still else None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        with open("/proc/%d/stat" % pid, "rb") as stat:
            data = stat.read()
        if data[data.rfind(b")") + 2:][:1] == b"Z":
            return False
    return True


def _our_dockerd_pid():
    """pid of the dockerd this fixture started (from our own pidfile), if alive."""
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        exe = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None
    return pid if os.path.basename(exe).startswith("dockerd") and _pid_alive(pid) else None


def _start_dockerd():
    """Start a private dockerd; returns (host, pid) or raises RuntimeError."""
    host = "unix://%s" % SOCKET
    errors = []
    for driver in (None, "vfs"):  # the default (overlay2 here), else the slow but sure vfs
        args = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--data-root", str(STATE / "data"), "--exec-root", str(STATE / "exec"),
                "--pidfile", str(PIDFILE), "-H", host]
        if driver:
            args += ["--storage-driver", driver]
        (STATE / "data").mkdir(parents=True, exist_ok=True)
        (STATE / "exec").mkdir(parents=True, exist_ok=True)
        log_path = STATE / "dockerd.log"
        _note("starting %s" % " ".join(args))
        with open(log_path, "ab") as log:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if SOCKET.exists() and _engine_answers(host):
                _note("dockerd pid %d ready (storage driver %s)"
                      % (process.pid, driver or "default"))
                return host, process
            time.sleep(0.3)
        tail = log_path.read_text(errors="replace").splitlines()[-5:]
        errors.append("driver %s: %s" % (driver or "default", " | ".join(tail)))
        _stop_dockerd(process.pid, process)
    raise RuntimeError("dockerd did not start: " + " ;; ".join(errors))


def _stop_dockerd(pid, process=None):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return
        if process is None and not _pid_alive(pid):
            return
        time.sleep(0.2)
    _note("dockerd %d ignored SIGTERM for 40s; SIGKILL" % pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if process is not None:
        process.wait(10)


class Engine:
    def __init__(self, host, owned):
        self.host = host
        self.owned = owned  # True: our private dockerd

    def __call__(self, *args, **kwargs):
        return docker(*args, host=self.host, **kwargs)

    def image_exists(self, ref):
        return self("image", "inspect", ref, check=False).returncode == 0


@pytest.fixture(scope="session")
def docker_engine():
    # 1. An engine that already answers: $DOCKER_HOST, the default socket, ours.
    candidates = []
    if os.environ.get("DOCKER_HOST"):
        candidates.append(os.environ["DOCKER_HOST"])
    candidates += ["unix:///var/run/docker.sock", "unix://%s" % SOCKET]
    if shutil.which("docker"):
        for host in candidates:
            if host.startswith("unix://") and not os.path.exists(host[len("unix://"):]):
                continue
            if _engine_answers(host):
                yield from _use_engine(host, started=None)
                return
    # 2. Start our own.
    if os.geteuid() != 0:
        _unavailable("no Docker engine reachable and not root to start one")
    problem = ensure_tools({"dockerd": "docker.io", "docker": "docker.io",
                             "containerd": "docker.io", "runc": "docker.io"})
    if problem:
        _unavailable("cannot install Docker: " + problem)
    with _locked("engine.lock"):
        host = "unix://%s" % SOCKET
        if _engine_answers(host):
            started = None
        else:
            try:
                host, started = _start_dockerd()
            except RuntimeError as error:
                _unavailable(str(error))
    yield from _use_engine(host, started)


def _use_engine(host, started):
    os.environ["DOCKER_HOST"] = host  # for testinfra's docker backend and subprocesses
    engine = Engine(host, owned=started is not None)
    # A shared lock for the session's lifetime: the last session out stops dockerd.
    users = open(STATE / "engine.users", "a+") if STATE.is_dir() else None
    if users:
        fcntl.flock(users, fcntl.LOCK_SH)
    _remove_leftovers(engine)
    try:
        yield engine
    finally:
        _remove_leftovers(engine)
        if users:
            fcntl.flock(users, fcntl.LOCK_UN)
            if started is not None or _our_dockerd_pid():
                # Ours (this session's, or one a crashed session left behind).
                try:
                    fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    _note("dockerd left running: another test session uses it")
                else:
                    pid = started.pid if started is not None else _our_dockerd_pid()
                    if pid and host == "unix://%s" % SOCKET:
                        _note("stopping dockerd %d" % pid)
                        _stop_dockerd(pid, started)
                    fcntl.flock(users, fcntl.LOCK_UN)
            users.close()


def _remove_leftovers(engine):
    """Our containers that are not running (crashed sessions leave these)."""
    result = engine("ps", "-aq", "--filter", "label=%s" % LABEL,
                    "--filter", "status=exited", "--filter", "status=created", check=False)
    ids = result.stdout.split()
    if ids:
        engine("rm", "-f", *ids, check=False)


# --------------------------------------------------------------- images

def _apt_mirror():
    """The Debian mirror apt uses on this machine (only registries are reachable)."""
    sources = sorted(Path("/etc/apt").glob("sources.list.d/*")) + [Path("/etc/apt/sources.list")]
    for path in sources:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                line = line.strip()
                if line.startswith("#"):
                    continue
                for word in line.replace("URIs:", " ").split():
                    if word.startswith(("http://", "https://")) \
                            and word.rstrip("/").endswith("/debian"):
                        return word.rstrip("/")
    return DEFAULT_MIRROR


def _digest(recipe):
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def base_tag(source="debootstrap", recipe=BASE_RECIPE, repo=BASE_REPO):
    recipe = dict(recipe) if source == "debootstrap" else {"host": HOST_ROOTS, "version": 1}
    return "%s:%s%s" % (repo, "" if source == "debootstrap" else "host-", _digest(recipe))


def _debootstrap(rootfs, recipe=BASE_RECIPE):
    """Debian minbase + the recipe's packages; returns None or the failure."""
    problem = ensure_tools({"debootstrap": "debootstrap"})
    if problem:
        return problem
    mirror = _apt_mirror()
    _note("debootstrap %s (%s) into %s from %s"
          % (recipe["suite"], ",".join(recipe["include"]), rootfs, mirror))
    try:
        result = subprocess.run(
            ["debootstrap", "--variant=" + recipe["variant"],
             "--include=" + ",".join(recipe["include"]),
             recipe["suite"], str(rootfs), mirror],
            capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return "debootstrap took more than 30 minutes"
    if result.returncode != 0:
        return "debootstrap failed: " + (result.stderr or result.stdout)[-800:]
    if recipe.get("apt"):
        problem = _apt_install_in(rootfs, recipe["apt"])
        if problem:
            return problem
    # Small, and no pip: the zipapp must run without it.
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(rootfs / junk, ignore_errors=True)
        (rootfs / junk).mkdir(parents=True, exist_ok=True)
    return None


def _apt_install_in(rootfs, packages):
    """apt-get install packages (no recommends) chrooted in rootfs, from the
    mirror debootstrap wrote into its sources.list."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
           "LC_ALL": "C"}
    _note("apt-get install %s in %s" % (" ".join(packages), rootfs))
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        try:
            result = subprocess.run(["chroot", str(rootfs), *command], env=env,
                                    capture_output=True, text=True, timeout=1200)
        except subprocess.TimeoutExpired:
            return "%s took more than 20 minutes" % " ".join(command[:2])
        if result.returncode != 0:
            return "%s failed: %s" % (" ".join(command[:2]), (result.stderr or result.stdout)[-800:])
    return None


# dpkg-query -W -f DPKG_FORMAT: what installed_packages() reads.
DPKG_FORMAT = "${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}\n"


def _installed_packages():
    """{package: [[alternative, ...], ...]} for every package installed here."""
    result = subprocess.run(["dpkg-query", "-W", "-f", DPKG_FORMAT],
                            capture_output=True, text=True, check=True)
    return installed_packages(result.stdout)


def installed_packages(listing):
    """{package: [[alternative, ...], ...]} from dpkg-query -W -f DPKG_FORMAT."""
    packages = {}
    for line in listing.splitlines():
        name, status, depends = (line.split("\t") + ["", ""])[:3]
        if not status.startswith("ii"):
            continue
        groups = []
        for group in depends.split(","):
            alternatives = [a.split("(")[0].split(":")[0].strip() for a in group.split("|")]
            alternatives = [a for a in alternatives if a]
            if alternatives:
                groups.append(alternatives)
        packages[name] = groups
    return packages


def dependency_closure(installed, roots, skip=()):
    """roots and every installed package they need (Depends, Pre-Depends;
    of alternatives, the first one installed), but none of skip."""
    chosen, todo = set(), list(roots)
    while todo:
        package = todo.pop()
        if package in chosen or package in skip:
            continue
        chosen.add(package)
        for alternatives in installed[package]:
            present = [a for a in alternatives if a in installed]
            if present:
                todo.append(present[0])
    return chosen


def _assemble_from_host(rootfs):
    """Copy the files of HOST_ROOTS and their installed dependencies."""
    if shutil.which("dpkg-query") is None:
        return "no dpkg on this machine"
    installed = _installed_packages()
    missing = [root for root in HOST_ROOTS if root not in installed]
    if missing:
        return "packages not installed here: %s" % ", ".join(missing)
    chosen = dependency_closure(installed, HOST_ROOTS, skip=HOST_SKIP)
    _note("assembling a rootfs from %d host packages" % len(chosen))
    rootfs.mkdir(parents=True)
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / top
        if host.is_symlink() and not os.readlink(host).startswith("/"):  # merged /usr
            (rootfs / top).symlink_to(os.readlink(host))
            (rootfs / os.readlink(host)).mkdir(parents=True, exist_ok=True)
    listing = subprocess.run(["dpkg", "-L", *sorted(chosen)], capture_output=True, text=True)
    for line in sorted(set(listing.stdout.splitlines())):
        if not line.startswith("/") or line.startswith(("/usr/share/doc", "/usr/share/man",
                                                        "/usr/share/locale", "/usr/share/info")):
            continue
        source = Path(line)
        target = rootfs / line.lstrip("/")
        if not (source.exists() or source.is_symlink()):
            continue
        # Resolve the parent through the rootfs' own /bin -> usr/bin links.
        target = Path(os.path.realpath(target.parent)) / target.name \
            if target.parent.exists() else target
        if source.is_dir() and not source.is_symlink():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            continue
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    for directory in ("proc", "sys", "dev", "tmp", "root", "etc", "var/tmp", "run"):
        (rootfs / directory).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return None


def _build_base(engine, tag, source, recipe=BASE_RECIPE):
    workdir = Path(tempfile.mkdtemp(prefix="rootfs-", dir=STATE))
    rootfs = workdir / "rootfs"
    try:
        started = time.monotonic()
        if source == "debootstrap":
            problem = _debootstrap(rootfs, recipe)
        else:
            problem = _assemble_from_host(rootfs)
        if problem:
            return problem
        debootstrapped = time.monotonic() - started
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        imported = subprocess.run(
            ["docker", "import", "--change", 'CMD ["/bin/sh"]',
             "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--message", "tini-py test base: " + json.dumps(recipe, sort_keys=True),
             "-", tag],
            stdin=tar.stdout, capture_output=True, text=True, timeout=600,
            env=dict(os.environ, DOCKER_HOST=engine.host))
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise RuntimeError("docker import failed: " + imported.stderr.strip())
        _note("base image %s built: %s %.1fs, total %.1fs"
              % (tag, source, debootstrapped, time.monotonic() - started))
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def base_image(docker_engine):
    """tini-py-base:<hash>: debootstrap, else (or with TINI_PY_DOCKER_BASE=host)
    assembled from the host's packages."""
    sources = {"host": ["host"], "debootstrap": ["debootstrap"]}.get(
        BASE_SOURCE, ["debootstrap", "host"])
    problems = []
    for source in sources:
        tag = base_tag(source)
        if docker_engine.image_exists(tag):
            return tag
        with _locked("base-image.lock"):
            if docker_engine.image_exists(tag):
                return tag
            problem = _build_base(docker_engine, tag, source)
        if problem is None:
            return tag
        _note("base image from %s failed: %s" % (source, problem))
        problems.append("%s: %s" % (source, problem))
    _unavailable("cannot build a base image: " + " ;; ".join(problems))


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory):
    """dist/tini-py.pyz, freshly built from the working tree."""
    output = REPO / "dist" / "tini-py.pyz"
    subprocess.run([sys.executable, str(REPO / "tools" / "build_zipapp.py"),
                    "--output", str(output)], check=True, capture_output=True)
    return output


def build_image(engine, dockerfile, context, tag, **build_args):
    """dockerfile in context, as tag, offline (--network none); build_args
    become --build-arg NAME=VALUE."""
    shutil.copy2(dockerfile, context / "Dockerfile")
    arguments = []
    for name, value in build_args.items():
        arguments += ["--build-arg", "%s=%s" % (name, value)]
    engine("build", "--network", "none", "--label", LABEL, *arguments,
           "-t", tag, str(context), timeout=600)
    # Builds replace the tag; drop the old, now dangling, test images.
    engine("image", "prune", "-f", "--filter", "label=" + LABEL, check=False)
    return tag


def _copy_zipapp_sources(context):
    """The working tree's tini_py/ and tools/build_zipapp.py."""
    shutil.copytree(REPO / "tini_py", context / "tini_py",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (context / "tools").mkdir()
    shutil.copy2(REPO / "tools" / "build_zipapp.py", context / "tools")


def _build_example(engine, base, tag, context):
    """Dockerfile.example FROM base, as tag: the zipapp built by base's python3."""
    _copy_zipapp_sources(context)
    return build_image(engine, REPO / "Dockerfile.example", context, tag, BASE_IMAGE=base)


@pytest.fixture(scope="session")
def tini_image(docker_engine, base_image, tmp_path_factory):
    """Dockerfile.example on the base image; built offline (--network none)."""
    return _build_example(docker_engine, base_image, EXAMPLE_IMAGE,
                          tmp_path_factory.mktemp("docker-context"))


def debootstrapped_image(engine, recipe, repo):
    """repo:<recipe hash>, by debootstrap, built once; no host fallback."""
    tag = base_tag("debootstrap", recipe, repo)
    if engine.image_exists(tag):
        return tag
    with _locked("base-image.lock"):
        if engine.image_exists(tag):
            return tag
        problem = _build_base(engine, tag, "debootstrap", recipe)
    if problem is not None:
        _unavailable("cannot build %s: %s" % (tag, problem))
    return tag


@pytest.fixture(scope="session")
def servers_base_image(docker_engine):
    """tini-py-servers-base:<hash>: SERVERS_RECIPE by debootstrap, built once."""
    return debootstrapped_image(docker_engine, SERVERS_RECIPE, SERVERS_REPO)


def _pypi_wheels():
    """PYPI_RECIPE's wheels and a requirements.txt of its pins, downloaded by
    pip on the host once into STATE/wheels-<hash> (only-binary, for the
    image's python, no dependency resolution: the recipe lists them all)."""
    folder = STATE / ("wheels-" + _digest(PYPI_RECIPE))
    if (folder / "requirements.txt").exists():
        return folder, None
    download = Path(tempfile.mkdtemp(prefix="wheels-", dir=STATE))
    pins = [PYPI_RECIPE["pip"], *PYPI_RECIPE["requirements"]]
    _note("pip download %s" % " ".join(pins))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", "--python-version", PYPI_RECIPE["python"],
             "-d", str(download), *pins], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        result = None
    if result is None or result.returncode != 0:
        shutil.rmtree(download, ignore_errors=True)
        return None, "pip download failed: %s" % (result.stderr[-800:] if result else "timeout")
    (download / "requirements.txt").write_text("\n".join(PYPI_RECIPE["requirements"]) + "\n")
    download.rename(folder)
    return folder, None


@pytest.fixture(scope="session")
def servers_pypi_image(docker_engine, servers_base_image, tmp_path_factory):
    """tini-py-servers-pypi:<hash>: the servers base with PYPI_RECIPE in the
    venv PYPI_VENV, installed offline (--network none) by pip run from its
    own wheel (bookworm's minbase has no pip); built once."""
    dockerfile = HERE / "servers" / "pypi.Dockerfile"
    tag = "%s:%s" % (PYPI_REPO, _digest({"recipe": PYPI_RECIPE, "base": servers_base_image,
                                         "dockerfile": dockerfile.read_text()}))
    if docker_engine.image_exists(tag):
        return tag
    with _locked("base-image.lock"):
        if docker_engine.image_exists(tag):
            return tag
        wheels, problem = _pypi_wheels()
        if problem:
            _unavailable("cannot build the PyPI servers image: " + problem)
        context = tmp_path_factory.mktemp("pypi-context")
        shutil.copytree(wheels, context / "wheels")
        shutil.copy2(dockerfile, context / "Dockerfile")
        started = time.monotonic()
        built = docker_engine("build", "--network", "none", "--build-arg",
                              "BASE_IMAGE=" + servers_base_image, "--build-arg", "VENV=" + PYPI_VENV,
                              "-t", tag, str(context), timeout=600, check=False)
    if built.returncode != 0:
        output = (built.stdout + built.stderr).strip().splitlines()
        _unavailable("cannot build the PyPI servers image: " + " | ".join(output[-12:]))
    _note("PyPI servers image %s built in %.1fs" % (tag, time.monotonic() - started))
    return tag


@pytest.fixture(scope="session")
def servers_image(docker_engine, servers_pypi_image, tmp_path_factory):
    """Dockerfile.example on the servers base: tini-py as users install it,
    in front of Debian's php-fpm, nginx, gunicorn, Celery, supervisor, ...,
    uWSGI and npm, and PyPI's uvicorn, RQ and Dramatiq (in PYPI_VENV)."""
    return _build_example(docker_engine, servers_pypi_image, SERVERS_IMAGE,
                          tmp_path_factory.mktemp("servers-context"))


# ----------------------------------------------------------- containers

class Container:
    def __init__(self, engine, cid, outdir):
        self.engine = engine
        self.id = cid
        self.out = outdir  # host directory mounted at /out

    def __repr__(self):
        return "<Container %s>" % self.id[:12]

    def inspect(self):
        return json.loads(self.engine("inspect", self.id).stdout)[0]

    @property
    def running(self):
        return self.inspect()["State"]["Running"]

    @property
    def exit_code(self):
        return self.inspect()["State"]["ExitCode"]

    def logs(self):
        return "".join(self.streams())

    def streams(self):
        """(stdout, stderr) of the container so far."""
        result = self.engine("logs", self.id, check=False)
        return result.stdout, result.stderr

    def events(self):
        """Lines of /out/events (written by tests/docker/worker.py)."""
        with contextlib.suppress(FileNotFoundError):
            return (self.out / "events").read_text().splitlines()
        return []

    def exec(self, *command, timeout=60, check=False):
        return self.engine("exec", self.id, *command, timeout=timeout, check=check)

    def stop(self, timeout):
        """docker stop -t TIMEOUT; returns (elapsed seconds, exit code)."""
        started = time.monotonic()
        self.engine("stop", "-t", str(timeout), self.id, timeout=timeout + 60)
        elapsed = time.monotonic() - started
        return elapsed, self.exit_code

    def wait(self, timeout=60):
        """docker wait: the exit code, once the container has stopped."""
        return int(self.engine("wait", self.id, timeout=timeout).stdout.strip())

    def kill(self, sig):
        self.engine("kill", "-s", sig, self.id)

    def host(self):
        """A testinfra host inside the container (docker exec backend)."""
        import testinfra
        return testinfra.get_host("docker://" + self.id)

    def processes(self):
        """[(pid, ppid, stat, args)] from inside, by ps (procps)."""
        result = self.exec("ps", "-eww", "-o", "pid=,ppid=,stat=,args=", check=True)
        rows = []
        for line in result.stdout.splitlines():
            pid, ppid, stat, *args = line.split(None, 3)
            rows.append((int(pid), int(ppid), stat, args[0] if args else ""))
        return rows

    def wait_for(self, predicate, timeout=30, interval=0.1, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %ss waiting for %s; logs:\n%s\nevents: %s"
                                     % (timeout, what, self.logs(), self.events()))
            time.sleep(interval)

    def wait_for_event(self, event, timeout=30):
        return self.wait_for(lambda: event in self.events(), timeout=timeout,
                             what="event %r" % event)

    def wait_for_log(self, text, timeout=30):
        return self.wait_for(lambda: text in self.logs(), timeout=timeout,
                             what="log text %r" % text)


@contextlib.contextmanager
def container_factory(engine, outroot, tests_dir=HERE):
    """run(image, *command, entrypoint=None, env=None, options=(), network="none")
    -> Container, on engine (docker's, or podman's: the same CLI).

    Every container runs with --network none (or network="container:ID": a
    sidecar sharing that container's loopback, as in a pod) and gets the host directory
    outroot/outN mounted at /out and tests_dir (tests/docker) at /t (read-only).
    All are removed (rm -f) when the context ends.
    """
    started = []

    def run(image, *command, entrypoint=None, env=None, options=(), network="none"):
        outdir = outroot / ("out%d" % len(started))
        outdir.mkdir()
        outdir.chmod(0o777)  # writable for any --user
        args = ["run", "-d", "--network", network, "--label", LABEL,
                "-v", "%s:/out" % outdir, "-v", "%s:/t:ro" % tests_dir]
        if entrypoint is not None:
            args += ["--entrypoint", entrypoint]
        for key, value in (env or {}).items():
            args += ["-e", "%s=%s" % (key, value)]
        args += [*options, image, *command]
        cid = engine(*args).stdout.strip()
        container = Container(engine, cid, outdir)
        started.append(container)
        return container

    try:
        yield run
    finally:
        for container in started:
            engine("rm", "-f", "-v", container.id, check=False)


@pytest.fixture
def containers(docker_engine, tmp_path):
    """Factory: containers(image, *command, entrypoint=None, env=None) -> Container
    (see container_factory)."""
    with container_factory(docker_engine, tmp_path) as run:
        yield run


# ------------------------------------------- other Debian images, other forms

@pytest.fixture(scope="session")
def php_minimal_base_image(docker_engine):
    """tini-py-php-minimal-base:<hash>: PHP_MINIMAL_RECIPE by debootstrap."""
    return debootstrapped_image(docker_engine, PHP_MINIMAL_RECIPE, PHP_MINIMAL_REPO)


@pytest.fixture(scope="session")
def php_minimal_image(docker_engine, php_minimal_base_image, base_image, tmp_path_factory):
    """images/php-python3-minimal.Dockerfile: the zipapp on php-fpm with
    python3-minimal alone; ENTRYPOINT tini-py --profile php-fpm."""
    context = tmp_path_factory.mktemp("php-minimal-context")
    _copy_zipapp_sources(context)
    return build_image(docker_engine, IMAGES_DIR / "php-python3-minimal.Dockerfile", context,
                       PHP_MINIMAL_IMAGE, BASE_IMAGE=php_minimal_base_image,
                       STDLIB_IMAGE=base_image)


def setuptools_wheel():
    """SETUPTOOLS's wheel, downloaded from PyPI once into STATE/wheels."""
    folder = STATE / "setuptools-wheel"
    version = SETUPTOOLS.split("==")[1]
    with _locked("wheels.lock"):
        wheels = sorted(folder.glob("setuptools-%s-*.whl" % version))
        if wheels:
            return wheels[0]
        _note("pip download %s" % SETUPTOOLS)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "--only-binary", ":all:", "-d", str(folder), SETUPTOOLS],
            capture_output=True, text=True, timeout=600)
        wheels = sorted(folder.glob("setuptools-%s-*.whl" % version))
    if result.returncode != 0 or not wheels:
        _unavailable("cannot download %s: %s" % (SETUPTOOLS, result.stderr.strip()[-500:]))
    return wheels[0]


def _build_venv(engine, base, tag, context):
    """images/venv.Dockerfile FROM base, as tag: tini-py pip-installed into
    /opt/venv by base's python3."""
    from installed import copy_sources
    (context / "src").mkdir()
    copy_sources(context / "src")
    (context / "wheels").mkdir()
    shutil.copy2(setuptools_wheel(), context / "wheels")
    return build_image(engine, IMAGES_DIR / "venv.Dockerfile", context, tag, BASE_IMAGE=base)


class InstalledImage(NamedTuple):
    """An image of Debian `suite` with tini-py installed in `form` -- zipapp,
    venv, or python3-minimal (the zipapp on an image whose only Python is
    python3-minimal); ENTRYPOINT runs tini-py."""
    tag: str
    suite: str
    form: str

    @property
    def command(self):
        return COMMAND_OF_FORM.get(self.form, COMMAND_OF_FORM["zipapp"])

    @property
    def has_ctypes(self):
        return self.form != "python3-minimal"


# The existing bookworm zipapp image first, then what the other releases add.
INSTALLED_IMAGES = ["bookworm-zipapp", "bullseye-zipapp", "bullseye-venv",
                    "trixie-zipapp", "trixie-venv"]
OTHER_RELEASES = INSTALLED_IMAGES[1:]


@pytest.fixture(scope="session")
def installed_images(request, docker_engine, tmp_path_factory):
    """installed_images("bullseye", "venv") -> InstalledImage, each built
    once per session (its debootstrapped base cached by recipe hash)."""
    built = {}

    def image(suite, form):
        if (suite, form) not in built:
            built[suite, form] = _build_installed(request, docker_engine, tmp_path_factory,
                                                  suite, form)
        return InstalledImage(built[suite, form], suite, form)
    return image


def _build_installed(request, engine, tmp_path_factory, suite, form):
    if (suite, form) == ("bookworm", "zipapp"):
        return request.getfixturevalue("tini_image")
    if (suite, form) == ("bookworm", "python3-minimal"):
        return request.getfixturevalue("php_minimal_image")
    base = debootstrapped_image(engine, DISTRIBUTION_RECIPES[suite], DISTRIBUTION_REPO)
    build = {"zipapp": _build_example, "venv": _build_venv}[form]
    context = tmp_path_factory.mktemp("%s-%s-context" % (suite, form))
    return build(engine, base, "tini-py-%s:%s" % (form, suite), context)


@pytest.fixture
def installed_image(request, installed_images):
    """Parametrize indirectly with "SUITE-FORM", e.g. "bullseye-venv"."""
    suite, form = request.param.split("-", 1)
    return installed_images(suite, form)
