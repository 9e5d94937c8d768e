"""tini-py on a PHP team's image: php-fpm with Debian's python3-minimal as
its only Python (the php_minimal_image fixture; no ctypes, no shlex).

What it costs (sizes, measured), that every command and option either
works or says in one line what it needs -- never a traceback -- with the
exact exit statuses, and `tini-py prestop` on each of its paths.  php-fpm's
own scenarios (docker stop and a reload mid-request) are in
test_real_servers.py, run on this image too; not PID 1 and -p in
test_container_not_pid1.py.
"""
import re
import zipfile

import pytest

from .conftest import DPKG_FORMAT, REPO, dependency_closure, installed_packages
from .servers_util import PHP_FPM, record, run_server

PYTHON_PACKAGE = "python3-minimal"
MISSING_MODULES = ["ctypes", "shlex"]
ONE_LINE = object()  # stderr: exactly one line, tini-py's
# Shell commands that print KiB: the root file system's files, the .pyc among them.
KIB_USED = "du --apparent-size -sxk / | cut -f1"
KIB_OF_BYTECODE = ("find / -xdev -name '*.pyc' -printf '%s\\n'"
                   " | awk '{s += $1} END {print int(s / 1024)}'")


def run_to_end(containers, image, *args, entrypoint="tini-py", options=()):
    """A container of image with tini-py as PID 1 (or entrypoint), run to its
    end: (exit status, stdout, stderr)."""
    ctr = containers(image, *args, entrypoint=entrypoint, options=options)
    status = ctr.wait()
    return (status, *ctr.streams())


def assert_no_traceback(*streams):
    for text in streams:
        assert "Traceback" not in text, text


def assert_one_tini_py_line(stderr, *words):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tini-py: "), stderr
    for word in words:
        assert word in lines[0], stderr


# ------------------------------------------------------------ the image

@pytest.mark.parametrize("module", MISSING_MODULES)
def test_the_image_has_no_ctypes_and_no_shlex(php_minimal_image, base_image, containers,
                                              module):
    """The premise: python3-minimal lacks them; bookworm's python3 (the
    base image, the control) has them."""
    code = "import %s" % module
    status, _, stderr = run_to_end(containers, php_minimal_image, "-c", code,
                                   entrypoint="python3")
    assert status == 1 and "No module named '%s'" % module in stderr, stderr
    assert run_to_end(containers, base_image, "-c", code, entrypoint="python3")[0] == 0


def test_the_image_has_python3_minimal_and_not_python3(php_minimal_image, containers):
    query = ["-W", "-f", "${Package} ${db:Status-Abbrev}\n", PYTHON_PACKAGE, "python3",
             "libpython3.11-stdlib"]
    _, stdout, _ = run_to_end(containers, php_minimal_image, *query, entrypoint="dpkg-query")
    installed = [line.split()[0] for line in stdout.splitlines() if line.split()[1:] == ["ii"]]
    assert installed == [PYTHON_PACKAGE], stdout


@pytest.mark.xfail(strict=True, reason="tools/build_zipapp.py imports zipfile, which imports "
                   "shutil: python3-minimal has neither (the image builds it in a stage with "
                   "the full standard library: images/php-python3-minimal.Dockerfile)")
def test_build_zipapp_runs_on_python3_minimal(php_minimal_base_image, containers):
    mounts = ["-v", "%s/tools:/src/tools:ro" % REPO, "-v", "%s/tini_py:/src/tini_py:ro" % REPO]
    status, stdout, stderr = run_to_end(
        containers, php_minimal_base_image, "-c",
        "python3 /src/tools/build_zipapp.py --output /tmp/tini-py && /tmp/tini-py --version",
        entrypoint="sh", options=mounts)
    record("build_zipapp on python3-minimal", status=status, stderr=stderr[-300:])
    assert status == 0, stderr
    assert stdout.endswith("tini-py 0.1.0\n"), stdout


