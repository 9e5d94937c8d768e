"""`tini-py prestop`: a Kubernetes preStop exec hook for images without a shell.

    tini-py prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS]

Sleeps (endpoints drain while the server still serves), optionally sends SIG
to PID 1 -- which must be tini-py; it applies its own rewrites and --delay --
and optionally waits until PID 1 has no child left.  Exit 0 when done, 1 when
PID 1 is not tini-py or the wait timed out, 2 on a usage error.
"""
import os
import time

from tini_py import log
from tini_py.config import UsageError, parse_seconds
from tini_py.signals import parse_signal, signal_name

USAGE = "tini-py prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS]"
DEFAULT_SLEEP = 5.0
POLL_SECONDS = 0.1


def run_prestop(args):
    sleep, number, wait = parse_prestop_args(args)
    if sleep:
        log.info("prestop: sleeping %gs" % sleep)
        time.sleep(sleep)
    if number:
        if not pid1_is_tini_py():
            log.error("prestop: PID 1 is not tini-py (it is %r); not signalling it"
                      % pid1_command())
            return 1
        log.info("prestop: sending %s to PID 1" % signal_name(number))
        os.kill(1, number)
    if wait and not wait_for_children_of_pid1(wait):
        log.error("prestop: the main child was still running after --wait %gs" % wait)
        return 1
    return 0


def parse_prestop_args(args):
    values = {"sleep": str(DEFAULT_SLEEP), "signal": None, "wait": "0"}
    index = 0
    while index < len(args):
        name, has_value, value = args[index].partition("=")
        key = name[2:] if name.startswith("--") else None
        if key not in values:
            raise UsageError("prestop: unknown argument %r; usage: %s" % (args[index], USAGE))
        if not has_value:
            index += 1
            if index >= len(args):
                raise UsageError("prestop: option '%s' needs a value" % name)
            value = args[index]
        values[key] = value
        index += 1
    number = None
    if values["signal"] is not None:
        try:
            number = parse_signal(values["signal"])
        except ValueError:
            raise UsageError("prestop --signal: no such signal %r" % values["signal"]) from None
    return (parse_seconds("prestop --sleep", values["sleep"]), number,
            parse_seconds("prestop --wait", values["wait"]))


def pid1_command():
    try:
        with open("/proc/1/cmdline", "rb") as source:
            return source.read().split(b"\0")[:-1]
    except OSError:
        return []


# Interpreter options whose value is the next word.
_OPTIONS_WITH_VALUE = (b"-X", b"-W", b"-c", b"-m", b"--check-hash-based-pycs")


def pid1_is_tini_py():
    """tini-py as the installed command, the zipapp, `python -m tini_py`, or
    an interpreter running one of them: `python3 -I -S /usr/local/bin/tini-py`
    (the launcher), `python3 -I -S -X ... -c 'import sys;...tini_py...' PATH`
    (tini-py executed again isolated)."""
    words = pid1_command()
    for index, word in enumerate(words):
        base = os.path.basename(word)
        if base.startswith(b"tini-py") or base.startswith(b"tini_py") or b"tini_py." in word:
            return True
        after_option = index > 0 and words[index - 1] in _OPTIONS_WITH_VALUE
        if index > 0 and not word.startswith(b"-") and not after_option:
            return False  # the script, or a command that is not ours
    return False


def wait_for_children_of_pid1(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not living_children_of_pid1():
            return True
        time.sleep(POLL_SECONDS)
    return not living_children_of_pid1()


def living_children_of_pid1():
    from tini_py.reap import read_stat
    try:
        with open("/proc/1/task/1/children") as source:
            pids = [int(pid) for pid in source.read().split()]
    except OSError:
        return []
    return [pid for pid in pids if (read_stat(pid) or (0, "Z"))[1] != "Z"]
