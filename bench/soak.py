#!/usr/bin/env python3
"""Soak tini-py as PID 1 under a mixed signal load; watch its RSS and fds.

Usage (as root; not part of the test suite or CI, asserts nothing):

    python3 bench/soak.py                    # 10 minutes
    python3 bench/soak.py --minutes 1 --rate 5000
    python3 bench/soak.py --init "tini -g --"   # same load against another init

Runs ``unshare --pid --fork --mount-proc INIT benchtool soakchild``.  The
child (bench/benchtool.c) blocks and counts every signal and makes a
short-lived orphan every 50 ms, so PID 1 also reaps all the time.  The load
is RATE signals a second at PID 1, round-robin over HUP, USR1, USR2, WINCH,
ALRM, CONT, PIPE, RTMIN+1, RTMIN+5.  Every second: VmRSS and the number of
open fds of PID 1, and how many of its children are zombies.  At the end
SIGTERM stops it; the summary compares the first samples after warm-up with
the last ones.
"""
import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (bench/run.py: compile_tool, Session helpers)

MIX = [signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH, signal.SIGALRM,
       signal.SIGCONT, signal.SIGPIPE, signal.SIGRTMIN + 1, signal.SIGRTMIN + 5]


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def zombie_children(pid):
    n = 0
    for kid in run.children(pid):
        try:
            with open("/proc/%d/stat" % kid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    n += 1
        except OSError:
            pass
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=2000, help="signals per second at PID 1 (default 2000)")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds before the baseline sample")
    ap.add_argument("--init", help="init command line ending in --, default: '%s -m tini_py --' "
                    "with the repo on PYTHONPATH" % run.PY)
    cfg = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: must run as root (unshare --pid)")
    if cfg.init:
        init = run.Init("init", shlex.split(cfg.init))
    else:
        init = run.Init("tini-py", [run.PY, "-m", "tini_py", "--"],
                        dict(os.environ, PYTHONPATH=run.REPO))
    tmp = tempfile.mkdtemp(prefix="tini-py-soak.")
    tool = run.compile_tool(tmp)
    errlog = os.path.join(tmp, "stderr")
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(run.UNSHARE + init.argv + [tool, "soakchild"], env=init.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    pid = None
    deadline = time.monotonic() + 10
    while pid is None and time.monotonic() < deadline and proc.poll() is None:
        kids = run.children(proc.pid)
        pid = kids[0] if kids else None
        time.sleep(0.01)
    if pid is None:
        proc.kill()
        sys.exit("soak: PID 1 did not start")
    time.sleep(1.0)  # let the init start its child

    samples = []  # (t, rss_kb, fds, zombies)
    sent = {s: 0 for s in MIX}
    failed = 0
    start = time.monotonic()
    end = start + cfg.minutes * 60
    next_sample = start
    k = 0
    tick = 0.01
    per_tick = max(1, int(cfg.rate * tick))
    try:
        while time.monotonic() < end and proc.poll() is None:
            t = time.monotonic()
            if t >= next_sample:
                samples.append((t - start, run.rss_kb(pid), fd_count(pid), zombie_children(pid)))
                next_sample += 1.0
                if len(samples) % 30 == 0:
                    s = samples[-1]
                    print("soak: %4.0fs  RSS %.2f MB  fds %d  zombies %d  signals sent %d"
                          % (s[0], s[1] / 1024, s[2], s[3], sum(sent.values())), flush=True)
            for _ in range(per_tick):
                sig = MIX[k % len(MIX)]
                k += 1
                try:
                    os.kill(pid, sig)
                    sent[sig] += 1
                except ProcessLookupError:
                    failed += 1
                    break
            time.sleep(max(0.0, t + tick - time.monotonic()))
        alive_at_end = proc.poll() is None
        if alive_at_end:
            time.sleep(0.5)
            samples.append((time.monotonic() - start, run.rss_kb(pid), fd_count(pid), zombie_children(pid)))
            os.kill(pid, signal.SIGTERM)
        try:
            code = proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)  # PID 1 gone: the kernel ends the namespace
            code = proc.wait()
    finally:
        if proc.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    with open(errlog, errors="replace") as f:
        stderr = f.read().strip().splitlines()
    child_line = [line for line in stderr if line.startswith("soakchild:")]
    other = [line for line in stderr if not line.startswith("soakchild:")]

    base = [s for s in samples if s[0] >= cfg.warmup] or samples
    b, last = base[0], samples[-1]
    growth = (last[1] - b[1]) / 1024
    print()
    print("soak summary: %s as PID 1, %.1f min, %d signals/s target" % (
        " ".join(init.argv), (samples[-1][0] if samples else 0) / 60, cfg.rate))
    print("  signals sent: %d (%s)" % (sum(sent.values()), ", ".join(
        "%s %d" % (signal.Signals(s).name if s < signal.SIGRTMIN else "RTMIN+%d" % (s - signal.SIGRTMIN), n)
        for s, n in sent.items())))
    print("  child got:    %s" % (child_line[0] if child_line else "(no report: child did not exit cleanly)"))
    print("  RSS: start %.2f MB, after %.0fs warm-up %.2f MB, end %.2f MB, max %.2f MB, growth %+.2f MB" % (
        samples[0][1] / 1024, b[0], b[1] / 1024, last[1] / 1024, max(s[1] for s in samples) / 1024, growth))
    print("  fds: start %d, end %d, max %d" % (samples[0][2], last[2], max(s[2] for s in samples)))
    print("  zombies seen at a sample: max %d, at end %d" % (max(s[3] for s in samples), last[3]))
    print("  exit status after SIGTERM: %s%s" % (code, "" if alive_at_end else " (died during the soak!)"))
    if other:
        print("  init stderr (%d lines, last 5):" % len(other))
        for line in other[-5:]:
            print("    " + line)
    ok = alive_at_end and growth < 1.0 and last[2] <= b[2] and code in (0, 143)
    print("  verdict: %s (alive, RSS growth < 1 MB, fds not growing, clean exit)" % ("OK" if ok else "PROBLEM"))
    subprocess.run(["rm", "-rf", tmp])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
