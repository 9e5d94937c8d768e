#!/usr/bin/env python3
"""What each start-up optimisation of tini-py gains, measured.

Usage (as root; not part of the test suite, asserts nothing):

    python3 bench/optimisations.py              # ~6 minutes; prints a Markdown table
    python3 bench/optimisations.py --runs 100 --only os,signal,spawn
    python3 bench/optimisations.py --check      # every patch applies, every copy runs

For each optimisation, a copy of the installed tini-py (or of the zipapp)
with that one optimisation undone -- a text patch applied in a temporary
directory, never in the repository -- starts as PID 1, `unshare --pid --fork
--mount-proc INIT -- /bin/true`, interleaved with a copy of the code as it
is (bench/run.py's start-up method).  The gain is the difference of the two
medians, with a 95% bootstrap interval over the rounds; `as-is again`, a
second unpatched copy, shows what noise alone gives.  Where an A/B is lost in
that noise, the isolated operation is timed as well: in a fresh `python -I
-S` that has imported what every run imports, the median cost of that one
operation (an import, a call).

A patch whose text is no longer in the source stops the tool: the code
moved, and this table must follow it.
"""
import argparse
import datetime
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402  (bench/run.py: its set-up and its methods)
sys.path.insert(0, bench.REPO)
from tini_py.launch import GENERIC  # noqa: E402  (the line env looks python3 up with)

REPO, PY, log = bench.REPO, bench.PY, bench.log
GOAL_MS = 0.5           # an optimisation keeps its place at this gain, or if it is the simpler code
MAIN = "tini_py/__main__.py"
FIRST_IMPORT = "from tini_py.signals import block_signals\n"  # __main__.py's first line of code


# ----------------------------------------------------------------- patches
# Each returns a function text -> text that fails when its text is not there
# exactly once.

def replace(old, new):
    def patch(text):
        if text.count(old) != 1:
            raise LookupError("%r found %d times" % (old[:60], text.count(old)))
        return text.replace(old, new)
    return patch


def after(anchor, added):
    return replace(anchor, anchor + added)


def append(added):
    return lambda text: text + added


def replace_def(name, new):
    """Replace the top-level function ``name`` (up to the next top-level line)."""
    def patch(text):
        start = text.find("\ndef %s(" % name) + 1
        if start == 0:
            raise LookupError("no function %s" % name)
        lines = text[start:].split("\n")
        end = next(i for i, line in enumerate(lines) if i and line[:1] not in ("", " ", "\t"))
        rest = "\n".join(lines[end:])
        return text[:start] + new + "\n\n\n" + rest
    return patch


def first_line(new):
    return lambda text: new + "\n" + text.split("\n", 1)[1]


def eager(module_path, statement):
    """Undo a lazy import: the import at the top of the module that defers it."""
    anchors = {MAIN: FIRST_IMPORT, "tini_py/supervise.py": "from tini_py import log\n",
               "tini_py/config.py": "from tini_py import log\n",
               "tini_py/kernel.py": "from tini_py import log\n"}
    return (module_path, after(anchors[module_path], statement + "  # undone\n"))


# ------------------------------------------------------------ the list

class Optimisation:
    """One optimisation, and how it is undone and measured.

    form: "installed" (the pip-installed command), "zipapp", "shims" (the
    installed command from a shell with pyenv's shims first on PATH).
    patches: [(path in the repository, patch)]; scripts/tini-py
    is the installed copy of the command.  op: (setup, code) timed in a fresh
    interpreter after the modules every run imports and ``setup``; the
    optimised code's own cost, when it has one, is ``op_as_is``.
    """

    def __init__(self, key, what, where, simpler, patches, form="installed", op=None,
                 op_as_is=None, needed=None):
        self.key, self.what, self.where, self.simpler = key, what, where, simpler
        self.patches, self.form, self.op, self.op_as_is = patches, form, op, op_as_is
        self.needed = needed  # a reason it stays whatever it gains


