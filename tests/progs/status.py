"""Test child: reports its open file descriptors and signal state.

Prints one line "FDS 0 1 2 ..." listing every open fd (found with fstat,
before anything else is opened).  Signal masks: use `cat /proc/self/status`,
since Python itself ignores SIGPIPE and SIGXFSZ at start-up.
"""
import os

fds = []
for fd in range(0, 4096):
    try:
        os.fstat(fd)
    except OSError:
        continue
    fds.append(fd)
print("FDS", *fds, flush=True)