def copy_out(engine, image, path, target):
    """path of image, copied to the host file target."""
    cid = engine("create", image).stdout.strip()
    try:
        engine("cp", "%s:%s" % (cid, path), str(target))
    finally:
        engine("rm", "-f", cid, check=False)
    return target


def test_the_zipapp_carries_the_bytecode_of_the_images_python(php_minimal_image, containers,
                                                               docker_engine, tmp_path):
    """Built by the image's own python3.11 (in a stage with the full
    standard library): every .pyc in the archive has the magic number of the
    image's interpreter, so zipimport uses them instead of compiling."""
    archive = copy_out(docker_engine, php_minimal_image, "/usr/local/bin/tini-py",
                       tmp_path / "tini-py")
    _, magic, _ = run_to_end(containers, php_minimal_image, "-c",
                             "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())",
                             entrypoint="python3")
    with zipfile.ZipFile(archive) as members:
        pycs = {name: members.read(name)[:4].hex() for name in members.namelist()
                if name.endswith(".pyc")}
    record("zipapp on python3-minimal", bytes=archive.stat().st_size, pyc_files=len(pycs),
           magic=magic.strip())
    assert len(pycs) > 10 and set(pycs.values()) == {magic.strip()}, (pycs, magic)


def test_what_python3_minimal_adds_to_the_php_fpm_image(php_minimal_base_image, containers,
                                                       docker_engine):
    """The packages only python3-minimal needs (dpkg's dependencies of
    everything else do not reach them), their Installed-Size, and the bytes
    purging them frees in a container of the image: more than Installed-Size,
    which leaves out the .pyc files their postinst compiles."""
    image = php_minimal_base_image
    _, listing, _ = run_to_end(containers, image, "-W", "-f", DPKG_FORMAT,
                               entrypoint="dpkg-query")
    installed = installed_packages(listing)
    python = dependency_closure(installed, [PYTHON_PACKAGE])
    others = dependency_closure(installed, set(installed) - python)
    only_python = sorted(python - others)
    _, sizes, _ = run_to_end(containers, image, "-W", "-f", "${Installed-Size}\n",
                             *only_python, entrypoint="dpkg-query")
    installed_kib = sum(int(size) for size in sizes.split())
    script = "%s; %s; dpkg --purge %s >&2 && %s" % (KIB_USED, KIB_OF_BYTECODE,
                                                     " ".join(only_python), KIB_USED)
    status, measured, stderr = run_to_end(containers, image, "-c", script, entrypoint="sh")
    assert status == 0, stderr
    before, bytecode, after = map(int, measured.split())
    image_bytes = int(docker_engine("image", "inspect", "-f", "{{.Size}}", image).stdout)
    record("python3-minimal size", packages=only_python, installed_size_kib=installed_kib,
           freed_kib=before - after, bytecode_kib=bytecode, image_bytes=image_bytes,
           image_kib=before, image_kib_without=after)
    assert PYTHON_PACKAGE in only_python and "python3" not in installed
    # Debian's Installed-Size, the compiled stdlib, dpkg's records of them.
    assert installed_kib <= before - after <= installed_kib + bytecode + 100, (before, after)
    assert before - after < 20000, (before, after)


# --------------------------------------------------- every command, as PID 1

CASES = [
    # (arguments, exit status, stdout pattern, stderr: "" or ONE_LINE, words in that line)
    pytest.param(["--help"], 0, r"(?s)^usage: tini-py .*exit status", "", (), id="help"),
    pytest.param(["--list-profiles"], 0, r"(?m)^php-fpm +TERM->QUIT,HUP->USR2 ", "", (),
                 id="list-profiles"),
    pytest.param(["--version"], 0, r"^tini-py \S+\n$", "", (), id="version"),
    pytest.param(["--profile", "php-fpm", "--", "sh", "-c", "exit 3"], 3, r"^$", "", (),
                 id="profile-php-fpm-exit-3"),
    pytest.param(["--", "sh", "-c", "kill -KILL $$"], 137, r"^$", ONE_LINE,
                 ("killed by SIGKILL",), id="killed-137-says-so"),
    pytest.param(["-p", "SIGKILL", "--", "sh", "-c", "exit 3"], 3, r"^$", ONE_LINE,
                 ("parent-death signal (-p)", "no ctypes module"), id="p-SIGKILL-warns"),
    pytest.param(["--no-such-option"], 2, r"^$", ONE_LINE, ("--no-such-option",),
                 id="usage-error-option"),
    pytest.param(["-g", "NOSUCH", "--", "true"], 2, r"^$", ONE_LINE, ("NOSUCH",),
                 id="usage-error-signal"),
    pytest.param(["prestop", "--bogus"], 2, r"^$", ONE_LINE, ("prestop", "--bogus"),
                 id="prestop-usage-error"),
    pytest.param(["--", "no-such-command"], 127, r"^$", ONE_LINE, ("no-such-command",),
                 id="command-not-found-127"),
]


