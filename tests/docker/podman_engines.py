"""podman beside the private dockerd: a rootful and a rootless engine that
run the images the docker suite builds (test_under_podman.py).

* podman, runc, catatonit (podman's --init) and uidmap (newuidmap for
  rootless) are installed when missing, without podman's other Recommends:
  --network none needs no slirp4netns, and the kernel mounts overlayfs in a
  user namespace itself (5.11 and later), so no fuse-overlayfs.
* Nothing of the host's podman is read or touched: CONTAINERS_CONF and
  CONTAINERS_STORAGE_CONF point at files written here.  Rootful podman
  keeps everything under STATE/rootful; rootless podman runs as
  ROOTLESS_USER (created here, with a 65536-id subuid/subgid range), with
  its images in that user's home and its runtime state in STATE/rootless-run.
* Images come from the private dockerd, `docker save | podman load`.  podman
  keeps docker's image id (both are the digest of the image config), so an
  image podman already has is not loaded again; the older one it replaces
  under the same tag is pruned.
* At the end of the session every container is removed and the rootless
  pause process (podman's `catatonit -P`, which holds the user namespace) is
  ended by its pid.

If rootless podman cannot run here for a reason of the machine (user
namespaces disabled, no setuid newuidmap), its tests are skipped with that
reason; rootful ones still run.
"""
import contextlib
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import (HERE, LABEL, _locked, _note, _unavailable, container_factory,
                       ensure_tools, run_cli)

STATE = Path(os.environ.get("TINI_PY_PODMAN_DIR", "/var/tmp/tini-py-podman"))
ROOTLESS_USER = "tini-py-rootless"
SUBID_COUNT = 65536  # room for every id of a Debian image (nobody is 65534)
TOOLS = {"podman": "podman", "runc": "runc", "catatonit": "catatonit",
         "newuidmap": "uidmap", "newgidmap": "uidmap"}
# podman 4.3 as root lowers its own RLIMIT_NPROC to 32768 (strace:
# setrlimit(RLIMIT_NPROC, 32768)) and then asks the runtime for nproc
# 1048576 in the container: runc, podman's grandchild, may only raise a hard
# limit with CAP_SYS_RESOURCE, which root lacks on these machines.
ROOTFUL_NPROC_CEILING = 32768


def _containers_conf(ulimits=()):
    """The engine settings both modes share.

    runc, not crun 1.8.1, podman's choice whenever crun is installed (Debian's
    podman wants "crun | runc": docker.io's runc satisfies it, but a machine
    may have both): crun refuses the cgroup "hybrid" layout (v1 controllers
    plus a cgroup2 mount at /sys/fs/cgroup/unified that has a controller,
    hugetlb here) before it even looks at the cgroup manager: "cgroups in
    hybrid mode not supported, drop all controllers from cgroupv2",
    --cgroups=disabled included.  cgroupfs, file events and k8s-file logs:
    what podman falls back to itself without systemd and journald, written
    out so that a host with systemd runs the same engine (rootless podman's
    systemd manager would want a user D-Bus session).  Rootless on cgroup v1,
    podman makes no cgroup for the container: it stays in the caller's."""
    lines = ["[containers]", 'log_driver = "k8s-file"']
    if ulimits:
        lines.append("default_ulimits = [%s]" % ", ".join('"%s"' % u for u in ulimits))
    lines += ["[engine]", 'runtime = "runc"', 'cgroup_manager = "cgroupfs"',
              'events_logger = "file"']
    return "\n".join(lines) + "\n"


