"""Test child: kills itself with signal argv[1] (default action), no core file."""
import os
import resource
import signal
import sys
import time

sig = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if sig not in (signal.SIGKILL, signal.SIGSTOP):
    signal.signal(sig, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
os.kill(os.getpid(), sig)
time.sleep(5)
sys.exit(99)
