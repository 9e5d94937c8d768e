#!/usr/bin/env python3
"""Benchmark tini-py against tini, dumb-init, catatonit and a minimal Python init.

Usage (as root; not part of the test suite, asserts nothing):

    python3 bench/run.py            # full run, ~21 minutes
    python3 bench/run.py --quick    # short run, ~2 minutes
    python3 bench/run.py --parts startup,early --only tini,tini-py,zipapp

Every init runs as real PID 1 of its own PID namespace:
``unshare --pid --fork --mount-proc INIT ... -- CHILD``.  The helpers in
bench/benchtool.c are compiled with gcc into a temporary directory.
Prints one table and writes it to bench/results.md with machine info.
Missing tini/dumb-init/catatonit are installed with apt-get.
"""
import argparse
import datetime
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = sys.executable
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
# What a run measures, in this order: the short timings first, on a quiet
# machine (a storm leaves the kernel 30000 exited tasks to free).
PARTS = ("startup", "early", "signals", "storm")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- set-up

def find_binary(*candidates):
    for c in candidates:
        path = shutil.which(c) if "/" not in c else (c if os.access(c, os.X_OK) else None)
        if path:
            return path
    return None


def ensure_debian_inits():
    want = {"tini": ("tini", "/usr/bin/tini", "tini-static", "/usr/bin/tini-static"),
            "dumb-init": ("dumb-init", "/usr/bin/dumb-init"),
            "catatonit": ("catatonit", "/usr/bin/catatonit", "/usr/libexec/podman/catatonit")}
    missing = [pkg for pkg, cands in want.items() if not find_binary(*cands)]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing " + " ".join(missing) + " with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        lock = ["-o", "DPkg::Lock::Timeout=300"]
        subprocess.run(["apt-get", "update", "-qq"] + lock, env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq"] + lock + missing, env=env, check=False,
                       stdout=subprocess.DEVNULL)
    return {pkg: find_binary(*cands) for pkg, cands in want.items()}


def compile_tool(tmp):
    out = os.path.join(tmp, "benchtool")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", out, os.path.join(HERE, "benchtool.c")], check=True)
    return out


