"""A witness of a container's last moments, started with docker exec:

    python3 witness.py FILE [SECONDS]

It ignores every signal an init's drain can send, and every 20 ms writes to
FILE (atomically) the processes of its pid namespace other than PID 1 and
itself, one "PID PPID STATE COMM" line each.  Once there are none it writes
"alone" and exits 0: PID 1 was then left with nothing -- no process, no
zombie.  An init that drains waits for it (as PID 1, every process of the
namespace is the init's to stop); one that leaves a process behind, or
SIGKILLs the witness, leaves FILE listing what was still there.  Gives up
after SECONDS (default 60).

"ready" is written to FILE once the first look has been taken.
"""
import os
import signal
import sys
import time


def others():
    me = os.getpid()
    rows = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (1, me):
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as stat:
                data = stat.read().decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        name = data[data.index("(") + 1:data.rindex(")")]
        state, ppid = data[data.rindex(")") + 2:].split()[:2]
        rows.append("%s %s %s %s" % (entry, ppid, state, name))
    return sorted(rows, key=lambda row: int(row.split()[0]))


def write(path, text):
    with open(path + ".tmp", "w") as tmp:
        tmp.write(text + "\n")
    os.rename(path + ".tmp", path)


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    for number in signal.valid_signals():
        if number not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            try:
                signal.signal(number, signal.SIG_IGN)
            except (OSError, ValueError):
                pass
    write(path, "\n".join(["ready"] + others()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = others()
        if not rows:
            write(path, "alone")
            return 0
        write(path, "\n".join(rows))
        time.sleep(0.02)
    return 1


if __name__ == "__main__":
    sys.exit(main())
