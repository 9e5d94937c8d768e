"""Phase 4, supervise: wait for a signal, then carry out what the policy says.

The loop sleeps in sigwaitinfo()/sigtimedwait() on the blocked mask: no
handler ever runs asynchronously, and while nothing happens the process does
not wake up at all.  What a received signal becomes, and who gets it, is
decided in policy.py; this module only carries decisions out, keeps the
timers (-t, --delay, --orphan-grace) and reaps.
"""
import posix
import _signal
import time

from tini_py import log
from tini_py.policy import GROUP, route_of
from tini_py.reap import (describe_status, others_alive, reap_children,
                          signal_everyone, signal_outside_group)
from tini_py.signals import SIGCHLD, SIGKILL, SIGTERM, signal_name, wait_for_signal

KILL_RETRY_SECONDS = 5.0
# While leftovers drain, look again this often: a process that tini-py did
# not start (docker exec, an exec probe) ends without a SIGCHLD to us.
DRAIN_POLL_SECONDS = 0.05
# The child stopped on one of these because of the terminal (Ctrl-Z, or
# reading/writing it from the background): a shell job, which tini-py is,
# must stop too so that the shell gets its terminal back.
TERMINAL_STOPS = frozenset((_signal.SIGTSTP, _signal.SIGTTIN, _signal.SIGTTOU))