def import_op(module):
    return ("", "import " + module)


LAZY_RULE = "one rule with the others, kept as a whole (lazy-all)"


def lazy_import(key, what, where, into, statement, module):
    """An import inside a function, undone: at the top of ``into``."""
    return Optimisation(key, what, where, "no (slightly): an import inside a function",
                        [eager(into, statement)], op=import_op(module), needed=LAZY_RULE)



OPTIMISATIONS = [
    Optimisation(
        "os", "`posix`, not `os`, on the start path", "every start-path module",
        "no: spawn.execvpe stands in for os.execvpe; bytes environment by hand",
        [("tini_py/signals.py", after("import _signal\n", "import os  # undone\n"))],
        op=import_op("os")),
    Optimisation(
        "signal", "`_signal`, not `signal` (its enums)", "signals.py, every user of signals",
        "same: the same calls, without enums",
        [("tini_py/signals.py", after("import _signal\n", "import signal  # undone\n"))],
        op=import_op("signal")),
    Optimisation(
        "spawn", "posix_spawn, not fork, for the command", "spawn.spawn_child",
        "no: a second way to start the command (fork stays, for a terminal)",
        [("tini_py/spawn.py", replace("    if take_terminal:\n        pid = fork_child(",
                                      "    if True:  # undone\n        pid = fork_child(")),
         ("tini_py/spawn.py", replace("        posix.tcsetpgrp(0, posix.getpgrp())\n",
                                      "        pass  # undone: no terminal to take\n"))]),
    Optimisation(
        "exit", "`posix._exit`, not the interpreter's own exit", "__main__.main",
        "same: one call",
        [(MAIN, replace("    posix._exit(run_init(config, child_mask, environment))",
                        "    sys.exit(run_init(config, child_mask, environment))  # undone"))]),
    lazy_import("drain", "drain.py (and processes.py) imported only when processes are left",
                "__main__.supervise", MAIN, "from tini_py.drain import drain_leftovers",
                "tini_py.drain"),
    lazy_import("processes", "processes.py imported only by the drain, -t and not-PID-1 exits",
                "supervise.Supervisor", "tini_py/supervise.py",
                "from tini_py.processes import signal_everyone", "tini_py.processes"),
    Optimisation(
        "pid1-left", "as PID 1, `kill(-1, 0)` says whether anything is left (no /proc walk)",
        "supervise.Supervisor.anything_left", "no: a second way to ask",
        [("tini_py/supervise.py", replace(
            "        if self.is_pid1:\n"
            "            # Every run ends here: as PID 1, kill(-1, 0) answers without\n"
            "            # processes.py (it reaches every process of the namespace but us).\n"
            "            try:\n"
            "                posix.kill(-1, 0)\n"
            "            except OSError:\n"
            "                return False\n"
            "            return True\n", ""))],
        needed="a right answer as PID 1 without a /proc of its own namespace (the walk "
        "would see only the child's group)"),
    lazy_import("jobcontrol", "jobcontrol.py imported only at a terminal",
                "supervise.Supervisor", "tini_py/supervise.py",
                "from tini_py.jobcontrol import TerminalJob", "tini_py.jobcontrol"),
    lazy_import("kernel", "kernel.py imported only when not PID 1 or with -p",
                "__main__.run_init", MAIN, "from tini_py.kernel import register_with_kernel",
                "tini_py.kernel"),
    Optimisation(
        "ctypes", "ctypes imported only for a prctl (not PID 1, or -p)", "kernel._load_prctl",
        "no (slightly): an import inside a function",
        [eager(MAIN, "from tini_py.kernel import register_with_kernel"),
         eager("tini_py/kernel.py", "import ctypes")],
        op=import_op("ctypes")),
    lazy_import("isolation", "isolation.py imported only when not started isolated",
                "__main__.isolate", MAIN, "from tini_py.isolation import execute_isolated",
                "tini_py.isolation"),
    lazy_import("profiles", "profiles.py imported only for --profile (and the hint, after "
                "the spawn)", "config.apply_profile", "tini_py/config.py",
                "from tini_py.profiles import lookup_profile", "tini_py.profiles"),
    lazy_import("showroutes", "showroutes.py imported only for --show-routes",
                "__main__.run_action", MAIN, "from tini_py.showroutes import describe_routes",
                "tini_py.showroutes"),
    lazy_import("helptext", "the --help text in its own module, imported only for --help",
                "helptext.py", MAIN, "from tini_py.helptext import HELP", "tini_py.helptext"),
    Optimisation(
        "lazy-all", "every module a plain run does not need imported where it is needed "
        "(drain, processes, jobcontrol, kernel, isolation, profiles, showroutes, helptext; "
        "all undone together)", "__main__, supervise, config",
        "no (slightly): imports inside functions",
        [eager(MAIN, "from tini_py.drain import drain_leftovers"),
         eager("tini_py/supervise.py", "from tini_py.processes import signal_everyone"),
         eager("tini_py/supervise.py", "from tini_py.jobcontrol import TerminalJob"),
         eager(MAIN, "from tini_py.kernel import register_with_kernel"),
         eager(MAIN, "from tini_py.isolation import execute_isolated"),
         eager("tini_py/config.py", "from tini_py.profiles import lookup_profile"),
         eager(MAIN, "from tini_py.showroutes import describe_routes"),
         eager(MAIN, "from tini_py.helptext import HELP")]),
    lazy_import("prestop", "prestop.py (which imports os) imported only for `prestop`",
                "__main__.run_action", MAIN, "from tini_py.prestop import run_prestop",
                "tini_py.prestop"),
    Optimisation(
        "argparse", "hand-written option parsing, not argparse (the import only)", "config.py",
        "no: argparse would be shorter, though tini's -g and the environment layer stay",
        [eager("tini_py/config.py", "import argparse")],
        op=import_op("argparse")),
    Optimisation(
        "script", "a plain script, not pip's entry-point wrapper (`import re`)",
        "scripts/tini-py", "no: it finds its package itself",
        [("scripts/tini-py", replace("\nimport sys\n", "\nimport re  # undone\nimport sys\n"))],
        op=import_op("re"),
        needed="an entry point's #! line cannot carry the launcher (env --block-signal)"),
    Optimisation(
        "isolated", "the launcher line runs `python3 -I -S` (no re-execution)",
        "scripts/tini-py, setup.py", "same: two flags",
        [("scripts/tini-py", replace("python3\\_-IS\n", "python3\n"))],
        needed="isolation from the application's PYTHON* and site hooks"),
    Optimisation(
        "no-shim", "the launcher line names the building interpreter's directory "
        "(measured with pyenv's shims first on PATH)", "setup.py, launch.py, spawn.py",
        "no: a build hook and restore_launcher_path",
        [("scripts/tini-py", first_line(GENERIC))], form="shims",
        needed="the command gets the caller's environment byte for byte (no PYENV_*)"),
    Optimisation(
        "zip-stored", "zipapp members stored, not deflated (no zlib)", "tools/build_zipapp.py",
        "same: one constant",
        [("tools/build_zipapp.py", replace("compression=zipfile.ZIP_STORED",
                                           "compression=zipfile.ZIP_DEFLATED")),
         ("tools/build_zipapp.py", replace("info.compress_type = zipfile.ZIP_STORED",
                                           "info.compress_type = zipfile.ZIP_DEFLATED"))],
        form="zipapp", op=import_op("zlib")),
    Optimisation(
        "zip-pyc", "zipapp holds each module's .pyc", "tools/build_zipapp.py",
        "no: a compile step in the build",
        [("tools/build_zipapp.py", replace('            add(name + "c", compiled(source, name))\n',
                                           "            pass  # undone\n"))],
        form="zipapp"),
    Optimisation(
        "zip-boot", "zipapp started by `-c BOOT`, not runpy (`python3 -IS tini-py.pyz`)",
        "launch.zipapp_line", "no: a boot string on the #! line",
        [("tini_py/launch.py", replace(
            "line = \"#!/usr/bin/env -S --block-signal %s -IS -c '%s'\" % (interpreter, boot)",
            "line = \"#!/usr/bin/env -S --block-signal %s -IS\" % interpreter  # undone"))],
        form="zipapp", op=import_op("runpy")),
]


