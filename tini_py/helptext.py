"""The text of `tini-py --help` (kept apart: only --help pays for it)."""

HELP = """\
usage: tini-py [OPTIONS] [--] COMMAND [ARG...]
       tini-py prestop [--sleep SECONDS] [--signal SIG] [--wait SECONDS]

A small init for containers: runs COMMAND in its own process group, forwards
every catchable signal to that group (or, per signal, to COMMAND alone),
reaps every zombie, and exits with COMMAND's status.  Options stop at the
first word that is not an option.

options (environment variable in brackets; the command line wins):
  -g, --graceful SIG      send SIG to the child when tini-py gets SIGTERM
                          (same as -r TERM:SIG)               [TINI_PY_GRACEFUL]
  -r, --rewrite FROM:TO   rewrite a received signal; TO=0 drops it; repeatable
                                                  [TINI_PY_REWRITE, comma list]
  -t, --grace SECONDS     SIGKILL everything SECONDS after a stop signal
                          (TERM, INT, QUIT) was forwarded      [TINI_PY_GRACE]
      --orphan-grace SECONDS
                          after the child exits, give the processes left this
                          long after the graceful signal, then SIGKILL them
                          (default 5)                   [TINI_PY_ORPHAN_GRACE]
      --delay SECONDS     hold a received SIGTERM this long before forwarding
                          it; a second SIGTERM goes at once    [TINI_PY_DELAY]
      --profile NAME      graceful signal and rewrites of a known server
                          (see --list-profiles; `none`: tini-py's defaults,
                          and no hint that a server has one) [TINI_PY_PROFILE]
      --to-child SIG[,SIG]
                          forward these signals (after rewriting) to the main
                          child alone, not its process group; `all` for every
                          signal                  [TINI_PY_TO_CHILD, comma list]
      --to-group SIG[,SIG]
                          forward these to the whole process group (the
                          default; overrides a profile)  [TINI_PY_TO_GROUP]
  -c, --single-child      every signal to the main child alone (dumb-init -c)
                          [TINI_PY_SINGLE_CHILD, DUMB_INIT_SETSID=0]
  -g (no signal after it) tini's -g: every signal to the process group
                                                   [TINI_KILL_PROCESS_GROUP]
  -e, --remap-exit CODE   treat the child's exit status CODE as 0; repeatable
                                               [TINI_PY_REMAP_EXIT, comma list]
  -p, --pdeathsig SIG     get SIG when tini-py's parent dies [TINI_PY_PDEATHSIG]
  -s, --subreaper         accepted for tini; tini-py is always a subreaper
                          when it is not PID 1     [TINI_PY_SUBREAPER, TINI_SUBREAPER]
  -w, --warn-reap         log every zombie reaped besides the child
                                                           [TINI_PY_WARN_REAP]
  -v, --verbose           more log lines on stderr; -vv for debug
  -q, --quiet             errors only       [TINI_PY_VERBOSITY, TINI_VERBOSITY 0-3]
      --list-profiles     list the profiles and exit
      --show-routes       print what each signal becomes and who gets it with
                          the options given, and exit (a command after it is
                          not run)
  -V, --version           print the version and exit
  -h, --help              print this help and exit

SIG is a name or number: QUIT, SIGQUIT, quit, 3, RTMIN+2, RTMAX-1.  After -g,
a word that names a signal is its value; any other word (`--`, a command)
makes it tini's -g.

exit status: the child's; 128+N if it was killed by signal N; 126 COMMAND
could not be executed; 127 COMMAND not found; 2 usage error; 125 tini-py
could not start the child.
"""
