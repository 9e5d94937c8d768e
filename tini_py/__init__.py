"""tini-py: a small, exact init process for containers."""
__version__ = "0.1.0"
# `python -X tini_py_reexec=MASK,FD`: set when tini-py executed itself
# again isolated (see tini_py/isolation.py).
REEXEC_XOPTION = "tini_py_reexec"
# What every run loads, each after the modules it imports.
STARTUP_MODULES = ("signals", "log", "policy", "config", "spawn", "reap", "supervise",
                   "__main__")


def boot():
    """`python3 -I -S -c BOOT ENTRY ARG...` (the zipapp's shebang, and
    isolation.execute_isolated): ENTRY stands in for the script name."""
    import sys
    del sys.argv[0]
    _run()


def run_installed_command():
    """scripts/tini-py: it found this package through the first entry of
    sys.path, which goes last now -- the standard library must not be
    shadowed by whatever else is installed there."""
    import sys
    sys.path.append(sys.path.pop(0))
    _run()


def _run():
    load_startup_modules()
    from tini_py.__main__ import main
    main()


def load_startup_modules():
    """Load STARTUP_MODULES from their bytecode, past the import system.

    In a fresh interpreter the import system's search -- path hooks, finders,
    specs, module locks, all of it Python code -- costs ~30-90 us a module,
    more than reading and running most of ours.  A module whose bytecode is
    not there as expected (no .pyc, a stale or hash-checked one, another
    interpreter) is left to the ordinary import, as is everything after it.
    """
    import sys
    read_code = _zip_reader() if hasattr(__loader__, "archive") else _cache_reader()
    if read_code is None:
        return
    package = sys.modules[__name__]
    new_module = type(sys)
    for name in STARTUP_MODULES:
        full_name = __name__ + "." + name
        if full_name in sys.modules:
            continue
        code = read_code(full_name, name)
        if code is None:
            return
        module = new_module(full_name)
        module.__file__ = __path__[0] + "/" + name + ".py"
        module.__package__ = __name__
        sys.modules[full_name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            del sys.modules[full_name]
            raise
        setattr(package, name, module)


def _cache_reader():
    """Code from __pycache__/NAME.TAG.pyc, if it was compiled from NAME.py as
    it is now (a timestamp .pyc: the mtime and size in its header match)."""
    import _imp
    import marshal
    import posix
    import sys
    magic = getattr(sys.modules.get("_frozen_importlib_external"), "MAGIC_NUMBER", None)
    tag = sys.implementation.cache_tag
    # -O reads .opt-1.pyc, -X pycache_prefix another tree: not ours to redo.
    if magic is None or tag is None or sys.flags.optimize or sys.pycache_prefix:
        return None
    header = magic + b"\0\0\0\0"
    directory = __file__.rpartition("/")[0] + "/"

    def read_code(full_name, name):
        source = directory + name + ".py"
        try:
            facts = posix.stat(source)
            fd = posix.open(directory + "__pycache__/" + name + "." + tag + ".pyc",
                            posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return None
        try:
            data = posix.read(fd, posix.fstat(fd).st_size)
        except OSError:
            return None
        finally:
            posix.close(fd)
        if (data[:8] != header
                or int.from_bytes(data[8:12], "little") != int(facts.st_mtime) & 0xFFFFFFFF
                or int.from_bytes(data[12:16], "little") != facts.st_size & 0xFFFFFFFF):
            return None
        try:
            code = marshal.loads(memoryview(data)[16:])
        except (EOFError, ValueError, TypeError):
            return None
        # As the ordinary import does: name the source where it is now, not
        # where it was compiled (a venv copied elsewhere).
        _imp._fix_co_filename(code, source)
        return code

    return read_code


def _zip_reader():
    """Code from the zipapp (tools/build_zipapp.py stores each module's .pyc)."""
    try:
        # The archive's root importer found the package; one for the package's
        # directory in the archive finds its modules (the table of contents
        # is read once per archive).
        loader = type(__loader__)(__path__[0])
    except Exception:  # noqa: BLE001 - the ordinary import will say what is wrong
        return None

    def read_code(full_name, name):
        try:
            return loader.get_code(full_name)
        except Exception:  # noqa: BLE001 - the ordinary import will say what is wrong
            return None

    return read_code
