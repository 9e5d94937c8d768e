"""`tini-py prestop`: a Kubernetes preStop exec hook for images without a shell.

    tini-py prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS]

Sleeps (endpoints drain while the server still serves), optionally sends SIG
to PID 1 -- which must be tini-py; it applies its own rewrites and --delay --
and optionally waits until PID 1 has no child left.  Exit 0 when done; 1 when
PID 1 is not tini-py, may not be signalled, or cannot be seen through /proc,
or the wait timed out; 2 on a usage error.
"""
import errno
import os
import time
import _signal

from tini_py import log
from tini_py.config import UsageError, parse_seconds
from tini_py.signals import BLOCKED, parse_signal, signal_name

USAGE = "tini-py prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS]"
DEFAULT_SLEEP = 5.0
POLL_SECONDS = 0.1


def run_prestop(args):
    sleep, number, wait = parse_prestop_args(args)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, BLOCKED)  # see pause()
    if sleep:
        log.info("prestop: sleeping %gs" % sleep)
        pause(sleep)
    if number and not signal_pid1(number):
        return 1
    if wait and not wait_for_main_child(wait):
        return 1
    return 0


def signal_pid1(number):
    """Send ``number`` to PID 1 if it is tini-py; else say why not, in one line."""
    problem = why_pid1_is_not_tini_py()
    if problem:
        log.error("prestop: %s; not signalling it" % problem)
        return False
    log.info("prestop: sending %s to PID 1" % signal_name(number))
    try:
        os.kill(1, number)
    except OSError as error:  # EPERM: another user's PID 1
        log.error("prestop: cannot send %s to PID 1: %s"
                  % (signal_name(number), error.strerror))
        return False
    return True


def wait_for_main_child(seconds):
    """True once PID 1 has no living child; False (said) when --wait ran
    out, or when /proc does not let us see PID 1's children at all."""
    try:
        if wait_for_children_of_pid1(seconds):
            return True
    except OSError as error:
        log.error("prestop: cannot see PID 1's children (%s), so --wait cannot tell "
                  "when the main child exits" % describe_proc_error(error))
        return False
    log.error("prestop: the main child was still running after --wait %gs" % seconds)
    return False


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


def why_pid1_is_not_tini_py():
    """None when PID 1 runs tini-py; else one phrase saying what it is.

    What runs is the executable (/proc/1/exe) and the script or module it
    was told to run -- not any word of argv (`sh -c "tini-py -- app"` is a
    shell, and PID 1 then is sh, which drops the signal).
    """
    from tini_py.processes import check_proc
    problem = check_proc()
    if problem:
        return "cannot tell what PID 1 is: " + problem
    try:
        argv = pid1_command()
    except OSError as error:
        return "cannot tell what PID 1 is (%s)" % describe_proc_error(error)
    if not argv:
        return "cannot tell what PID 1 is (its command line is empty)"
    interpreter = pid1_executable() or argv[0]
    if is_python(interpreter) and runs_tini_py(argv):
        return None
    return "PID 1 is not tini-py (it is %s)" % shown(argv)


def pid1_command():
    with open("/proc/1/cmdline", "rb") as source:
        return source.read().split(b"\0")[:-1]


def pid1_executable():
    """The file PID 1 executes, or None when we may not look.

    Kernel rule: /proc/PID/exe needs ptrace read access, which another
    user's process (or one holding capabilities we lack) denies; argv[0],
    which the kernel fills from the #! line for a script, stands in then.
    """
    try:
        path = os.readlink(b"/proc/1/exe")
    except OSError:
        return None
    deleted = b" (deleted)"  # the interpreter was replaced on disk meanwhile
    return path[:-len(deleted)] if path.endswith(deleted) else path


def is_python(path):
    return os.path.basename(path).startswith((b"python", b"pypy"))


