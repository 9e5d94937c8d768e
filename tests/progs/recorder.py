"""Test child: records every signal it receives.

    recorder.py --log LOG --ready READY [--exit-on SIG]... [--code N]
                [--ignore SIG]... [--stop-file PATH] [--die-on SIG]...

* Unblocks every signal, then installs a handler for every catchable signal
  except SIGCHLD (or SIG_IGN for those given with --ignore).
* Appends each received signal number, one per line, to LOG.
* Then writes "PID PGID SID TTY_FOREGROUND_PGRP\n" to READY (atomically; the
  last field is -1 when stdin is not a terminal).  Numbers are as seen in the
  recorder's own PID namespace.
* Exits with status --code (default 0) after logging a signal given with
  --exit-on, or when --stop-file exists.  With --die-on SIG it logs SIG, then
  kills itself with SIG's default action.
"""
import argparse
import os
import signal
import sys
import time


def signum(text):
    text = text.upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    return int(getattr(signal, text))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--exit-on", type=signum, action="append", default=[])
    parser.add_argument("--die-on", type=signum, action="append", default=[])
    parser.add_argument("--ignore", type=signum, action="append", default=[])
    parser.add_argument("--code", type=int, default=0)
    parser.add_argument("--stop-file")
    opts = parser.parse_args()

    log_fd = os.open(opts.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    def handler(sig, frame):
        os.write(log_fd, b"%d\n" % sig)
        if sig in opts.die_on:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        if sig in opts.exit_on:
            os._exit(opts.code)

    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        signal.signal(sig, signal.SIG_IGN if sig in opts.ignore else handler)

    try:
        foreground = os.tcgetpgrp(0)
    except OSError:
        foreground = -1
    tmp = opts.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d %d %d\n" % (os.getpid(), os.getpgrp(), os.getsid(0), foreground))
    os.rename(tmp, opts.ready)

    while True:
        if opts.stop_file and os.path.exists(opts.stop_file):
            os._exit(opts.code)
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
