"""What tini-py asked the kernel for, seen with strace (nothing mocked).

``traced(argv, env, tmp_path)`` runs tini-py under ``strace -ff``, which
writes each process's calls to a file of its own, and returns tini-py's:
the programs it executed (the launcher's exec and the interpreter's, or
`python -m`'s isolated one), the files it opened after its last exec, and
the clone calls that started its command.
"""
import re
import shlex
import shutil
import subprocess

from conftest import UNSHARE, _clean_signals

TRACED_CALLS = "execve,openat,clone,clone3,fork,vfork"
# A C string as strace prints it ("..." with \-escapes), or the ] that
# closes execve's argv (a ] inside a string is part of the string).
TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\]')


class Traced:
    """One process's calls, from its strace -ff file."""

    def __init__(self, lines):
        self.lines = lines

    @property
    def execs(self):
        """[(program, argv)] of every execve that succeeded, in order."""
        return [call_strings(line) for line in self.lines
                if line.startswith("execve(") and line.endswith(" = 0")]

    def _after_last_exec(self):
        starts = [i for i, line in enumerate(self.lines)
                  if line.startswith("execve(") and line.endswith(" = 0")]
        return self.lines[starts[-1] + 1:] if starts else self.lines

    @property
    def opened(self):
        """Paths the last program opened."""
        return [call_strings(line)[0] for line in self._after_last_exec()
                if line.startswith("openat(AT_FDCWD, ")]

    @property
    def clones(self):
        """The clone/clone3/fork/vfork calls of the last program, as strace
        wrote them (a posix_spawn's carry CLONE_VM|CLONE_VFORK)."""
        return [line for line in self._after_last_exec()
                if line.startswith(("clone(", "clone3(", "fork(", "vfork("))]


def call_strings(line):
    """(first string argument, [strings of the first array]) of a call."""
    strings, in_array, argv = [], False, []
    for match in TOKEN.finditer(line):
        if match.group(0) == "]":
            break
        text = match.group(1).encode("latin-1", "backslashreplace").decode("unicode_escape")
        if not strings:
            strings.append(text)
            in_array = True
        elif in_array:
            argv.append(text)
    return strings[0], argv


def strace_command(log_prefix):
    strace = shutil.which("strace")
    assert strace, "strace is not installed (bash tests/run installs it)"
    return [strace, "-ff", "-qq", "-s", "4096", "-o", str(log_prefix), "-e",
            "trace=" + TRACED_CALLS]


def traced(argv, env, tmp_path, pid1=False, terminal=False):
    """Run argv (tini-py and its command) under strace, started as a runtime
    starts PID 1; ``terminal``: inside `script`, on a terminal whose
    foreground group tini-py is in.  Returns (the CompletedProcess, with
    bytes, and the Traced of the process that executed argv[0])."""
    logs = tmp_path / "strace"
    logs.mkdir()
    command = strace_command(logs / "pid") + (UNSHARE if pid1 else []) + list(argv)
    if terminal:
        command = ["script", "-qec", shlex.join(command), "/dev/null"]
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            preexec_fn=_clean_signals, start_new_session=True, timeout=60)
    return result, process_that_executed(logs, argv[0])


def process_that_executed(logs, program):
    for path in sorted(logs.iterdir()):
        traced_process = Traced(path.read_text(errors="replace").splitlines())
        execs = traced_process.execs
        if execs and execs[0][0] == program:
            return traced_process
    raise AssertionError("no traced process executed %s (%s)"
                         % (program, sorted(p.name for p in logs.iterdir())))
