"""Bad input fuzz and argv pass-through.

Several hundred command lines and TINI_PY_* environments, generated from
random.Random(1234) (reproducible: a failure names its case number), each
run as ``tini-py OPTIONS [--] true``.  Every case must either run (exit 0)
or be a usage error: exit 2 with exactly one stderr line starting
"tini-py:".  Never a traceback, never a hang.
"""
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TINI, UNSHARE, _clean_signals, tini_env
from tini_py.config import OPTIONS

SEED = 1234
CASES = 400
TIMEOUT = 10

# long name -> (short letter, takes a value, environment variable): the
# generator covers whatever options tini-py has.
SHORT = {short: (name, value) for name, (short, value, _) in OPTIONS.items() if short}
EXTRA_VARIABLES = ["TINI_PY_VERBOSITY", "TINI_VERBOSITY", "TINI_SUBREAPER",
                   "TINI_KILL_PROCESS_GROUP"]

TRICKY = [
    "", " ", "=", ":", ",", "-", "--", "-1", "0", "00", "1", "3", "255", "256", "1e3", "1e9",
    "1e308", "-0", "0.5", ".5", "5.", "nan", "NaN", "inf", "-inf", "0x10", "1_0", " 2 ",
    "\t3\n", "²", "³", "٣", "𝟘", "½", "Ⅻ", "١٢", "9" * 40, "1" * 5000, "ß", "ǅ", "ﬀ",
    "\u00a0", "\u200b", "é", "☃", "𝄞", "nginx", "NGINX", "php-fpm", "gunicorn", "true",
    "yes", "no", "on", "off", "maybe",
]
SIGNALS = [
    "QUIT", "SIGQUIT", "quit", "sigterm", "TERM", "3", "15", "0", "9", "KILL", "STOP",
    "CHLD", "CLD", "IOT", "POLL", "SEGV", "RTMIN", "RTMAX", "RTMIN+1", "rtmin+30",
    "RTMIN+31", "RTMAX-1", "RTMAX-30", "RTMAX-31", "RTMIN-1", "RTMAX+1", "RTMIN+",
    "RTMIN+x", "SIGRTMIN+²", "RTMIN+٣", "32", "33", "34", "64", "65", "-15", "SIG",
    "SIGSIGTERM", "TERM ", " TERM", "WINCH", "USR1", "usr2", "HUP", "1" * 5000,
]


def random_text(rng):
    kind = rng.randrange(5)
    if kind == 0:  # raw bytes, most not UTF-8: surrogate escapes in Python
        return os.fsdecode(bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 12))))
    if kind == 1:  # unicode from all over the planes
        return "".join(chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0xa0, 0x2fff),
                                       rng.randrange(0x1f300, 0x1f6ff)]))
                       for _ in range(rng.randrange(1, 10)))
    if kind == 2:
        return "x" * rng.choice([1000, 10000, 100000])
    if kind == 3:
        return "".join(rng.choice("-=:,+0123456789.eE ") for _ in range(rng.randrange(0, 8)))
    return rng.choice(TRICKY)


def random_value(rng, name):
    roll = rng.random()
    if roll < 0.35:
        return random_text(rng)
    if name in ("graceful", "pdeathsig"):
        return rng.choice(SIGNALS)
    if name == "rewrite":
        pick = rng.choice(SIGNALS + TRICKY)
        forms = [pick, rng.choice(SIGNALS) + ":" + rng.choice(SIGNALS),
                 ",".join(rng.choice(SIGNALS) + ":" + rng.choice(SIGNALS) for _ in range(3)),
                 rng.choice(SIGNALS) + ":", ":" + rng.choice(SIGNALS),
                 rng.choice(SIGNALS) + ":" + rng.choice(SIGNALS) + ":" + rng.choice(SIGNALS)]
        return rng.choice(forms)
    if name == "profile":
        return rng.choice(["nginx", "php-fpm", "php-resque", "unicorn", "gunicorn", "celery",
                           "Nginx", " nginx", "nope", "", "php", "httpd", "ngïnx"])
    if name == "remap-exit":
        return rng.choice(["0", "1", "255", "256", "-1", "1,2", " 7 ", "²", "٣", "1" * 5000,
                           "𝟙", "0x1", "1.0", ""])
    return rng.choice(TRICKY)


