"""The floor: the smallest correct Python init, for bench/run.py to compare against.

Usage: python3 bench/floor_init.py COMMAND [ARG...]

Blocks every catchable signal (so nothing sent to PID 1 is dropped), forks,
the child becomes its own process group leader, restores the mask and execs.
The parent waits in sigwaitinfo: SIGCHLD -> reap everything with
waitpid(WNOHANG); anything else -> forward to the child's process group.
Exits with the child's status (128+N when it died of signal N).
No options, no logging, builtin modules only.
"""
import _signal
import posix
import sys

_FAULTS = {_signal.SIGKILL, _signal.SIGSTOP, _signal.SIGSEGV, _signal.SIGBUS,
           _signal.SIGFPE, _signal.SIGILL, _signal.SIGABRT, _signal.SIGTRAP,
           _signal.SIGSYS}
BLOCKED = set(_signal.valid_signals()) - _FAULTS


def main(argv):
    if not argv:
        posix.write(2, b"floor_init: usage: floor_init.py COMMAND [ARG...]\n")
        return 2
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, BLOCKED)
    pid = posix.fork()
    if pid == 0:
        try:
            posix.setpgid(0, 0)
            _signal.pthread_sigmask(_signal.SIG_SETMASK, old)
            import os
            os.execvp(argv[0], argv)
        except OSError:
            pass
        posix._exit(127)
    try:
        posix.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first, or already exec'd
    sigwait = _signal.sigwaitinfo
    waitpid = posix.waitpid
    kill = posix.kill
    SIGCHLD = _signal.SIGCHLD
    while True:
        sig = sigwait(BLOCKED).si_signo
        if sig == SIGCHLD:
            while True:
                try:
                    who, status = waitpid(-1, posix.WNOHANG)
                except ChildProcessError:
                    break
                if who == 0:
                    break
                if who == pid:
                    if posix.WIFSIGNALED(status):
                        return 128 + posix.WTERMSIG(status)
                    return posix.WEXITSTATUS(status)
        else:
            try:
                kill(-pid, sig)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
