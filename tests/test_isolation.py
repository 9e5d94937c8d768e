"""The application's Python environment does not reach PID 1.

An image sets PYTHON* variables, a sitecustomize (ddtrace-run, OpenTelemetry)
or .pth files for its application.  tini-py's interpreter runs isolated
(`python3 -I -S`) in every installed form, so none of it runs in PID 1 --
while the command still gets all of it, byte for byte.  `python -m tini_py`
has run them by its first line: it then executes itself again, isolated.
"""
import os
import signal
import subprocess
import textwrap

import pytest

from conftest import UNSHARE, _clean_signals, descendants, kill_quietly, wait_for
from installed import FATAL, form_env, parent_of

EXIT = 7
COMMAND = ["--", "sh", "-c", "exit %d" % EXIT]


# A sitecustomize as tracing agents ship them: it starts a thread (whose
# signal mask is its own) and leaves a mark.
SITECUSTOMIZE = """\
import os, threading, time
with open(os.path.join(os.environ["MARKS"], "sitecustomize.%d" % os.getpid()), "w"):
    pass
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
"""
BROKEN_CTYPES = "raise ImportError('the application shadows ctypes')\n"
PTH = ("import os, threading, time; open(os.path.join(os.environ['MARKS'], 'pth.%d' % "
       "os.getpid()), 'w').close(); threading.Thread(target=time.sleep, args=(3600,), "
       "daemon=True).start()\n")


def run(argv, env, pid1=False, timeout=30, preexec=None):
    def prepare():
        _clean_signals()
        if preexec:
            preexec()
    argv = (UNSHARE if pid1 else []) + argv
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          preexec_fn=prepare, start_new_session=True, timeout=timeout)


def python_m(form):
    return [form.python, "-m", "tini_py"]


@pytest.mark.parametrize("name", sorted(FATAL))
def test_python_variable_that_kills_the_interpreter(installed, name):
    env = form_env(installed, {name: FATAL[name]})
    plain = run([installed.python, "-c", "pass"], env)
    assert plain.returncode != 0 and b"Fatal Python error" in plain.stderr  # the case is real
    result = run(installed.argv + COMMAND, env, pid1=True)
    assert (result.returncode, result.stderr) == (EXIT, b"")


@pytest.fixture
def application_path(tmp_path):
    """A PYTHONPATH directory with a sitecustomize and a broken ctypes."""
    path = tmp_path / "app"
    path.mkdir()
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (path / "ctypes.py").write_text(BROKEN_CTYPES)
    marks = tmp_path / "marks"
    marks.mkdir()
    return {"PYTHONPATH": str(path), "MARKS": str(marks)}


def marks_of(env):
    return sorted(name.split(".")[0] for name in os.listdir(env["MARKS"]))


@pytest.mark.parametrize("pid1", [True, False], ids=["pid1", "subreaper"])
def test_application_sitecustomize_and_ctypes_stay_out(installed, application_path, pid1):
    """Not as PID 1 tini-py loads ctypes (prctl) -- the real one."""
    env = form_env(installed, application_path)
    result = run(installed.argv + COMMAND, env, pid1=pid1)
    assert (result.returncode, result.stderr) == (EXIT, b"")
    assert marks_of(env) == [], "the application's sitecustomize ran in tini-py"
    # ... while the command gets them, byte for byte (here a python3 command).
    result = run(installed.argv + ["--", installed.python, "-c", "import ctypes"], env)
    assert b"the application shadows ctypes" in result.stderr
    assert marks_of(env) == ["sitecustomize"]