def random_option(rng, words):
    """Append one option (with its value, if it takes one) to words."""
    roll = rng.random()
    names = list(OPTIONS)
    if roll < 0.45:  # a known long option, used as the contract says
        name = rng.choice(names)
        takes_value = OPTIONS[name][1]
        if takes_value and rng.random() < 0.5:
            words.append("--%s=%s" % (name, random_value(rng, name)))
        elif takes_value:
            words.extend(["--" + name, random_value(rng, name)])
        elif rng.random() < 0.1:
            words.append("--%s=%s" % (name, random_text(rng)))  # takes no value: error
        else:
            words.append("--" + name)
    elif roll < 0.55:  # unknown or mangled long option
        name = rng.choice([random_text(rng), rng.choice(names).upper(), rng.choice(names)[:-1],
                           rng.choice(names) + "s", "-", "=x"])
        words.append("--" + name)
    else:  # a cluster of short options
        letters = list(SHORT) + list("abcxyzGTV?!é")
        cluster = ""
        for _ in range(rng.randrange(1, 5)):
            letter = rng.choice(letters)
            cluster += letter
            if letter not in SHORT:
                break  # unknown letter: usage error right there
            name, takes_value = SHORT[letter]
            if takes_value:
                if rng.random() < 0.5:
                    words.append("-" + cluster + random_value(rng, name))
                else:
                    words.extend(["-" + cluster, random_value(rng, name)])
                return
        words.append("-" + cluster)


def random_environment(rng):
    env = {}
    variables = [v for _, _, v in OPTIONS.values() if v] + EXTRA_VARIABLES
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        if rng.random() < 0.85:
            variable = rng.choice(variables)
        else:
            variable = "TINI_PY_" + "".join(rng.choice("ABCXYZ_") for _ in range(5))
        name = next((n for n, (_, _, v) in OPTIONS.items() if v == variable), None)
        env[variable] = random_value(rng, name) if name else rng.choice(TRICKY + ["4", "2"])
    return env


def generate_cases():
    rng = random.Random(SEED)
    cases = []
    for _ in range(CASES):
        words = []
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
            random_option(rng, words)
        if rng.random() < 0.4:
            words.append("--")
        words += rng.choice([["true"], ["sh", "-c", "exit 0"]])
        cases.append((words, random_environment(rng)))
    return cases


def run_words(command, env=None, markers=("Traceback",)):
    """Run command; (exit status, stderr text), or a failure string for a
    hang or a traceback-like marker on stderr."""
    proc = subprocess.Popen(command, env=tini_env(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_clean_signals, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return "hang (no exit within %ss)" % TIMEOUT
    text = err.decode(errors="replace")
    if any(marker in text for marker in markers):
        return "traceback, exit %d: %s" % (proc.returncode, text.strip().splitlines()[-1][:300])
    return proc.returncode, text


def run_case(case):
    words, env = case
    result = run_words(TINI + words, env, markers=("Traceback", "internal error"))
    if isinstance(result, str):
        return result
    returncode, text = result
    if returncode == 0:
        return None
    lines = text.splitlines()
    one_line = len(lines) == 1 and lines[0].startswith("tini-py:") and text.endswith("\n")
    if returncode == 2 and one_line:
        return None
    if returncode == 127 and one_line and after_tini_g_flag(words) is not None \
            and lines[0].startswith("tini-py: cannot run '"):
        return None  # tini's -g, then a command of that name that does not exist
    return "exit %d, stderr %r" % (returncode, text[:300])


def after_tini_g_flag(words):
    """The word after a bare -g (tini's flag when that word is no signal)."""
    for index, word in enumerate(words[:-1]):
        if word == "--":
            return None
        if word.startswith("-") and not word.startswith("--") and word.endswith("g"):
            return words[index + 1]
    return None


def short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def test_bad_input_fuzz():
    cases = generate_cases()
    assert len(cases) == CASES
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_case, cases))
    failures = [(i, cases[i], r) for i, r in enumerate(results) if r]
    ran = sum(1 for r in results if r is None)
    print("fuzz: %d cases, %d failures" % (len(cases), len(failures)))
    report = "\n".join("case %d: argv %s env %s -> %s"
                       % (i, short(words, 200), short(env, 200), result)
                       for i, (words, env), result in failures[:15])
    assert not failures, "%d of %d cases failed (seed %d):\n%s" % (len(failures), ran + len(failures), SEED, report)


