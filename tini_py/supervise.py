"""Phase 4, supervise: wait for a signal, then carry out what the policy says.

The loop sleeps in sigwaitinfo()/sigtimedwait() on the blocked mask: no
handler ever runs asynchronously, and while nothing happens the process does
not wake up at all.  What a received signal becomes, and who gets it, is
decided in policy.py; this module only carries decisions out, keeps the
timers (-t, --delay) and reaps.  After the main child: drain.py.  At a
terminal: jobcontrol.py.

Kernel rule: a process whose parent does not wait for it stays a zombie; as
PID 1 (or a child subreaper) every orphan below us becomes our child, so
tini-py reaps all of them, not only the command.
"""
import errno
import posix
import _signal
import time

from tini_py import log
from tini_py.policy import CHILD, GROUP, route_of
from tini_py.signals import FORWARDED, SIGCHLD, SIGKILL, SIGTERM, signal_name, wait_for_signal


class Supervisor:
    def __init__(self, config, child_pid, is_pid1, terminal=None):
        self.config = config
        self.child = child_pid
        self.group = child_pid
        self.is_pid1 = is_pid1
        self.job = None  # at a terminal: jobcontrol.TerminalJob
        if terminal is not None:
            from tini_py.jobcontrol import TerminalJob
            self.job = TerminalJob(terminal, is_pid1, child_pid)
        self.routes = {number: route_of(config, number) for number in FORWARDED}
        self.verbose = log.level >= log.INFO
        self.status = None          # the main child's wait status, once reaped
        self.stop = None            # the Route of the first stop forwarded
        self.stop_deadline = None   # monotonic time of the -t SIGKILL
        self.grace_expired = False  # the -t SIGKILL was sent
        self.held_until = None      # monotonic time a --delay'ed TERM is due
        self.delay_spent = False    # --delay holds only the first TERM
        self.child_stopped = False  # the main child is stopped (SIGSTOP, TSTP...)

    def recipient_pid(self, recipient):
        return -self.group if recipient == GROUP else self.child

    # -- the loop ---------------------------------------------------------

    def supervise_child(self):
        """Run until the main child has exited; return its wait status."""
        while self.status is None:
            self.step(self.forward)
        return self.status

    def step(self, on_signal, deadline=None):
        """Wait for one signal or deadline and act on it; never raise.

        PID 1 must not die of a Python exception: an unexpected error is
        logged and the loop goes on.
        """
        try:
            self.wait_and_act(on_signal, deadline)
        except Exception as error:  # noqa: BLE001 - see the docstring
            log.error("internal error, carrying on: %s: %s"
                      % (type(error).__name__, error))
            time.sleep(0.1)

    def wait_and_act(self, on_signal, deadline):
        timers = [t for t in (deadline, self.stop_deadline, self.held_until)
                  if t is not None]
        if timers:
            number = wait_for_signal(min(timers) - time.monotonic())
        else:
            number = wait_for_signal(None)  # idle: no wake-up until a signal
        if number is not None:
            self.dispatch(number, on_signal)
        if timers:
            self.run_due_timers()

    def dispatch(self, number, on_signal):
        if number == SIGCHLD:
            self.reap()
        else:
            on_signal(number)

    # -- signals ----------------------------------------------------------

    def forward(self, received):
        """Carry out the route of a received signal while the child runs."""
        route = self.routes[received]
        if route.held and not self.delay_spent:
            if self.held_until is None:
                self.held_until = time.monotonic() + self.config.delay
                log.info("received SIGTERM, holding it %gs (--delay)" % self.config.delay)
                return
            self.held_until = None
            self.delay_spent = True
            log.info("received a second SIGTERM during --delay; forwarding now")
        if not route.signal:
            log.info("received %s, dropped (rewritten to 0)" % signal_name(received))
            return
        recipient = route.recipient
        if route.resumes and self.job and self.job.active:
            self.job.give_terminal_to_child()
            recipient = GROUP  # the terminal stopped all of it: fg/bg resume all of it
        if self.verbose:  # format only when shown
            log.info("received %s, forwarding %s to %s"
                     % (signal_name(received), signal_name(route.signal),
                        self.describe_recipient(recipient)))
        self.deliver(route.signal, recipient)
        if route.stops:
            self.begin_stop(route)

    def describe_recipient(self, recipient):
        if recipient == GROUP:
            return "process group %d" % self.group
        return "the main child %d alone" % self.child

    def deliver(self, number, recipient):
        """kill() the group or the main child.  A group that has no member
        left (the child moved to another group) falls back to the child; one
        that refuses it (EPERM: its members run as another user and we are
        not root) is said, and the child is tried alone."""
        if self.status is not None:
            return  # reaped: its pid and group id may already be another's
        if recipient == GROUP:
            try:
                posix.kill(-self.group, number)
                return
            except OSError as error:
                if error.errno != errno.ESRCH:
                    self.say_refused(number, GROUP, error, "; trying the main child alone")
        try:
            posix.kill(self.child, number)
        except OSError as error:
            if error.errno != errno.ESRCH:
                self.say_refused(number, CHILD, error, "")

    def say_refused(self, number, recipient, error, then):
        why = ""
        if error.errno == errno.EPERM:
            why = " (it runs as another user, and tini-py may not signal it)"
        target = ("process group %d" % self.group if recipient == GROUP
                  else "the main child %d" % self.child)
        log.warning("cannot forward %s to %s: %s%s%s"
                    % (signal_name(number), target, error.strerror, why, then))

    def begin_stop(self, route):
        """A stop was forwarded: continue a stopped child so that it can act
        on it, and start the -t clock (once)."""
        # A stop whose SIGCHLD is still pending counts: TERM (15) is taken
        # before SIGCHLD (17) when both are pending.
        self.reap()
        if self.child_stopped:
            # Kernel rule: a stopped process runs no handler until SIGCONT.
            # A terminal stops the whole group, so all of it is continued.
            self.deliver(_signal.SIGCONT, GROUP)
        if self.stop is not None:
            return
        self.stop = route
        if self.config.grace is None:
            return
        self.stop_deadline = time.monotonic() + self.config.grace
        log.info("%s sent; SIGKILL in %gs (-t)" % (signal_name(route.signal), self.config.grace))

    def run_due_timers(self):
        now = time.monotonic()
        if self.held_until is not None and now >= self.held_until:
            self.held_until = None
            self.delay_spent = True
            self.forward(SIGTERM)
        if self.stop_deadline is not None and now >= self.stop_deadline:
            self.stop_deadline = None  # fire once; the loop goes on
            self.grace_expired = True
            log.warning("grace period of %gs is over; sending SIGKILL to every process"
                        % self.config.grace)
            from tini_py.processes import signal_everyone
            signal_everyone(SIGKILL, self.is_pid1, self.group)

    # -- reaping ----------------------------------------------------------

    def reap(self):
        reap_children(self.on_child_status)

    def anything_left(self):
        """Once the main child is gone: is any process left to drain?"""
        self.reap()
        if self.is_pid1:
            # Every run ends here: as PID 1, kill(-1, 0) answers without
            # processes.py (it reaches every process of the namespace but us).
            try:
                posix.kill(-1, 0)
            except OSError:
                return False
            return True
        from tini_py.processes import descendants_alive
        return descendants_alive(self.group)

    def on_child_status(self, pid, status):
        if posix.WIFSTOPPED(status) or posix.WIFCONTINUED(status):
            if pid == self.child and posix.WIFSTOPPED(status):
                self.child_stopped = True
                if self.job:
                    self.job.child_stopped(posix.WSTOPSIG(status), self.deliver)
            elif pid == self.child:
                self.child_stopped = False
        elif pid == self.child:
            self.status = status  # said once it is explained (__main__.supervise)
        elif self.config.warn_reap:
            log.warning("reaped zombie process %d, which %s" % (pid, describe_status(status)))
        elif log.level >= log.DEBUG:
            log.debug("reaped process %d, which %s" % (pid, describe_status(status)))


# -- wait statuses ----------------------------------------------------------

def reap_children(on_status):
    """Collect every exited child without blocking; SIGCHLD coalesces, so
    one signal may stand for many exits.  Calls on_status(pid, status) for
    each, and for each child that stopped or continued (reported once)."""
    while True:
        try:
            pid, status = posix.waitpid(-1, posix.WNOHANG | posix.WUNTRACED | posix.WCONTINUED)
        except ChildProcessError:
            return
        if pid == 0:
            return
        on_status(pid, status)


def describe_status(status):
    if posix.WIFSIGNALED(status):
        return "was killed by %s" % signal_name(posix.WTERMSIG(status))
    return "exited with status %d" % posix.WEXITSTATUS(status)


def exit_code_of(status):
    """The shell's convention: the exit status, or 128+N for a death by signal N."""
    code = posix.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
