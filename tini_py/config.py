"""Phase 1, configure: command line and environment -> Config.

Option parsing stops at the first word that is not an option (POSIX getopt
with a leading '+'), so ``tini-py ls -l`` runs ``ls -l``.  Every option has an
environment variable; the command line wins.  Hand-written rather than
argparse: it is on every container's start-up path.
"""
from tini_py import log
from tini_py.policy import CHILD, GROUP
from tini_py.signals import SIGTERM, parse_signal, signal_name, FORWARDED

USAGE = "tini-py [OPTIONS] [--] COMMAND [ARG...]"


class UsageError(Exception):
    """Bad command line or environment: one line on stderr, exit status 2,
    ending with one hint (by default, to --help)."""

    def __init__(self, message, hint="see 'tini-py --help'"):
        Exception.__init__(self, message)
        self.hint = hint

    def line(self):
        return "%s (%s)" % (self, self.hint)


class Config:
    __slots__ = (
        "action", "command", "rewrites", "grace", "orphan_grace", "remap_exit",
        "verbosity", "warn_reap", "pdeathsig", "delay", "extra_args",
        "default_recipient", "recipients", "routing_chosen",
    )

    def __init__(self):
        self.action = "run"          # run | help | version | list-profiles | show-routes | prestop
        self.command = []
        self.rewrites = {}           # received signal -> forwarded signal (0 = drop)
        self.grace = None            # -t: seconds from a stop to SIGKILL, None = never
        self.orphan_grace = 5.0
        self.remap_exit = frozenset()
        self.verbosity = log.WARNING
        self.warn_reap = False
        self.pdeathsig = 0
        self.delay = 0.0
        self.extra_args = []         # the arguments of a subcommand (prestop)
        self.default_recipient = GROUP  # who gets a forwarded signal ...
        self.recipients = {}         # ... unless this says otherwise for it
        self.routing_chosen = False  # a profile, rewrite or recipient was given

    def route_all(self, recipient):
        """Every forwarded signal to ``recipient``, forgetting per-signal routes."""
        self.default_recipient = recipient
        self.recipients = {}

    @property
    def graceful(self):
        """What a received SIGTERM becomes (0 when it is dropped)."""
        return self.rewrites.get(SIGTERM, SIGTERM)


# long name -> (short letter, takes a value, environment variable)
OPTIONS = {
    "graceful": ("g", True, "TINI_PY_GRACEFUL"),
    "rewrite": ("r", True, "TINI_PY_REWRITE"),
    "grace": ("t", True, "TINI_PY_GRACE"),
    "orphan-grace": (None, True, "TINI_PY_ORPHAN_GRACE"),
    "delay": (None, True, "TINI_PY_DELAY"),
    "profile": (None, True, "TINI_PY_PROFILE"),
    "subreaper": ("s", False, "TINI_PY_SUBREAPER"),
    "pdeathsig": ("p", True, "TINI_PY_PDEATHSIG"),
    "remap-exit": ("e", True, "TINI_PY_REMAP_EXIT"),
    "to-child": (None, True, "TINI_PY_TO_CHILD"),
    "to-group": (None, True, "TINI_PY_TO_GROUP"),
    "single-child": ("c", False, "TINI_PY_SINGLE_CHILD"),
    "warn-reap": ("w", False, "TINI_PY_WARN_REAP"),
    "verbose": ("v", False, None),
    "quiet": ("q", False, None),
    "version": ("V", False, None),
    "help": ("h", False, None),
    "list-profiles": (None, False, None),
    "show-routes": (None, False, None),
}
_BY_SHORT = {short: name for name, (short, _, _) in OPTIONS.items() if short}
SUBCOMMANDS = ("prestop",)
LIST_OPTIONS = ("rewrite", "remap-exit", "to-child", "to-group")
ROUTE_OPTIONS = {"to-child": CHILD, "to-group": GROUP}
# tini's -g takes no value: "kill the whole process group".  tini-py's -g
# takes the graceful signal.  A word after -g that names a signal, or looks
# like one, is its value; any other word (`--`, the command) means tini's flag.
TINI_GROUP_FLAG = "tini -g"
# Any of these says the user chose what signals become and who gets them:
# tini-py then gives no hint about a profile (profiles.hint).
ROUTING_OPTIONS = frozenset(("profile", "graceful", "rewrite", "to-child", "to-group",
                             "single-child", TINI_GROUP_FLAG))