# ----------------------------------------------------------------- copies

def apply_patches(root, patches, script=None):
    """Patch files under root (scripts/tini-py: ``script``, the installed copy)."""
    for path, patch in patches:
        target = script if path == "scripts/tini-py" else os.path.join(root, path)
        with open(target) as f:
            text = f.read()
        try:
            text = patch(text)
        except LookupError as error:
            raise SystemExit("optimisations: %s: %s (the code moved: update this tool)"
                             % (path, error)) from None
        with open(target, "w") as f:
            f.write(text)


class Copies:
    """Installed copies (bin/tini-py, lib/pythonX.Y/site-packages/tini_py,
    laid out as pip does; bytecode compiled as pip does) and zipapps built
    from patched trees, all in one temporary directory."""

    def __init__(self, tmp, installed_script):
        self.tmp = tmp
        self.installed = installed_script
        self.venv_bin = os.path.dirname(installed_script)
        self.venv_python = os.path.join(self.venv_bin, "python3")
        with open(installed_script) as f:
            self.launcher_line = f.readline().rstrip("\n")
        self.site = {}

    def installed_copy(self, name, patches):
        prefix = os.path.join(self.tmp, "installed", name)
        site = os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
        shutil.copytree(os.path.join(REPO, "tini_py"), os.path.join(site, "tini_py"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(os.path.join(prefix, "bin"))
        script = os.path.join(prefix, "bin", "tini-py")
        shutil.copy2(self.installed, script)
        apply_patches(site, patches, script)
        subprocess.run([self.venv_python, "-m", "compileall", "-q", site], check=True)
        self.site[name] = site
        return script

    def zipapp(self, name, patches):
        tree = os.path.join(self.tmp, "zipapp", name)
        for part in ("tini_py", "tools"):
            shutil.copytree(os.path.join(REPO, part), os.path.join(tree, part),
                            ignore=shutil.ignore_patterns("__pycache__"))
        apply_patches(tree, patches)
        out = os.path.join(self.tmp, "zipapp", name + ".pyz")
        r = subprocess.run([PY, os.path.join(tree, "tools", "build_zipapp.py"), "--output", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:  # its warning of a line too long for old kernels is not news
            raise SystemExit("optimisations: building the zipapp %s: %s"
                             % (name, r.stderr.decode(errors="replace")[-400:]))
        return out


def build_inits(copies, chosen):
    """{key: (Init as it is, Init undone)} for the start-up A/Bs;
    the as-is Inits are shared by the optimisations of one form."""
    image, shell = bench.image_env(copies.venv_bin), bench.shell_env()
    as_is = {"installed": bench.Init("as-is", [copies.installed_copy("as-is", []), "--"], image)}
    pairs = {}
    for opt in chosen:
        if opt.form == "zipapp" and "zipapp" not in as_is:
            as_is["zipapp"] = bench.Init("zipapp as-is", [copies.zipapp("as-is", []), "--"], image)
        if opt.form == "shims" and "shims" not in as_is:
            as_is["shims"] = bench.Init("as-is, shims", [as_is["installed"].argv[0], "--"], shell)
        if opt.form == "zipapp":
            undone = bench.Init(opt.key, [copies.zipapp(opt.key, opt.patches), "--"], image)
        else:
            env = shell if opt.form == "shims" else image
            undone = bench.Init(opt.key, [copies.installed_copy(opt.key, opt.patches), "--"], env)
        base = as_is[opt.form]
        for init in (base, undone):
            ok, why = bench.tini_py_runnable(init.argv, init.env)
            if not ok:
                raise SystemExit("optimisations: %s does not run: %s" % (init.name, why))
        pairs[opt.key] = (base, undone)
    again = bench.Init("as-is again", [copies.installed_copy("as-is-again", []), "--"], image)
    return as_is, again, pairs


# ------------------------------------------------------------ measuring

def bootstrap_interval(a, b, resamples=1000, seed=1):
    """95% interval of median(b) - median(a), rounds resampled in pairs."""
    rng = random.Random(seed)
    n = len(a)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        diffs.append(statistics.median([b[i] for i in idx]) - statistics.median([a[i] for i in idx]))
    diffs.sort()
    return diffs[int(0.025 * resamples)], diffs[int(0.975 * resamples) - 1]


def measure_startup(as_is, again, pairs, runs):
    """{key: (gain ms, low, high)}, and the start-up cost of each Init (ms over /bin/true)."""
    inits = list(as_is.values()) + [again]
    inits += [undone for key, (_, undone) in pairs.items() if undone not in inits]
    log("start-up: %d inits, %d rounds" % (len(inits), runs))
    times = bench.startup_times(inits, runs)
    base = statistics.median(times[None])
    cost = {i.name: statistics.median(times[i.name]) - base for i in inits}
    gains = {}
    for key, (plain, undone) in list(pairs.items()) + [("as-is again", (as_is["installed"], again))]:
        if undone.name not in times:
            continue
        a, b = times[plain.name], times[undone.name]
        gains[key] = (statistics.median(b) - statistics.median(a),) + bootstrap_interval(a, b)
    return gains, cost


def default_run_modules(copies):
    """The modules a plain `tini-py -- /bin/true` as PID 1 imports (-X importtime)."""
    script = copies.installed_copy("importtime", [])
    r = subprocess.run(bench.UNSHARE + [copies.venv_python, "-I", "-S", "-X", "importtime",
                                        script, "--", "/bin/true"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    names = [line.rsplit("|", 1)[1].strip() for line in r.stderr.decode().splitlines()
             if line.startswith("import time:") and "|" in line]
    return [n for n in names if n and n != "imported package"], copies.site["importtime"]


OP_PROGRAM = """import sys
sys.path.insert(0, %(site)r)
%(preload)s
%(setup)s
import time
t0 = time.perf_counter_ns()
%(code)s
t1 = time.perf_counter_ns()
sys.stdout.write(str(t1 - t0))
"""


def measure_ops(copies, chosen, runs):
    """{key: (undone ms, as-is ms)}: each operation timed once per fresh
    interpreter, after the modules every run imports; medians."""
    modules, site = default_run_modules(copies)
    programs = {}
    for opt in chosen:
        if opt.op:
            # An import is timed with that module not preloaded (a plain run
            # imports profiles.py, after the spawn).
            imported = opt.op[1][len("import "):] if opt.op[1].startswith("import ") else None
            preload = "\n".join("import " + m for m in modules if m != imported)
            for kind, (setup, code) in (("undone", opt.op), ("as-is", opt.op_as_is or ("", "pass"))):
                programs[(opt.key, kind)] = OP_PROGRAM % dict(site=site, preload=preload,
                                                              setup=setup, code=code)
    times = {k: [] for k in programs}
    log("isolated operations: %d programs, %d runs each" % (len(programs), runs))
    for _ in range(runs):
        for k, text in programs.items():
            r = subprocess.run([copies.venv_python, "-I", "-S", "-c", text], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            if r.returncode != 0:
                raise SystemExit("optimisations: %s: %s" % (k, r.stderr.decode()[-400:]))
            times[k].append(int(r.stdout) / 1e6)
    return {key: (statistics.median(times[(key, "undone")]), statistics.median(times[(key, "as-is")]))
            for key, _ in programs}, modules


# ---------------------------------------------------------------- report

def verdict(opt, gain):
    if opt.simpler.startswith(("yes", "same")):
        return "keep (the code is no less simple)"
    if gain is not None and gain >= GOAL_MS:
        return "keep (>= %.1f ms)" % GOAL_MS
    if opt.needed:
        return "stays: needed for %s" % opt.needed
    return "**candidate for removal**"


def table(chosen, gains, ops):
    lines = ["| optimisation (key) | where | A/B gain, ms (95% interval) | isolated operation, ms "
             "| simpler than the alternative? | verdict |", "|---|---|---|---|---|---|"]
    for opt in chosen:
        g = gains.get(opt.key)
        ab = "%.2f (%.2f to %.2f)" % g if g else "-"
        judged = verdict(opt, g[0] if g else None)
        op = ops.get(opt.key)
        op_text = "-" if op is None else "%.3f" % (op[0] - op[1])
        lines.append("| %s (`%s`) | %s | %s | %s | %s | %s |"
                     % (opt.what, opt.key, opt.where, ab, op_text, opt.simpler, judged))
    g = gains.get("as-is again")
    if g:
        lines.append("| *noise: a second unpatched copy* (`as-is again`) | | %.2f (%.2f to %.2f) "
                     "| | | |" % g)
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=400, help="start-up rounds (default 400)")
    ap.add_argument("--op-runs", type=int, default=100,
                    help="fresh interpreters per isolated operation (default 100)")
    ap.add_argument("--only", metavar="KEYS", help="comma list of optimisation keys: "
                    + ",".join(o.key for o in OPTIMISATIONS))
    ap.add_argument("--check", action="store_true",
                    help="only build every copy and check that it runs (no measurement)")
    cfg = ap.parse_args()
    chosen = OPTIMISATIONS
    if cfg.only:
        keys = set(cfg.only.split(","))
        unknown = keys - {o.key for o in OPTIMISATIONS}
        if unknown:
            ap.error("--only: unknown %s" % ",".join(sorted(unknown)))
        chosen = [o for o in OPTIMISATIONS if o.key in keys]
    if os.geteuid() != 0:
        sys.exit("optimisations: must run as root (unshare --pid)")
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="tini-py-opt.")
    try:
        script = bench.make_console_script(tmp, None)
        if not script:
            sys.exit("optimisations: could not install tini-py into a venv")
        copies = Copies(tmp, script)
        as_is, again, pairs = build_inits(copies, chosen)
        if cfg.check:
            print("%d optimisations undone, each copy runs: %s" % (len(pairs), ",".join(pairs)))
            return
        gains, cost = measure_startup(as_is, again, pairs, cfg.runs)
        ops, modules = measure_ops(copies, chosen, cfg.op_runs) if any(o.op for o in chosen) \
            else ({}, [])
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE).stdout.decode().strip()
        print()
        print("\n".join(table(chosen, gains, ops)))
        print()
        print("A/B: median of `unshare ... INIT -- /bin/true` undone minus as it is, %d interleaved "
              "rounds; start-up cost as it is %.2f ms over /bin/true (installed command)%s."
              % (cfg.runs, cost["as-is"],
                 ", zipapp %.2f ms" % cost["zipapp as-is"] if "zipapp as-is" in cost else ""))
        if ops:
            print("Isolated operation: median of %d fresh `python -I -S` (%d modules preloaded, "
                  "as a plain run imports them), undone minus as it is." % (cfg.op_runs, len(modules)))
        print("%s UTC, commit %s, python %s, load average (1 min) %.1f at start, %.1f at end, "
              "%d CPUs; command: python3 bench/optimisations.py %s"
              % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), rev,
                 sys.version.split()[0], load, os.getloadavg()[0], os.cpu_count() or 0,
                 " ".join(sys.argv[1:])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
