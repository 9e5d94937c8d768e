"""Phase 5, drain: after the main child, stop every process still there.

Nothing tini-py started may outlive it.  Every leftover gets the graceful
signal -- those a stop already reached are not sent it twice -- then
--orphan-grace seconds, then SIGKILL.  Signals that arrive meanwhile go to
every leftover, as what their route makes of them.
"""
import time

from tini_py import log
from tini_py.policy import GROUP
from tini_py.processes import signal_everyone, signal_outside_group
from tini_py.signals import SIGKILL, SIGTERM, signal_name

KILL_RETRY_SECONDS = 5.0
# While leftovers drain, look again this often: a process that tini-py did
# not start (docker exec, an exec probe) ends without a SIGCHLD to us.
DRAIN_POLL_SECONDS = 0.05


def drain_leftovers(supervisor):
    """Stop every process left once the main child has exited (the caller
    found some: Supervisor.anything_left); reap them."""
    # A TERM still held by --delay is void: the graceful signal below
    # replaces it, and the child's pid and group may already be reused.
    supervisor.held_until = None
    send_graceful_signal(supervisor)
    started = time.monotonic()
    deadline = started + supervisor.config.orphan_grace
    if supervisor.stop_deadline is not None:
        deadline = min(deadline, supervisor.stop_deadline)

    def forward_to_everyone(received):
        route = supervisor.routes[received]
        if route.signal:
            signal_everyone(route.signal, supervisor.is_pid1, supervisor.group)
            if route.stops:
                supervisor.begin_stop(route)

    while supervisor.anything_left() and time.monotonic() < deadline:
        supervisor.step(forward_to_everyone,
                        min(deadline, time.monotonic() + DRAIN_POLL_SECONDS))
    if supervisor.anything_left():
        log.warning("processes still alive %.1fs after the main child exited; "
                    "sending SIGKILL" % (time.monotonic() - started))
        kill_until_gone(supervisor, forward_to_everyone)


def send_graceful_signal(supervisor):
    """The graceful signal to every leftover a stop did not reach."""
    graceful = supervisor.config.graceful or SIGTERM
    stop = supervisor.stop
    if stop is not None and stop.recipient == GROUP:
        tally = signal_outside_group(graceful, supervisor.is_pid1, supervisor.group)
        where = "outside its group, which the stop did not reach"
    else:
        tally = signal_everyone(graceful, supervisor.is_pid1, supervisor.group)
        where = "left"
    if tally.reached:
        log.info("main child is gone; waiting up to %gs for %s of its group, which the "
                 "stop reached" % (supervisor.config.orphan_grace, processes(tally.reached)))
    if tally.count_unknown:
        log.info("main child is gone; sent %s to every process left (no /proc to count "
                 "them)" % signal_name(graceful))
    elif tally.sent:
        log.info("main child is gone; sent %s to %s %s"
                 % (signal_name(graceful), processes(tally.sent), where))
    for reason, count in sorted(tally.refused.items()):
        log.warning("main child is gone; cannot send %s to %s left: %s"
                    % (signal_name(graceful), processes(count), reason))


def processes(count):
    return "%d process%s" % (count, "" if count == 1 else "es")


def kill_until_gone(supervisor, forward_to_everyone):
    give_up = time.monotonic() + KILL_RETRY_SECONDS
    while True:
        tally = signal_everyone(SIGKILL, supervisor.is_pid1, supervisor.group)
        supervisor.reap()
        if not supervisor.anything_left():
            return
        if time.monotonic() >= give_up:
            if tally.refused:
                log.error("some processes may not be killed (%s); exiting anyway"
                          % ", ".join(sorted(tally.refused)))
            else:
                log.error("some processes survived SIGKILL (uninterruptible?); exiting anyway")
            return
        supervisor.step(forward_to_everyone, time.monotonic() + 0.1)
