"""tini-py: a small, exact init process for containers."""
__version__ = "0.1.0"
# `python -X tini_py_reexec=MASK,FD`: set when tini-py executed itself
# again isolated (see tini_py/isolation.py).
REEXEC_XOPTION = "tini_py_reexec"


def boot():
    """`python3 -I -S -c BOOT ENTRY ARG...` (the zipapp's launcher line, and
    isolation.execute_isolated): ENTRY stands in for the script name."""
    import sys
    del sys.argv[0]
    from tini_py.__main__ import main
    main()


def run_installed_command():
    """scripts/tini-py, once it has imported this package."""
    from tini_py.__main__ import main
    main()