def _rootful_ulimits():
    """nofile and nproc no higher than root may set without CAP_SYS_RESOURCE."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], ROOTFUL_NPROC_CEILING)
    return ["nofile=%d:%d" % (nofile, nofile), "nproc=%d:%d" % (nproc, nproc)]


def _storage_conf(graphroot, runroot):
    return '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' % (
        graphroot, runroot)


class Podman:
    """The podman CLI in one mode; called like conftest's Engine."""

    def __init__(self, mode, env, storage, user=None, tests_dir=HERE):
        self.mode = mode
        self.storage_marker = str(storage)  # in the command line of its conmons
        self.host = mode
        self.env = env
        self.user = user  # a pwd entry for rootless, None for root
        self.tests_dir = tests_dir  # mounted at /t
        self.images = {}  # docker image ref -> podman image id
        self.signalled = []  # "stop -t 20 1.52s": each podman stop and kill, timed

    def __repr__(self):
        return "<podman %s>" % self.mode

    def _as_user(self):
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": [],
                "cwd": self.user.pw_dir}

    def __call__(self, *args, **kwargs):
        started = time.monotonic()
        result = run_cli("podman", *args, env=self.env, **self._as_user(), **kwargs)
        if args[0] in ("stop", "kill"):
            self.signalled.append("%s %.2fs" % (" ".join(args[:-1]), time.monotonic() - started))
        return result

    def image_exists(self, ref):
        return self("image", "exists", ref, check=False).returncode == 0

    def load_from_docker(self, docker_engine, ref):
        """The image docker_engine has as ref, by id; loaded when podman lacks it."""
        if ref not in self.images:
            image_id = docker_engine("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
            if not self.image_exists(image_id):
                self._load(docker_engine, ref)
            if not self.image_exists(image_id):
                raise RuntimeError("podman (%s) loaded %s but has no image %s"
                                   % (self.mode, ref, image_id))
            self.images[ref] = image_id
        return self.images[ref]

    def _load(self, docker_engine, ref):
        started = time.monotonic()
        save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE,
                                env=dict(os.environ, DOCKER_HOST=docker_engine.host))
        try:
            loaded = subprocess.run(["podman", "load"], stdin=save.stdout, env=self.env,
                                    capture_output=True, text=True, timeout=600,
                                    **self._as_user())
        finally:
            save.stdout.close()
            save.wait(60)
        if loaded.returncode != 0 or save.returncode != 0:
            raise RuntimeError("docker save %s | podman load (%s): %s"
                               % (ref, self.mode, loaded.stderr.strip()[-500:]))
        _note("podman (%s) loaded %s in %.1fs" % (self.mode, ref, time.monotonic() - started))
        self("image", "prune", "-f", check=False)  # the one it replaced under ref

    def our_containers(self):
        return self("ps", "-aq", "--filter", "label=%s" % LABEL, check=False).stdout.split()

    def remove_our_containers(self):
        ids = self.our_containers()
        if ids:
            self("rm", "-f", "-v", *ids, check=False)

    @contextlib.contextmanager
    def out_root(self, tmp_path):
        """Where a test's /out directories go: its tmp_path, or for rootless a
        directory the user can reach (pytest's tmp dirs are root's, 0700)."""
        if self.user is None:
            yield tmp_path
            return
        root = STATE / "rootless-out" / tmp_path.name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        try:
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------ rootful

def _rootful_engine():
    base = STATE / "rootful"
    for sub in ("storage", "run", "tmp"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "containers.conf").write_text(
        _containers_conf(_rootful_ulimits()) + 'tmp_dir = "%s"\n' % (base / "run" / "libpod"))
    (base / "storage.conf").write_text(_storage_conf(base / "storage", base / "run"))
    env = dict(os.environ, CONTAINERS_CONF=str(base / "containers.conf"),
               CONTAINERS_STORAGE_CONF=str(base / "storage.conf"), TMPDIR=str(base / "tmp"))
    return Podman("rootful", env, base / "storage")


# ----------------------------------------------------------------- rootless

def _userns_problem():
    """Why this machine cannot give an ordinary user a user namespace, or None."""
    for path in ("/proc/sys/user/max_user_namespaces", "/proc/sys/kernel/unprivileged_userns_clone"):
        with contextlib.suppress(OSError):
            if Path(path).read_text().strip() == "0":
                return "%s is 0: no user namespaces for ordinary users" % path
    for tool in ("newuidmap", "newgidmap"):
        found = shutil.which(tool)
        if found is None:
            return "%s is missing (Debian package uidmap)" % tool
        mode = os.stat(found).st_mode
        if not mode & stat.S_ISUID and b"security.capability" not in _xattrs(found):
            return "%s is neither setuid nor given file capabilities" % found
    return None


def _xattrs(path):
    with contextlib.suppress(OSError):
        return b" ".join(name.encode() for name in os.listxattr(path))
    return b""


def _ensure_rootless_user():
    """ROOTLESS_USER with its home and a subuid/subgid range; its pwd entry."""
    try:
        user = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin",
                        "--comment", "tini-py rootless podman tests", ROOTLESS_USER],
                       check=True, capture_output=True, timeout=60)
        _note("created user %s" % ROOTLESS_USER)
        user = pwd.getpwnam(ROOTLESS_USER)
    for kind, path in (("uids", Path("/etc/subuid")), ("gids", Path("/etc/subgid"))):
        if not _has_subids(path, user):
            start = _free_subid_start(path)
            subprocess.run(["usermod", "--add-sub" + kind,
                            "%d-%d" % (start, start + SUBID_COUNT - 1), ROOTLESS_USER],
                           check=True, capture_output=True, timeout=60)
    return user


def _subid_lines(path):
    with contextlib.suppress(FileNotFoundError):
        return [line.split(":") for line in path.read_text().splitlines() if line.count(":") == 2]
    return []