def test_fuzz_outcomes_are_mixed():
    """The generator must produce both runs and usage errors (else it tests nothing)."""
    cases = generate_cases()
    rng = random.Random(SEED + 1)
    sample = rng.sample(cases, 40)
    codes = set()
    for words, env in sample:
        result = subprocess.run(TINI + words, env=tini_env(env), capture_output=True,
                                stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        codes.add(result.returncode)
    assert {0, 2} <= codes, codes


# ----------------------------------------------------------- argv pass-through

ARGS = [
    "x" * 100_000,
    "héllo wörld ☃ 𝄞 日本語",
    os.fsdecode(b"\xff\xfe\x80 not utf-8 \xc3\x28"),
    "",
    " spaced  out ",
    "new\nline\ttab",
    "--",
    "-v",
    "--grace=3",
    "'\"$HOME`;|&",
    "\u200b\u00a0",
]


@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
@pytest.mark.parametrize("verbose", [[], ["-vv"]])
def test_argv_passes_through_intact(mode, verbose):
    """The child's /proc/self/cmdline is byte for byte what tini-py was given."""
    command = ["sh", "-c", 'cat "/proc/$$/cmdline"', "sh"] + ARGS
    full = (UNSHARE if mode == "pid1" else []) + TINI + verbose + ["--"] + command
    result = subprocess.run(full, env=tini_env(), capture_output=True, stdin=subprocess.DEVNULL,
                            preexec_fn=_clean_signals, start_new_session=True, timeout=30)
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 0, (result.returncode, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    expected = b"".join(os.fsencode(word) + b"\0" for word in command)
    got = result.stdout
    assert got == expected, "argv changed: %d bytes vs %d expected; first difference at %d" % (
        len(got), len(expected),
        next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected))))
    if verbose:
        assert "started" in err, err[:500]


# ----------------------------------------------------------- prestop arguments

PRESTOP_CASES = 80


def short_seconds(rng):
    """A --sleep/--wait value that is either invalid or below 0.3 s (a valid
    long one would make a legitimately slow case)."""
    while True:
        value = rng.choice(TRICKY + ["0", "0.1", "0.25", "", "-0.1", "x"]) \
            if rng.random() < 0.7 else random_text(rng)
        try:
            seconds = float(value)
        except ValueError:
            return value
        if not seconds <= 0.3:  # nan, inf and big ones: make them invalid
            return value + "s"
        return value


def generate_prestop_cases():
    rng = random.Random(SEED + 2)
    cases = []
    for _ in range(PRESTOP_CASES):
        words = ["prestop", "--sleep", "0"]
        for _ in range(rng.randrange(0, 4)):
            key = rng.choice(["--sleep", "--wait", "--signal", "--" + random_text(rng)[:8],
                              random_text(rng)[:8]])
            if key in ("--sleep", "--wait"):
                value = short_seconds(rng)
            elif key == "--signal":
                value = rng.choice(SIGNALS)
            else:
                value = random_text(rng)
            if rng.random() < 0.5:
                words.append("%s=%s" % (key, value))
            else:
                words.extend([key, value])
        cases.append(words)
    return cases


def run_prestop_case(words):
    # In a PID namespace of its own: the only PID 1 it could signal is itself.
    result = run_words(UNSHARE + TINI + words)
    if isinstance(result, str):
        return result
    returncode, text = result
    lines = text.splitlines()
    if returncode == 0:
        return None
    if returncode in (1, 2) and len(lines) == 1 and lines[0].startswith("tini-py:"):
        return None
    return "exit %d, stderr %r" % (returncode, text[:300])


def test_prestop_argument_fuzz():
    cases = generate_prestop_cases()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_prestop_case, cases))
    failures = [(i, cases[i], r) for i, r in enumerate(results) if r]
    report = "\n".join("prestop case %d: argv %s -> %s" % (i, short(words, 200), result)
                       for i, words, result in failures[:15])
    assert not failures, "%d of %d prestop cases failed (seed %d):\n%s" % (
        len(failures), len(cases), SEED + 2, report)
