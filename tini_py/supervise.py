"""Phase 4, supervise: wait for a signal, then forward it or reap.

The loop sleeps in sigwaitinfo()/sigtimedwait() on the blocked mask: no
handler ever runs asynchronously, and while nothing happens the process does
not wake up at all.  The only timeouts are the -t, --delay and
--orphan-grace deadlines.
"""
import os
import time

from tini_py import log
from tini_py.reap import (describe_status, others_alive, reap_children,
                          signal_everyone)
from tini_py.signals import (SIGCHLD, SIGKILL, SIGTERM, STOP_SIGNALS,
                             signal_name, wait_for_signal)

KILL_RETRY_SECONDS = 5.0
# Signals that need more than a plain forward (see forward_plain_signals).
SLOW_RECEIVED = frozenset((SIGCHLD, SIGTERM))
SLOW_TARGETS = STOP_SIGNALS | {0}


class Supervisor:
    def __init__(self, config, child_pid, is_pid1):
        self.config = config
        self.child = child_pid
        self.group = child_pid
        self.is_pid1 = is_pid1
        self.rewrites = config.rewrites
        self.verbose = log.level >= log.INFO
        self.status = None          # the main child's wait status, once reaped
        self.stopping = False       # a stop signal has been forwarded
        self.stop_deadline = None   # monotonic time of the -t SIGKILL
        self.held_term_until = None  # monotonic time a --delay'ed TERM is due
        self.delay_spent = False    # --delay holds only the first TERM

    # -- the loop ---------------------------------------------------------

    def supervise_child(self):
        """Run until the main child has exited; return its wait status."""
        while self.status is None:
            if self.verbose or self.stop_deadline or self.held_term_until:
                self.step(self.handle_signal)
            else:
                self.forward_plain_signals()
        return self.status

    def forward_plain_signals(self):
        """The hot path of a quiet, idle init: one dict lookup and one kill()
        per signal (every call on this path adds to the forwarding latency).

        Returns after anything that is not plain forwarding -- SIGCHLD, TERM,
        a stop signal, a drop -- has been handled, so the caller can arm or
        fire timers.
        """
        rewrites, group, kill = self.rewrites, -self.group, os.kill
        try:
            while True:
                number = wait_for_signal(None)
                target = rewrites.get(number, number)
                if number in SLOW_RECEIVED or target in SLOW_TARGETS:
                    self.dispatch(number, self.handle_signal)
                    return
                try:
                    kill(group, target)
                except OSError:
                    self.forward(number)  # knows the fallbacks
                    return
        except Exception as error:  # noqa: BLE001 - PID 1 must not die
            log.error("internal error, carrying on: %s: %s"
                      % (type(error).__name__, error))

    def drain_leftovers(self):
        """After the main child: stop every process still there, then reap it.

        Nothing tini-py started may outlive it.  Leftovers get the graceful
        signal (unless a stop already sent it), --orphan-grace seconds, then
        SIGKILL.
        """
        # A TERM still held by --delay is void: the graceful signal below
        # replaces it, and the child's pid and group may already be reused.
        self.held_term_until = None
        self.reap()
        if not others_alive(self.is_pid1, self.group):
            return
        if not self.stopping:
            graceful = self.config.graceful or SIGTERM
            log.info("main child is gone but processes remain; sending them %s"
                     % signal_name(graceful))
            signal_everyone(graceful, self.is_pid1, self.group)
        started = time.monotonic()
        deadline = started + self.config.orphan_grace
        if self.stop_deadline is not None:
            deadline = min(deadline, self.stop_deadline)
        while others_alive(self.is_pid1, self.group) and time.monotonic() < deadline:
            self.step(self.forward_to_everyone, deadline)
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
        timers = [t for t in (deadline, self.stop_deadline, self.held_term_until)
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

    def handle_signal(self, number):
        if number == SIGTERM and self.config.delay > 0 and not self.delay_spent:
            if self.held_term_until is None:
                self.held_term_until = time.monotonic() + self.config.delay
                log.info("received SIGTERM, holding it %gs (--delay)" % self.config.delay)
                return
            self.held_term_until = None
            self.delay_spent = True
            log.info("received a second SIGTERM during --delay; forwarding now")
        self.forward(number)

    def forward(self, number):
        target = self.rewrites.get(number, number)
        if target == 0:
            log.info("received %s, dropped (rewritten to 0)" % signal_name(number))
            return
        if self.verbose:  # the hot path: format only when shown
            log.info("received %s, forwarding %s to process group %d"
                     % (signal_name(number), signal_name(target), self.group))
        try:
            os.kill(-self.group, target)
        except ProcessLookupError:
            # The child left its group (setpgid/setsid to another id): fall
            # back to the child itself.
            try:
                os.kill(self.child, target)
            except ProcessLookupError:
                pass
        self.start_stop_clock(number, target)

    def forward_to_everyone(self, number):
        target = self.rewrites.get(number, number)
        if target:
            signal_everyone(target, self.is_pid1, self.group)
            self.start_stop_clock(number, target)

    def start_stop_clock(self, received, target):
        """A received TERM, or a stop signal after rewriting, starts -t."""
        if self.stopping or not (received == SIGTERM or target in STOP_SIGNALS):
            return
        self.stopping = True
        if self.config.grace is None:
            return
        self.stop_deadline = time.monotonic() + self.config.grace
        log.info("%s sent; SIGKILL in %gs (-t)" % (signal_name(target), self.config.grace))

    def run_due_timers(self):
        now = time.monotonic()
        if self.held_term_until is not None and now >= self.held_term_until:
            self.held_term_until = None
            self.delay_spent = True
            self.forward(SIGTERM)
        if self.stop_deadline is not None and now >= self.stop_deadline:
            self.stop_deadline = None  # fire once; the loop goes on
            log.warning("grace period of %gs is over; sending SIGKILL to every process"
                        % self.config.grace)
            signal_everyone(SIGKILL, self.is_pid1, self.group)

    # -- reaping ----------------------------------------------------------

    def reap(self):
        reap_children(self.on_reaped)

    def on_reaped(self, pid, status):
        if pid == self.child:
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