def tini_py_runnable(argv, env):
    try:
        r = subprocess.run(UNSHARE + argv + ["true"], env=env, timeout=20,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        return False, "timed out"
    if r.returncode != 0:
        return False, "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace").strip()[-300:])
    r = subprocess.run(UNSHARE + argv + ["sh", "-c", "exit 3"], env=env, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 3:
        return False, "`-- sh -c 'exit 3'` gave %d" % r.returncode
    return True, ""


def make_console_script(tmp, given):
    """A venv made from this interpreter with the repo pip-installed: its bin/tini-py."""
    if given:
        return given
    source = os.path.join(tmp, "src")
    os.mkdir(source)
    # setup.py writes the launcher line that names the venv's interpreter.
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(os.path.join(REPO, name), source)
    for name in ("tini_py", "scripts"):  # pip builds in the source tree: not in ours
        shutil.copytree(os.path.join(REPO, name), os.path.join(source, name),
                        ignore=shutil.ignore_patterns("__pycache__"))
    script = install_into_venv(source, os.path.join(tmp, "venv"))
    if script:
        check_launcher_names_venv(script)
    return script


def install_into_venv(source, venv):
    """python -m venv (this interpreter), pip install SOURCE: its bin/tini-py, or None."""
    subprocess.run([PY, "-m", "venv", venv], check=True)
    vpy = os.path.join(venv, "bin", "python")
    base = ["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
    r = subprocess.run([vpy] + base + ["--no-build-isolation", source],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        r = subprocess.run([vpy] + base + [source], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    script = os.path.join(venv, "bin", "tini-py")
    if r.returncode != 0 or not os.path.exists(script):
        log("could not pip install %s into a venv: %s"
            % (source, r.stderr.decode(errors="replace")[-300:]))
        return None
    return script


def check_launcher_names_venv(script):
    """The installed command's line must put the venv's bin first for env's
    lookup (setup.py); else a shim on PATH would run and be measured."""
    with open(script, "rb") as f:
        line = f.readline().decode(errors="replace").rstrip("\n")
    if "PATH=%s:" % os.path.dirname(os.path.abspath(script)) not in line:
        log("the installed command's launcher line does not name the venv's bin: %s" % line)


def make_old_console_script(tmp, commit):
    """The installed command as it was at ``commit`` (git archive, pip install
    into its own venv), or None when the repository cannot give it."""
    source = os.path.join(tmp, "src-" + commit)
    os.mkdir(source)
    archive = subprocess.run(["git", "-C", REPO, "archive", "--format=tar", commit],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if archive.returncode != 0:
        log("no commit %s here (%s): its launcher is not measured"
            % (commit, archive.stderr.decode(errors="replace").strip()))
        return None
    subprocess.run(["tar", "-x", "-C", source], input=archive.stdout, check=True)
    return install_into_venv(source, os.path.join(tmp, "venv-" + commit))


def make_zipapp(tmp):
    """tools/build_zipapp.py's archive, built by this interpreter."""
    out = os.path.join(tmp, "tini-py.pyz")
    r = subprocess.run([PY, os.path.join(REPO, "tools", "build_zipapp.py"), "--output", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        log("could not build the zipapp: " + r.stderr.decode(errors="replace")[-300:])
        return None
    return out


STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHIMS = os.path.join(os.environ.get("PYENV_ROOT") or "/root/.pyenv", "shims")
# The commit before the launcher line named its interpreter: env looked
# `python3` up on PATH, and a developer's pyenv shim ran first.
OLD_LAUNCHER_COMMIT = "ffcdf8a"


def image_env(bin_dir):
    """An image's environment: the venv's python3 first on PATH."""
    return dict(os.environ, PATH=bin_dir + ":" + STANDARD_PATH)


def shell_env():
    """A developer's shell with pyenv: its shims first on PATH."""
    return dict(os.environ, PATH=SHIMS + ":" + STANDARD_PATH)


class Init:
    def __init__(self, name, argv, env=None):
        self.name, self.argv, self.env = name, argv, env or dict(os.environ)


def shim_comparisons(tmp, script, zipapp, py_m, bare_name):
    """Start-up from a developer's shell, pyenv's shims first on PATH: each
    launch form next to the same form without them.  Returns the table's
    rows [(label, name without shims, name with shims)] and the Inits to add
    to the start-up runs (the old launcher's without shims too)."""
    if not os.access(os.path.join(SHIMS, "python3"), os.X_OK):
        log("no pyenv shims at %s: start-up through shims not measured" % SHIMS)
        return [], []
    shell = shell_env()
    bare = Init("bare/shims", ["python3", "-I", "-S", "-c", "pass"], shell)
    bare.startup_only = True
    rows, inits = [("`python3 -I -S -c pass`", bare_name, bare.name)], [bare]
    candidates = []
    if script:
        candidates.append(("installed command", "tini-py", Init("tini-py/shims", [script, "--"], shell)))
        old = make_old_console_script(tmp, OLD_LAUNCHER_COMMIT)
        if old:
            old_bin = os.path.dirname(old)
            label = "installed command at %s (env looked `python3` up on PATH)" % OLD_LAUNCHER_COMMIT
            plain = Init(OLD_LAUNCHER_COMMIT, [old, "--"], image_env(old_bin))
            shimmed = Init(OLD_LAUNCHER_COMMIT + "/shims", [old, "--"], shell)
            if runnable_or_said(plain):
                inits.append(plain)
                candidates.append((label, plain.name, shimmed))
    if zipapp:
        candidates.append(("zipapp", "zipapp", Init("zipapp/shims", [zipapp, "--"], shell)))
    if py_m:
        candidates.append(("`python3 -m tini_py`", "py-m",
                           Init("py-m/shims", ["python3", "-m", "tini_py", "--"],
                                dict(shell, PYTHONPATH=REPO))))
    for label, plain_name, shimmed in candidates:
        if runnable_or_said(shimmed):
            rows.append((label, plain_name, shimmed.name))
            inits.append(shimmed)
    return rows, inits


def runnable_or_said(init):
    ok, why = tini_py_runnable(init.argv, init.env)
    if not ok:
        log("%s is not runnable (%s): not measured" % (init.name, why))
    return ok


def build_shim_table(startup, rows, bare_name):
    """Start-up cost with and without pyenv's shims first on PATH."""
    lines = ["| start-up cost (ms) | without shims | pyenv shims first on PATH | the shims add "
             "| with shims vs %s |" % bare_name, "|---|---|---|---|---|"]
    bare = startup.get(bare_name)
    for label, plain, shimmed in rows:
        a, b = startup.get(plain), startup.get(shimmed)
        added = "-" if a is None or b is None else "%+.2f" % (b - a)
        ratio = "-" if b is None or not bare else "%.2fx" % (b / bare)
        lines.append("| %s (%s) | %s | %s | %s | %s |"
                     % (label, plain, fmt(a, 2), fmt(b, 2), added, ratio))
    return lines


# ------------------------------------------------------------- /proc reads

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def ctxt_switches(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pid):
    """CPU time of all threads: schedstat's ns on CPU (utime+stime from /proc/PID/stat
    only has clock-tick resolution)."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


# ----------------------------------------------------------------- session

def pin_to(cpu):
    """preexec_fn pinning a process (and what it starts) to one CPU, or None."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Session:
    """unshare --pid --fork --mount-proc INIT CHILD; knows the init's host pid."""

    def __init__(self, init, child_argv, tmp, fifo=True, cpu=None):
        self.init = init
        self.fd = None
        self.fifo = None
        if fifo:
            self.fifo = tempfile.mktemp(prefix="fifo", dir=tmp)
            os.mkfifo(self.fifo)
            self.fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
            child_argv = [a.replace("@FIFO@", self.fifo) for a in child_argv]
        self.errlog = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(UNSHARE + init.argv + child_argv, env=init.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.errlog, preexec_fn=pin_to(cpu))
        self.pid = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            kids = children(self.proc.pid)
            if kids:
                self.pid = kids[0]
                break
            time.sleep(0.001)
        if self.pid is None:
            self.close()
            raise RuntimeError("%s: no PID 1 appeared" % init.name)

    def read8(self, timeout):
        buf = b""
        deadline = time.monotonic() + timeout
        while len(buf) < 8:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("%s: child did not answer (%s)" % (self.init.name, self.stderr()))
            r, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if r:
                try:
                    chunk = os.read(self.fd, 8 - len(buf))
                except BlockingIOError:
                    chunk = None
                if chunk:
                    buf += chunk
                else:
                    time.sleep(0.005)  # no writer yet: EOF
        return int.from_bytes(buf, sys.byteorder)

    def wait_ready(self, timeout=20):
        self.read8(timeout)

    def stderr(self):
        self.errlog.seek(0)
        return self.errlog.read().decode(errors="replace").strip()[-500:]

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        if self.proc.poll() is None and self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(5) is None and self.proc.poll() is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)  # PID 1 gone: the kernel kills the namespace
                except ProcessLookupError:
                    pass
        if self.proc.poll() is None:
            if self.wait(5) is None:
                self.proc.kill()
                self.proc.wait()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.fifo:
            os.unlink(self.fifo)
            self.fifo = None
        self.errlog.close()


# ----------------------------------------------------------------- metrics

def run_signal_session(init, tool, tmp, cfg, do_idle, do_soak):
    """RSS, ping-pong latency and (optionally) idle wake-ups/CPU and the soak, in one session."""
    res = {}
    s = Session(init, [tool, "child", "@FIFO@"], tmp, cpu=cfg.cpu)
    try:
        s.wait_ready()
        time.sleep(0.3)  # let start-up finish
        res["rss_kb"] = rss_kb(s.pid)
        if do_idle:
            c0, t0, w0 = ctxt_switches(s.pid), cpu_seconds(s.pid), time.monotonic()
            time.sleep(cfg.idle)
            c1, t1, w1 = ctxt_switches(s.pid), cpu_seconds(s.pid), time.monotonic()
            res["wakeups"] = (c1 - c0) / (w1 - w0)
            res["idle_cpu_ms"] = (t1 - t0) * 1000 / (w1 - w0)
        os.set_blocking(s.fd, True)
        r = subprocess.run([tool, "pingpong", str(s.pid), str(s.fd), str(cfg.samples + 50), str(cfg.gap_us)],
                           pass_fds=(s.fd,), stdout=subprocess.PIPE, timeout=600,
                           preexec_fn=pin_to(cfg.cpu))
        if r.returncode != 0:
            raise RuntimeError("%s: pingpong failed (%s)" % (init.name, s.stderr()))
        res["lat_ns"] = [int(x) for x in r.stdout.split()][50:]
        if do_soak:
            os.set_blocking(s.fd, False)
            time.sleep(0.2)
            before = rss_kb(s.pid)
            cpu0 = cpu_seconds(s.pid)
            r = subprocess.run([tool, "blast", str(s.pid), str(cfg.soak), str(int(signal.SIGUSR2))],
                               stdout=subprocess.PIPE, timeout=600)
            sent = int(r.stdout or 0)
            time.sleep(1.0)
            os.kill(s.pid, signal.SIGHUP)
            got = s.read8(10)
            cpu1 = cpu_seconds(s.pid)
            time.sleep(0.2)
            after = rss_kb(s.pid)
            res["soak"] = {"sent": sent, "received": got, "rss_before": before, "rss_after": after,
                           "cpu_us_per_forward": (cpu1 - cpu0) * 1e6 / max(got, 1)}
    finally:
        s.close()
    return res


def run_storm(init, tool, tmp, n):
    out = tempfile.mktemp(prefix="storm", dir=tmp)
    s = Session(init, [tool, "storm", str(n), out], tmp, fifo=False)
    try:
        code = s.wait(300)
        if code is None or not os.path.exists(out):
            raise RuntimeError("%s: zombie storm failed, exit %s (%s)" % (init.name, code, s.stderr()))
        with open(out) as f:
            ns, before = f.read().split()
        if int(before) < n:
            log("%s: only %s orphans were re-parented to PID 1" % (init.name, before))
        return int(ns) / 1e6
    finally:
        s.close()
        if os.path.exists(out):
            os.unlink(out)


def time_command(argv, env):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status = os.waitpid(pid, 0)
    dt = time.perf_counter() - t0
    return dt, os.waitstatus_to_exitcode(status)


def run_startup(inits, runs):
    """Median ms of `unshare ... INIT /bin/true` minus `unshare ... /bin/true`, interleaved.
    An Init with ``startup_only`` (the bare interpreter) gets no /bin/true."""
    times = startup_times(inits, runs)
    base_ms = statistics.median(times[None])
    return {i.name: statistics.median(times[i.name]) - base_ms for i in inits}, base_ms


def startup_times(inits, runs):
    """{name: [ms of each round]} of `unshare ... INIT /bin/true`, and under
    None the same of `unshare ... /bin/true`; every round runs each once,
    in an order rotated by one each round."""
    unshare = shutil.which("unshare")
    base = [unshare] + UNSHARE[1:]
    times = {i.name: [] for i in inits}
    times[None] = []
    order = [None] + list(inits)
    for k in range(runs):
        rot = order[k % len(order):] + order[:k % len(order)]
        for init in rot:
            if init is None:
                argv, env, name = base + ["/bin/true"], dict(os.environ), None
            else:
                tail = [] if getattr(init, "startup_only", False) else ["/bin/true"]
                argv, env, name = base + init.argv + tail, init.env, init.name
            dt, code = time_command(argv, env)
            if code != 0:
                raise RuntimeError("%s -- /bin/true exited %d" % (name, code))
            times[name].append(dt * 1000)
    return times


def run_early(inits, tool, delays_ms, reps):
    """TERM d ms after exec: [delivered, total] per delay; and ms from exec to TERM blocked."""
    res = {i.name: {d: [0, 0] for d in delays_ms} for i in inits}
    masked = {i.name: [] for i in inits}
    for _ in range(reps):
        for init in inits:
            r = subprocess.run([tool, "maskwatch", "5000"] + init.argv + ["sleep", "5"],
                               env=init.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
            words = r.stdout.split()
            masked[init.name].append(float(words[1]) if words[:1] == [b"masked"] else float("inf"))
        for d in delays_ms:
            for init in inits:
                r = subprocess.run([tool, "nsrun", str(int(d * 1000)), "1000"] + init.argv + ["sleep", "5"],
                                   env=init.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30)
                word = r.stdout.split()[0].decode() if r.stdout.split() else "error"
                res[init.name][d][1] += 1
                if word == "delivered":
                    res[init.name][d][0] += 1
    return res, {n: "%.2f / %.2f" % (statistics.median(v), pct(v, 90)) for n, v in masked.items()}


# ------------------------------------------------------------------ report

def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return ("%%.%df" % nd) % x


def machine_info(cfg, bins):
    def ver(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=5)
            return r.stdout.decode(errors="replace").strip().splitlines()[0]
        except Exception:
            return "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode().strip()
    except OSError:
        rev = "?"
    return [
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- command: `%s`" % " ".join(["python3", "bench/run.py"] + (["--quick"] if cfg.quick else [])),
        "- repo commit: %s" % rev,
        "- kernel: %s %s" % (platform.system(), platform.release()),
        "- cpu: %s x %d" % (cpu, os.cpu_count() or 0),
        "- python: %s (%s)" % (platform.python_version(), PY),
        "- load average (1 min) at start / end: %.1f / %.1f on %d CPUs" % (cfg.load_start, os.getloadavg()[0], os.cpu_count() or 0),
        "- tini: %s (%s); dumb-init: %s; catatonit: %s" % (
            ver([bins["tini"], "--version"]), bins["tini"], ver([bins["dumb-init"], "--version"]),
            ver([bins["catatonit"], "--version"])),
        "- samples: latency %d per round x %d rounds (gap %d us), idle %.0f s, startup %d runs, "
        "storm %d orphans x %d, early TERM %d reps, soak %d signals" % (
            cfg.samples, cfg.rounds, cfg.gap_us, cfg.idle, cfg.startup_runs, cfg.storm,
            cfg.storm_reps, cfg.early_reps, cfg.soak),
    ]


def build_table(names, m, py_names, floors, bares):
    """Rows = metrics, columns = inits, then goal / tini-py ratio / PASS-MISS."""
    def ratio(name, metric, ref):
        a, b = m[metric].get(name), m[metric].get(ref)
        if a is None or b is None or b == 0:
            return None
        return a / b

    goals = []  # (label, metric, fmtfunc, goal-text, check(name)->(ratio text, ok))

    def ratio_goal(metric, ref, limit):
        def check(name):
            against = floors.get(name, ref) if ref == "floor" else ref
            if ref == "bare":
                against = bares.get(name)
            r = ratio(name, metric, against)
            if r is None:
                return "-", None
            return "%.2fx %s" % (r, against), r <= limit
        return check

    def idle_goal(name):
        v = m["wakeups"].get(name)
        return ("-", None) if v is None else ("%.2f/s" % v, v == 0)

    def early_goal(name):
        v = m["early20"].get(name)
        return ("-", None) if v is None else (v, v.split("/")[0] == v.split("/")[1])

    def early1_goal(name):
        v, ref = m["early1"].get(name), m["early1"].get("tini")
        if v is None or ref is None:
            return "-", None
        return "%s (tini %s)" % (v, ref), int(v.split("/")[0]) >= int(ref.split("/")[0])

    def soak_goal(name):
        v = m["soak_growth"].get(name)
        return ("-", None) if v is None else ("%+.2f MB" % v, v < 1.0)

    rows = [
        ("signal latency p50 (us)", "p50", 1, "<= 1.25x tini", ratio_goal("p50", "tini", 1.25)),
        ("signal latency p99 (us)", "p99", 1, "<= 1.5x tini", ratio_goal("p99", "tini", 1.5)),
        ("RSS with child running (MB)", "rss", 2, "<= 1.15x floor", ratio_goal("rss", "floor", 1.15)),
        ("idle wake-ups (/s)", "wakeups", 2, "0/s", idle_goal),
        ("idle CPU (ms/s)", "idle_cpu", 3, "", None),
        ("start-up cost (ms)", "startup", 2, "<= 1.3x bare", ratio_goal("startup", "bare", 1.3)),
        ("zombie storm reaped (ms)", "storm", 1, "<= 2x tini", ratio_goal("storm", "tini", 2.0)),
        ("exec to SIGTERM blocked (ms, median / p90)", "masked", 2, "", None),
        ("TERM 1 ms after exec delivered", "early1", 0, ">= tini", early1_goal),
        ("TERM 5 ms after exec delivered", "early5", 0, "", None),
        ("TERM 20 ms after exec delivered", "early20", 0, "never lost", early_goal),
        ("soak: signals child got / sent", "soak_counts", 0, "", None),
        ("soak: init CPU per forwarded signal (us)", "soak_cpu", 2, "", None),
        ("soak: RSS growth (MB)", "soak_growth", 2, "< 1 MB", soak_goal),
    ]
    head = ["metric"] + names + ["goal"] + ["%s vs goal" % n for n in py_names] + ["result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    misses = []
    for label, metric, nd, goal, check in rows:
        cells = [label] + [fmt(m[metric].get(n), nd) for n in names] + [goal]
        verdicts = []
        for n in py_names:
            if check is None:
                cells.append("")
                continue
            text, ok = check(n)
            cells.append(text)
            if ok is not None:
                verdicts.append("PASS" if ok else "MISS")
                if not ok:
                    misses.append((n, "%s: %s (%s, goal %s)" % (n, label, text, goal)))
        cells.append("/".join(verdicts))
        lines.append("| " + " | ".join(cells) + " |")
    return lines, misses


def goals_summary(misses):
    """The goals are the launch forms' (tini-py, zipapp); py-m has no
    launcher line, so its misses are known limits, listed apart."""
    forms = [text for name, text in misses if name != "py-m"]
    lines = ["Goals missed by the launch forms: " + ("; ".join(forms) if forms else "none")]
    py_m = [text for name, text in misses if name == "py-m"]
    if py_m:
        lines.append("`python -m tini_py` (no launcher line; README, Known limits): "
                     + "; ".join(py_m))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short run (~2 minutes)")
    ap.add_argument("--tini-py", metavar="PATH", help="tini-py console script to use "
                    "(default: pip install the repo into a temporary venv made from this python)")
    ap.add_argument("--only", metavar="NAMES", help="comma list of inits to run (tini,dumb-init,"
                    "catatonit,floor,floor-venv,tini-py,zipapp,py-m; bare and bare-venv, "
                    "the interpreters' own start-up, come with the Python inits)")
    ap.add_argument("--parts", default=",".join(PARTS), metavar="NAMES",
                    help="comma list of what to measure (%s; default: all). A partial run "
                    "writes no file unless --output is given" % ",".join(PARTS))
    ap.add_argument("--output", default=None, help="default: bench/results.md (full runs)")
    ap.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)),
                    help="pin latency sessions (sender, init, child) to this CPU (default: the last)")
    ap.add_argument("--no-pin", dest="cpu", action="store_const", const=None,
                    help="do not pin latency sessions")
    cfg = ap.parse_args()
    cfg.parts = set(cfg.parts.split(","))
    if not cfg.parts <= set(PARTS):
        ap.error("--parts: unknown %s" % ",".join(sorted(cfg.parts - set(PARTS))))
    if cfg.output is None and cfg.parts == set(PARTS):
        cfg.output = os.path.join(HERE, "results.md")
    if cfg.quick:
        cfg.samples, cfg.rounds, cfg.gap_us, cfg.idle = 250, 2, 100, 2.0
        cfg.startup_runs, cfg.storm, cfg.storm_reps, cfg.early_reps, cfg.soak = 20, 10000, 1, 3, 50000
    else:
        cfg.samples, cfg.rounds, cfg.gap_us, cfg.idle = 500, 10, 100, 5.0
        cfg.startup_runs, cfg.storm, cfg.storm_reps, cfg.early_reps, cfg.soak = 300, 10000, 5, 30, 1000000
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (unshare --pid)")

    cfg.load_start = os.getloadavg()[0]
    bins = ensure_debian_inits()
    tmp = tempfile.mkdtemp(prefix="tini-py-bench.")
    try:
        tool = compile_tool(tmp)
        inits = []
        for key, argv in (("tini", ["-g", "--"]), ("dumb-init", ["--"]), ("catatonit", ["-g", "--"])):
            if bins[key]:
                inits.append(Init(key, [bins[key]] + argv))
            else:
                log("%s not found, skipped" % key)
        inits.append(Init("floor", [PY, os.path.join(HERE, "floor_init.py")]))
        py_env = dict(os.environ, PYTHONPATH=REPO)
        py_m = Init("py-m", [PY, "-m", "tini_py", "--"], py_env)
        ok, why = tini_py_runnable(py_m.argv, py_env)
        py_names = []
        # The interpreters' own start-up (`python -I -S -c pass`): start-up only.
        bares = [Init("bare", [PY, "-I", "-S", "-c", "pass"])]
        bare_of = {"py-m": "bare"}
        floor_of = {"py-m": "floor"}
        if ok:
            script = make_console_script(tmp, cfg.tini_py)
            if script:
                # The launcher line runs the first python3 on PATH, isolated
                # (-I -S): the fair floor and bare interpreter are that python,
                # run the same way.
                venv_bin = os.path.dirname(os.path.abspath(script))
                venv_py = os.path.join(venv_bin, "python3")
                env = image_env(venv_bin)
                inits.append(Init("floor-venv", [venv_py, "-I", "-S",
                                                 os.path.join(HERE, "floor_init.py")], env))
                bares.append(Init("bare-venv", [venv_py, "-I", "-S", "-c", "pass"], env))
                inits.append(Init("tini-py", [script, "--"], env))
                py_names.append("tini-py")
                zipapp = make_zipapp(tmp)
                if zipapp:
                    inits.append(Init("zipapp", [zipapp, "--"], env))
                    py_names.append("zipapp")
                for name in ("tini-py", "zipapp"):
                    bare_of[name], floor_of[name] = "bare-venv", "floor-venv"
            inits.append(py_m)
            py_names.append("py-m")
        else:
            log("tini-py is not runnable yet (%s): measuring the others only" % why)
        for bare in bares:
            bare.startup_only = True
        if cfg.only:
            keep = set(cfg.only.split(","))
            inits = [i for i in inits if i.name in keep]
            py_names = [n for n in py_names if n in keep]
            bares = [b for b in bares if b.name in {bare_of.get(n) for n in py_names}]
        names = [i.name for i in inits]
        # The launch forms again from a developer's shell (start-up only):
        # they come with the forms measured.
        shim_rows, shim_inits = [], []
        if "startup" in cfg.parts and py_names:
            shim_bare = "bare-venv" if "bare-venv" in {b.name for b in bares} else "bare"
            forms = {i.name: i for i in inits}
            shim_rows, shim_inits = shim_comparisons(
                tmp, forms["tini-py"].argv[0] if "tini-py" in forms else None,
                forms["zipapp"].argv[0] if "zipapp" in forms else None,
                "py-m" in forms, shim_bare)

        metrics = {k: {} for k in ("p50", "p99", "rss", "wakeups", "idle_cpu", "startup", "storm",
                                   "masked", "early1", "early5", "early20", "soak_counts", "soak_cpu",
                                   "soak_growth")}
        base_ms = float("nan")
        if "startup" in cfg.parts:
            log("start-up: %d runs each" % cfg.startup_runs)
            startup, base_ms = run_startup(inits + bares + shim_inits, cfg.startup_runs)
            metrics["startup"].update(startup)

        if "early" in cfg.parts:
            log("early TERM: %d reps" % cfg.early_reps)
            early, masked = run_early(inits, tool, (1, 5, 20), cfg.early_reps)
            metrics["masked"].update(masked)
            for n in names:
                for d in (1, 5, 20):
                    metrics["early%d" % d][n] = "%d/%d" % tuple(early[n][d])

        lat = {n: [] for n in names}
        per = {n: {"rss": [], "wakeups": [], "idle_cpu": []} for n in names}
        for rnd in range(cfg.rounds if "signals" in cfg.parts else 0):
            order = inits[rnd % len(inits):] + inits[:rnd % len(inits)]
            for init in order:
                first, last = rnd == 0, rnd == cfg.rounds - 1
                log("round %d/%d: %s: RSS, latency%s%s" % (rnd + 1, cfg.rounds, init.name,
                                                           ", idle" if first else "",
                                                           ", soak" if last else ""))
                r = run_signal_session(init, tool, tmp, cfg, first, last)
                lat[init.name] += r["lat_ns"]
                per[init.name]["rss"].append(r["rss_kb"] / 1024)
                if first:
                    per[init.name]["wakeups"].append(r["wakeups"])
                    per[init.name]["idle_cpu"].append(r["idle_cpu_ms"])
                if last:
                    sk = r["soak"]
                    metrics["soak_counts"][init.name] = "%d / %d" % (sk["received"], sk["sent"])
                    metrics["soak_growth"][init.name] = (sk["rss_after"] - sk["rss_before"]) / 1024
                    metrics["soak_cpu"][init.name] = sk["cpu_us_per_forward"]
        for n in names if "signals" in cfg.parts else ():
            metrics["p50"][n] = pct(lat[n], 50) / 1000
            metrics["p99"][n] = pct(lat[n], 99) / 1000
            for k in ("rss", "wakeups", "idle_cpu"):
                metrics[k][n] = statistics.median(per[n][k])

        storms = {n: [] for n in names}
        # A storm's time is mostly the kernel's (10000 exits on 2 CPUs): it
        # swings by 2x between runs of the same init.  Rotated, several reps.
        for rep in range(cfg.storm_reps if "storm" in cfg.parts else 0):
            for init in inits[rep % len(inits):] + inits[:rep % len(inits)]:
                log("zombie storm %d/%d: %s" % (rep + 1, cfg.storm_reps, init.name))
                storms[init.name].append(run_storm(init, tool, tmp, cfg.storm))
        for n in names if "storm" in cfg.parts else ():
            metrics["storm"][n] = statistics.median(storms[n])


        table, misses = build_table(names + [b.name for b in bares], metrics, py_names,
                                    floor_of, bare_of)
        info = machine_info(cfg, bins)
        legend = [
            "Inits: `tini -g --`, `dumb-init --`, `catatonit -g --`; floor = `python3 bench/floor_init.py` "
            "(smallest correct Python init), run by the python running the bench; floor-venv = the same "
            "floor run isolated (`-I -S`) by the venv python; tini-py = the `tini-py` command pip "
            "installed into a venv made from that python, zipapp = tools/build_zipapp.py's archive "
            "(both run by their launcher line: env blocks every signal, then runs the building "
            "interpreter isolated, `-I -S`; with the venv's bin first on PATH, as in an image; "
            "compared with floor-venv and bare-venv); py-m = `python3 -m "
            "tini_py --`, which executes itself again isolated (compared with floor and bare). "
            "bare, bare-venv = the interpreter alone, `python -I -S -c pass` (start-up only).",
            "Latency: CLOCK_MONOTONIC before kill(PID 1, SIGUSR1) to CLOCK_MONOTONIC in the child's "
            "sigwaitinfo, ping-pong, sender/init/child pinned to CPU %s, %d-us gap. Start-up: median of `unshare ... INIT -- /bin/true` minus "
            "`unshare ... /bin/true` (%.2f ms). Storm: %d orphans re-parented to PID 1 exit at once; "
            "time until PID 1 has no children but the storm process. Early TERM: SIGTERM N ms after the "
            "parent saw the init's exec (close-on-exec pipe); delivered = init exited within 1 s "
            "(child `sleep 5`). Soak: SIGUSR2 blasted at PID 1 (coalescing allowed)."
            % (cfg.cpu, cfg.gap_us, base_ms, cfg.storm),
        ]
        shim_table = []
        if shim_rows:
            shim_table = ["Start-up from a developer's shell, pyenv's shims (%s) first on PATH, "
                          "interleaved with the runs above:" % SHIMS, ""]
            shim_table += build_shim_table(metrics["startup"], shim_rows, shim_rows[0][1])
            legend.append(
                "Shims: PATH=%s:%s, the launch forms started by their path (py-m and bare: "
                "`python3` looked up there, i.e. the shim); without shims: the same forms as "
                "above. %s = the `tini-py` command pip installed from commit %s into its own "
                "venv, whose line had env look `python3` up on PATH (without shims: that "
                "venv's bin first)." % (SHIMS, STANDARD_PATH, OLD_LAUNCHER_COMMIT, OLD_LAUNCHER_COMMIT))
        print()
        print("\n".join(table))
        print()
        if shim_table:
            print("\n".join(shim_table))
            print()
        summary = goals_summary(misses)
        if py_names:
            print("\n".join(summary))
        if cfg.output is None:
            return
        with open(cfg.output, "w") as f:
            f.write("# tini-py benchmark\n\n")
            f.write("\n".join(table) + "\n\n")
            if shim_table:
                f.write("\n".join(shim_table) + "\n\n")
            if py_names:
                f.write("\n".join(summary) + "\n\n")
            else:
                f.write("tini-py was not runnable: %s\n\n" % why)
            f.write("\n\n".join(legend) + "\n\n")
            f.write("\n".join(info) + "\n")
        log("wrote " + os.path.relpath(cfg.output))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