def _has_subids(path, user):
    return any(name in (user.pw_name, str(user.pw_uid)) and int(count) >= SUBID_COUNT
               for name, _, count in _subid_lines(path))


def _free_subid_start(path):
    return max([100000] + [int(start) + int(count) for _, start, count in _subid_lines(path)])


def _rootless_engine():
    user = _ensure_rootless_user()
    run_dir = STATE / "rootless-run"  # XDG_RUNTIME_DIR: podman wants it the user's, 0700
    conf_dir = STATE / "rootless-conf"
    tests_dir = STATE / "rootless-tests"  # /t: the checkout may sit where the user cannot read
    for directory in (run_dir, run_dir / "tmp", conf_dir):
        directory.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, user.pw_uid, user.pw_gid)
    os.chown(run_dir / "tmp", user.pw_uid, user.pw_gid)
    run_dir.chmod(0o700)
    STATE.chmod(0o755)
    shutil.rmtree(tests_dir, ignore_errors=True)
    shutil.copytree(HERE, tests_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (conf_dir / "containers.conf").write_text(_containers_conf())
    storage = Path(user.pw_dir) / ".local/share/containers/storage"
    (conf_dir / "storage.conf").write_text(_storage_conf(storage, run_dir / "containers"))
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
           "XDG_RUNTIME_DIR": str(run_dir), "TMPDIR": str(run_dir / "tmp"),
           "CONTAINERS_CONF": str(conf_dir / "containers.conf"),
           "CONTAINERS_STORAGE_CONF": str(conf_dir / "storage.conf")}
    return Podman("rootless", env, storage, user=user, tests_dir=tests_dir)


def _podman_processes(engine):
    """{pid: command line} of the processes podman left for engine: conmon
    (one per container; its command line names the engine's storage) and,
    rootless, the pause process `catatonit -P` that keeps the user namespace
    for the next podman command."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_text().replace("\0", " ").strip()
            if comm == "conmon" and engine.storage_marker in cmdline \
                    or engine.user is not None and comm == "catatonit" \
                    and entry.stat().st_uid == engine.user.pw_uid:
                found[int(entry.name)] = cmdline
    return found


def _end_podman_processes(engine, grace=10):
    """TERM to the pause process (it holds nothing once the containers are
    gone), then wait for conmon to follow its container; SIGKILL what is left."""
    for pid, cmdline in _podman_processes(engine).items():
        if cmdline == "catatonit -P":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _podman_processes(engine) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, cmdline in _podman_processes(engine).items():
        _note("podman's %r (pid %d) outlived the session by %ds; SIGKILL"
              % (cmdline[:80], pid, grace))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# ------------------------------------------------------------------ fixtures

def _install():
    if os.geteuid() != 0:
        _unavailable("the podman tests set up podman as root")
    problem = ensure_tools(TOOLS, recommends=False)
    if problem:
        _unavailable("cannot install podman: " + problem)
    STATE.mkdir(parents=True, exist_ok=True)


def _session(mode, make):
    """The engine make() sets up, for the session; one session at a time uses
    a mode's storage (a second one waits for the lock)."""
    with _locked("podman-%s.lock" % mode):
        engine = make()
        version = engine("version", "--format", "{{.Client.Version}}", check=False)
        if version.returncode != 0:
            _unavailable("podman (%s) does not answer: %s" % (engine.mode, version.stderr.strip()))
        engine.version = version.stdout.strip()
        engine.remove_our_containers()  # a crashed session's
        try:
            yield engine
        finally:
            engine.remove_our_containers()
            _end_podman_processes(engine)


@pytest.fixture(scope="session")
def podman_rootful(docker_engine):
    _install()
    yield from _session("rootful", _rootful_engine)


@pytest.fixture(scope="session")
def podman_rootless(docker_engine):
    _install()
    problem = _userns_problem()
    if problem:
        pytest.skip("rootless podman cannot run here: " + problem)
    yield from _session("rootless", _rootless_engine)


@pytest.fixture(params=["rootful", "rootless"])
def podman(request):
    """The podman engine of the parametrized mode."""
    return request.getfixturevalue("podman_" + request.param)


@pytest.fixture
def podman_example(podman, docker_engine, tini_image):
    """Dockerfile.example's image (tini_image), in podman."""
    return podman.load_from_docker(docker_engine, tini_image)


@pytest.fixture
def podman_servers(podman, docker_engine, servers_image):
    """The real servers' image (servers_image), in podman."""
    return podman.load_from_docker(docker_engine, servers_image)


@pytest.fixture
def podman_containers(podman, tmp_path):
    """containers() for podman: see conftest.container_factory."""
    with podman.out_root(tmp_path) as outroot:
        with container_factory(podman, outroot, podman.tests_dir) as run:
            yield run