def runs_tini_py(argv):
    """Does the Python command line argv run tini-py (script, -m, zipapp,
    or `-c BOOT`: the zipapp's launcher line, and tini-py executed again
    isolated -- see tini_py/isolation.py)?"""
    kind, target = python_main(argv)
    if kind == "code":
        from tini_py.isolation import BOOT
        return target == BOOT.encode()
    if kind == "module":
        return target in (b"tini_py", b"tini_py.__main__")
    if kind == "script":
        name = os.path.basename(target.rstrip(b"/"))
        if name.endswith(b".pyz"):
            return name.startswith((b"tini-py", b"tini_py"))
        return name in (b"tini-py", b"tini_py")
    return False


# CPython's options that take a value (in the same word or the next one).
OPTIONS_WITH_VALUE = b"cmWX"
LONG_OPTIONS_WITH_VALUE = (b"--check-hash-based-pycs",)


def python_main(argv):
    """What a python command line runs: ("module", NAME), ("script", PATH),
    ("code", CODE) for -c, or (None, None) for stdin or no program at all.
    Interpreter options (-I -S, -X dev, -Wignore, -IS, ...) come before it."""
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == b"--":
            return ("script", argv[index + 1]) if index + 1 < len(argv) else (None, None)
        if word == b"-":  # the program comes from stdin
            return None, None
        if not word.startswith(b"-"):
            return "script", word
        if word.startswith(b"--"):
            index += 2 if word in LONG_OPTIONS_WITH_VALUE else 1
            continue
        for position in range(1, len(word)):
            letter = word[position:position + 1]
            if letter in OPTIONS_WITH_VALUE:
                value = word[position + 1:]
                if not value:
                    index += 1
                    value = argv[index] if index < len(argv) else b""
                if letter == b"m":
                    return "module", value
                if letter == b"c":
                    return "code", value
                break
        index += 1
    return None, None


def shown(argv):
    """argv as a shell would take it back (shlex.join; shlex is not in
    Debian's python3-minimal)."""
    return " ".join(map(quoted, (os.fsdecode(word) for word in argv)))


SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def quoted(word):
    if word and SAFE.issuperset(word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def describe_proc_error(error):
    text = "%s: %s" % (error.filename, error.strerror)
    if error.errno in (errno.ENOENT, errno.EACCES) and str(error.filename).startswith("/proc/1"):
        text += "; /proc may hide other users' processes (hidepid)"
    return text


def wait_for_children_of_pid1(seconds):
    """True when PID 1 has no living child (within ``seconds``); OSError
    when /proc does not show them -- an empty answer we cannot see behind
    must not pass for "the main child has exited"."""
    from tini_py.processes import check_proc
    problem = check_proc()
    if problem:
        raise OSError(errno.ENOENT, problem, "/proc")
    deadline = time.monotonic() + seconds
    while living_children_of_pid1():
        if time.monotonic() >= deadline:
            return False
        pause(POLL_SECONDS)
    return True


def pause(seconds):
    """Sleep, with every signal blocked and taken here.

    One that PID 1 sent is dropped: tini-py, once its main child is gone,
    signals every process of its namespace, and this hook (docker exec,
    kubelet exec) is one of them -- it must live to report the drain.  Any
    other signal acts as it would have unblocked.
    """
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        info = _signal.sigtimedwait(BLOCKED, left)
        if info is None:
            return
        if info.si_pid != 1:
            act_as_unblocked(info.si_signo)


def act_as_unblocked(number):
    """Let ``number`` take the action it has when not blocked: Python's
    ignored SIGPIPE/SIGXFSZ stay ignored, the rest get the default
    (SIGINT too: a KeyboardInterrupt traceback is no way to stop)."""
    if _signal.getsignal(number) == _signal.SIG_IGN:
        return
    _signal.signal(number, _signal.SIG_DFL)
    os.kill(os.getpid(), number)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {number})  # delivered here
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {number})


def living_children_of_pid1():
    from tini_py.processes import read_stat
    with open("/proc/1/task/1/children") as source:
        pids = [int(pid) for pid in source.read().split()]
    return [pid for pid in pids if (read_stat(pid) or (0, "Z"))[1] != "Z"]