# The commands each profile (profiles.py) is for, as the command's argv[0]
# (its basename, with or without a version after it: php-fpm8.2) or
# `python -m NAME`.  Here, not in profiles.py: every start asks whether its
# command has one (profiles.hint), and only a match loads profiles.py.
COMMANDS = {
    "nginx": "nginx", "php-fpm": "php-fpm", "gunicorn": "gunicorn", "celery": "celery",
    "supervisord": "supervisord", "apache2": "apache", "httpd": "apache",
    "haproxy": "haproxy", "unicorn": "unicorn", "puma": "puma", "sidekiq": "sidekiq",
    "uwsgi": "uwsgi", "uvicorn": "uvicorn", "rq": "rq", "dramatiq": "dramatiq",
}
PYTHON_MODULES = {"gunicorn": "gunicorn", "celery": "celery", "uvicorn": "uvicorn",
                  "dramatiq": "dramatiq", "supervisor.supervisord": "supervisord"}


def profile_name_for_command(argv):
    """The name of the profile meant for this command line, or None.  An
    exact name only: `nginx`, `/usr/sbin/php-fpm8.2`, `python3.11 -m gunicorn`."""
    name = argv[0].rpartition("/")[2]
    if versioned(name, "python") and len(argv) > 2 and argv[1] == "-m":
        return PYTHON_MODULES.get(argv[2])
    if versioned(name, "php-fpm"):
        name = "php-fpm"
    return COMMANDS.get(name)


def versioned(name, base):
    """name is base, or base followed by a version: python3, python3.11."""
    rest = name[len(base):]
    return name.startswith(base) and (not rest or rest.replace(".", "").isdigit())


def configure(argv, environ):
    """Build the Config from argv (without the program name) and the environment."""
    given, rest = parse_command_line(argv)
    config = Config()
    apply_profiles(config, given, environ)
    apply_environment(config, environ)
    apply_command_line(config, given)
    if config.action != "run":
        return config
    if rest and rest[0] in SUBCOMMANDS and not _ended_with_double_dash(argv, rest):
        config.action, config.extra_args = rest[0], rest[1:]
        return config
    if not rest:
        raise UsageError("no command given: usage: " + USAGE)
    config.command = rest
    return config


def _ended_with_double_dash(argv, rest):
    return len(argv) > len(rest) and argv[len(argv) - len(rest) - 1] == "--"


def parse_command_line(argv):
    """Split argv into [(option name, value or None)] and the command."""
    given = []
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            return given, argv[index + 1:]
        if word.startswith("--"):
            index = _parse_long(argv, index, given)
        elif word.startswith("-") and word != "-":
            index = _parse_short_cluster(argv, index, given)
        else:
            break
    return given, argv[index:]


def _parse_long(argv, index, given):
    name, has_value, value = argv[index][2:].partition("=")
    if name not in OPTIONS:
        raise UsageError("unknown option '--%s'" % name)
    takes_value = OPTIONS[name][1]
    if takes_value and not has_value:
        if index + 1 >= len(argv):
            raise UsageError("option '--%s' needs a value" % name)
        index += 1
        value = argv[index]
    elif not takes_value and has_value:
        raise UsageError("option '--%s' takes no value" % name)
    given.append((name, value if takes_value else None))
    return index + 1


def _parse_short_cluster(argv, index, given):
    cluster = argv[index][1:]
    for position, letter in enumerate(cluster):
        name = _BY_SHORT.get(letter)
        if name is None:
            raise UsageError("unknown option '-%s'" % letter)
        if not OPTIONS[name][1]:
            given.append((name, None))
            continue
        value = cluster[position + 1:]
        if not value and name == "graceful" and not _names_a_signal(argv, index + 1):
            given.append((TINI_GROUP_FLAG, None))
            break
        if not value:
            if index + 1 >= len(argv):
                raise UsageError("option '-%s' needs a value" % letter)
            index += 1
            value = argv[index]
        given.append((name, value))
        break
    return index + 1


