"""tini-py's life as PID 1, one function per phase:

    block_signals -> configure -> register_with_kernel -> spawn_child
    -> supervise_child -> drain_leftovers -> exit with the child's status

Imports are kept to what the run needs: every import is paid by every
container start.
"""
from tini_py.signals import block_signals


def main():
    inherited_mask = block_signals()  # first: see signals.block_signals
    import os
    import sys
    from tini_py import log
    from tini_py.config import UsageError, configure

    try:
        config = configure(sys.argv[1:], os.environ)
    except UsageError as error:
        log.error("%s (see 'tini-py --help')" % error)
        os._exit(2)
    log.set_level(config.verbosity)
    if config.action != "run":
        os._exit(run_action(config, inherited_mask))
    os._exit(run_init(config, inherited_mask))


def run_init(config, inherited_mask):
    import os
    from tini_py import log
    from tini_py.kernel import register_with_kernel
    from tini_py.reap import exit_code_of
    from tini_py.spawn import find_terminal, spawn_child
    from tini_py.supervise import Supervisor

    is_pid1 = os.getpid() == 1
    parent_alive = register_with_kernel(config.pdeathsig)
    terminal, foreground = find_terminal()
    child = spawn_child(config.command, inherited_mask, terminal == 0 and foreground)
    supervisor = Supervisor(config, child, is_pid1, terminal)
    if not parent_alive:
        supervisor.forward(config.pdeathsig)
    status = supervisor.supervise_child()
    try:
        supervisor.drain_leftovers()
    except Exception as error:  # noqa: BLE001 - the child's status must survive
        log.error("internal error while stopping leftovers: %s: %s"
                  % (type(error).__name__, error))
    supervisor.give_terminal_back()
    code = exit_code_of(status)
    if code in config.remap_exit:
        log.info("exit status %d remapped to 0 (-e)" % code)
        code = 0
    return code


def run_action(config, inherited_mask):
    import _signal
    _signal.pthread_sigmask(_signal.SIG_SETMASK, inherited_mask)
    if config.action == "prestop":
        from tini_py.config import UsageError
        from tini_py.prestop import run_prestop
        try:
            return run_prestop(config.extra_args)
        except UsageError as error:
            from tini_py import log
            log.error("%s (see 'tini-py --help')" % error)
            return 2
    if config.action == "help":
        from tini_py.helptext import HELP
        return write_stdout(HELP)
    if config.action == "list-profiles":
        from tini_py.profiles import describe_profiles
        return write_stdout(describe_profiles())
    from tini_py import __version__
    return write_stdout("tini-py %s\n" % __version__)


def write_stdout(text):
    import os
    try:
        os.write(1, text.encode())
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    main()
