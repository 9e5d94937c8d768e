"""Which signals tini-py blocks, waits for and forwards, and how they are named.

Imports only the builtin ``_signal`` module: this runs before anything else at
start-up, and ``signal.py`` would pull in ``enum`` for nothing.
"""
import _signal

SIGCHLD = _signal.SIGCHLD
SIGTERM = _signal.SIGTERM
SIGKILL = _signal.SIGKILL
RTMIN = _signal.SIGRTMIN
RTMAX = _signal.SIGRTMAX

UNCATCHABLE = frozenset((_signal.SIGKILL, _signal.SIGSTOP))

# Everything else is blocked and waited for, the faults (SEGV, BUS, FPE, ILL,
# ABRT, TRAP, SYS) included: sent with kill() by another process, they are
# forwarded like any signal.  Kernel rule: a fault tini-py itself causes is
# forced on the faulting thread -- the kernel unblocks it and resets it to
# the default action -- so a real crash still crashes.
# valid_signals() already leaves out 32 and 33, which glibc keeps for itself.
BLOCKED = frozenset(_signal.valid_signals()) - UNCATCHABLE
FORWARDED = BLOCKED - {SIGCHLD}
# What the launcher (`env --block-signal`, see scripts/tini-py) leaves us:
# every signal that can be blocked.  SIGCHLD aside: a shell between env and
# python3 (a pyenv shim) unblocks it.
LAUNCHER_MASK = BLOCKED - {SIGCHLD}

# A forwarded signal in this set means "stop": it starts the -t clock.
STOP_SIGNALS = frozenset((_signal.SIGTERM, _signal.SIGINT, _signal.SIGQUIT))


def _signal_names():
    """{"TERM": 15, ...} with the aliases, and {15: "TERM", ...}."""
    aliases = ("SIGCLD", "SIGIOT", "SIGPOLL", "SIGRTMIN", "SIGRTMAX")
    by_name = {name[3:]: number for name, number in vars(_signal).items()
               if name.startswith("SIG") and not name.startswith("SIG_")
               and name not in aliases}
    if 16 not in by_name.values():
        # Linux's SIGSTKFLT (16 where no other signal is): Python 3.9
        # and 3.10 do not name it, 3.11 and later do.
        by_name["STKFLT"] = 16
    by_number = {number: name for name, number in by_name.items()}
    by_name.update(CLD=_signal.SIGCHLD, IOT=_signal.SIGABRT, POLL=_signal.SIGIO)
    return by_name, by_number


NUMBER_OF_NAME, NAME_OF_NUMBER = _signal_names()


def block_signals():
    """Block every catchable signal; return the mask we inherited.

    Kernel rule: PID 1 of a namespace gets no default action for a signal it
    has no handler for -- the signal is simply dropped.  A blocked signal, in
    contrast, stays pending until sigwaitinfo() collects it, so nothing that
    arrives from here on is lost, even before the child exists.
    """
    inherited = _signal.pthread_sigmask(_signal.SIG_BLOCK, BLOCKED)
    # Kernel rule: a SIGCHLD ignored by whoever exec'd us stays ignored across
    # exec, and then the kernel reaps our children itself: waitpid() finds
    # nothing and the child's exit status is lost.  The default takes it back.
    _signal.signal(SIGCHLD, _signal.SIG_DFL)
    return inherited


def mask_for_child(inherited):
    """The signal mask the command starts with: the one tini-py's caller had.

    A mask that blocks every blockable signal is the launcher's, which
    blocked them before the interpreter started, not the caller's: the
    command then starts with nothing blocked, as container runtimes, shells
    and supervisors start commands.
    """
    if LAUNCHER_MASK <= inherited:
        return set()
    return inherited


def wait_for_signal(timeout):
    """Sleep in the kernel until a blocked signal is pending; return its number.

    ``timeout`` is seconds or None (no timeout: no wake-up at all while idle).
    Returns None when the timeout expired first.
    """
    if timeout is None:
        return _signal.sigwait(BLOCKED)
    info = _signal.sigtimedwait(BLOCKED, max(timeout, 0.0))
    return None if info is None else info.si_signo


def signal_name(number):
    """SIGTERM, SIGRTMIN+3, ... for log lines."""
    if number in NAME_OF_NUMBER:
        return "SIG" + NAME_OF_NUMBER[number]
    if number == RTMAX:
        return "SIGRTMAX"
    if RTMIN <= number < RTMAX:
        return "SIGRTMIN+%d" % (number - RTMIN)
    return "signal %d" % number


def parse_signal(text, allow_zero=False):
    """QUIT, SIGQUIT, quit, 3, RTMIN+2, SIGRTMAX-1 -> number; ValueError if not."""
    word = text.strip().upper()
    if word.startswith("SIG"):
        word = word[3:]
    if word.isascii() and word.isdigit() and len(word) <= 6:
        number = int(word)
        if number == 0 and allow_zero:
            return 0
        if number in NAME_OF_NUMBER or RTMIN <= number <= RTMAX:
            return number
        raise ValueError("no such signal: %r" % text)
    if word in NUMBER_OF_NAME:
        return NUMBER_OF_NAME[word]
    number = _parse_realtime(word)
    if number is None:
        raise ValueError("no such signal: %r" % text)
    return number


def _parse_realtime(word):
    for base, name, sign in ((RTMIN, "RTMIN", 1), (RTMAX, "RTMAX", -1)):
        if word == name:
            return base
        if word.startswith(name) and word[len(name):len(name) + 1] in ("+", "-"):
            offset = word[len(name) + 1:]
            if not (offset.isascii() and offset.isdigit() and len(offset) <= 6):
                return None
            number = base + int(offset) * (1 if word[len(name)] == "+" else -1)
            if RTMIN <= number <= RTMAX and (word[len(name)] == "+") == (sign == 1):
                return number
            return None
    return None
