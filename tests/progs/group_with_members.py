"""Test child: a group leader with group members.

    group_with_members.py DIR MEMBERS CODE [exit-on-term]

Forks MEMBERS processes that stay in this process group.  Each handles
every catchable signal except SIGCHLD by appending "PID SIG\\n" to
DIR/members.log; SIGTERM is logged and otherwise ignored unless
"exit-on-term" is given (then the member exits 0 after logging it).
The leader logs its own signals to DIR/leader.log the same way and ignores
them.  Writes the members' pids (this namespace) to DIR/ready when set up,
then waits until DIR/go exists and exits with CODE without waiting for the
members (they stay behind, in the group whose leader is gone).
"""
import os
import signal
import sys

from progutil import catch_all_signals, close_stdio_and_sleep, wait_for_file, write_atomic


def record_signals(path, exit_on_term):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def handler(sig, frame):
        os.write(fd, b"%d %d\n" % (os.getpid(), sig))
        if sig == signal.SIGTERM and exit_on_term:
            os._exit(0)

    catch_all_signals(handler)


def main():
    directory, members, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    exit_on_term = len(sys.argv) > 4 and sys.argv[4] == "exit-on-term"
    pids = []
    for _ in range(members):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            record_signals(os.path.join(directory, "members.log"), exit_on_term)
            os.write(w, b"x")
            os.close(w)
            close_stdio_and_sleep()
        os.close(w)
        os.read(r, 1)
        os.close(r)
        pids.append(pid)
    record_signals(os.path.join(directory, "leader.log"), False)
    write_atomic(os.path.join(directory, "ready"), " ".join(map(str, pids)) + "\n")
    wait_for_file(os.path.join(directory, "go"))
    os._exit(code)


if __name__ == "__main__":
    main()
