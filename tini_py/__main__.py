"""tini-py's life as PID 1, one function per phase:

    block_signals -> (isolate) -> configure -> register_with_kernel
    -> spawn_child -> supervise_child -> drain_leftovers
    -> exit with the child's status (exitcause: why it died, when tini-py
       did not end it)

Imports are kept to what the run needs: every import is paid by every
container start (`posix`, not `os`: ~1 ms).
"""
from tini_py.signals import block_signals


def main():
    inherited_mask = block_signals()  # first: see signals.block_signals
    import posix
    import sys
    from tini_py import log
    from tini_py.config import UsageError, configure
    from tini_py.spawn import decoded, original_environment, restore_launcher_path

    child_mask = isolate(inherited_mask)
    environment = original_environment()
    restore_launcher_path(environment)
    try:
        config = configure(sys.argv[1:], decoded(environment))
    except UsageError as error:
        log.error(error.line())
        posix._exit(2)
    log.set_level(config.verbosity)
    if config.action != "run":
        posix._exit(run_action(config, child_mask))
    posix._exit(run_init(config, child_mask, environment))


def isolate(inherited_mask):
    """Make sure this interpreter runs isolated; return the signal mask the
    command is to start with (see signals.mask_for_child)."""
    import sys
    from tini_py import REEXEC_XOPTION
    from tini_py.signals import mask_for_child

    reexec = sys._xoptions.get(REEXEC_XOPTION)
    if reexec is not None:
        from tini_py.isolation import resume_after_reexec
        try:
            return resume_after_reexec(reexec)
        except ValueError:
            from tini_py import log
            log.error("bad -X %s=%s" % (REEXEC_XOPTION, reexec))
            import posix
            posix._exit(2)
    if not started_isolated(sys.flags):
        from tini_py.isolation import execute_isolated
        execute_isolated(mask_for_child(inherited_mask))  # never returns
    return mask_for_child(inherited_mask)


def started_isolated(flags):
    """Did the interpreter ignore PYTHON* variables, user and site hooks?
    (`python3 -I -S`: the installed command and the zipapp)"""
    return bool(flags.ignore_environment and flags.no_user_site and flags.no_site)


def run_init(config, child_mask, environment):
    import posix
    from tini_py import log
    from tini_py.config import profile_name_for_command
    from tini_py.spawn import SpawnFailed, find_terminal, spawn_child

    is_pid1 = posix.getpid() == 1
    parent_alive = True
    if not is_pid1 or config.pdeathsig:
        from tini_py.kernel import register_with_kernel
        parent_alive = register_with_kernel(config.pdeathsig)
    terminal, foreground = find_terminal()
    try:
        child = spawn_child(config.command, child_mask, environment,
                            terminal == 0 and foreground)
    except SpawnFailed as failure:
        code = failure.code
    else:
        if not config.routing_chosen and profile_name_for_command(config.command):
            hint_at_a_profile(config.command)
        code = supervise(config, child, is_pid1, parent_alive, terminal)
    if code in config.remap_exit:
        log.info("exit status %d remapped to 0 (-e)" % code)
        code = 0
    return code


def hint_at_a_profile(command):
    """A server that has a profile, run with tini-py's defaults: say so once
    (while the command starts)."""
    from tini_py import log
    from tini_py.profiles import hint
    line = hint(command)
    if line:
        log.warning(line)


def supervise(config, child, is_pid1, parent_alive, terminal):
    from tini_py import log
    from tini_py.exitcause import ExitCause, explain_death
    from tini_py.supervise import Supervisor, describe_status, exit_code_of

    # Read while the child execs: its OOM kills are counted from here on.
    exit_cause = ExitCause()
    supervisor = Supervisor(config, child, is_pid1, terminal)
    if not parent_alive:
        supervisor.forward(config.pdeathsig)
    status = supervisor.supervise_child()
    # One line on the main child's end: a warning when tini-py did not cause
    # its death by signal (explain_death), else at -v.
    line = explain_death(exit_cause, supervisor, status)
    if line:
        log.warning(line)
    else:
        log.info("main child %d %s" % (supervisor.child, describe_status(status)))
    try:
        if supervisor.anything_left():
            from tini_py.drain import drain_leftovers
            drain_leftovers(supervisor)
    except Exception as error:  # noqa: BLE001 - the child's status must survive
        log.error("internal error while stopping leftovers: %s: %s"
                  % (type(error).__name__, error))
    if supervisor.job:
        supervisor.job.give_terminal_back()
    return exit_code_of(status)


def run_action(config, child_mask):
    import _signal
    _signal.pthread_sigmask(_signal.SIG_SETMASK, child_mask)
    if config.action == "prestop":
        from tini_py.config import UsageError
        from tini_py.prestop import run_prestop
        try:
            return run_prestop(config.extra_args)
        except UsageError as error:
            from tini_py import log
            log.error(error.line())
            return 2
    if config.action == "help":
        from tini_py.helptext import HELP
        return write_stdout(HELP)
    if config.action == "list-profiles":
        from tini_py.profiles import describe_profiles
        return write_stdout(describe_profiles())
    if config.action == "show-routes":
        from tini_py.showroutes import describe_routes
        return write_stdout(describe_routes(config))
    from tini_py import __version__
    return write_stdout("tini-py %s\n" % __version__)


def write_stdout(text):
    import posix
    try:
        posix.write(1, text.encode())
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    main()
