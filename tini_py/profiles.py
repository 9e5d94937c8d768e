"""--profile: the graceful signal and rewrites of common servers.

Each entry follows the server's own documentation of its signals.  A profile
is applied first; -g and -r given anywhere override it.
"""
from tini_py.signals import parse_signal


class Profile:
    __slots__ = ("name", "rewrites", "summary")

    def __init__(self, name, rewrites, summary):
        self.name = name
        self.rewrites = {parse_signal(a): parse_signal(b) for a, b in rewrites.items()}
        self.summary = summary


_TABLE = (
    ("nginx", {"TERM": "QUIT"},
     "TERM/INT stop at once, QUIT finishes open requests; HUP reloads (kept)"),
    ("php-fpm", {"TERM": "QUIT", "HUP": "USR2"},
     "TERM/INT stop at once, QUIT is graceful; HUP would kill the master, USR2 reloads"),
    ("php-resque", {"TERM": "QUIT"},
     "TERM/INT kill the running job, QUIT waits for it to finish"),
    ("unicorn", {"TERM": "QUIT"},
     "TERM/INT quick shutdown, QUIT graceful; HUP reloads (kept)"),
    ("apache", {"TERM": "WINCH", "HUP": "USR1"},
     "TERM stops at once, WINCH is graceful-stop, USR1 graceful restart"),
    ("haproxy", {"TERM": "USR1", "HUP": "USR2"},
     "TERM hard stop, USR1 soft stop, USR2 reloads (master-worker mode)"),
    ("gunicorn", {},
     "TERM is already graceful; HUP reloads"),
    ("celery", {},
     "TERM is the warm (graceful) shutdown; QUIT is cold"),
    ("puma", {},
     "TERM lets workers finish; USR1 phased restart"),
    ("sidekiq", {},
     "TERM stops fetching and finishes jobs within its timeout"),
)
ALIASES = {"httpd": "apache", "php": "php-fpm", "resque": "php-resque"}


def lookup_profile(name):
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    for entry in _TABLE:
        if entry[0] == name:
            return Profile(*entry)
    return None


def describe_profiles():
    from tini_py.signals import signal_name
    lines = []
    for entry in _TABLE:
        profile = Profile(*entry)
        mapping = ", ".join("%s->%s" % (signal_name(a)[3:], signal_name(b)[3:])
                            for a, b in profile.rewrites.items()) or "(no rewrite)"
        lines.append("%-11s %-22s %s" % (profile.name, mapping, profile.summary))
    return "\n".join(lines) + "\n"