def _names_a_signal(argv, index):
    """Is argv[index] meant as -g's value?  A signal name or number, or a word
    that looks like one -- a number, capitals, SIG... -- so that a typo is a
    usage error, not a command.  Anything else (`--`, a command) is not."""
    if index >= len(argv):
        return False
    word = argv[index].strip()
    if word.isascii() and (word.isdigit() or word.isupper() or word.upper().startswith("SIG")):
        return True
    try:
        parse_signal(word, allow_zero=True)
    except ValueError:
        return False
    return True


def apply_environment(config, environ):
    """TINI_PY_* variables, then tini's own; an empty variable counts as unset."""
    def get(variable):
        value = environ.get(variable, "")
        return value if value.strip() else None

    if get("TINI_VERBOSITY") is not None:
        config.verbosity = _parse_verbosity("TINI_VERBOSITY", get("TINI_VERBOSITY"))
    if get("TINI_PY_VERBOSITY") is not None:
        config.verbosity = _parse_verbosity("TINI_PY_VERBOSITY", get("TINI_PY_VERBOSITY"))
    # tini's TINI_SUBREAPER is switched on by its mere presence, and
    # tini-py is always a subreaper.  TINI_KILL_PROCESS_GROUP (presence, too)
    # and dumb-init's DUMB_INIT_SETSID=0 choose the recipient of everything.
    given = []
    if "TINI_KILL_PROCESS_GROUP" in environ:
        given.append((TINI_GROUP_FLAG, None))
    if get("DUMB_INIT_SETSID") is not None \
            and not _parse_boolean("DUMB_INIT_SETSID", get("DUMB_INIT_SETSID")):
        given.append(("single-child", None))
    for name, (_, takes_value, variable) in OPTIONS.items():
        value = get(variable) if variable else None
        if value is None or name == "profile":
            continue
        if takes_value:
            given.extend((name, item) for item in _split_list(name, value))
        elif _parse_boolean(variable, value):
            given.append((name, None))
        elif name == "warn-reap":
            config.warn_reap = False
    apply_layer(config, given, where=lambda name: OPTIONS.get(name, (0, 0, name))[2])


def _split_list(name, value):
    if name in LIST_OPTIONS:
        return [item for item in value.split(",") if item.strip()]
    return [value]


def apply_command_line(config, given):
    """Options from the command line, in order, on top of the environment."""
    verbosity = None
    rest = []
    for name, value in given:
        if name == "verbose":
            verbosity = (log.WARNING if verbosity is None else verbosity) + 1
        elif name == "quiet":
            verbosity = log.ERROR
        elif name in ("help", "version", "list-profiles", "show-routes"):
            config.action = name
        elif name == "remap-exit" and not any(n == name for n, _ in rest):
            # The list given on the command line replaces its variable's.
            config.remap_exit = frozenset()
            rest.append((name, value))
        elif name in ROUTE_OPTIONS:
            items = _split_list(name, value)
            if not items:
                raise UsageError("--%s: expected signals (or 'all'), got %r" % (name, value))
            rest.extend((name, item) for item in items)
        else:
            rest.append((name, value))
    apply_layer(config, rest, where=lambda name: "-g" if name == TINI_GROUP_FLAG else "--" + name)
    if verbosity is not None:
        config.verbosity = min(verbosity, log.DEBUG)


def apply_layer(config, given, where):
    """One layer of settings (environment or command line) over the ones below.

    Recipients: a choice for every signal (-c, tini's -g, `all`) forgets the
    per-signal routes of the layers below; this layer's own per-signal routes
    then apply on top, whatever their order.
    """
    given = sorted(given, key=lambda item: not _routes_everything(*item))
    for name, value in given:
        if name in ROUTING_OPTIONS:
            config.routing_chosen = True
        if name == "profile":
            continue  # applied first, by apply_profiles
        elif name == TINI_GROUP_FLAG:
            config.route_all(GROUP)
        elif name == "single-child":
            config.route_all(CHILD)
        elif name in ROUTE_OPTIONS:
            apply_route(config, ROUTE_OPTIONS[name], value, where(name))
        elif OPTIONS[name][1]:
            apply_option(config, name, value, where(name))
        else:
            apply_switch(config, name, True)


