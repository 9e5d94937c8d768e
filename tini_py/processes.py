"""Finding and signalling every process tini-py is responsible for.

As PID 1 of a namespace every other process there is ours: the kernel
re-parents orphans to us and kill(-1) reaches exactly them.  Not as PID 1, we
are a child subreaper; kill(-1) would hit the whole host, so we find our
descendants by walking the ppid links in /proc and signal each by pidfd
(by pid right after an ancestry check where there are no pidfds).  A /proc
that is not our pid namespace's, or none, leaves us the child's process group.
Used once the main child has exited (drain.py), by the -t SIGKILL, and by
`tini-py prestop`.
"""
import errno
import posix
import _signal

from tini_py import log



def descendants_alive(group):
    """Not as PID 1: is any descendant left (zombies count: a zombie child
    of ours still has to be reaped)?"""
    pids = usable_descendants(include_zombies=True)
    if pids is None:
        return _group_or_children_alive(group)
    return bool(pids)


def signal_everyone(number, is_pid1, group):
    """Send ``number`` once to every process we own (the child's group
    included: its members are all our descendants).  Returns a Tally."""
    tally = Tally()
    if is_pid1:
        # kill(-1) reaches every process of the namespace but us, at once;
        # /proc only counts them (None when it cannot).
        tally.count_unknown = proc_problem() is not None
        if not tally.count_unknown:
            tally.sent = len(_others_in_namespace())
        tally.note(_kill_error(-1, number), ours=True)
        return tally
    pids = usable_descendants()
    if pids is None:
        tally.count_unknown = True
        tally.note(_kill_error(-group, number), ours=True)
        return tally
    for pid in pids:
        tally.note(signal_descendant(pid, number))
    return tally


def signal_outside_group(number, is_pid1, group):
    """Send ``number`` to every process we own that is not in ``group`` --
    those a signal to the group did not reach.  Without /proc (or with one
    of another pid namespace), to everyone.  Returns a Tally."""
    table = None
    if proc_problem() is None:
        try:
            table = read_process_table()
        except OSError:
            pass
    if table is None:
        return signal_everyone(number, is_pid1, group)
    tally = Tally()
    parent_of, zombies, group_of = table
    for pid in (list(parent_of) if is_pid1 else tree_below_us(parent_of)):
        if pid == 1 or pid in zombies:
            continue
        if group_of.get(pid) == group:
            tally.reached += 1
            continue
        if is_pid1:
            # Every process of the namespace is ours, whoever its parent is
            # (docker exec'd ones have none here): a plain kill is right.
            tally.note(_kill_error(pid, number))
        else:
            tally.note(signal_descendant(pid, number))
    return tally


class Tally:
    """What one signal to many processes did: how many got it, and why the
    others did not (ESRCH, a process that ended meanwhile, is no refusal)."""

    def __init__(self):
        self.sent = 0
        self.reached = 0            # left alone: an earlier signal already reached them
        self.count_unknown = False  # kill(-1) or a group, with no /proc to count
        self.refused = {}           # strerror -> how many

    def note(self, error, ours=False):
        """Count the outcome of one kill(); ``ours``: it reached many at once."""
        if error is None:
            self.sent += not ours
        elif error.errno != errno.ESRCH:
            self.refused[error.strerror] = self.refused.get(error.strerror, 0) + 1


def _others_in_namespace():
    try:
        parent_of, zombies, _ = read_process_table()
    except OSError:
        return []
    return [pid for pid in parent_of if pid != 1 and pid not in zombies]


def _group_or_children_alive(group):
    """Without /proc: does the child's group, or any child of ours, remain?

    Kernel rule: a pid number is not handed out again while a process group
    of that id has members, so the group id still names the child's group.
    """
    if _kill_quietly(-group, 0):
        return True
    try:
        # WNOWAIT: look without reaping; any answer but ECHILD means a child.
        posix.waitid(posix.P_ALL, 0, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT)
        return True
    except ChildProcessError:
        return False


def _kill_quietly(target, number):
    return _kill_error(target, number) is None


def _kill_error(target, number):
    """kill(); None when it was sent, else the OSError."""
    try:
        posix.kill(target, number)
    except OSError as error:
        return error
    return None


def signal_descendant(pid, number):
    """Signal ``pid`` only if it is still our descendant once pinned; None
    when it was sent or is gone, else the OSError that refused it.

    A pidfd names one process for good; a pid can be reused by an unrelated
    process between reading /proc and kill(), a pidfd cannot.  Without
    pidfds (kernel < 5.3, or a seccomp profile that lacks them) we check
    the ancestry and kill() right after: the reuse window is then that short.
    """
    pidfd = _pin(pid)
    if pidfd is _GONE:
        return None
    try:
        if not is_descendant(pid):
            return None
        error = _pidfd_signal(pidfd, number)
        if error is _UNUSABLE:
            error = _kill_error(pid, number)
        return error
    finally:
        if pidfd is not None:
            posix.close(pidfd)


_GONE = object()
_pidfd_usable = True


