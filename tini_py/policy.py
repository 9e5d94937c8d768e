"""What a received signal becomes: the policy, as data, apart from the loop.

For every signal tini-py forwards, one Route says what the loop does with it:
the signal to send (0: drop it), who gets it (the child's whole process group
or the main child alone), whether sending it starts the stop (the -t clock),
whether --delay holds it first, and whether it resumes a stopped terminal
job.  Nothing here starts a process or sends a signal: a test can check every
rule from a Config alone.

    received --rewrites--> signal --recipients--> group | child
"""
from tini_py.signals import SIGTERM, STOP_SIGNALS, signal_name
import _signal

GROUP = "group"   # the child's process group: what rescues a wrapper that does not forward
CHILD = "child"   # the main child alone: what prefork servers need for reloads
RECIPIENTS = (GROUP, CHILD)


class Route:
    """The decision for one received signal."""
    __slots__ = ("received", "signal", "recipient", "stops", "held", "resumes")

    def __init__(self, received, signal, recipient, stops, held, resumes):
        self.received = received    # the signal tini-py got
        self.signal = signal        # what it forwards (0: dropped)
        self.recipient = recipient  # GROUP or CHILD
        self.stops = stops          # forwarding it starts the stop (-t clock)
        self.held = held            # --delay holds it before forwarding
        self.resumes = resumes      # hand the terminal back before forwarding

    def __repr__(self):
        target = signal_name(self.signal) if self.signal else "dropped"
        flags = [name for name in ("stops", "held", "resumes") if getattr(self, name)]
        return "<%s -> %s to %s%s>" % (signal_name(self.received), target, self.recipient,
                                       "".join(" " + flag for flag in flags))


def route_of(config, received):
    """The Route of one received signal (the supervisor asks for each at its start)."""
    target = config.rewrites.get(received, received)
    recipient = config.recipients.get(target, config.default_recipient)
    # The stop: a received TERM (whatever it became), or a signal that
    # reaches the child as TERM, INT or QUIT.  A dropped signal starts nothing.
    stops = bool(target) and (received == SIGTERM or target in STOP_SIGNALS)
    held = bool(target) and received == SIGTERM and config.delay > 0
    resumes = received == _signal.SIGCONT
    return Route(received, target, recipient, stops, held, resumes)
