"""At a terminal, tini-py is a shell's job: Ctrl-Z, fg and bg reach the
command, and the shell gets its prompt back.

Job control is a shell's business: only on a controlling terminal (in the
foreground at start or not), never as PID 1 (it cannot stop).
"""
import posix
import _signal

from tini_py import log
from tini_py.policy import GROUP
from tini_py.signals import signal_name

# The child stopped on one of these because of the terminal (Ctrl-Z, or
# reading/writing it from the background): a shell job, which tini-py is,
# must stop too so that the shell gets its terminal back.
TERMINAL_STOPS = frozenset((_signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU))


class TerminalJob:
    def __init__(self, terminal, is_pid1, group):
        # terminal: which of fds 0, 1, 2 is our controlling terminal, or None.
        self.active = terminal is not None and not is_pid1
        # The child's group is handed the terminal only when it is its stdin.
        self.hands_terminal = terminal == 0
        self.group = group

    def give_terminal_to_child(self):
        """On fg: the shell gave the terminal to tini-py's group; pass it on.

        Kernel rule: tcsetpgrp() from a background group raises SIGTTOU only
        when SIGTTOU is not blocked -- ours is, so the call would succeed even
        after `bg`; checking that we are the foreground keeps it the shell's.
        """
        if not self.hands_terminal:
            return
        try:
            if posix.tcgetpgrp(0) == posix.getpgrp():
                posix.tcsetpgrp(0, self.group)
        except OSError:
            pass

    def give_terminal_back(self):
        """Before exit: a terminal left to the child's group goes back to
        ours.  An interactive shell takes it back itself; a script that
        reads the terminal next would be stopped by SIGTTIN."""
        if not self.hands_terminal:
            return
        try:
            if posix.tcgetpgrp(0) == self.group:
                posix.tcsetpgrp(0, posix.getpgrp())
        except OSError:
            pass  # as PID 1 our group has no number in the namespace

    def child_stopped(self, number, deliver):
        """The main child stopped on ``number``.  If the terminal stopped it,
        stop ours too -- the job the shell knows -- with the same signal.
        ``deliver(signal, recipient)`` continues the child's group when we
        could not stop.

        Kernel rule: a stop signal at its default action stops us the moment
        it is unblocked, unless our process group is orphaned (nobody in the
        session outside it could continue it): then it is discarded.
        """
        if not self.active or number not in TERMINAL_STOPS:
            return
        log.info("main child stopped by %s; stopping the job too" % signal_name(number))
        posix.kill(0, number)  # our process group, ourselves included
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, (number,))
        # ... stopped here until the shell's SIGCONT (fg/bg), which stays pending.
        _signal.pthread_sigmask(_signal.SIG_BLOCK, (number,))
        if _signal.SIGCONT not in _signal.sigpending():
            log.info("not stopped (process group orphaned, or the signal ignored); "
                     "continuing the child")
            deliver(_signal.SIGCONT, GROUP)
