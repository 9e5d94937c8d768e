"""Why the main child died, in one line, when tini-py itself did not end it.

"Why did my container exit 137?"  The kernel's OOM killer ends a process
with SIGKILL and tells its parent nothing more than any other SIGKILL would.
But the memory cgroup it ran in counts its OOM kills (cgroup v2:
memory.events, "oom_kill N"; v1: memory.oom_control, same field, kernel >=
4.13): a count that rose while the child ran, with the child dead of
SIGKILL, names the killer.  Where no count can be read (no memory cgroup,
an old kernel) nothing is claimed.
"""
import posix

from tini_py.signals import SIGKILL, signal_name

# (the file in a memory cgroup's directory that counts OOM kills, its limit)
V2 = ("memory.events", "memory.max")
V1 = ("memory.oom_control", "memory.limit_in_bytes")
# v1 reports "no limit" as the largest page count in bytes (~2**63).
NO_LIMIT = 1 << 62


def memory_cgroup(root="/"):
    """(directory, (counter file, limit file)) of our memory cgroup, or None.

    /proc/self/cgroup names the cgroup from the root of the hierarchy; in a
    container that root is often mounted as /sys/fs/cgroup itself (cgroup v2
    with a cgroup namespace; v1 as Docker mounts it), so the directory it
    names is tried first, then the mount point.
    """
    for line in (_read(root + "proc/self/cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "":
            mount, files = root + "sys/fs/cgroup", V2
        elif "memory" in controllers.split(","):
            mount, files = root + "sys/fs/cgroup/memory", V1
        else:
            continue
        for directory in (mount + path.rstrip("/"), mount):
            if _read(directory + "/" + files[0]) is not None:
                return directory, files
    return None


def oom_kills(cgroup):
    """The OOM-kill count of cgroup (from memory_cgroup), or None."""
    if cgroup is None:
        return None
    text = _read(cgroup[0] + "/" + cgroup[1][0])
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def memory_limit(cgroup):
    """The cgroup's memory limit in bytes, or None when it has none."""
    text = (_read(cgroup[0] + "/" + cgroup[1][1]) or "").strip()
    if not text.isdigit() or int(text) >= NO_LIMIT:
        return None
    return int(text)


def _read(path):
    """A small file's text, or None.  (Bytes decoded here: a text-mode open
    would import the ascii codec, a quarter of a millisecond of every start.)"""
    try:
        with open(path, "rb") as source:
            return source.read().decode("ascii", "replace")
    except OSError:
        return None


class ExitCause:
    """Taken before the child starts; asked once it has died."""

    def __init__(self, root="/"):
        self.cgroup = memory_cgroup(root)
        self.oom_kills_before = oom_kills(self.cgroup)

    def explain(self, pid, number, stop_signal, grace_expired):
        """One line on the child's death by signal ``number``, or None when
        tini-py caused it: the stop signal it forwarded (the normal stop),
        or the -t SIGKILL (which was said when it was sent)."""
        if number == stop_signal or (number == SIGKILL and grace_expired):
            return None
        line = "main child %d was killed by %s" % (pid, signal_name(number))
        if number == SIGKILL and self.oom_killed():
            limit = memory_limit(self.cgroup)
            line += ": the kernel's OOM killer ended it (%s)" % (
                "memory limit %s" % mebibytes(limit) if limit is not None
                else "its cgroup has no memory limit: the machine ran out of memory")
        return line

    def oom_killed(self):
        after = oom_kills(self.cgroup)
        return None not in (after, self.oom_kills_before) and after > self.oom_kills_before


def mebibytes(count):
    return "%g MiB" % round(count / 1048576, 1)


def explain_death(exit_cause, supervisor, status):
    """The line, if any, for a main child that died of a signal -- unless
    -e lists that death's status (the user calls it a normal end)."""
    if not posix.WIFSIGNALED(status) or 128 + posix.WTERMSIG(status) in supervisor.config.remap_exit:
        return None
    stop = supervisor.stop
    return exit_cause.explain(supervisor.child, posix.WTERMSIG(status),
                              stop.signal if stop is not None else None,
                              supervisor.grace_expired)