@pytest.mark.parametrize("args, status, stdout_pattern, stderr, words", CASES)
def test_every_command_works_or_says_what_it_needs_in_one_line(
        php_minimal_image, containers, args, status, stdout_pattern, stderr, words):
    got_status, got_stdout, got_stderr = run_to_end(containers, php_minimal_image, *args)
    record("python3-minimal PID 1", args=args, exit=got_status, stderr=got_stderr)
    assert_no_traceback(got_stdout, got_stderr)
    assert got_status == status, got_stderr
    assert re.search(stdout_pattern, got_stdout), got_stdout
    if stderr is ONE_LINE:
        assert_one_tini_py_line(got_stderr, *words)
    else:
        assert got_stderr == stderr


# -------------------------------------------------------------- prestop

def php_fpm_under_tini_py(containers, image):
    ctr = run_server(containers, image, ["tini-py", "--profile", "php-fpm"], PHP_FPM)
    ctr.wait_for_log("ready to handle connections")
    return ctr


def prestop(ctr, *args):
    """docker exec ctr tini-py prestop --sleep 0 ARGS: (status, stdout, stderr)."""
    result = ctr.exec("tini-py", "prestop", "--sleep", "0", *args, timeout=60)
    assert_no_traceback(result.stdout, result.stderr)
    return result.returncode, result.stdout, result.stderr


def test_prestop_with_tini_py_as_pid1_does_nothing_more_than_asked(php_minimal_image,
                                                                   containers):
    ctr = php_fpm_under_tini_py(containers, php_minimal_image)
    assert prestop(ctr) == (0, "", "")
    # --wait while php-fpm runs: times out, says so, exit 1.
    status, _, stderr = prestop(ctr, "--wait", "1")
    assert status == 1, stderr
    assert_one_tini_py_line(stderr, "still running after --wait 1s")
    assert ctr.running


def test_prestop_signal_and_wait_stop_php_fpm_gracefully(php_minimal_image, containers):
    """--signal TERM: tini-py (--profile php-fpm) turns it into QUIT;
    --wait: until php-fpm is gone.  The hook sees it go (0), or is killed
    with the container when PID 1 exits (docker exec then reports 137)."""
    ctr = php_fpm_under_tini_py(containers, php_minimal_image)
    status, _, stderr = prestop(ctr, "--signal", "TERM", "--wait", "20")
    assert status in (0, 137) and stderr == "", (status, stderr)
    assert ctr.wait(timeout=30) == 0, ctr.logs()
    assert "Terminating ..." not in ctr.logs()  # php-fpm's TERM, not its QUIT


def test_prestop_refuses_a_pid1_that_is_not_tini_py(php_minimal_image, containers):
    """PID 1 is php-fpm itself: prestop says so in one line and exits 1;
    php-fpm got nothing."""
    ctr = containers(php_minimal_image, *PHP_FPM[1:], entrypoint=PHP_FPM[0])
    ctr.wait_for_log("ready to handle connections")
    status, _, stderr = prestop(ctr, "--signal", "TERM")
    assert status == 1, stderr
    assert_one_tini_py_line(stderr, "PID 1 is not tini-py", "php-fpm")
    assert ctr.running