class Supervisor:
    def __init__(self, config, child_pid, is_pid1, terminal=None):
        self.config = config
        self.child = child_pid
        self.group = child_pid
        self.is_pid1 = is_pid1
        # terminal: which of fds 0, 1, 2 is our controlling terminal, or None.
        # Job control is a shell's business: only on a controlling terminal
        # (in the foreground at start or not), never as PID 1 (it cannot stop).
        self.job_control = terminal is not None and not is_pid1
        # The child's group is handed the terminal only when it is its stdin.
        self.hands_terminal = terminal == 0
        # Each signal's route is decided at its first arrival (policy.route_of);
        # one that needs nothing but one kill() then goes on the hot path:
        # received -> (signal, kill() target).
        self.routes = {}
        self.plain = {}
        self.verbose = log.level >= log.INFO
        self.status = None          # the main child's wait status, once reaped
        self.stop = None            # the Route of the first stop forwarded
        self.stop_deadline = None   # monotonic time of the -t SIGKILL
        self.held_until = None      # monotonic time a --delay'ed TERM is due
        self.delay_spent = False    # --delay holds only the first TERM
        self.child_stopped = False  # the main child is stopped (SIGSTOP, TSTP...)

    def recipient_pid(self, recipient):
        return -self.group if recipient == GROUP else self.child

    # -- the loop ---------------------------------------------------------

    def supervise_child(self):
        """Run until the main child has exited; return its wait status."""
        while self.status is None:
            if self.verbose or self.stop_deadline or self.held_until:
                self.step(self.forward)
            else:
                self.forward_plain_signals()
        return self.status

    def forward_plain_signals(self):
        """The hot path of a quiet, idle init: one dict lookup and one kill()
        per signal (every call on this path adds to the forwarding latency).

        Returns after anything that is not a plain route -- SIGCHLD, a stop,
        a drop, a held TERM, a signal's first arrival -- has been handled, so
        the caller can arm or fire timers.
        """
        plain, kill = self.plain, posix.kill
        try:
            while True:
                number = wait_for_signal(None)
                decision = plain.get(number)
                if decision is None:
                    self.dispatch(number, self.forward)
                    return
                try:
                    kill(decision[1], decision[0])
                except OSError:
                    self.forward(number)  # knows the fallbacks
                    return
        except Exception as error:  # noqa: BLE001 - PID 1 must not die
            log.error("internal error, carrying on: %s: %s"
                      % (type(error).__name__, error))

    def drain_leftovers(self):
        """After the main child: stop every process still there, then reap it.

        Nothing tini-py started may outlive it.  Every leftover gets the
        graceful signal -- those a stop already reached are not sent it twice
        -- then --orphan-grace seconds, then SIGKILL.
        """
        # A TERM still held by --delay is void: the graceful signal below
        # replaces it, and the child's pid and group may already be reused.
        self.held_until = None
        self.reap()
        if not others_alive(self.is_pid1, self.group):
            return
        graceful = self.config.graceful or SIGTERM
        if self.stop is not None and self.stop.recipient == GROUP:
            log.info("main child is gone; sending %s to the processes outside its "
                     "group, which the stop did not reach" % signal_name(graceful))
            signal_outside_group(graceful, self.is_pid1, self.group)
        else:
            log.info("main child is gone but processes remain; sending them %s"
                     % signal_name(graceful))
            signal_everyone(graceful, self.is_pid1, self.group)
        started = time.monotonic()
        deadline = started + self.config.orphan_grace
        if self.stop_deadline is not None:
            deadline = min(deadline, self.stop_deadline)
        while others_alive(self.is_pid1, self.group) and time.monotonic() < deadline:
            self.step(self.forward_to_everyone,
                      min(deadline, time.monotonic() + DRAIN_POLL_SECONDS))
        if others_alive(self.is_pid1, self.group):
            log.warning("processes still alive %.1fs after the main child exited; "
                        "sending SIGKILL" % (time.monotonic() - started))
            self.kill_until_gone()

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

    def route(self, received):
        route = self.routes.get(received)
        if route is None:
            route = self.routes[received] = route_of(self.config, received)
            if route.plain:
                self.plain[received] = (route.signal, self.recipient_pid(route.recipient))
        return route

    def forward(self, received):
        """Carry out the route of a received signal while the child runs."""
        route = self.route(received)
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
        if route.resumes and self.job_control:
            if self.hands_terminal:
                self.give_terminal_to_child()
            recipient = GROUP  # the terminal stopped all of it: fg/bg resume all of it
        if self.verbose:  # the hot path: format only when shown
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
        if self.status is not None:
            return  # reaped: its pid and group id may already be another's
        if recipient == GROUP:
            try:
                posix.kill(-self.group, number)
                return
            except ProcessLookupError:
                # The child left its group (setpgid/setsid to another id):
                # fall back to the child itself.
                pass
        try:
            posix.kill(self.child, number)
        except ProcessLookupError:
            pass

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

    def forward_to_everyone(self, received):
        """While leftovers drain: every process gets what a signal became."""
        route = self.route(received)
        if route.signal:
            signal_everyone(route.signal, self.is_pid1, self.group)
            if route.stops:
                self.begin_stop(route)

    def run_due_timers(self):
        now = time.monotonic()
        if self.held_until is not None and now >= self.held_until:
            self.held_until = None
            self.delay_spent = True
            self.forward(SIGTERM)
        if self.stop_deadline is not None and now >= self.stop_deadline:
            self.stop_deadline = None  # fire once; the loop goes on
            log.warning("grace period of %gs is over; sending SIGKILL to every process"
                        % self.config.grace)
            signal_everyone(SIGKILL, self.is_pid1, self.group)

    # -- job control ------------------------------------------------------

    def give_terminal_to_child(self):
        """On fg: the shell gave the terminal to tini-py's group; pass it on.

        Kernel rule: tcsetpgrp() from a background group raises SIGTTOU only
        when SIGTTOU is not blocked -- ours is, so the call would succeed even
        after `bg`; checking that we are the foreground keeps it the shell's.
        """
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

    def on_child_stopped(self, number):
        self.child_stopped = True
        if self.job_control and number in TERMINAL_STOPS:
            self.stop_job(number)

    def stop_job(self, number):
        """The terminal stopped the child's group, which it took from ours:
        stop ours too -- the job the shell knows -- with the same signal.

        Kernel rule: a stop signal at its default action stops us the moment
        it is unblocked, unless our process group is orphaned (nobody in the
        session outside it could continue it): then it is discarded.
        """
        log.info("main child stopped by %s; stopping the job too" % signal_name(number))
        posix.kill(0, number)  # our process group, ourselves included
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, (number,))
        # ... stopped here until the shell's SIGCONT (fg/bg), which stays pending.
        _signal.pthread_sigmask(_signal.SIG_BLOCK, (number,))
        if _signal.SIGCONT not in _signal.sigpending():
            log.info("not stopped (process group orphaned, or the signal ignored); "
                     "continuing the child")
            self.deliver(_signal.SIGCONT, GROUP)

    # -- reaping ----------------------------------------------------------

    def reap(self):
        reap_children(self.on_child_status)

    def on_child_status(self, pid, status):
        if posix.WIFSTOPPED(status) or posix.WIFCONTINUED(status):
            if pid == self.child and posix.WIFSTOPPED(status):
                self.on_child_stopped(posix.WSTOPSIG(status))
            elif pid == self.child:
                self.child_stopped = False
        elif pid == self.child:
            self.status = status
            log.info("main child %d %s" % (pid, describe_status(status)))
        elif self.config.warn_reap:
            log.warning("reaped zombie process %d, which %s" % (pid, describe_status(status)))
        elif log.level >= log.DEBUG:
            log.debug("reaped process %d, which %s" % (pid, describe_status(status)))

    def kill_until_gone(self):
        give_up = time.monotonic() + KILL_RETRY_SECONDS
        while True:
            signal_everyone(SIGKILL, self.is_pid1, self.group)
            self.reap()
            if not others_alive(self.is_pid1, self.group):
                return
            if time.monotonic() >= give_up:
                log.error("some processes survived SIGKILL (uninterruptible?); exiting anyway")
                return
            self.step(self.forward_to_everyone, time.monotonic() + 0.1)
