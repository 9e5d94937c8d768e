"""--profile: the graceful signal, rewrites and recipients of common servers.

A profile is the bottom layer: -g, -r, -c, --to-child and --to-group, from
the environment or the command line, override it.  "verified" profiles are
checked by the test suite against the real server Debian ships
(tests/docker/test_real_servers.py); the others follow the server's own
documentation of its signals.

Recipients: a prefork master that manages its workers itself must get its
reload (and, for some, every) signal alone -- its workers keep the default
action for it and would die mid-request if the whole group got it.
"""
from tini_py.policy import CHILD, GROUP
from tini_py.signals import parse_signal

ALL = "all"


class Profile:
    __slots__ = ("name", "rewrites", "default_recipient", "recipients", "verified", "summary")

    def __init__(self, name, rewrites, to_child, verified, summary):
        self.name = name
        self.rewrites = {parse_signal(a): parse_signal(b) for a, b in rewrites.items()}
        self.default_recipient = CHILD if to_child == ALL else GROUP
        self.recipients = {} if to_child == ALL else \
            {parse_signal(name): CHILD for name in to_child}
        self.verified = verified
        self.summary = summary


# name, rewrites, forwarded signals for the main child alone, verified, summary
_TABLE = (
    ("nginx", {"TERM": "QUIT"}, ("HUP", "USR1", "USR2", "WINCH"), True,
     "TERM/INT stop at once, QUIT finishes open requests; HUP reloads (master only)"),
    ("php-fpm", {"TERM": "QUIT", "HUP": "USR2"}, ("USR1", "USR2"), True,
     "TERM/INT stop at once, QUIT is graceful; USR2 reloads (master only)"),
    ("gunicorn", {}, ("HUP", "USR2", "TTIN", "TTOU", "WINCH"), True,
     "TERM is graceful; HUP reloads, TTIN/TTOU add/remove a worker (master only)"),
    ("celery", {}, ALL, True,
     "TERM is the warm shutdown, QUIT cold; every signal to the main process only"),
    ("supervisord", {}, ALL, True,
     "TERM stops the programs in order; HUP reloads; every signal to supervisord only"),
    ("apache", {"TERM": "WINCH", "HUP": "USR1"}, ALL, True,
     "TERM stops and HUP restarts at once; WINCH graceful stop, USR1 graceful restart"),
    ("haproxy", {"TERM": "USR1", "HUP": "USR2"}, ALL, True,
     "TERM hard stop, USR1 soft stop; USR2 (and HUP) reload (master-worker mode, -W)"),
    ("unicorn", {"TERM": "QUIT"}, ("HUP", "USR1", "USR2", "WINCH", "TTIN", "TTOU"), True,
     "TERM/INT quick shutdown, QUIT graceful; HUP reloads, TTIN/TTOU add/remove a worker"),
    ("puma", {"HUP": "USR2"}, ("HUP", "USR1", "USR2"), True,
     "TERM graceful (exits 143); HUP stops, USR1 phased restart, USR2 restart"),
    ("sidekiq", {}, (), True,
     "TERM stops fetching and finishes jobs within its -t; TSTP quiets"),
    ("uwsgi", {"TERM": "INT"}, ALL, True,
     "TERM reloads brutally, INT stops at once (graceful with a master hook), HUP reloads"),
    ("uvicorn", {}, ALL, True,
     "TERM/INT graceful; HUP restarts the workers one by one, TTIN/TTOU add/remove one"),
    ("rq", {}, (), True,
     "TERM/INT warm shutdown (the job finishes), a second one cold; the work-horse has its"
     " own process group"),
    ("dramatiq", {}, ALL, True,
     "TERM graceful (a second TERM kills a worker); HUP restarts; every signal to the main"
     " process only"),
    ("php-resque", {"TERM": "QUIT"}, (), False,
     "TERM/INT kill the running job, QUIT waits for it to finish"),
    ("none", {}, (), True,
     "tini-py's defaults: no rewrite, every signal to the process group"),
)
ALIASES = {"httpd": "apache", "php": "php-fpm", "resque": "php-resque",
           "supervisor": "supervisord"}
def lookup_profile(name):
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    for entry in _TABLE:
        if entry[0] == name:
            return Profile(*entry)
    return None


def hint(argv):
    """The one line tini-py says when argv is a server with a profile that
    would change something, and the user chose no routing of their own."""
    from tini_py.config import profile_name_for_command, versioned
    name = profile_name_for_command(argv)
    profile = lookup_profile(name) if name else None
    if profile is None or not (profile.rewrites or profile.recipients
                               or profile.default_recipient != GROUP):
        return None
    from tini_py.signals import signal_name

    def short(number):
        return signal_name(number)[3:]
    changes = ["rewrites " + ", ".join("%s to %s" % (short(a), short(b))
                                       for a, b in profile.rewrites.items())] \
        if profile.rewrites else []
    if profile.default_recipient == CHILD:
        changes.append("sends every signal to the main process alone")
    elif profile.recipients:
        changes.append("sends %s to the main process alone"
                       % ", ".join(short(number) for number in profile.recipients))
    shown = argv[0].rpartition("/")[2]
    if versioned(shown, "python"):
        shown += " -m " + argv[2]
    return ("'%s' has a profile: --profile %s %s; --profile none keeps tini-py's defaults "
            "and this line away" % (shown, profile.name, " and ".join(changes)))


def describe_profiles():
    from tini_py.signals import signal_name

    def short(number):
        return signal_name(number)[3:]
    lines = ["%-11s %-21s %-29s %s" % ("profile", "rewrites", "to the main child alone",
                                        "(verified: tested against the real server)")]
    for entry in _TABLE:
        profile = Profile(*entry)
        rewrites = ",".join("%s->%s" % (short(a), short(b))
                            for a, b in profile.rewrites.items()) or "-"
        if profile.default_recipient == CHILD:
            recipients = "all"
        else:
            recipients = ",".join(short(number) for number in profile.recipients) or "-"
        lines.append("%-11s %-21s %-29s %s%s" % (
            profile.name, rewrites, recipients, profile.summary,
            "" if profile.verified else " [unverified]"))
    return "\n".join(lines) + "\n"