def _pin(pid):
    """A pidfd for pid; None when pidfds are not to be had; _GONE if pid is."""
    if not _pidfd_usable:
        return None
    try:
        return posix.pidfd_open(pid)
    except ProcessLookupError:
        return _GONE
    except (OSError, AttributeError) as error:
        _note_if_pidfd_missing(error)
        return None  # no descriptor left, say: is_descendant will decide


_UNUSABLE = object()


def _pidfd_signal(pidfd, number):
    """Send by pidfd: None when sent (or gone: ESRCH, and its pid may be
    reused -- never kill() it then), _UNUSABLE when kill() must do it,
    else the OSError that refused it."""
    if pidfd is None:
        return _UNUSABLE
    try:
        _signal.pidfd_send_signal(pidfd, number)
    except AttributeError:
        return _UNUSABLE
    except OSError as error:
        if error.errno == errno.ESRCH:
            return None
        return _UNUSABLE if _pidfd_missing(error) else error
    return None


def _pidfd_missing(error):
    """ENOSYS: no such call (kernel < 5.3); EPERM: a seccomp filter denies it
    (Docker before 20.10)."""
    return error.errno in (errno.ENOSYS, errno.EPERM)


def _note_if_pidfd_missing(error):
    global _pidfd_usable
    if isinstance(error, AttributeError) or _pidfd_missing(error):
        _pidfd_usable = False
        log.info("no pidfd (%s); signalling leftovers by pid right after checking "
                 "their ancestry" % (getattr(error, "strerror", None) or error))


_UNCHECKED = object()
_proc_problem = _UNCHECKED
_fallback_said = False


def usable_descendants(include_zombies=False):
    """descendants(), or None when /proc cannot tell them: the caller falls
    back to the child's process group (said once on stderr)."""
    global _fallback_said
    problem = proc_problem()
    if problem is None:
        try:
            return descendants(include_zombies)
        except OSError as error:
            problem = "cannot read /proc (%s)" % error.strerror
    if not _fallback_said:
        _fallback_said = True
        log.warning("%s; finding leftovers through the child's process group only"
                    % problem)
    return None


def proc_problem():
    """None when /proc describes our own pid namespace, else why not
    (checked once: a pid namespace's /proc does not change under us)."""
    global _proc_problem
    if _proc_problem is _UNCHECKED:
        _proc_problem = check_proc()
    return _proc_problem


def check_proc():
    """Is /proc the proc of our pid namespace?  Kernel rule: a proc mount
    shows the pid namespace it was mounted in; /proc/self names us in
    *that* namespace, and NSpid lists one pid per level from there down.
    Another namespace's /proc (`unshare --pid` without --mount-proc) would
    make strangers look like our children."""
    try:
        seen_as = posix.readlink("/proc/self")
    except OSError as error:
        return "/proc is not a proc filesystem (/proc/self: %s)" % error.strerror
    if seen_as != str(posix.getpid()):
        return ("/proc belongs to another pid namespace (it shows us as pid %s, "
                "we are %d)" % (seen_as, posix.getpid()))
    nspid = read_nspid()
    if nspid is not None and len(nspid) != 1:
        return ("/proc belongs to an outer pid namespace (NSpid %s)"
                % b" ".join(nspid).decode())
    return None


def read_nspid():
    """The NSpid fields of /proc/self/status; None where unknown (kernel <
    4.1, or no descriptor left: /proc/self alone has decided then)."""
    try:
        with open("/proc/self/status", "rb") as source:
            for line in source:
                if line.startswith(b"NSpid:"):
                    return line.split()[1:]
    except OSError:
        pass
    return None


def descendants(include_zombies=False):
    """Pids of every process below us in the ppid tree; OSError when /proc
    cannot be listed (not mounted, or no file descriptor left)."""
    parent_of, zombies, _ = read_process_table()
    found = tree_below_us(parent_of)
    if include_zombies:
        return found
    return [pid for pid in found if pid not in zombies]


def tree_below_us(parent_of):
    """Pids below us in the ppid links {pid: ppid} of a process table."""
    children_of = {}
    for pid, parent in parent_of.items():
        children_of.setdefault(parent, []).append(pid)
    found, frontier = [], [posix.getpid()]
    while frontier:
        for child in children_of.get(frontier.pop(), ()):
            found.append(child)
            frontier.append(child)
    return found


def is_descendant(pid):
    me = posix.getpid()
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
    for entry in posix.listdir("/proc"):
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


# Fields of /proc/PID/stat counted after the command name (proc(5) field
# number minus 3).
STAT_STATE, STAT_PPID, STAT_PGRP = 0, 1, 2


def read_stat(pid):
    """(ppid, state, process group) of pid, or None if it is gone."""
    fields = read_stat_fields(pid)
    if fields is None:
        return None
    try:
        return (int(fields[STAT_PPID]), fields[STAT_STATE].decode(),
                int(fields[STAT_PGRP]))
    except (IndexError, ValueError):
        return None


def read_stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (bytes), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as source:
            data = source.read()
    except OSError:
        return None
    # The command name in parentheses may itself contain spaces and ')'.
    return data[data.rfind(b")") + 2:].split()
