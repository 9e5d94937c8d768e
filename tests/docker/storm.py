"""Orphan storm: python3 -u storm.py COUNT LINGER

Creates COUNT orphans (double fork: the middle process exits at once, so the
grandchild is re-parented to PID 1), each lingers LINGER seconds and exits --
becoming a zombie that only PID 1 can reap.  Then prints "storm done" and
sleeps until signalled.
"""
import os
import sys
import time

count, linger = int(sys.argv[1]), float(sys.argv[2])
for _ in range(count):
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            time.sleep(linger)
        os._exit(0)
    os.waitpid(middle, 0)
print("storm done: %d orphans, pid %d" % (count, os.getpid()), flush=True)
while True:
    time.sleep(3600)