def test_pth_file_in_the_interpreters_site_packages_stays_out(installed, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    pth = installed.site_packages / "zz_test_isolation.pth"
    pth.write_text(PTH)
    try:
        env = form_env(installed, {"MARKS": str(marks)})
        assert run([installed.python, "-c", "pass"], env).returncode == 0
        assert marks_of(env) == ["pth"]  # the case is real
        os.unlink(os.path.join(env["MARKS"], os.listdir(env["MARKS"])[0]))
        result = run(installed.argv + COMMAND, env, pid1=True)
        assert (result.returncode, result.stderr) == (EXIT, b"")
        assert marks_of(env) == []
    finally:
        pth.unlink()


def test_starts_with_four_file_descriptors(installed_venv):
    """RLIMIT_NOFILE=4: the venv's setuptools .pth (distutils-precedence)
    alone made a site-enabled interpreter fail; isolated, tini-py starts."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (4, 4))
    result = run(installed_venv.argv + COMMAND, form_env(installed_venv), pid1=True,
                 preexec=limit)
    assert (result.returncode, result.stderr) == (EXIT, b"")


# --------------------------------------------------------- the threads

def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


@pytest.mark.parametrize("how", ["installed", "python-m"])
def test_signal_burst_reaches_the_child_not_a_foreign_thread(installed_venv, application_path,
                                                            how):
    """Not as PID 1, a USR1 that lands in a thread with USR1 unblocked kills
    the whole process (default action) and strands the child."""
    form = installed_venv
    argv = form.argv if how == "installed" else python_m(form)
    env = form_env(form, application_path)
    proc = subprocess.Popen(argv + ["--", "sleep", "60"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_clean_signals, start_new_session=True)
    try:
        wait_for(lambda: [p for p in descendants(proc.pid) if parent_of(p) == proc.pid],
                 what="the command")
        assert thread_count(proc.pid) == 1
        for _ in range(200):
            os.kill(proc.pid, signal.SIGUSR1)
        # USR1 kills `sleep`: tini-py reports it.
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 128 + signal.SIGUSR1, err
    finally:
        for pid in descendants(proc.pid):
            kill_quietly(pid)
        kill_quietly(proc.pid)
        proc.communicate()
    assert marks_of(env) == ([] if how == "installed" else ["sitecustomize"])


def test_term_as_pid1_with_a_sitecustomize_thread(installed_venv, application_path):
    """As PID 1, a SIGCHLD that lands in a foreign thread is discarded, and
    tini-py waits for a child that is long gone.  Five stops in a row."""
    form = installed_venv
    for _ in range(5):
        proc = subprocess.Popen(UNSHARE + python_m(form) + ["--", "sleep", "60"],
                                env=form_env(form, application_path), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_clean_signals, start_new_session=True)
        try:
            tini = wait_for(lambda: descendants(proc.pid), what="tini-py")[0]
            wait_for(lambda: [p for p in descendants(tini) if parent_of(p) == tini],
                     what="the command")
            assert thread_count(tini) == 1
            os.kill(tini, signal.SIGTERM)
            proc.communicate(timeout=10)
            assert proc.returncode == 128 + signal.SIGTERM
        finally:
            for pid in descendants(proc.pid):
                kill_quietly(pid)
            kill_quietly(proc.pid)
            proc.communicate()


# A sitecustomize whose thread takes signals in the last moment before
# tini-py executes itself again isolated: it wraps posix.execve, lets its
# thread send USR1 and three RTMIN+4 to the process, then lets the exec go on.
SIGNALS_BEFORE_EXEC = """\
import os, posix, signal, threading
go, sent = threading.Event(), threading.Event()
def send():
    # This thread takes them: the caller blocked them, it does not.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGRTMIN + 4})
    go.wait()
    os.kill(os.getpid(), signal.SIGUSR1)
    for _ in range(3):
        os.kill(os.getpid(), signal.SIGRTMIN + 4)
    sent.set()
threading.Thread(target=send, daemon=True).start()
real_execve = posix.execve
def execve(*args):
    go.set()
    sent.wait(10)
    return real_execve(*args)
posix.execve = execve
"""
# The command: USR1 and RTMIN+4 blocked by the caller's mask (kept for it),
# it collects what reaches it and prints the numbers.
COLLECT = """\
import signal
wanted = {signal.SIGUSR1, signal.SIGRTMIN + 4}
got = []
while True:
    info = signal.sigtimedwait(wanted, 0.5 if got else 5)
    if info is None:
        break
    got.append(info.si_signo)
print(" ".join(map(str, sorted(got))))
"""


@pytest.mark.parametrize("pid1", [True, False], ids=["pid1", "subreaper"])
def test_signals_a_foreign_thread_takes_before_the_isolated_exec_are_forwarded(
        installed_venv, tmp_path, pid1):
    path = tmp_path / "app"
    path.mkdir()
    (path / "sitecustomize.py").write_text(SIGNALS_BEFORE_EXEC)
    form = installed_venv
    mask = [signal.SIGUSR1, signal.SIGRTMIN + 4]
    result = run(python_m(form) + ["--", form.python, "-I", "-c", COLLECT],
                 form_env(form, {"PYTHONPATH": str(path)}), pid1=pid1,
                 preexec=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, mask))
    assert result.returncode == 0, result.stderr
    rt = signal.SIGRTMIN + 4
    assert result.stdout.decode().split() == [str(int(signal.SIGUSR1))] + [str(rt)] * 3, result.stdout


def test_python_m_passes_the_original_environment(installed_venv, tmp_path):
    """A sitecustomize that changes os.environ changes what the re-executed
    tini-py would inherit; the command still gets the caller's environment."""
    path = tmp_path / "app"
    path.mkdir()
    (path / "sitecustomize.py").write_text(textwrap.dedent("""\
        import os
        os.environ["INJECTED"] = "by sitecustomize"
        os.environ["PATH"] = "/nowhere:" + os.environ["PATH"]
    """))
    env = form_env(installed_venv, {"PYTHONPATH": str(path)})
    result = run(python_m(installed_venv) + ["--", "cat", "/proc/self/environ"], env)
    assert result.returncode == 0, result.stderr
    given = b"".join(b"%s=%s\0" % (k.encode(), v.encode()) for k, v in env.items())
    assert result.stdout == given