def _routes_everything(name, value):
    return name in (TINI_GROUP_FLAG, "single-child") \
        or (name in ROUTE_OPTIONS and value.strip().lower() == "all")


def apply_route(config, recipient, value, where):
    if value.strip().lower() == "all":
        config.route_all(recipient)
        return
    number = _parse_signal(where, value)
    if number not in FORWARDED:
        raise UsageError("%s: %s is never forwarded, so it has no recipient"
                         % (where, signal_name(number)))
    config.recipients[number] = recipient


def apply_profiles(config, given, environ):
    """A profile is the bottom layer: explicit -g/-r, from the environment
    or the command line, override it; --profile replaces TINI_PY_PROFILE."""
    chosen = None
    if environ.get("TINI_PY_PROFILE", "").strip():
        chosen = (environ["TINI_PY_PROFILE"], "TINI_PY_PROFILE")
    for name, value in given:
        if name == "profile":
            chosen = (value, "--profile")
    if chosen is not None:
        config.routing_chosen = True
        apply_profile(config, *chosen)


def apply_profile(config, name, where):
    from tini_py.profiles import lookup_profile
    profile = lookup_profile(name)
    if profile is None:
        raise UsageError("%s: unknown profile %r" % (where, name),
                         hint="see 'tini-py --list-profiles'")
    config.rewrites.update(profile.rewrites)
    config.route_all(profile.default_recipient)
    config.recipients.update(profile.recipients)


def apply_switch(config, name, on):
    if name == "warn-reap":
        config.warn_reap = on
    # --subreaper: tini-py registers as a subreaper whenever it is not PID 1.


def apply_option(config, name, value, where):
    if name == "graceful":
        config.rewrites[SIGTERM] = _parse_signal(where, value, allow_zero=True)
    elif name == "rewrite":
        source, target = _parse_rewrite(where, value)
        config.rewrites[source] = target
    elif name == "grace":
        config.grace = parse_seconds(where, value)
    elif name == "orphan-grace":
        config.orphan_grace = parse_seconds(where, value)
    elif name == "delay":
        config.delay = parse_seconds(where, value)
    elif name == "pdeathsig":
        config.pdeathsig = _parse_signal(where, value)
    elif name == "remap-exit":
        config.remap_exit = config.remap_exit | {_parse_exit_code(where, value)}


def _parse_signal(where, value, allow_zero=False):
    try:
        return parse_signal(value, allow_zero=allow_zero)
    except ValueError:
        raise UsageError("%s: no such signal %r" % (where, value)) from None


def _parse_rewrite(where, value):
    source_text, colon, target_text = value.partition(":")
    if not colon:
        raise UsageError("%s: expected FROM:TO, got %r" % (where, value))
    source = _parse_signal(where, source_text)
    if source not in FORWARDED:
        raise UsageError("%s: %s is never forwarded, so it cannot be rewritten"
                         % (where, signal_name(source)))
    return source, _parse_signal(where, target_text, allow_zero=True)


def parse_seconds(where, value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds < 1e9:  # also rejects nan and inf
        raise UsageError("%s: expected a number of seconds >= 0, got %r" % (where, value))
    return seconds


def _is_small_number(text):
    """ASCII digits only: str.isdigit() also accepts '²', which int() refuses."""
    return text.isascii() and text.isdigit() and len(text) <= 6


def _parse_exit_code(where, value):
    text = value.strip()
    if not _is_small_number(text) or int(text) > 255:
        raise UsageError("%s: expected an exit status from 0 to 255, got %r" % (where, value))
    return int(text)


def _parse_verbosity(where, value):
    text = value.strip()
    if not _is_small_number(text) or int(text) > log.DEBUG:
        raise UsageError("%s: expected a verbosity from 0 to 3, got %r" % (where, value))
    return int(text)


def _parse_boolean(where, value):
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise UsageError("%s: expected 1/0, true/false, yes/no or on/off, got %r" % (where, value))
