"""Test child: a program a user runs by hand at a terminal, for job control.

    terminal_job.py --ready READY [--beat BEAT] [--read-after PATH]
                    [--lines LINES] [--term-exit N]

* Every signal unblocked and at its default action (Ctrl-Z stops it, Ctrl-C
  kills it), except TERM with --term-exit: then it exits with status N.
* Writes "PID PGID\n" to READY (atomically).
* With --beat, rewrites BEAT with a growing count every 20 ms while it waits
  for --read-after PATH to exist (so a test can see it run, or not).
* Then reads its stdin line by line, appending each line to LINES -- from the
  background, the kernel stops it with SIGTTIN at the read.
"""
import argparse
import os
import signal
import time

from progutil import write_atomic


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready", required=True)
    parser.add_argument("--beat")
    parser.add_argument("--read-after")
    parser.add_argument("--lines")
    parser.add_argument("--term-exit", type=int)
    opts = parser.parse_args()

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no KeyboardInterrupt
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if opts.term_exit is not None:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(opts.term_exit))

    write_atomic(opts.ready, "%d %d\n" % (os.getpid(), os.getpgrp()))

    count = 0
    while opts.read_after and not os.path.exists(opts.read_after):
        if opts.beat:
            count += 1
            write_atomic(opts.beat, "%d\n" % count)
        time.sleep(0.02)

    while True:
        line = os.read(0, 4096)
        if not line:
            while True:  # end of input: wait for a signal
                time.sleep(3600)
        if opts.lines:
            with open(opts.lines, "ab") as f:
                f.write(line)


if __name__ == "__main__":
    main()
