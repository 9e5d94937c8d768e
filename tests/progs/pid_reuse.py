"""A pid-reuse scenario, run as PID 1 of a fresh PID namespace (unshare):
does tini-py, as a subreaper, signal a process group that is not its own
any more once its main child's pid has been reused?

    pid_reuse.py WORKDIR [usr1|delay]

1. Starts tini-py (not PID 1 here: a subreaper) with --orphan-grace 2; its
   child leaves a leftover in a new session (ignores SIGTERM and SIGUSR1), writes its pid
   to WORKDIR/main, waits for WORKDIR/go and exits.
2. Once the main child (pid G, also its group id) is reaped, sets
   ns_last_pid so that the next process gets pid G, and starts an unrelated
   process (a child of this script, not of tini-py) that becomes the leader
   of process group G with setsid() and records the signals it gets.
3. "usr1" (default): sends SIGUSR1 to tini-py (which is draining the
   leftover).  "delay": tini-py runs with --delay 1.5 and gets SIGTERM
   before the main child exits, so the held TERM falls due during the
   drain, after the reuse.  Waits for tini-py to exit, and prints one JSON line: the unrelated process's pid, whether
   it got pid G, the signals it recorded, and whether it is still alive.
"""
import json
import os
import signal
import subprocess
import sys
import time

CHILD = r"""
import os, signal, sys, time
work = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        open(os.path.join(work, "leftover"), "w").write("%d\n" % os.getpid())
        while True:
            time.sleep(3600)
    os._exit(0)
while not os.path.exists(os.path.join(work, "leftover")):
    time.sleep(0.01)
open(os.path.join(work, "main"), "w").write("%d\n" % os.getpid())
while not os.path.exists(os.path.join(work, "go")):
    time.sleep(0.01)
os._exit(0)
"""

UNRELATED = r"""
import os, signal, sys, time
log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
def record(sig, frame):
    os.write(log, b"%d\n" % sig)
for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, record)
os.setsid()
open(sys.argv[2], "w").write("ready\n")
while True:
    time.sleep(3600)
"""


def wait_file(path, timeout=20):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for %s" % path)
        time.sleep(0.01)


def main():
    work = sys.argv[1]
    variant = sys.argv[2] if len(sys.argv) > 2 else "usr1"
    options = ["--orphan-grace", "2"] if variant == "usr1" else ["--orphan-grace", "3",
                                                                  "--delay", "1.5"]
    tini = subprocess.Popen([sys.executable, "-m", "tini_py"] + options + ["--",
                             sys.executable, "-c", CHILD, work], stdin=subprocess.DEVNULL)
    wait_file(os.path.join(work, "main"))
    group = int(open(os.path.join(work, "main")).read())
    if variant == "delay":
        os.kill(tini.pid, signal.SIGTERM)  # held for --delay
        time.sleep(0.2)
    open(os.path.join(work, "go"), "w").close()
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % group) and time.monotonic() < deadline:
        time.sleep(0.005)
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(group - 1))
    log, ready = os.path.join(work, "unrelated.log"), os.path.join(work, "unrelated.ready")
    unrelated = subprocess.Popen([sys.executable, "-c", UNRELATED, log, ready],
                                 stdin=subprocess.DEVNULL)
    wait_file(ready)
    unrelated_group = os.getpgid(unrelated.pid)
    time.sleep(0.1)
    tini_alive = tini.poll() is None
    if variant == "usr1":
        os.kill(tini.pid, signal.SIGUSR1)
    code = tini.wait(30)
    time.sleep(0.2)
    alive = unrelated.poll() is None
    got = [int(x) for x in open(log).read().split()] if os.path.exists(log) else []
    print(json.dumps({"tini_exit": code, "group": group, "unrelated_pid": unrelated.pid,
                      "unrelated_group": unrelated_group, "tini_alive_at_usr1": tini_alive,
                      "signals": got, "alive": alive,
                      "killed_by": -unrelated.returncode if not alive else 0}), flush=True)
    if alive:
        unrelated.kill()
        unrelated.wait()


if __name__ == "__main__":
    main()
