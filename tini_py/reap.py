"""Reaping zombies, and finding and signalling everything tini-py started.

As PID 1 of a namespace every other process there is ours: the kernel
re-parents orphans to us and kill(-1) reaches exactly them.  Not as PID 1, we
are a child subreaper; kill(-1) would hit the whole host, so we find our
descendants by walking the ppid links in /proc and signal each by pidfd.
"""
import os
import _signal

from tini_py import log


def reap_children(on_status):
    """Collect every exited child without blocking; SIGCHLD coalesces, so
    one signal may stand for many exits.  Calls on_status(pid, status) for
    each, and for each child that stopped or continued (reported once)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG | os.WUNTRACED | os.WCONTINUED)
        except ChildProcessError:
            return
        if pid == 0:
            return
        on_status(pid, status)


def describe_status(status):
    if os.WIFSIGNALED(status):
        from tini_py.signals import signal_name
        return "was killed by %s" % signal_name(os.WTERMSIG(status))
    return "exited with status %d" % os.WEXITSTATUS(status)


def exit_code_of(status):
    """The shell's convention: the exit status, or 128+N for a death by signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def others_alive(is_pid1, group):
    """Is any process besides tini-py left that it is responsible for?"""
    if is_pid1:
        return _kill_quietly(-1, 0)  # reaches every process of the namespace but us
    try:
        # Zombies count: a zombie child of ours still has to be reaped.
        return bool(descendants(include_zombies=True))
    except OSError:
        return _group_or_children_alive(group)


def signal_everyone(number, is_pid1, group):
    """Send ``number`` once to every process we own (the child's group
    included: its members are all our descendants)."""
    if is_pid1:
        _kill_quietly(-1, number)
        return
    try:
        pids = descendants()
    except OSError as error:
        log.warning("cannot read /proc (%s); signalling the child's process group only"
                    % error.strerror)
        _kill_quietly(-group, number)
        return
    for pid in pids:
        signal_descendant(pid, number)


def signal_outside_group(number, is_pid1, group):
    """Send ``number`` to every process we own that is not in ``group`` --
    those a signal to the group did not reach.  Without /proc, to everyone."""
    try:
        parent_of, zombies, group_of = read_process_table()
        pids = list(parent_of) if is_pid1 else descendants()
    except OSError:
        signal_everyone(number, is_pid1, group)
        return
    for pid in pids:
        if pid == 1 or pid in zombies or group_of.get(pid) == group:
            continue
        if is_pid1:
            # Every process of the namespace is ours, whoever its parent is
            # (docker exec'd ones have none here): a plain kill is right.
            _kill_quietly(pid, number)
        else:
            signal_descendant(pid, number)


def _group_or_children_alive(group):
    """Without /proc: does the child's group, or any child of ours, remain?

    Kernel rule: a pid number is not handed out again while a process group
    of that id has members, so the group id still names the child's group.
    """
    if _kill_quietly(-group, 0):
        return True
    try:
        # WNOWAIT: look without reaping; any answer but ECHILD means a child.
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return True
    except ChildProcessError:
        return False


def _kill_quietly(target, number):
    try:
        os.kill(target, number)
        return True
    except OSError:
        return False


def signal_descendant(pid, number):
    """Signal ``pid`` only if it is still our descendant once pinned.

    A pidfd names one process for good; a pid can be reused by an unrelated
    process between reading /proc and kill(), a pidfd cannot.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if is_descendant(pid):
            _signal.pidfd_send_signal(pidfd, number)
    except OSError:
        pass
    finally:
        os.close(pidfd)


def descendants(include_zombies=False):
    """Pids of every process below us in the ppid tree; OSError when /proc
    cannot be listed (not mounted, or no file descriptor left)."""
    parent_of, zombies, _ = read_process_table()
    me = os.getpid()
    children_of = {}
    for pid, parent in parent_of.items():
        children_of.setdefault(parent, []).append(pid)
    found, frontier = [], [me]
    while frontier:
        for child in children_of.get(frontier.pop(), ()):
            found.append(child)
            frontier.append(child)
    if include_zombies:
        return found
    return [pid for pid in found if pid not in zombies]


def is_descendant(pid):
    me = os.getpid()
    for _ in range(4096):
        parent = read_stat(pid)
        if parent is None:
            return False
        pid = parent[0]
        if pid == me:
            return True
        if pid <= 1:
            return False
    return False


def read_process_table():
    """({pid: ppid}, {zombie pids}, {pid: process group}) of every process."""
    parent_of, zombies, group_of = {}, set(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = read_stat(int(entry))
        if stat is None:
            continue
        parent_of[int(entry)] = stat[0]
        group_of[int(entry)] = stat[2]
        if stat[1] == "Z":
            zombies.add(int(entry))
    return parent_of, zombies, group_of


def read_stat(pid):
    """(ppid, state, process group) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as source:
            data = source.read()
    except OSError:
        return None
    # The command name in parentheses may itself contain spaces and ')'.
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return int(fields[1]), fields[0].decode(), int(fields[2])
    except (IndexError, ValueError):
        return None
